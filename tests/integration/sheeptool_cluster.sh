#!/bin/bash
# sheeptool_cluster.sh: `sheeptool cluster info`, `node list` (USED and
# CAPACITY columns) and `vdi lock list/unlock` (SD_OP_SM_LOCKS) against live
# sheepnodes on 127.0.0.1: first one node started with --enforce-locks
# (locks taken by a small python client speaking LOCK_VDI, listed, released,
# listed empty), then 3 nodes joined into one cluster (one of them without
# --enforce-locks), then one killed (health degraded), then a fake node
# answering SM_LOCKS with an error and with garbage; error paths (node down
# => exit 4, unknown VDI => exit 3). TAP-style lines. Env: SHEEPNODE,
# SHEEPTOOL (tests/run.sh sets both); run from the repo root.
#
# Ports: 8 consecutive ports free for TCP and UDP, searched in 12000-15999
# (the other scripts search 20000-60000 or ask the kernel for one).
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-$(dirname "$NODE")/sheeptool}
TMP=$(mktemp -d /tmp/sheeptool_cluster.XXXXXX)
INTERVAL=${GOSSIP_TEST_INTERVAL:-200}   # --gossip-interval (ms): keeps the test in seconds
declare -a PIDS=()
FPID=
cleanup() {
	for p in "${PIDS[@]}" "$FPID"; do
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		fi
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }
check() { # name command...
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name" "rc=$rc stdout: $(head -c 600 "$TMP/out" 2>/dev/null) stderr: $(head -c 400 "$TMP/err" 2>/dev/null)"; fi
}
SAN=
san() { grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP/err" && SAN="$SAN $*"; true; }
# st I args...: sheeptool against node I (port PORT[I])
st() { local i=$1; shift; timeout 60 "$TOOL" -a 127.0.0.1 -p "${PORT[$i]}" "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; san "$@"; }
rc_is() { [ "$rc" = "$1" ]; }
out_has() { grep -q -- "$1" "$TMP/out"; }
err_has() { grep -q -- "$1" "$TMP/err"; }
# js 'python expression over d': checks the last --json output
js() { "$PY" -c "import json,sys,time; d=json.load(open('$TMP/out')); sys.exit(0 if ($1) else 1)"; }

for b in "$NODE" "$TOOL"; do
	if [ ! -x "$b" ]; then
		nok "binaries exist" "$b is not executable (build it first)"
		exit 1
	fi
done
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
if [ -z "$PY" ]; then
	echo "ok - sheeptool cluster # SKIP python3 not installed (needed for ports, JSON and the lock client)"
	exit 0
fi

PORTS=$("$PY" - <<'PY'
import socket, random
for _ in range(100):
    base = random.randrange(12000, 15992, 8)
    socks = []
    try:
        for p in range(base, base + 8):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", p)); socks.append(s)
        print(" ".join(str(p) for p in range(base, base + 8))); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
read -r -a PORT <<<"$PORTS"
[ "${#PORT[@]}" = 8 ] || { echo "not ok - free ports in 12000-15999 # none found"; exit 1; }

# lock I NAME TYPE [SNAPID]: LOCK_VDI (0x12) as QEMU sends it (proto 1, WRITE,
# 256-byte name, type at byte 36); prints "RESULT VID_HEX"
cat > "$TMP/lock.py" <<'PY'
import socket, struct, sys
port, name, typ = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
snapid = int(sys.argv[4]) if len(sys.argv) > 4 else 0
s = socket.create_connection(("127.0.0.1", port), timeout=10)
hdr = struct.pack("<BBHIII", 1, 0x12, 1, 0, 0, 256) + \
      struct.pack("<QIBBBBII", 0, 0, 0, 0, 0, 0, snapid, typ) + b"\0" * 8
assert len(hdr) == 48
s.sendall(hdr + name.ljust(256, b"\0"))
r = b""
while len(r) < 48:
    c = s.recv(48 - len(r))
    if not c:
        sys.exit("connection closed")
    r += c
print(struct.unpack_from("<I", r, 16)[0], "%06x" % struct.unpack_from("<I", r, 24)[0])
PY
lock() { timeout 20 "$PY" "$TMP/lock.py" "${PORT[$1]}" "$2" "$3" ${4:+"$4"}; }

# Node ids chosen so that node 2 has the lowest: on replicating nodes it is
# the catalog leader (node/PEER.md), and it runs with --enforce-locks, so
# the lock checks through other nodes are deterministic. The rest random.
for i in 0 1 2; do
	mkdir -p "$TMP/d$i"
	( umask 077; "$PY" -c "import os; print('%x' % (0xc - 4 * $i) + os.urandom(16).hex()[1:])" > "$TMP/d$i/node-id" )
done

# start I [flags...]: node I on PORT[I] with data dir d$I; waits for "ready"
start() {
	local i=$1 up=0; shift
	"$NODE" --dir "$TMP/d$i" --port "${PORT[$i]}" --listen 127.0.0.1 --no-multicast \
		--gossip-interval "$INTERVAL" --workers 2 "$@" >> "$TMP/log$i" 2>&1 &
	PIDS[$i]=$!
	for _ in $(seq 1 100); do
		if grep -q 'ready' "$TMP/log$i"; then up=1; break; fi
		kill -0 "${PIDS[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	[ $up = 1 ] || { echo "# node $i did not start:"; tail -5 "$TMP/log$i" | sed 's/^/# /'; }
	[ $up = 1 ]
}
# wait_json SECS I 'expr' ARGS...: poll `sheeptool ARGS --json` on node I until expr holds
wait_json() {
	local secs=$1 i=$2 expr=$3; shift 3
	local end=$(( $(date +%s) + secs ))
	while :; do
		st "$i" "$@" --json
		if rc_is 0 && js "$expr"; then return 0; fi
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.3
	done
}

# ---------------- no node ----------------
st 0 help cluster info
check "help cluster info: usage and --json" eval 'rc_is 0 && out_has "usage: sheeptool cluster info" && out_has -- "--json"'
st 0 help vdi lock list
check "help vdi lock list names SM_LOCKS" eval 'rc_is 0 && out_has "usage: sheeptool vdi lock list" && out_has SM_LOCKS'
st 0 vdi lock list extra
check "vdi lock list with an argument: exit 2" rc_is 2
st 0 cluster info
check "cluster info, node down: exit 4 naming the address" eval 'rc_is 4 && err_has "127.0.0.1:${PORT[0]}"'
st 0 cluster info --json
check "cluster info --json, node down: exit 4, nothing on stdout" eval 'rc_is 4 && [ ! -s "$TMP/out" ]'
st 0 vdi lock list
check "vdi lock list, node down: exit 4" eval 'rc_is 4 && err_has "127.0.0.1:${PORT[0]}"'
st 0 vdi lock unlock disk1
check "vdi lock unlock, node down: exit 4" rc_is 4
st 0 node list
check "node list, node down: exit 4" rc_is 4

# ---------------- one node, --enforce-locks ----------------
start 0 --enforce-locks --copies 2 || { nok "node 0 starts"; exit 1; }
ok "node 0 starts (--enforce-locks)"
SELF0=$(tr -d '\n' < "$TMP/d0/node-id")

# Does this sheepnode replicate (SM_STATUS has a "repl" section)? Health
# and the replication line depend on it: without replication a cluster with
# every member alive is "ok"; with it, "ok" too when the object check
# (cluster check's) finds every object with its copies.
st 0 node info --json
if js "'repl' in d"; then
	REPL=1; HEALTHY=ok; REPL_TEXT="on ("; REPL_JS="d['replication'] is True and d['replication_nodes'] >= 1"
else
	REPL=0; HEALTHY=ok; REPL_TEXT="not yet"; REPL_JS="d['replication'] is False and d['replication_nodes'] is None"
fi
echo "# node replicates: $REPL (healthy cluster => health '$HEALTHY')"
st 0 cluster info
check "cluster info (1 node): ring version, copies, nodes, replication, health" \
	eval 'rc_is 0 && out_has "ring version: *epoch [0-9]" && out_has "default copies: *2" &&
	      out_has "nodes: *1 (1 alive, 0 suspect, 0 dead, 0 left)" &&
	      out_has "replication: *$REPL_TEXT" && out_has "health: *$HEALTHY: " && out_has "$SELF0"'
st 0 cluster info --json
check "cluster info --json (1 node) parses with the documented fields" \
	js "d['node'] == '127.0.0.1:${PORT[0]}' and d['self'] == '$SELF0' and d['copies'] == 2 and
	    d['ring']['epoch'] >= 1 and len(d['ring']['digest']) == 32 and d['ring']['members'] == 1 and
	    d['nodes'] == {'total': 1, 'alive': 1, 'suspect': 0, 'dead': 0, 'left': 0} and
	    $REPL_JS and d['health'] == '$HEALTHY' and isinstance(d['health_detail'], str) and
	    d['block_size_shift'] == 22 and d['copy_policy'] == 0"

st 0 vdi lock list
check "vdi lock list, no locks: header and '(no locks held)'" \
	eval 'rc_is 0 && out_has "^VID *NAME *SNAPSHOT *TYPE *HOLDERS *TAKEN" && out_has "(no locks held)" && [ "$(wc -l < "$TMP/out")" = 2 ]'
st 0 vdi lock list --json
check "vdi lock list --json, no locks" js "d == {'enforce_locks': True, 'locks': []}"

st 0 vdi create disk1 16M && st 0 vdi create disk2 16M && st 0 vdi create 'we"ird}name' 16M
check "three VDIs created" rc_is 0
st 0 vdi snapshot disk1 --tag t1
check "snapshot of disk1 (tag t1)" rc_is 0
# The snapshot sequence (QEMU's: LOCK_VDI, NEW_VDI snapid 1, RELEASE_VDI of
# the new working vid) leaves today's store holding the lock on the old vid,
# which is now the snapshot: exactly the stale lock `vdi lock list` is for.
st 0 vdi lock list --json
if js "[(l['snapshot'], l['tag']) for l in d['locks']] == [(True, 't1')]"; then
	ok "lock list shows the lock the snapshot sequence left on snapshot t1"
	st 0 vdi lock unlock disk1 --snapshot t1
	check "that stale lock is released by 'vdi lock unlock disk1 --snapshot t1'" \
		eval 'rc_is 0 && out_has "released the lock on snapshot .t1." && st 0 vdi lock list --json && js "d[\"locks\"] == []"'
else
	check "after the snapshot no lock is left" js "d['locks'] == []"
fi
VID1=$(lock 0 disk1 0); R_SHARED1=$(lock 0 disk2 1); R_SHARED2=$(lock 0 disk2 1)
R_WEIRD=$(lock 0 'we"ird}name' 0); R_SNAP=$(lock 0 disk1 0 1)
check "LOCK_VDI: disk1 normal, disk2 shared twice, a name with quote and brace, snapshot 1 of disk1" \
	eval '[ "${VID1%% *}" = 0 ] && [ "${R_SHARED1%% *}" = 0 ] && [ "${R_SHARED2%% *}" = 0 ] &&
	      [ "${R_WEIRD%% *}" = 0 ] && [ "${R_SNAP%% *}" = 0 ]'
VID1=${VID1#* }; VID2=${R_SHARED1#* }; VIDW=${R_WEIRD#* }; VIDS=${R_SNAP#* }
R=$(lock 0 disk1 0)
check "a second normal lock on disk1 is refused (VDI_LOCKED): locks are enforced" [ "${R%% *}" = 7 ]

st 0 vdi lock list
check "vdi lock list shows 4 locks" eval 'rc_is 0 && [ "$(wc -l < "$TMP/out")" = 5 ]'
check "text row: disk1 normal, 1 holder" grep -q "^$VID1  disk1 .* - .* normal  *1  20[0-9][0-9]-" "$TMP/out"
check "text row: disk2 shared, 2 holders" grep -q "^$VID2  disk2 .* shared  *2 " "$TMP/out"
check "text row: snapshot 1 t1 of disk1" grep -q "^$VIDS  disk1 .* 1 t1 .* normal  *1 " "$TMP/out"
check "text row: the name with quote and brace, unescaped" grep -q "^$VIDW  we\"ird}name " "$TMP/out"
st 0 vdi lock list --json
NOW=$(date +%s)
check "vdi lock list --json: every field of every lock" \
	js "d['enforce_locks'] is True and len(d['locks']) == 4 and
	    [l['vid'] for l in d['locks']] == sorted(l['vid'] for l in d['locks']) and
	    all(l['vid_hex'] == '%06x' % l['vid'] and abs(l['taken'] - $NOW) < 300 for l in d['locks']) and
	    {(l['vid_hex'], l['name'], l['snapshot'], l['tag'], l['type'], l['holders']) for l in d['locks']} ==
	    {('$VID1', 'disk1', False, '', 'normal', 1), ('$VID2', 'disk2', False, '', 'shared', 2),
	     ('$VIDW', 'we\"ird}name', False, '', 'normal', 1), ('$VIDS', 'disk1', True, 't1', 'normal', 1)} and
	    [l['snap_id'] for l in d['locks'] if l['snapshot']] == [1]"

st 0 vdi lock unlock disk2
check "unlock of a 2-holder shared lock: one remains" eval 'rc_is 0 && out_has "released one holder.*1 remain"'
st 0 vdi lock list --json
check "disk2 now has 1 holder" js "[l['holders'] for l in d['locks'] if l['name'] == 'disk2'] == [1]"
st 0 vdi lock unlock disk2
check "unlock of the last holder" eval 'rc_is 0 && out_has "released the lock on VDI .disk2."'
st 0 vdi lock unlock disk1 --snapshot t1
check "unlock of a snapshot's lock (--snapshot TAG)" eval 'rc_is 0 && out_has "released the lock on snapshot .t1. of VDI .disk1."'
st 0 vdi lock unlock disk1
check "unlock disk1" rc_is 0
st 0 vdi lock unlock 'we"ird}name'
check "unlock the quoted name" rc_is 0
st 0 vdi lock list
check "vdi lock list is empty again" eval 'rc_is 0 && out_has "(no locks held)" && [ "$(wc -l < "$TMP/out")" = 2 ]'
st 0 vdi lock list --json
check "vdi lock list --json is empty again" js "d['locks'] == []"
st 0 vdi lock unlock disk1
check "unlock of an unlocked VDI says so (exit 0)" eval 'rc_is 0 && out_has "was not locked"'
R=$(lock 0 disk1 0)
check "disk1 can be locked again after the unlock" [ "${R%% *}" = 0 ]
st 0 vdi lock unlock nosuchvdi
check "unlock of an unknown VDI: exit 3 naming it" eval 'rc_is 3 && err_has nosuchvdi'
st 0 vdi lock unlock disk1 --snapshot nosuchtag
check "unlock of an unknown snapshot: exit 3" rc_is 3
st 0 vdi lock list --json
check "the failed unlocks changed nothing (disk1 still locked)" js "[l['name'] for l in d['locks']] == ['disk1']"

st 0 node list
check "node list (1 node): USED, CAPACITY and OBJECTS columns" \
	eval 'rc_is 0 && out_has "USED *CAPACITY *OBJECTS" && grep -q "^\* $SELF0 .* alive .* [0-9.]* [KMGT]\?i\?B  *[0-9.]* [KMGT]i\?B  *[0-9][0-9]*$" "$TMP/out"'

# ---------------- three nodes ----------------
start 1 --copies 2 --join "127.0.0.1:${PORT[0]}" && start 2 --copies 2 --enforce-locks --join "127.0.0.1:${PORT[0]}"
check "nodes 1 and 2 start and join node 0" rc_is 0
check "all three see 3 alive members (cluster info --json)" eval '
	wait_json 30 0 "d[\"nodes\"][\"alive\"] == 3" cluster info &&
	wait_json 30 1 "d[\"nodes\"][\"alive\"] == 3" cluster info &&
	wait_json 30 2 "d[\"nodes\"][\"alive\"] == 3" cluster info'
SELF1=$(tr -d '\n' < "$TMP/d1/node-id"); SELF2=$(tr -d '\n' < "$TMP/d2/node-id")
# same_ring: the three answer the same ring (epoch, digest, 3 members placed) at one moment
same_ring() {
	local i
	for i in 0 1 2; do
		st $i cluster info --json; rc_is 0 || return 1; cp "$TMP/out" "$TMP/ci$i"
	done
	"$PY" -c "import json,sys; r=[json.load(open('$TMP/ci%d' % i))['ring'] for i in range(3)]
sys.exit(0 if r[0]['members'] == 3 and r[0] == r[1] == r[2] else 1)"
}
agree=1
for _ in $(seq 1 100); do same_ring && { agree=0; break; }; sleep 0.3; done
check "the three agree on one ring version (same epoch and digest, 3 placed)" [ $agree = 0 ]
st 1 cluster info
check "cluster info text (3 nodes, asked of node 1): 3 alive, health $HEALTHY" \
	eval 'rc_is 0 && out_has "nodes: *3 (3 alive, 0 suspect, 0 dead, 0 left)" && out_has "health: *$HEALTHY: " && out_has "$SELF1"'
st 1 node list
check "node list (3 nodes): 3 alive rows, one marked *, the node asked" \
	eval 'rc_is 0 && [ "$(grep -c " alive " "$TMP/out")" = 3 ] && [ "$(grep -c "^\* " "$TMP/out")" = 1 ] && grep -q "^\* $SELF1 " "$TMP/out"'
check "node list (3 nodes): every row has USED, CAPACITY and OBJECTS (asked of each member)" \
	eval '[ "$(grep -c " [0-9.]* [KMGT]\?i\?B  *[0-9.]* [KMGT]i\?B  *[0-9][0-9]*$" "$TMP/out")" = 3 ]'
for id in "$SELF0" "$SELF1" "$SELF2"; do
	check "node list shows ${id:0:8}... with its data address" grep -q " $id  *127.0.0.1:[0-9]*  *127.0.0.1:[0-9]* " "$TMP/out"
done
st 1 node list --json
check "node list --json (3 nodes): 3 members, all alive" \
	js "len(d['members']) == 3 and all(m['state'] == 'alive' for m in d['members']) and d['self'] == '$SELF1'"
if [ $REPL = 0 ]; then
	st 1 vdi lock list
	check "lock list on a node without --enforce-locks says so" \
		eval 'rc_is 0 && out_has "without --enforce-locks" && [ "$(wc -l < "$TMP/out")" = 2 ]'
	st 1 vdi lock list --json
	check "lock list --json on it: enforce_locks false, no locks" js "d == {'enforce_locks': False, 'locks': []}"
	st 1 vdi create d1disk 4M && R=$(lock 1 d1disk 0)
	check "LOCK_VDI there succeeds but takes no lock" eval '[ "${R%% *}" = 0 ] && st 1 vdi lock list --json && js "d[\"locks\"] == []"'
	st 1 vdi lock unlock d1disk
	check "unlock there: 'was not locked', exit 0" eval 'rc_is 0 && out_has "was not locked.*without --enforce-locks"'
	st 2 vdi create d2disk 4M && R=$(lock 2 d2disk 1)
	st 2 vdi lock list --json
	check "locks are per node: node 2 lists only its own lock" \
		js "[(l['name'], l['type']) for l in d['locks']] == [('d2disk', 'shared')]"
	st 0 vdi lock list --json
	check "node 0 still lists only disk1" js "[l['name'] for l in d['locks']] == ['disk1']"
else
	# LOCK_VDI/RELEASE_VDI are executed by the catalog leader, the placed
	# member with the lowest id (node/PEER.md): `vdi lock list` asked of any
	# node shows the leader's table. Whether the leader enforces locks
	# depends on which node it is (node 1 runs without --enforce-locks).
	LEADER=$(printf '%s\n' "$SELF0" "$SELF1" "$SELF2" | LC_ALL=C sort | head -1)
	for i in 0 1 2; do [ "$(tr -d '\n' < "$TMP/d$i/node-id")" = "$LEADER" ] && LI=$i; done
	ENF=True; [ "$LI" = 1 ] && ENF=False
	echo "# catalog leader: node $LI ($LEADER), enforce_locks $ENF"
	for i in 0 1 2; do st $i vdi lock list --json; cp "$TMP/out" "$TMP/lk$i"; done
	check "every node shows the same lock table, the leader's" \
		eval 'cmp -s "$TMP/lk0" "$TMP/lk1" && cmp -s "$TMP/lk0" "$TMP/lk2" && js "d[\"enforce_locks\"] is $ENF"'
	NL=$(( (LI + 1) % 3 ))
	st $NL vdi lock list
	check "text output of a non-leader names the leader" eval 'rc_is 0 && out_has "locks held by the catalog leader $LEADER at 127.0.0.1:"'
	st $LI vdi lock list
	check "text output of the leader has no leader line" eval 'rc_is 0 && ! out_has "catalog leader"'
	st 2 vdi create d2disk 4M
	R=$(lock 2 d2disk 1)
	check "LOCK_VDI (shared) through node 2" [ "${R%% *}" = 0 ]
	st 1 vdi lock list --json
	if [ $ENF = True ]; then
		check "the lock shows up when node 1 is asked" js "('d2disk', 'shared', 1) in [(l['name'], l['type'], l['holders']) for l in d['locks']]"
		st 0 vdi lock unlock d2disk
		check "unlock through node 0 releases it" eval 'rc_is 0 && out_has "released the lock on VDI .d2disk."'
		st 2 vdi lock list --json
		check "node 2 then lists no lock on d2disk" js "'d2disk' not in [l['name'] for l in d['locks']]"
	else
		check "the leader does not enforce locks: none taken" js "'d2disk' not in [l['name'] for l in d['locks']]"
		st 0 vdi lock unlock d2disk
		check "unlock through node 0: was not locked" eval 'rc_is 0 && out_has "was not locked"'
	fi
fi

# ---------------- a member dies ----------------
kill -KILL "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null; PIDS[2]=
check "after kill -9 of node 2, node 0 reports health degraded" \
	wait_json 30 0 "d['health'] == 'degraded' and d['nodes']['suspect'] + d['nodes']['dead'] == 1" cluster info
st 0 cluster info
check "cluster info text says degraded and why" eval 'rc_is 0 && out_has "health: *degraded: 1 member(s) suspect or dead"'
st 0 node list
check "node list: the dead member has '-' for USED, CAPACITY and OBJECTS" \
	eval 'rc_is 0 && grep -q "$SELF2 .*\(suspect\|dead\) .* -  *-  *-$" "$TMP/out"'
st 2 cluster info
check "cluster info of the killed node: exit 4" rc_is 4

# ---------------- a fake node: old (INVALID_PARMS) and broken SM_LOCKS replies ----------------
cat > "$TMP/fake.py" <<'PY'
import socket, struct, sys
port, mode = int(sys.argv[1]), sys.argv[2]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(8)
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    h = b""
    while len(h) < 48:
        x = c.recv(48 - len(h))
        if not x: break
        h += x
    if len(h) < 48:
        c.close(); continue
    op, rid = h[1], struct.unpack_from("<I", h, 8)[0]
    payload, res = b"", 0
    if op == 0xE3 and mode == "old":
        res = 5                                   # INVALID_PARMS
    elif op == 0xE3 and mode == "garbage":
        payload = b'{"enforce_locks":true,"locks":[{"vid":"x"}]}'
    elif op == 0xE3 and mode == "notjson":
        payload = b'{"enforce_locks":true,"locks":[' # cut
    rsp = struct.pack("<BBHIII", 1, op, 0, 0, rid, len(payload)) + struct.pack("<I", res) + b"\0" * 28
    c.sendall(rsp + payload); c.close()
PY
for mode in old garbage notjson; do
	"$PY" "$TMP/fake.py" "${PORT[5]}" $mode > "$TMP/fake.log" 2>&1 &
	FPID=$!
	for _ in $(seq 1 50); do grep -q ready "$TMP/fake.log" && break; sleep 0.1; done
	st 5 vdi lock list
	case $mode in
	old) check "fake node without SM_LOCKS: exit 5 with a hint" eval 'rc_is 5 && err_has "older sheepnode"' ;;
	garbage) check "fake node with a bad lock entry: exit 1, nothing printed" eval 'rc_is 1 && err_has "malformed entry" && [ ! -s "$TMP/out" ]' ;;
	notjson) check "fake node with a cut document: exit 1" eval 'rc_is 1 && err_has "malformed"' ;;
	esac
	kill -KILL "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; FPID=
done

# ---------------- shutdown ----------------
for i in 0 1; do kill -TERM "${PIDS[$i]}" 2>/dev/null; wait "${PIDS[$i]}" 2>/dev/null; PIDS[$i]=; done
st 0 vdi lock list
check "after shutdown: vdi lock list exits 4" rc_is 4
st 1 cluster info --json
check "after shutdown: cluster info exits 4" rc_is 4
bad=$(grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP"/log* 2>/dev/null)
check "no sanitizer reports in the node logs" [ -z "$bad" ]
check "no sanitizer reports from sheeptool" [ -z "$SAN" ]
