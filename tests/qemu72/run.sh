#!/bin/bash
# run.sh BUILD_DIR [RESULTS_FILE]: sheepmesh's own `sheepdog` driver for
# QEMU 7.2 (qemu-block/) against one live sheepnode on loopback.
#
# QEMU tools: $QEMU72_BIN if set, else the prefix build.sh installed
# ($CACHE/qemu-current/bin), else the TOOLS_ONLY build tree. None of them ->
# every check is reported as skipped, saying why. Needs BUILD_DIR/sheepnode.
# TAP-like lines on stdout ("ok - x", "not ok - x", "ok - x # SKIP why"); with
# RESULTS_FILE, one "qemu72 passed failed skipped" line is appended to it.
# Exits non-zero if a check failed. Takes about a minute (mostly the
# reconnect checks, which kill and restart the daemon).
set -u
B=${1:?usage: run.sh BUILD_DIR [RESULTS_FILE]}
OUT=${2:-}
case $B in /*) ;; *) B="$PWD/$B";; esac
case $OUT in ''|/*) ;; *) OUT="$PWD/$OUT";; esac
CACHE=${CACHE:-/var/cache/sheepmesh}
SHEEPNODE=${SHEEPNODE:-$B/sheepnode}
QT=${QTIMEOUT:-60}
MIB=1048576

PASS=0 FAIL=0 SKIP=0
ok()     { echo "ok - $*"; PASS=$((PASS + 1)); }
not_ok() { echo "not ok - $*"; FAIL=$((FAIL + 1)); }
skip()   { echo "ok - $1 # SKIP $2"; SKIP=$((SKIP + 1)); }
diag()   { sed 's/^/#   /' | head -20; }
finish() {
	[ -n "$OUT" ] && echo "qemu72 $PASS $FAIL $SKIP" >> "$OUT"
	echo "# qemu72: $PASS passed, $FAIL failed, $SKIP skipped"
	[ "$FAIL" = 0 ]
	exit
}

# ---- the tools --------------------------------------------------------------
QB=
for d in ${QEMU72_BIN:-} "$CACHE/qemu-current/bin" "$CACHE"/src/qemu-7.2*/build-sheepmesh; do
	if [ -x "$d/qemu-img" ] && [ -x "$d/qemu-io" ] &&
		"$d/qemu-img" --help 2>/dev/null | grep -qw sheepdog; then
		QB=$d; break
	fi
done
ALL="create rw convert locations snapshot clone resize discard bench reconnect timeout blockdev savevm guest"
if [ -z "$QB" ]; then
	for t in $ALL; do skip "qemu72-$t" "no QEMU 7.2 build with the sheepdog driver (run qemu-block/build.sh)"; done
	finish
fi
if [ ! -x "$SHEEPNODE" ]; then
	for t in $ALL; do skip "qemu72-$t" "no sheepnode at $SHEEPNODE"; done
	finish
fi
IMG=$QB/qemu-img
IO=$QB/qemu-io
echo "# tools: $QB"

# ---- the daemon ---------------------------------------------------------------
TMP=$(mktemp -d /tmp/qemu72.XXXXXX)
NODE_PID=
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
H=127.0.0.1:$PORT
SOCK=$TMP/sock

node_start() {
	"$SHEEPNODE" --dir "$TMP/data" --port "$PORT" --listen 127.0.0.1 \
		--unix "$SOCK" --log-level warn >>"$TMP/node.log" 2>&1 &
	NODE_PID=$!
	for _ in $(seq 50); do
		"$IMG" info -f raw "sheepdog:$H:__probe" 2>&1 | grep -q 'no VDI' && return 0
		sleep 0.1
	done
	return 1
}
node_kill() {
	[ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
	NODE_PID=
}
cleanup() {
	node_kill
	[ -n "${BG:-}" ] && kill "$BG" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP/data"
if ! node_start; then
	not_ok "qemu72-daemon (sheepnode did not start)"; diag <"$TMP/node.log"
	finish
fi

# q CMD...: a tool under a timeout, stderr folded in
q() { timeout -k 5 "$QT" "$@" 2>&1; }

# check NAME CMD...: must succeed
check() {
	local name=$1 out rc; shift
	out=$(q "$@"); rc=$?
	if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name (exit $rc)"; echo "$out" | diag; fi
}
# refused NAME REGEX CMD...: must fail cleanly with a message matching REGEX
refused() {
	local name=$1 re=$2 out rc; shift 2
	out=$(q "$@"); rc=$?
	if [ "$rc" != 0 ] && [ "$rc" -lt 124 ] && echo "$out" | grep -qE -- "$re"; then ok "$name"
	else not_ok "$name (exit $rc, expected a failure saying /$re/)"; echo "$out" | diag; fi
}
# outputs NAME REGEX CMD...: must succeed and print REGEX
outputs() {
	local name=$1 re=$2 out rc; shift 2
	out=$(q "$@"); rc=$?
	if [ "$rc" = 0 ] && echo "$out" | grep -qE -- "$re"; then ok "$name"
	else not_ok "$name (exit $rc, expected /$re/)"; echo "$out" | diag; fi
}
# qio NAME LOCATION CMD...: one qemu-io (format raw) runs every CMD; all must
# complete and no pattern check may fail. LOCATION may be "--image-opts X".
qio() {
	local name=$1 loc=$2 c want=0 got out rc
	local -a args=()
	shift 2
	for c in "$@"; do
		args+=(-c "$c")
		case $c in read*|write*|discard*) want=$((want + 1));; esac
	done
	case $loc in
	--image-opts*) out=$(q "$IO" "${args[@]}" --image-opts "${loc#--image-opts }"); rc=$? ;;
	-r\ *) out=$(q "$IO" -r -f raw "${args[@]}" "${loc#-r }"); rc=$? ;;
	*) out=$(q "$IO" -f raw "${args[@]}" "$loc"); rc=$? ;;
	esac
	got=$(echo "$out" | grep -cE '^(read|wrote|discard) [0-9]+/[0-9]+ bytes at offset')
	if [ "$rc" = 0 ] && [ "$got" = "$want" ] && ! echo "$out" | grep -qiE 'fail|error'; then
		ok "$name"
	else
		not_ok "$name (exit $rc, $got of $want commands completed)"
		echo "$out" | grep -v ' ops; ' | diag
	fi
}
sd() { echo "sheepdog:$H:$1"; }

# ---- create / info --------------------------------------------------------------
check "qemu72-create" "$IMG" create -f raw "$(sd t1)" 64M
outputs "qemu72-info-size" "virtual size: 64 MiB" "$IMG" info -f raw "$(sd t1)"
refused "qemu72-create-exists" "exists" "$IMG" create -f raw "$(sd t1)" 64M
refused "qemu72-open-missing" "no VDI named" "$IMG" info -f raw "$(sd nosuch)"
refused "qemu72-create-too-big" "exceeds the limit|too large" "$IMG" create -f raw "$(sd huge)" 5T

# ---- reads and writes across objects and at the end -------------------------------
# 4 MiB objects: writes straddling 4M and 8M, one spanning three objects,
# the last sector of the disk; unwritten space reads as zeros.
qio "qemu72-rw-patterns" "$(sd t1)" \
	"write -P 0x11 4190208 8192" "write -P 0x22 8384512 4202496" \
	"write -P 0x33 67108352 512" "write -P 0x44 20M 9M"
qio "qemu72-rw-verify" "$(sd t1)" \
	"read -P 0x11 4190208 8192" "read -P 0x22 8384512 4202496" \
	"read -P 0x33 67108352 512" "read -P 0x44 20M 9M" \
	"read -P 0 0 4190208" "read -P 0 12587008 8384512" "read -P 0 29M 36699648"
qio "qemu72-rw-overwrite" "$(sd t1)" "write -P 0x55 4M 1M" "read -P 0x55 4M 1M" \
	"read -P 0x11 4190208 4096" "read -P 0x22 8384512 4096" "read -P 0 5M 3141632"
qio "qemu72-rw-writeback" "-r $(sd t1)" "read -P 0x55 4M 1M"
# reopen (cache-mode change, read-only and back): data stays, writes follow the mode
out=$(q "$IO" -f raw -c "write -P 0x67 44M 64k" -c "reopen -c none" -c "read -P 0x67 44M 64k" \
	-c "reopen -r" -c "write -P 0x68 44M 64k" -c "read -P 0x67 44M 64k" \
	-c "reopen -w -c writeback" -c "write -P 0x69 44M 64k" -c "read -P 0x69 44M 64k" "$(sd t1)")
if [ "$(echo "$out" | grep -c '^read 65536/')" = 3 ] && [ "$(echo "$out" | grep -c '^wrote 65536/')" = 2 ] &&
	echo "$out" | grep -qi 'read-only\|permission denied'; then ok "qemu72-reopen"
else not_ok "qemu72-reopen"; echo "$out" | diag; fi
# -t none: DIRECT flag (spec 3.2)
out=$(q "$IO" -t none -f raw -c "write -P 0x66 40M 1M" -c "read -P 0x66 40M 1M" "$(sd t1)")
if echo "$out" | grep -q '^read 1048576/' && ! echo "$out" | grep -qiE 'fail|error'; then ok "qemu72-rw-cache-none"
else not_ok "qemu72-rw-cache-none"; echo "$out" | diag; fi

# ---- convert in and out ----------------------------------------------------------
head -c $((10 * MIB)) /dev/urandom >"$TMP/in.raw"
truncate -s $((24 * MIB + 4096)) "$TMP/in.raw"
printf 'tail' | dd of="$TMP/in.raw" bs=1 seek=$((24 * MIB)) conv=notrunc status=none
check "qemu72-convert-in" "$IMG" convert -f raw -O raw "$TMP/in.raw" "$(sd conv)"
check "qemu72-convert-out" "$IMG" convert -f raw -O raw "$(sd conv)" "$TMP/out.raw"
if cmp -s "$TMP/in.raw" "$TMP/out.raw"; then ok "qemu72-convert-cmp"
else not_ok "qemu72-convert-cmp (round trip differs)"; fi
# thin provisioning: the zero part was not written (map shows it as zero)
outputs "qemu72-convert-thin" '"start": 12582912, "length": 12582912, .*"zero": true, "data": false' \
	"$IMG" map -f raw --output=json "$(sd conv)"
check "qemu72-compare" "$IMG" compare -f raw -F raw "$TMP/in.raw" "$(sd conv)"

# ---- location syntaxes --------------------------------------------------------------
qio "qemu72-loc-uri" "sheepdog://$H/t1" "read -P 0x33 67108352 512"
qio "qemu72-loc-uri-tcp" "sheepdog+tcp://$H/t1" "read -P 0x33 67108352 512"
qio "qemu72-loc-unix" "sheepdog+unix:///t1?socket=$SOCK" "read -P 0x33 67108352 512"
qio "qemu72-loc-image-opts" "--image-opts driver=raw,file.driver=sheepdog,file.server.type=inet,file.server.host=127.0.0.1,file.server.port=$PORT,file.vdi=t1" \
	"read -P 0x33 67108352 512"
qio "qemu72-loc-json" "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"sheepdog\",\"server\":{\"type\":\"unix\",\"path\":\"$SOCK\"},\"vdi\":\"t1\"}}" \
	"read -P 0x33 67108352 512"
refused "qemu72-loc-bad-unix" "host or port is not allowed" "$IO" -f raw -c "read 0 512" "sheepdog+unix://$H/t1"
refused "qemu72-loc-bad-snapid" "not a valid snapshot ID" "$IO" -f raw -c "read 0 512" "sheepdog://$H/t1#0"

# ---- snapshots ----------------------------------------------------------------------
S=$(sd snap)
check "qemu72-snap-setup" "$IMG" create -f raw "$S" 32M
qio "qemu72-snap-write1" "$S" "write -P 0x01 0 6M"
check "qemu72-snap-create-s1" "$IMG" snapshot -c s1 "$S"
qio "qemu72-snap-write2" "$S" "write -P 0x02 1M 1M" "write -P 0x03 10M 1M"
check "qemu72-snap-create-s2" "$IMG" snapshot -c s2 "$S"
qio "qemu72-snap-write3" "$S" "write -P 0x04 0 512"
out=$(q "$IMG" snapshot -l "$S")
if echo "$out" | grep -qE '^1 +s1 ' && echo "$out" | grep -qE '^2 +s2 '; then ok "qemu72-snap-list"
else not_ok "qemu72-snap-list"; echo "$out" | diag; fi
qio "qemu72-snap-read-tag" "-r $(sd snap:s1)" "read -P 0x01 0 6M" "read -P 0 10M 1M"
qio "qemu72-snap-read-id" "-r sheepdog://$H/snap#2" "read -P 0x01 0 1M" "read -P 0x02 1M 1M" \
	"read -P 0x03 10M 1M" "read -P 0x01 512 512"
qio "qemu72-snap-working" "$S" "read -P 0x04 0 512" "read -P 0x01 512 1023K" "read -P 0x02 1M 1M"
refused "qemu72-snap-missing-tag" "no snapshot" "$IO" -r -f raw -c "read 0 512" "$(sd snap:nosuch)"
check "qemu72-snap-apply-s1" "$IMG" snapshot -a s1 "$S"
qio "qemu72-snap-after-apply" "$S" "read -P 0x01 0 6M" "read -P 0 10M 1M"
qio "qemu72-snap-write-after-apply" "$S" "write -P 0x05 2M 512"
check "qemu72-snap-delete-s1" "$IMG" snapshot -d s1 "$S"
out=$(q "$IMG" snapshot -l "$S")
if ! echo "$out" | grep -qE '^1 +s1 ' && echo "$out" | grep -qE '^2 +s2 '; then ok "qemu72-snap-list-after-delete"
else not_ok "qemu72-snap-list-after-delete"; echo "$out" | diag; fi
# the 5.2 client zeroed the working index on delete (spec 0.7): data must stay
qio "qemu72-snap-working-after-delete" "$S" "read -P 0x05 2M 512" "read -P 0x01 0 2M" \
	"read -P 0x01 2097664 4193792"
qio "qemu72-snap-s2-after-delete" "-r $(sd snap:s2)" "read -P 0x02 1M 1M" "read -P 0x01 0 1M"
check "qemu72-snap-apply-by-id" "$IMG" snapshot -a 2 "$S"
qio "qemu72-snap-after-apply-id" "$S" "read -P 0x02 1M 1M" "read -P 0x03 10M 1M" "read -P 0x01 0 512"
refused "qemu72-snap-delete-missing" "not found" "$IMG" snapshot -d nosuch "$S"
# writing to an image opened at a snapshot branches from it (spec 7.9)
qio "qemu72-snap-write-at-snapshot" "$(sd snap:s2)" "write -P 0x07 0 4096" "read -P 0x07 0 4096"
qio "qemu72-snap-branch-result" "$S" "read -P 0x07 0 4096" "read -P 0x02 1M 1M"
qio "qemu72-snap-s2-unchanged" "-r $(sd snap:s2)" "read -P 0x01 0 1M"

# ---- backing-file clone -----------------------------------------------------------
check "qemu72-clone-create" "$IMG" create -f raw -b "$(sd snap:s2)" -F sheepdog "$(sd clone)"
qio "qemu72-clone-read" "$(sd clone)" "read -P 0x02 1M 1M" "read -P 0x03 10M 1M" "read -P 0x01 0 1M"
qio "qemu72-clone-cow" "$(sd clone)" "write -P 0x08 1M 4096" "read -P 0x08 1M 4096" \
	"read -P 0x02 1052672 1044480" "read -P 0x01 0 1M"
qio "qemu72-clone-base-unchanged" "-r $(sd snap:s2)" "read -P 0x02 1M 1M"
refused "qemu72-clone-from-working" "not a snapshot" "$IMG" create -f raw -b "$(sd snap)" -F sheepdog "$(sd clone2)"

# ---- resize ------------------------------------------------------------------------
check "qemu72-resize-grow" "$IMG" resize -f raw "$(sd t1)" 128M
outputs "qemu72-resize-info" "virtual size: 128 MiB" "$IMG" info -f raw "$(sd t1)"
qio "qemu72-resize-rw" "$(sd t1)" "write -P 0x09 127M 1M" "read -P 0x09 127M 1M" \
	"read -P 0x33 67108352 512" "read -P 0 64M 63M"
refused "qemu72-resize-shrink" "shrinking is not supported" "$IMG" resize -f raw --shrink "$(sd t1)" 32M

# ---- discard -----------------------------------------------------------------------
qio "qemu72-discard" "$(sd t1)" "discard 4M 8M" "read -P 0 4M 8M" "read -P 0x11 4190208 4096" \
	"read -P 0x22 12M 4096"
qio "qemu72-discard-persists" "$(sd t1)" "read -P 0 4M 8M"
qio "qemu72-discard-rewrite" "$(sd t1)" "write -P 0x0a 5M 4096" "read -P 0x0a 5M 4096" "read -P 0 4M 1M"

# ---- many requests in flight (qemu-img bench), then the data --------------------------
check "qemu72-bench-create" "$IMG" create -f raw "$(sd bench)" 64M
check "qemu72-bench-write" "$IMG" bench -f raw -w -c 2000 -d 32 -s 4k -S 12288 --pattern=0x5a "$(sd bench)"
qio "qemu72-bench-data" "$(sd bench)" "read -P 0x5a 0 4096" "read -P 0 4096 8192" \
	"read -P 0x5a $((1999 * 12288)) 4096" "read -P 0x5a $((342 * 12288)) 4096" "read -P 0 $((342 * 12288 + 4096)) 8192"
check "qemu72-bench-read" "$IMG" bench -f raw -c 4000 -d 64 -s 4k "$(sd bench)"
check "qemu72-bench-rand" "$IMG" bench -f raw -c 1000 -d 16 -s 64k -S 1M "$(sd bench)"

# ---- reconnect: kill -9 the daemon during a write stream ----------------------------
check "qemu72-reconnect-create" "$IMG" create -f raw "$(sd rc)" 128M
args=()
for i in $(seq 0 399); do args+=(-c "write -P 0x42 $((i * 262144)) 256k"); done
timeout -k 5 "$QT" "$IO" -f raw "${args[@]}" "$(sd rc)" >"$TMP/rc.out" 2>&1 &
BG=$!
sleep 0.5
at_kill=$(grep -c '^wrote' "$TMP/rc.out")
node_kill
sleep 2
node_start || not_ok "qemu72-reconnect-restart"
wait "$BG"; st=$?; BG=
acked=$(grep -c '^wrote 262144/262144' "$TMP/rc.out")
if [ "$at_kill" -ge 400 ]; then
	skip "qemu72-reconnect-stream" "the write stream ended before the kill"
elif [ "$st" = 0 ] && [ "$acked" = 400 ] && ! grep -qiE 'fail|error' "$TMP/rc.out"; then
	ok "qemu72-reconnect-stream (all 400 writes acknowledged, $at_kill before the kill -9)"
else
	not_ok "qemu72-reconnect-stream (exit $st, $acked of 400 acknowledged)"
	grep -v ' ops; ' "$TMP/rc.out" | diag
fi
qio "qemu72-reconnect-verify" "$(sd rc)" "read -P 0x42 0 $((acked * 262144))"

# the same with 32 requests in flight on the one connection (qemu-img bench)
check "qemu72-reconnect-pipelined-create" "$IMG" create -f raw "$(sd rcb)" 64M
timeout -k 5 "$QT" "$IMG" bench -f raw -w -d 32 -c 3000 -s 16k --pattern=0x77 "$(sd rcb)" \
	>"$TMP/rcb.out" 2>&1 &
BG=$!
sleep 0.5
alive=0; kill -0 "$BG" 2>/dev/null && alive=1
node_kill
sleep 2
node_start || not_ok "qemu72-reconnect-pipelined-restart"
wait "$BG"; st=$?; BG=
if [ "$alive" = 0 ]; then
	skip "qemu72-reconnect-pipelined" "the bench ended before the kill"
elif [ "$st" = 0 ] && grep -q 'Run completed' "$TMP/rcb.out"; then
	ok "qemu72-reconnect-pipelined (bench -d 32 completed across a kill -9)"
else
	not_ok "qemu72-reconnect-pipelined (exit $st)"; diag <"$TMP/rcb.out"
fi
qio "qemu72-reconnect-pipelined-verify" "$(sd rcb)" "read -P 0x77 0 $((3000 * 16384))" \
	"read -P 0 $((3000 * 16384)) 1M"

# ---- server gone longer than reconnect-timeout: EIO, not a hang -----------------------
OPTS="driver=raw,file.driver=sheepdog,file.server.type=inet,file.server.host=127.0.0.1,file.server.port=$PORT,file.vdi=rc,file.reconnect-timeout=2"
# one write, then qemu-io's own `sleep` (ms) while the server is killed, so
# the later writes always meet a dead server, however fast the machine is
args=(-c "write -P 0x43 0 256k" -c "sleep 3000")
for i in $(seq 1 20); do args+=(-c "write -P 0x43 $((i * 262144)) 256k"); done
timeout -k 5 "$QT" "$IO" "${args[@]}" --image-opts "$OPTS" >"$TMP/to.out" 2>&1 &
BG=$!
sleep 1
node_kill
wait "$BG"; st=$?; BG=
if [ "$st" -lt 124 ] && grep -q 'Input/output error' "$TMP/to.out" &&
	grep -q 'unreachable for 2 s' "$TMP/to.out"; then
	ok "qemu72-timeout-eio"
else
	not_ok "qemu72-timeout-eio (exit $st)"; grep -v ' ops; ' "$TMP/to.out" | diag
fi
node_start || not_ok "qemu72-timeout-restart"
qio "qemu72-timeout-after-restart" "$(sd rc)" "read -P 0x42 $((100 * 262144)) $((100 * 262144))"

# ---- qemu-system: -blockdev (QAPI schema) and a guest booting from a VDI ------------
SYS=$QB/qemu-system-x86_64
if [ ! -x "$SYS" ]; then
	skip "qemu72-blockdev" "no qemu-system-x86_64 in $QB (TOOLS_ONLY build)"
	skip "qemu72-savevm" "no qemu-system-x86_64 in $QB (TOOLS_ONLY build)"
	skip "qemu72-guest" "no qemu-system-x86_64 in $QB (TOOLS_ONLY build)"
	finish
fi
qmp() {
	printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-named-block-nodes"}' \
		'{"execute":"quit"}' | q "$SYS" -M none -nodefaults -display none -qmp stdio "$@"
}
out=$(qmp -blockdev "driver=sheepdog,node-name=d0,server.type=inet,server.host=127.0.0.1,server.port=$PORT,vdi=t1,reconnect-timeout=5")
if echo "$out" | grep -q '"drv": "sheepdog"' && echo "$out" | grep -q '"node-name": "d0"'; then ok "qemu72-blockdev"
else not_ok "qemu72-blockdev"; echo "$out" | diag; fi
out=$(qmp -blockdev "driver=sheepdog,node-name=d1,server.type=unix,server.path=$SOCK,vdi=snap,snap-id=2,read-only=on")
if echo "$out" | grep -q '"node-name": "d1"' && echo "$out" | grep -q 'sock#2"' &&
	echo "$out" | grep -q '"ro": true'; then ok "qemu72-blockdev-snapshot"
else not_ok "qemu72-blockdev-snapshot"; echo "$out" | diag; fi
out=$(qmp -blockdev "driver=sheepdog,node-name=d2,server.type=inet,server.host=127.0.0.1,server.port=$PORT,vdi=nosuch")
if echo "$out" | grep -q "no VDI named 'nosuch'"; then ok "qemu72-blockdev-missing"
else not_ok "qemu72-blockdev-missing"; echo "$out" | diag; fi

# savevm/loadvm: the VM state goes to vmstate objects of the snapshot
check "qemu72-savevm-create" "$IMG" create -f raw "$(sd vm)" 16M
qio "qemu72-savevm-seed" "$(sd vm)" "write -P 0x31 0 1M"
FW0=()
[ -f /usr/share/qemu/kvmvapic.bin ] && FW0=(-L /usr/share/qemu)
out=$( (sleep 1; echo "savevm vm1"; sleep 3; echo "info snapshots"; sleep 1
	echo "loadvm vm1"; sleep 3; echo "quit") |
	q "$SYS" "${FW0[@]}" -M pc -accel tcg -m 64 -nodefaults -display none -S \
		-monitor stdio -drive "file=$(sd vm),format=raw,if=virtio" | tr -d '\r')
if echo "$out" | grep -qE -- '-- +vm1 +[1-9][0-9.]* [KM]iB' && ! echo "$out" | grep -qiE 'error|fail'; then
	ok "qemu72-savevm-loadvm"
else
	not_ok "qemu72-savevm-loadvm"; echo "$out" | grep -vE '^\(qemu\)|\[K' | diag
fi
outputs "qemu72-savevm-listed" '^1 +vm1 +[1-9]' "$IMG" snapshot -l "$(sd vm)"
qio "qemu72-savevm-data" "$(sd vm)" "read -P 0x31 0 1M"

# The guest (qemu-block/guest.sh builds it; not fetched here): its /init
# prints the md5 of the first MiB and writes 8 MiB of 'G' at 3 MiB.
GUEST=$CACHE/guest/out-2
if [ ! -f "$GUEST/vmlinuz" ] || [ ! -f "$GUEST/initrd.img" ]; then
	skip "qemu72-guest" "no guest kernel/initrd in $GUEST (run qemu-block/guest.sh)"
	finish
fi
check "qemu72-guest-create" "$IMG" create -f raw "$(sd guest)" 64M
qio "qemu72-guest-seed" "$(sd guest)" "write -P 0x48 0 1M"
# Debian's option ROMs (linuxboot_dma.bin for -kernel) are in qemu-system-data
FW=()
[ -f /usr/share/qemu/linuxboot_dma.bin ] && FW=(-L /usr/share/qemu)
want=$(head -c $MIB /dev/zero | tr '\000' 'H' | md5sum | cut -d' ' -f1)
out=$(QT=600 q "$SYS" "${FW[@]}" -M pc -accel tcg -m 256 -nodefaults -display none -serial stdio \
	-no-reboot -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
	-drive "file=$(sd guest),format=raw,if=virtio,cache=writeback")
echo "$out" | grep '^GUEST' | sed 's/^/# /'
if echo "$out" | grep -q "GUEST-MD5 $want" && echo "$out" | grep -q 'GUEST-SIZE 131072' &&
	echo "$out" | grep -q 'GUEST-WRITE 0' && echo "$out" | grep -q 'GUEST-READBACK 0'; then
	ok "qemu72-guest-boot (read the seeded MiB, wrote 8 MiB across objects)"
else
	not_ok "qemu72-guest-boot"; echo "$out" | tail -20 | diag
fi
qio "qemu72-guest-data" "$(sd guest)" "read -P 0x48 0 1M" "read -P 0x47 3M 8M" "read -P 0 11M 53M"

finish
