#!/bin/bash
# repl_locks.sh: VDI locks in a replicating cluster (issue 5, "locking ...
# visible from every node"). 3 real sheepnodes with --enforce-locks on
# loopback: LOCK_VDI through one node is seen through the others (the
# catalog leader takes every lock and gives it to every node), and the lock
# survives kill -9 of the leader: the new leader refuses a second lock and
# releases it on request.
# TAP-style lines. Env: SHEEPNODE, SHEEPTOOL (tests/run.sh sets both).
CL_NAME=repl_locks CL_NODES=3
CL_ARGS=(--enforce-locks)
# shellcheck source=tests/integration/lib_cluster.sh
. "$(dirname "$0")/lib_cluster.sh"

# lock I NAME: LOCK_VDI (0x12, type 0) as QEMU sends it; prints the result
cat > "$TMP/lock.py" <<'PY'
import socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=40)
hdr = struct.pack("<BBHIII", 1, 0x12, 1, 0, 0, 256) + \
      struct.pack("<QIBBBBII", 0, 0, 0, 0, 0, 0, 0, 0) + b"\0" * 8
s.sendall(hdr + name.ljust(256, b"\0"))
r = b""
while len(r) < 48:
    c = s.recv(48 - len(r))
    if not c:
        sys.exit("connection closed")
    r += c
print(struct.unpack_from("<I", r, 16)[0])
PY
lock() { timeout 60 "$PY" "$TMP/lock.py" "${PORT[$1]}" "$2"; }

start 0
wait_for 10 node_up 0
start 1 --join "127.0.0.1:${PORT[0]}"
start 2 --join "127.0.0.1:${PORT[0]}"
check "3 nodes agree on one ring" gw 30 ring:same:3 0 1 2
leader=""
for i in 0 1 2; do [ "$(st $i "d['repl']['leader']")" = True ] && leader=$i; done
check "one node is the catalog leader" [ -n "$leader" ]
a=$(( (leader + 1) % 3 )); b=$(( (leader + 2) % 3 ))

check "create a VDI through node $a" T "$a" vdi create lk 8M
check "LOCK_VDI through node $a succeeds" [ "$(lock "$a" lk)" = 0 ]
check "a second LOCK_VDI through node $b is refused: VDI_LOCKED" [ "$(lock "$b" lk)" = 7 ]
T "$b" vdi lock list --json > "$TMP/ll" 2>/dev/null
check "the lock is listed through node $b" \
	"$PY" -c "import json,sys; d=json.load(open('$TMP/ll')); sys.exit(not [l for l in d['locks'] if l['name'] == 'lk'])"

kill -KILL "${PIDS[$leader]}"; wait "${PIDS[$leader]}" 2>/dev/null; PIDS[$leader]=
check "the 2 survivors agree on a ring without the leader" gw 30 ring:same:2 "$a" "$b"
check "after the leader's kill -9 the lock still holds: LOCK_VDI through node $b is refused" \
	[ "$(lock "$b" lk)" = 7 ]
check "unlock through node $a" T "$a" vdi lock unlock lk
check "then LOCK_VDI through node $b succeeds" [ "$(lock "$b" lk)" = 0 ]
check "no sanitizer reports in the node logs" eval '! grep -l "ERROR: AddressSanitizer\|runtime error:" "$TMP"/log* 2>/dev/null'
