#!/bin/bash
# node_cli.sh: sheepnode's command line, start-up, one request over TCP and
# the unix socket, and a clean SIGTERM shutdown. TAP-style lines.
# Env: SHEEPNODE = the daemon (tests/run.sh sets it). Run from the repo root.
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TMP=$(mktemp -d /tmp/node_cli.XXXXXX)
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
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; }
check() { # name command...
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}

if [ ! -x "$NODE" ]; then
	nok "sheepnode exists" "$NODE is not executable"
	exit 1
fi
if ! command -v python3 >/dev/null; then
	echo "ok - node_cli # SKIP python3 not installed (needed for the wire client)"
	exit 0
fi

# --- command line ---
out=$("$NODE" --version 2>&1); rc=$?
check "--version exits 0" [ $rc = 0 ]
check "--version prints the version" grep -q '^sheepnode [0-9]' <<<"$out"
out=$("$NODE" --help 2>&1); rc=$?
check "--help exits 0" [ $rc = 0 ]
check "--help lists --max-inflight" grep -q -- '--max-inflight' <<<"$out"
out=$("$NODE" --port banana 2>&1); rc=$?
check "bad --port exits 2" [ $rc = 2 ]
check "bad --port error names flag and value" grep -q -- "--port.*banana" <<<"$out"
check "bad --port error is one line" [ "$(wc -l <<<"$out")" = 1 ]
out=$("$NODE" --no-such-flag 2>&1); rc=$?
check "unknown flag exits 2 naming it" eval '[ $rc = 2 ] && grep -q -- "--no-such-flag" <<<"$out"'
printf 'port = 7000\nworkers = lots\n' > "$TMP/bad.conf"
out=$("$NODE" --config "$TMP/bad.conf" 2>&1); rc=$?
check "bad config file exits 2 naming file:line and key" \
	eval '[ $rc = 2 ] && grep -q "bad.conf:2:.*workers" <<<"$out"'

# --- a running daemon ---
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# request.py ADDR: sends GET_CLUSTER_DEFAULT (proto_ver 1, like QEMU) and
# checks the 48-byte reply: result 0, id echoed, shift 20-31.
cat > "$TMP/request.py" <<'PY'
import socket, struct, sys
addr = sys.argv[1]
if addr.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX); s.connect(addr[5:])
else:
    s = socket.create_connection(("127.0.0.1", int(addr)))
s.settimeout(10)
s.sendall(struct.pack("<BBHIII", 1, 0x18, 0, 0, 0x1234, 0) + bytes(32))
r = b""
while len(r) < 48:
    b = s.recv(48 - len(r))
    if not b:
        sys.exit("connection closed after %d bytes" % len(r))
    r += b
ver, op, flags, epoch, rid, dlen, res = struct.unpack("<BBHIIII", r[:20])
shift = r[22]
if (op, rid, dlen, res) != (0x18, 0x1234, 0, 0) or not 20 <= shift <= 31:
    sys.exit("bad reply op %#x id %#x len %d result %d shift %d" % (op, rid, dlen, res, shift))
# an unknown opcode with a payload: INVALID_PARMS, payload consumed
s.sendall(struct.pack("<BBHIII", 0, 0x77, 1, 0, 5, 3) + bytes(32) + b"abc")
s.sendall(struct.pack("<BBHIII", 0, 0x18, 0, 0, 6, 0) + bytes(32))
r = b""
while len(r) < 96:
    b = s.recv(96 - len(r))
    if not b:
        sys.exit("closed")
    r += b
a = struct.unpack("<BBHIIII", r[:20]); b = struct.unpack("<BBHIIII", r[48:68])
if sorted([(a[4], a[6]), (b[4], b[6])]) != [(5, 5), (6, 0)]:
    sys.exit("bad replies %r %r" % (a, b))
print("ok")
PY

PORT=$(free_port)
"$NODE" --dir "$TMP/data" --port "$PORT" --listen 127.0.0.1 --unix "$TMP/node.sock" \
	--workers 2 > "$TMP/log" 2>&1 &
PID=$!
up=0
for _ in $(seq 1 100); do
	if [ -S "$TMP/node.sock" ] && grep -q 'ready' "$TMP/log"; then up=1; break; fi
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
check "daemon starts" [ $up = 1 ]
check "start-up log names version and backend" \
	eval 'grep -q "sheepnode [0-9]" "$TMP/log" && grep -q "backend" "$TMP/log"'
check "start-up log names the listen address" grep -q "listening on 127.0.0.1:$PORT" "$TMP/log"
out=$(timeout 20 python3 "$TMP/request.py" "$PORT" 2>&1)
check "GET_CLUSTER_DEFAULT over TCP" [ "$out" = ok ] || echo "# $out"
out=$(timeout 20 python3 "$TMP/request.py" "unix:$TMP/node.sock" 2>&1)
check "GET_CLUSTER_DEFAULT over the unix socket" [ "$out" = ok ] || echo "# $out"

kill -TERM "$PID"
rc=
for _ in $(seq 1 100); do
	if ! kill -0 "$PID" 2>/dev/null; then wait "$PID"; rc=$?; break; fi
	sleep 0.1
done
[ -z "$rc" ] && rc=timeout
check "SIGTERM exits 0" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { echo "# exit: $rc"; tail -5 "$TMP/log" | sed 's/^/# /'; }
PID=
check "unix socket removed at exit" [ ! -e "$TMP/node.sock" ]
check "no sanitizer report" eval '! grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP/log"'
