#!/bin/bash
# sheeptool.sh: every sheeptool command against one live sheepnode, with
# the error paths (exit codes 2 usage, 3 not found, 4 unavailable), a
# sparse import/export round trip and the --json documents. TAP-style
# lines. Env: SHEEPNODE, SHEEPTOOL (tests/run.sh sets both); run from the
# repo root.
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-build/release/sheeptool}
TMP=$(mktemp -d /tmp/sheeptool_test.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }
check() { # name command...
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name" "stdout: $(head -c 300 "$TMP/out" 2>/dev/null) stderr: $(head -c 300 "$TMP/err" 2>/dev/null)"; fi
}
# st ARGS...: run sheeptool against the node; rc in $rc, output in files
# (a sanitizer report on stderr is remembered and fails the last check)
SAN=
san() { grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP/err" && SAN="$SAN $*"; true; }
st() { timeout 60 "$TOOL" "${CONN[@]}" "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; san "$@"; }
st_raw() { timeout 60 "$TOOL" "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; san "$@"; }
rc_is() { [ "$rc" = "$1" ]; }
out_has() { grep -q -- "$1" "$TMP/out"; }
err_has() { grep -q -- "$1" "$TMP/err"; }
# js 'python expression over d': checks the last --json output
js() { python3 -c "import json,sys; d=json.load(open('$TMP/out')); sys.exit(0 if ($1) else 1)"; }

for b in "$NODE" "$TOOL"; do
	if [ ! -x "$b" ]; then
		nok "binaries exist" "$b is not executable (build it first)"
		exit 1
	fi
done
if ! command -v python3 >/dev/null; then
	echo "ok - sheeptool # SKIP python3 not installed (needed for free ports and JSON checks)"
	exit 0
fi
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
CONN=(-a 127.0.0.1 -p "$PORT")

# --- command line, no node needed ---
st_raw --version
check "--version exits 0 and names the version" eval 'rc_is 0 && out_has "^sheeptool [0-9]"'
st_raw --help
check "--help lists every command" eval 'rc_is 0 && out_has "vdi create" && out_has "vdi import" && out_has "node info" && out_has keygen'
st_raw
check "no command exits 2" rc_is 2
st_raw help vdi create
check "help vdi create shows usage and --copies" eval 'rc_is 0 && out_has "usage: sheeptool vdi create NAME SIZE" && out_has -- "--copies"'
st_raw vdi export --help
check "vdi export --help shows --force" eval 'rc_is 0 && out_has -- "--force"'
st_raw vdi --help
check "vdi --help lists the vdi commands" eval 'rc_is 0 && out_has rollback && out_has resize'
fails=0
for c in "vdi list" "vdi info" "vdi delete" "vdi snapshot" "vdi clone" "vdi rollback" "vdi resize" \
	"vdi read" "vdi write" "node info" keygen version; do
	st_raw help $c
	rc_is 0 && out_has "usage: sheeptool $c" || fails=$((fails + 1))
done
check "help works for every command" [ $fails = 0 ]
st_raw frobnicate
check "unknown command exits 2" eval 'rc_is 2 && err_has frobnicate'
st_raw vdi list --bogus
check "unknown option exits 2 naming it" eval 'rc_is 2 && err_has -- "--bogus"'
st_raw vdi list --copies 2
check "option not taken by the command exits 2" eval 'rc_is 2 && err_has -- "--copies"'
st_raw -p 99999 vdi list
check "bad port exits 2 naming it" eval 'rc_is 2 && err_has 99999'
st vdi create
check "missing arguments exit 2 with usage" eval 'rc_is 2 && err_has "usage:"'

# --- keygen ---
st_raw keygen "$TMP/key"
check "keygen writes 32 bytes" eval 'rc_is 0 && [ "$(stat -c %s "$TMP/key")" = 32 ]'
check "keygen file mode is 0600" [ "$(stat -c %a "$TMP/key")" = 600 ]
cp "$TMP/key" "$TMP/key.orig"
st_raw keygen "$TMP/key"
check "keygen refuses to overwrite (exit 1, file unchanged)" eval 'rc_is 1 && err_has exists && cmp -s "$TMP/key" "$TMP/key.orig"'
st_raw keygen "$TMP/key2"
check "two keys differ" eval 'rc_is 0 && ! cmp -s "$TMP/key" "$TMP/key2"'

# --- node down ---
st vdi list
check "node down: exit 4 naming the address" eval 'rc_is 4 && err_has "127.0.0.1:$PORT"'
st_raw -u "$TMP/nosuch.sock" node info
check "node down on a unix socket: exit 4" rc_is 4

# --- start a node ---
"$NODE" --dir "$TMP/data" --port "$PORT" --listen 127.0.0.1 --unix "$TMP/node.sock" \
	--workers 2 > "$TMP/node.log" 2>&1 &
PID=$!
up=0
for _ in $(seq 1 100); do
	if [ -S "$TMP/node.sock" ] && grep -q 'ready' "$TMP/node.log"; then up=1; break; fi
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
check "sheepnode starts" [ $up = 1 ]
[ $up = 1 ] || { tail -5 "$TMP/node.log" | sed 's/^/# /'; exit 1; }

# --- node info ---
st node info
check "node info prints the status" eval 'rc_is 0 && out_has "^version:" && out_has "^backend:"'
st node info --json
check "node info --json parses with version, backend, vdis" \
	js '"version" in d and isinstance(d["backend"], str) and isinstance(d["vdis"], int) and isinstance(d["bad_requests"], dict)'
st_raw -u "$TMP/node.sock" node info --json
check "node info over the unix socket" eval 'rc_is 0 && js "\"objects\" in d"'

# --- create, list, info ---
st vdi create disk1 64M
check "vdi create" eval 'rc_is 0 && out_has disk1'
st vdi create disk1 64M
check "vdi create of an existing name exits 1" eval 'rc_is 1 && err_has disk1 && err_has exist'
st vdi create bad 12Q
check "vdi create with a bad size exits 2" eval 'rc_is 2 && err_has 12Q'
st vdi create bad 1KB
check "vdi create refuses the ambiguous unit KB (exit 2)" rc_is 2
st vdi create bad 1.3K
check "vdi create refuses a fraction of a byte (exit 2)" rc_is 2
st vdi create bad 0
check "vdi create with size 0 exits 2" rc_is 2
st vdi create bad 5T
check "vdi create above the 4 TiB limit exits 2" rc_is 2
st vdi create bad 1G --copies 0
check "vdi create --copies 0 exits 2" eval 'rc_is 2 && err_has copies'
st vdi create two 1.5G --copies 2
check "vdi create with units and --copies" rc_is 0
st vdi info two --json
check "vdi info --json: size and copies" js 'd["name"]=="two" and d["size"]==1610612736 and d["copies"]==2 and d["snapshot"] is False'
st vdi info disk1
check "vdi info (text)" eval 'rc_is 0 && out_has "64 MiB" && out_has "snapshot: *no"'
st vdi info nosuch
check "vdi info of an unknown VDI exits 3" eval 'rc_is 3 && err_has nosuch'
st vdi list nosuch
check "vdi list of an unknown name exits 3" rc_is 3
st vdi list
check "vdi list (text) shows both" eval 'rc_is 0 && out_has "^NAME" && out_has "^disk1 " && out_has "^two "'

# --- write, read ---
printf 'hello sheep' | { "$TOOL" "${CONN[@]}" vdi write disk1 1M > "$TMP/out" 2> "$TMP/err"; }
rc=$?
check "vdi write from stdin" rc_is 0
st vdi read disk1 1M 11
check "vdi read returns what was written" eval 'rc_is 0 && [ "$(cat "$TMP/out")" = "hello sheep" ]'
st vdi read disk1 0 4K
check "vdi read of unwritten space is zeros" eval 'rc_is 0 && [ "$(stat -c %s "$TMP/out")" = 4096 ] && ! tr -d "\\0" < "$TMP/out" | grep -q .'
st vdi read disk1 63M 2M
check "vdi read past the end exits 2" rc_is 2
st vdi read disk1 zz
check "vdi read with a bad offset exits 2" rc_is 2
head -c 2M /dev/urandom > "$TMP/2m"
"$TOOL" "${CONN[@]}" vdi write disk1 63M < "$TMP/2m" > "$TMP/out" 2> "$TMP/err"; rc=$?
check "vdi write of a file past the end exits 2 without writing" \
	eval 'rc_is 2 && [ -z "$("$TOOL" "${CONN[@]}" vdi read disk1 63M 1M | tr -d "\\0")" ]'
"$TOOL" "${CONN[@]}" vdi write disk1 3M < "$TMP/2m" > "$TMP/out" 2> "$TMP/err"; rc=$?
st vdi read disk1 3M 2M
check "vdi write/read of 2 MiB across an object boundary" eval 'rc_is 0 && cmp -s "$TMP/out" "$TMP/2m"'
st vdi read nosuch
check "vdi read of an unknown VDI exits 3" rc_is 3

# --- snapshot, clone, rollback ---
st vdi snapshot disk1 --tag before
check "vdi snapshot --tag" eval 'rc_is 0 && out_has before'
st vdi snapshot disk1 --tag before
check "vdi snapshot with a used tag exits 1" eval 'rc_is 1 && err_has before'
st vdi snapshot nosuch
check "vdi snapshot of an unknown VDI exits 3" rc_is 3
printf 'CHANGED!!!!' | "$TOOL" "${CONN[@]}" vdi write disk1 1M > /dev/null 2>&1
st vdi read disk1 1M 11
check "the working VDI changes after the snapshot" eval '[ "$(cat "$TMP/out")" = "CHANGED!!!!" ]'
st vdi read disk1 1M 11 --snapshot before
check "vdi read --snapshot TAG sees the old data" eval 'rc_is 0 && [ "$(cat "$TMP/out")" = "hello sheep" ]'
st vdi read disk1 1M 11 --snapshot 1
check "vdi read --snapshot ID sees the old data" eval 'rc_is 0 && [ "$(cat "$TMP/out")" = "hello sheep" ]'
st vdi list disk1 --json
check "vdi list --json: snapshot entry and count" js '
len(d["vdis"])==2 and
[v["tag"] for v in d["vdis"] if v["snapshot"]]==["before"] and
[v["snapshots"] for v in d["vdis"] if not v["snapshot"]]==[1] and
all(v["size"]==64<<20 and v["object_size"]==4<<20 for v in d["vdis"]) and
[v["snap_id"] for v in d["vdis"] if v["snapshot"]]==[1] and
[v["parent_vid"] for v in d["vdis"] if not v["snapshot"]]==[v["vid"] for v in d["vdis"] if v["snapshot"]]'
# written: object 0 (at 1M) and objects 0-1 (3M..5M); then object 0 again
check "vdi list --json: the working VDI owns the rewritten object, shares the rest" js '
[(v["used"], v["shared"]) for v in d["vdis"] if not v["snapshot"]]==[(4<<20, 4<<20)] and
[v["used"] for v in d["vdis"] if v["snapshot"]]==[8<<20]'
st vdi clone disk1:before copy1
check "vdi clone NAME:TAG" rc_is 0
st vdi read copy1 1M 11
check "the clone has the snapshot's data" eval '[ "$(cat "$TMP/out")" = "hello sheep" ]'
st vdi clone disk1 copy2
check "vdi clone without a selector takes the newest snapshot" eval 'rc_is 0 && out_has before'
st vdi clone disk1:nosuch copy3
check "vdi clone from an unknown snapshot exits 3" rc_is 3
st vdi clone two copy3
check "vdi clone of a VDI without snapshots exits 3" rc_is 3
st vdi clone disk1:before two
check "vdi clone onto an existing name exits 1" rc_is 1
st vdi rollback disk1
check "vdi rollback without --snapshot exits 2" rc_is 2
st vdi rollback disk1 --snapshot nosuch
check "vdi rollback to an unknown snapshot exits 3 and changes nothing" \
	eval 'rc_is 3 && [ "$("$TOOL" "${CONN[@]}" vdi read disk1 1M 11)" = "CHANGED!!!!" ]'
st vdi rollback disk1 --snapshot before
check "vdi rollback" rc_is 0
st vdi read disk1 1M 11
check "after rollback the VDI has the snapshot's data" eval '[ "$(cat "$TMP/out")" = "hello sheep" ]'
st vdi list disk1 --json
check "after rollback: one working VDI, the snapshot kept" js '
sorted(v["snapshot"] for v in d["vdis"])==[False, True]'

st vdi snapshot two --tag 2024
st vdi info two --snapshot 2024 --json
check "a tag made of digits is found when no snapshot has that id" js 'd["snapshot"] and d["tag"]=="2024" and d["snap_id"]==1'
st vdi info two --snapshot 1 --json
check "a selector of digits is a snapshot id first" js 'd["snap_id"]==1 and d["snapshot"]'

# --- resize ---
st vdi resize disk1 128M
check "vdi resize grows" eval 'rc_is 0 && "$TOOL" "${CONN[@]}" vdi info disk1 --json > "$TMP/out" && js "d[\"size\"]==128<<20"'
st vdi resize disk1 64M
check "vdi resize refuses to shrink (exit 2)" eval 'rc_is 2 && err_has shrink'
st vdi resize disk1 x1
check "vdi resize with a bad size exits 2" rc_is 2
st vdi resize nosuch 1G
check "vdi resize of an unknown VDI exits 3" rc_is 3

# --- delete ---
st vdi delete disk1 --snapshot 1
check "vdi delete --snapshot ID" rc_is 0
st vdi delete disk1 --snapshot 1
check "deleting it again exits 3" rc_is 3
st vdi read copy1 1M 11
check "a clone survives deleting its base snapshot" eval '[ "$(cat "$TMP/out")" = "hello sheep" ]'
st vdi delete copy2
check "vdi delete" rc_is 0
st vdi info copy2
check "a deleted VDI is gone (exit 3)" rc_is 3
st vdi delete copy2
check "deleting an unknown VDI exits 3" eval 'rc_is 3 && err_has copy2'

# --- import / export, sparse ---
python3 - "$TMP/img" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.truncate(20 << 20)                     # 20 MiB: 5 objects of 4 MiB
    for off, data in ((0, b"A" * 100), (9 << 20, b"B" * 5000), ((20 << 20) - 3, b"END")):
        f.seek(off); f.write(data)
PY
st vdi import sparse "$TMP/img"
check "vdi import of a sparse image" rc_is 0
st vdi list sparse --json
check "sparse import stored only the 3 objects holding data" js 'd["vdis"][0]["used"]==3*(4<<20) and d["vdis"][0]["size"]==20<<20'
st vdi export sparse "$TMP/img.out"
check "vdi export" rc_is 0
check "export round trip is byte-identical (cmp)" cmp "$TMP/img" "$TMP/img.out"
check "export wrote holes (far fewer blocks than 20 MiB)" [ "$(du -k "$TMP/img.out" | cut -f1)" -lt 4096 ]
st vdi export sparse "$TMP/img.out"
check "vdi export refuses to overwrite (exit 1)" eval 'rc_is 1 && err_has -- "--force"'
head -c 5M /dev/urandom > "$TMP/rand"
"$TOOL" "${CONN[@]}" vdi write sparse 4M < "$TMP/rand" > /dev/null 2>&1
st vdi export sparse "$TMP/img.out" --force
check "vdi export --force overwrites" eval 'rc_is 0 && cmp -s <(head -c 5M <(tail -c +4194305 "$TMP/img.out")) "$TMP/rand"'
st vdi export nosuch "$TMP/never"
check "vdi export of an unknown VDI exits 3, creates nothing" eval 'rc_is 3 && [ ! -e "$TMP/never" ]'
truncate -s 12M "$TMP/zero"
st vdi import zero "$TMP/zero" --copies 1
check "importing an all-zero image stores nothing" eval 'rc_is 0 && "$TOOL" "${CONN[@]}" vdi list zero --json > "$TMP/out" && js "d[\"vdis\"][0][\"used\"]==0 and d[\"vdis\"][0][\"copies\"]==1"'
st vdi import sparse "$TMP/img"
check "vdi import onto an existing VDI exits 1" rc_is 1
st vdi import other "$TMP/no-such-file"
check "vdi import of a missing file exits 3 naming it" eval 'rc_is 3 && err_has no-such-file'
st vdi export sparse "$TMP/img2.out" --snapshot 9
check "vdi export of an unknown snapshot exits 3" rc_is 3

# --- whole list as JSON ---
st vdi list --json
check "vdi list --json: every field present with the right type" js '
all(set(v) >= {"name","vid","vid_hex","snapshot","snap_id","tag","size","used","shared","object_size","copies","parent_vid","created","snap_time","snapshots"}
    and isinstance(v["created"], int) and v["created"] > 1600000000
    and int(v["vid_hex"], 16) == v["vid"] for v in d["vdis"])
and {"two","copy1","sparse","zero","disk1"} <= {v["name"] for v in d["vdis"]}
and "copy2" not in {v["name"] for v in d["vdis"]}'

# --- bash completion ---
comp() { # words...: the completions offered for the last word
	bash -c 'source tools/sheeptool.bash-completion; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sheeptool; echo "${COMPREPLY[*]}"' _ "$@"
}
check "bash completion: commands" eval '[ "$(comp sheeptool vdi sn)" = snapshot ]'
check "bash completion: options of the command" eval '[ "$(comp sheeptool vdi export x --fo)" = --force ]'
PATH="$(dirname "$(readlink -f "$TOOL")"):$PATH" check "bash completion: VDI names from the node" 	eval '[ "$(comp sheeptool -p "$PORT" vdi info cop)" = copy1 ]'

# --- a node that sends garbage: clear error, no crash ---
FAKE=$(free_port)
python3 - "$FAKE" "$TMP/fake.ready" > "$TMP/fake.log" 2>&1 <<'PY' &
import socket, struct, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4); srv.settimeout(30)
open(sys.argv[2], "w").close()
for body in (b'{"version":"x","vdis":[1,2,', b"[" * 5000, b'{"a":1} trailing', b'{"a":"\x01"}'):
    c, _ = srv.accept()
    hdr = b""
    while len(hdr) < 48:
        b = c.recv(48 - len(hdr))
        if not b:
            break
        hdr += b
    if len(hdr) == 48:
        rid = struct.unpack_from("<I", hdr, 8)[0]
        c.sendall(struct.pack("<BBHIIII", 2, hdr[1], 0, 0, rid, len(body), 0) + bytes(28) + body)
    c.close()
PY
FPID=$!
for _ in $(seq 1 50); do [ -e "$TMP/fake.ready" ] && break; sleep 0.1; done
fails=0
for n in 1 2 3 4; do
	st_raw -p "$FAKE" node info
	rc_is 1 && err_has malformed || { fails=$((fails + 1)); echo "# case $n: rc $rc: $(cat "$TMP/err")"; }
done
check "node info: malformed status documents exit 1 naming the problem" [ $fails = 0 ]
kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null

# --- a node with one unreadable inode: listed around it, exit 1 ---
FAKE=$(free_port)
python3 - "$FAKE" "$TMP/fake2.ready" > "$TMP/fake2.log" 2>&1 <<'PY' &
import socket, struct, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4); srv.settimeout(30)
open(sys.argv[2], "w").close()
bm = bytearray(1 << 21); bm[0] = 0b01100000          # vids 5 and 6
hdr6 = bytearray(4664); hdr6[0:2] = b"ok"
struct.pack_into("<QQQQQBBBBIII", hdr6, 512, 1 << 32, 0, 0, 4 << 20, 0, 0, 0, 1, 22, 1, 6, 0)
def recvn(c, n):
    d = b""
    while len(d) < n:
        b = c.recv(n - len(d))
        if not b:
            return None
        d += b
    return d
c, _ = srv.accept()
while True:
    h = recvn(c, 48)
    if h is None:
        break
    op, rid, dlen = h[1], struct.unpack_from("<I", h, 8)[0], struct.unpack_from("<I", h, 12)[0]
    oid, off = struct.unpack_from("<Q", h, 16)[0], struct.unpack_from("<Q", h, 40)[0]
    res, body = 0, b""
    if op == 0x15:
        body = bytes(bm)
    elif op == 0x02 and (oid >> 32) & 0xffffff == 5:
        res = 2                                       # NO_OBJ
    elif op == 0x02:
        body = (bytes(hdr6) + bytes(4))[off:off + dlen]
    else:
        res = 5
    c.sendall(struct.pack("<BBHIIII", 2, op, 0, 0, rid, len(body), res) + bytes(28) + body)
PY
FPID=$!
for _ in $(seq 1 50); do [ -e "$TMP/fake2.ready" ] && break; sleep 0.1; done
st_raw -p "$FAKE" vdi list
check "vdi list skips an unreadable inode, names it and exits 1" \
	eval 'rc_is 1 && out_has "^ok " && err_has 000005 && err_has incomplete'
kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null

# --- node goes away ---
kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=
st vdi list
check "after the node stops: exit 4" eval 'rc_is 4 && err_has "sheepnode running"'
check "no sanitizer report from sheeptool" [ -z "$SAN" ]
[ -z "$SAN" ] || echo "# sanitizer report in:$SAN"
check "no sanitizer report in the node log" eval '! grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP/node.log"'
exit 0
