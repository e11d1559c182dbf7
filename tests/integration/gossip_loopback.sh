#!/bin/bash
# gossip_loopback.sh: 5 real sheepnodes on 127.0.0.1 (distinct --port,
# --no-multicast, --join to the first, one cluster key) find each other;
# kill -9 one -> all others mark it dead; SIGTERM one -> left, not dead; a
# node with another key does not get in (its packets are counted as
# dropped); two separate clusters merge through a node that joins both; a
# killed node restarted on its directory keeps its id with a higher
# incarnation.  Prints the time from a crash until all mark it dead and from
# a start until all know the new node (figures, not asserted).
# TAP-style lines.  Env: SHEEPNODE, SHEEPTOOL (tests/run.sh sets both).
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-$(dirname "$NODE")/sheeptool}
TMP=$(mktemp -d /tmp/gossip_loopback.XXXXXX)
INTERVAL=${GOSSIP_TEST_INTERVAL:-200}   # --gossip-interval: 200 keeps the test in seconds
declare -a PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for b in "$NODE" "$TOOL"; do
	if [ ! -x "$b" ]; then echo "not ok - binaries built # $b missing"; exit 1; fi
done
# the system python: a pyenv shim costs ~1.5 s per call
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || { echo "ok - gossip loopback # SKIP python3 missing"; exit 0; }

# 10 ports free for both TCP and UDP on 127.0.0.1
PORTS=$("$PY" - <<'PY'
import socket, random
# below 32768, the kernel's ephemeral range: an outgoing connection must
# not take a port a node of the test binds minutes later
for _ in range(50):
    base = random.randrange(20000, 32700, 16)
    socks = []
    try:
        for p in range(base, base + 10):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", p)); socks.append(s)
        print(" ".join(str(p) for p in range(base, base + 10))); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
read -r -a PORT <<<"$PORTS"
[ "${#PORT[@]}" = 10 ] || { echo "not ok - free ports # none found"; exit 1; }

# start I [flags...]: node I on PORT[I] with data dir d$I
start() {
	local i=$1; shift
	"$NODE" --dir "$TMP/d$i" --port "${PORT[$i]}" --listen 127.0.0.1 --no-multicast \
		--gossip-interval $INTERVAL --workers 1 "$@" >> "$TMP/log$i" 2>&1 &
	PIDS[$i]=$!
}
# view I: node I's member list as JSON in $TMP/v$I (1 if it does not answer)
view() { timeout 10 "$TOOL" node list -p "${PORT[$1]}" --json > "$TMP/v$1" 2>/dev/null; }
# state I ID: the state node I has for ID ("none" if unknown)
state() {
	view "$1" || { echo "noanswer"; return; }
	"$PY" -c "
import json,sys
d=json.load(open('$TMP/v$1'))
print(next((m['state'] for m in d['members'] if m['id']=='$2'), 'none'))"
}
# count I STATE: members of node I in STATE
count() {
	view "$1" || { echo -1; return; }
	"$PY" -c "
import json
d=json.load(open('$TMP/v$1'))
print(sum(1 for m in d['members'] if m['state']=='$2'))"
}
GW="$(dirname "$0")/gossip_wait.py"
eps() { for n in "$@"; do echo "tcp:127.0.0.1:${PORT[$n]}"; done; }
# gw SECONDS COND NODES...: poll SM_MEMBERS of the nodes until COND holds at
# all (gossip_wait.py); the ms it took in $GW_MS
gw() {
	local t=$1 c=$2; shift 2
	GW_MS=$("$PY" "$GW" "$t" "$c" $(eps "$@")) && return 0
	echo "# $c not reached: $GW_MS" | tr '\n' ' '; echo; return 1
}
# all_are STATE ID NODES...: every listed node has ID in STATE (now)
all_are() {
	local st=$1 id=$2; shift 2
	for n in "$@"; do [ "$(state "$n" "$id")" = "$st" ] || return 1; done
}
# wait_for SECONDS cmd...: poll every 100 ms
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
	return 1
}
id_of() { # I: node id once the file exists
	local f="$TMP/d$1/node-id"
	wait_for 10 test -s "$f" && head -c 32 "$f"
}
# logms I PATTERN: when node I first logged PATTERN (ms since the epoch), or empty
logms() {
	local l; l=$(grep -m1 -- "$2" "$TMP/log$1" | cut -c1-23)
	[ -n "$l" ] && echo $(( $(date -d "$l" +%s%N) / 1000000 ))
}
# last_log PATTERN NODES...: the latest first-occurrence over the nodes (ms)
last_log() {
	local pat=$1 max=0 t; shift
	for n in "$@"; do t=$(logms "$n" "$pat"); [ -n "$t" ] || return 1; [ "$t" -gt "$max" ] && max=$t; done
	echo $max
}
node_up() { timeout 5 "$TOOL" node info -p "${PORT[$1]}" >/dev/null 2>&1; }
all_count() { # STATE N NODES...: every node lists N members in STATE (now)
	local st=$1 want=$2; shift 2
	for n in "$@"; do [ "$(count "$n" "$st")" = "$want" ] || return 1; done
}
dropped_auth() { # I: seal failures counted by node I
	timeout 5 "$TOOL" node info -p "${PORT[$1]}" --json 2>/dev/null |
		"$PY" -c "import json,sys; print(json.load(sys.stdin)['gossip']['dropped']['seal_auth'])"
}

# ---- keys ----
"$NODE" --keygen "$TMP/k1" > "$TMP/kg.out" 2>&1
check "--keygen writes a 32-byte key" [ "$(stat -c %s "$TMP/k1" 2>/dev/null)" = 32 ]
check "--keygen key is mode 0600" [ "$(stat -c %a "$TMP/k1" 2>/dev/null)" = 600 ]
"$NODE" --keygen "$TMP/k1" > "$TMP/kg2.out" 2>&1; rc=$?
check "--keygen refuses to overwrite" [ $rc != 0 ]
"$NODE" --keygen "$TMP/k2" > /dev/null 2>&1
cp "$TMP/k1" "$TMP/kopen"; chmod 644 "$TMP/kopen"
timeout 10 "$NODE" --dir "$TMP/dbad" --port "${PORT[9]}" --listen 127.0.0.1 --no-multicast \
	--key-file "$TMP/kopen" > "$TMP/bad.out" 2>&1; rc=$?
check "a world-readable --key-file is refused" [ $rc != 0 ]
check "the refusal names the flag and the file" grep -q -- "--key-file $TMP/kopen.*mode" "$TMP/bad.out"
KEY=(--key-file "$TMP/k1")

# ---- 4 nodes, then a 5th: start-to-all-know ----
start 0 "${KEY[@]}"
wait_for 10 node_up 0
for i in 1 2 3; do start $i "${KEY[@]}" --join "127.0.0.1:${PORT[0]}"; done
for i in 0 1 2 3; do ID[$i]=$(id_of $i); done
check "4 nodes see 4 alive" gw 20 count:alive:4 0 1 2 3
t0=$(now_ms)
start 4 "${KEY[@]}" --join "127.0.0.1:${PORT[0]}"
ID[4]=$(id_of 4)
if gw 20 "state:${ID[4]}:alive" 0 1 2 3 4; then
	t_know=$(( $(now_ms) - t0 ))
	ok "all 5 know the 5th node"
else
	nok "all 5 know the 5th node"
fi
check "all 5 see 5 alive" gw 20 count:alive:5 0 1 2 3 4
check "sheeptool node list --json: 5 alive" all_count alive 5 0 1 2 3 4
timeout 10 "$TOOL" node list -p "${PORT[0]}" > "$TMP/list0" 2>&1
check "sheeptool node list: a line per member, self marked" \
	[ "$(grep -c ' alive ' "$TMP/list0")" = 5 -a "$(grep -c "^\* ${ID[0]}" "$TMP/list0")" = 1 ]
t_log=$(last_log "node ${ID[4]} .* joined" 0 1 2 3)
t_ready=$(logms 4 "info: ready")
echo "# figure: start of a 5th process until all 4 others logged its join: $(( ${t_log:-0} - t0 )) ms" \
	"(process ready after $(( ${t_ready:-0} - t0 )) ms; polled view: ${t_know:-?} ms; gossip-interval $INTERVAL ms)"

# ---- a node with another key stays out ----
before=$(dropped_auth 0)
start 5 --key-file "$TMP/k2" --join "127.0.0.1:${PORT[0]}"
ID[5]=$(id_of 5)
wait_for 10 node_up 5
sleep 1.5
check "a node with another key is not a member" all_are none "${ID[5]}" 0 1 2 3 4
check "the node with another key sees only itself" [ "$(count 5 alive)" = 1 ]
after=$(dropped_auth 0)
check "its packets are counted as dropped (seal_auth $before -> $after)" [ "${after:-0}" -gt "${before:-0}" ]
kill -KILL "${PIDS[5]}"; wait "${PIDS[5]}" 2>/dev/null; PIDS[5]=

# ---- kill -9: dead everywhere ----
t0=$(now_ms)
kill -KILL "${PIDS[3]}"; wait "${PIDS[3]}" 2>/dev/null; PIDS[3]=
if gw 30 "state:${ID[3]}:dead" 0 1 2 4; then
	t_dead=$(( $(now_ms) - t0 ))
	ok "kill -9: all others mark it dead"
else
	nok "kill -9: all others mark it dead" "states: $(for n in 0 1 2 4; do state $n "${ID[3]}"; done | tr '\n' ' ')"
fi
t_log=$(last_log "node ${ID[3]} .* is dead" 0 1 2 4)
t_susp=$(last_log "node ${ID[3]} .* is suspect" 0 1 2 4)
echo "# figure: kill -9 until all 4 others logged it dead: $(( ${t_log:-0} - t0 )) ms" \
	"(last first-suspicion after $(( ${t_susp:-0} - t0 )) ms; polled view: ${t_dead:-?} ms; gossip-interval $INTERVAL ms)"

# ---- SIGTERM: left, not dead ----
kill -TERM "${PIDS[2]}"
wait "${PIDS[2]}"; rc=$?; PIDS[2]=
check "SIGTERM: the node exits 0" [ $rc = 0 ]
check "SIGTERM: all others mark it left" gw 10 "state:${ID[2]}:left" 0 1 4
sleep 2
check "SIGTERM: still left (not dead) 2 s later" all_are left "${ID[2]}" 0 1 4
check "the leaving node logged its leave" grep -q "gossip: leaving" "$TMP/log2"

# ---- restart of the killed node: same id, higher incarnation, alive again ----
inc_before=$(view 0 && "$PY" -c "
import json; d=json.load(open('$TMP/v0'))
print(next(m['incarnation'] for m in d['members'] if m['id']=='${ID[3]}'))")
start 3 "${KEY[@]}" --join "127.0.0.1:${PORT[0]}"
check "restarted node keeps its id" [ "$(id_of 3)" = "${ID[3]}" ]
check "restarted node is alive again everywhere" gw 20 "state:${ID[3]}:alive" 0 1 3 4
inc_after=$(view 0 && "$PY" -c "
import json; d=json.load(open('$TMP/v0'))
print(next(m['incarnation'] for m in d['members'] if m['id']=='${ID[3]}'))")
check "restarted node has a higher incarnation ($inc_before -> $inc_after)" \
	[ "${inc_after:-0}" -gt "${inc_before:-0}" ]

# ---- two clusters merge when they hear each other ----
start 6 "${KEY[@]}"
wait_for 10 node_up 6
start 7 "${KEY[@]}" --join "127.0.0.1:${PORT[6]}"
check "a second cluster of 2 forms apart" gw 20 count:alive:2 6 7
check "the first cluster does not know it" [ "$(count 0 alive)" = 4 ]
start 8 "${KEY[@]}" --join "127.0.0.1:${PORT[1]}" --join "127.0.0.1:${PORT[6]}"
check "both clusters merge: 7 alive everywhere" gw 30 count:alive:7 0 1 3 4 6 7 8

# ---- no sanitizer report or crash in any log ----
bad=$(grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP"/log* 2>/dev/null)
check "no sanitizer reports in the node logs" [ -z "$bad" ]
for i in 0 1 3 4 6 7 8; do kill -TERM "${PIDS[$i]}" 2>/dev/null; done
for i in 0 1 3 4 6 7 8; do wait "${PIDS[$i]}"; rc=$?; [ $rc = 0 ] || echo "# node $i exited $rc"; PIDS[$i]=; done
bad=$(grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP"/log* 2>/dev/null)
check "no sanitizer reports after shutdown" [ -z "$bad" ]
exit 0
