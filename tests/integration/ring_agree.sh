#!/bin/bash
# ring_agree.sh: issue 4 end to end.  5 real sheepnodes on 127.0.0.1
# (--no-multicast, --join to the first, --gossip-interval 200) agree on one
# ring version (epoch digest) without a coordinator; kill -9 one -> once it
# is dead everywhere the other 4 agree on a new version with 4 members IN
# and a larger scalar epoch; SIGTERM another -> 3 IN; the killed node
# restarted on its data dir rejoins (its ring history is loaded) -> 4 IN;
# a node paused until declared dead finds itself OUT and rejoins at
# generation + 1; `sheeptool ring` shows the members and --locate gives the
# same replicas on every node.  Prints the time from a crash until all
# survivors report the same new digest (a figure, not asserted).
# TAP-style lines.  Env: SHEEPNODE, SHEEPTOOL (tests/run.sh sets both).
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-$(dirname "$NODE")/sheeptool}
TMP=$(mktemp -d /tmp/ring_agree.XXXXXX)
INTERVAL=${GOSSIP_TEST_INTERVAL:-200}
declare -a PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -CONT "$p" 2>/dev/null
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
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || { echo "ok - ring agreement # SKIP python3 missing"; exit 0; }

# 5 ports free for both TCP and UDP on 127.0.0.1
PORTS=$("$PY" - <<'PY'
import socket, random
# below 32768, the kernel's ephemeral range: an outgoing connection must
# not take a port a node of the test binds minutes later
for _ in range(50):
    base = random.randrange(20000, 32700, 8)
    socks = []
    try:
        for p in range(base, base + 5):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", p)); socks.append(s)
        print(" ".join(str(p) for p in range(base, base + 5))); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
read -r -a PORT <<<"$PORTS"
[ "${#PORT[@]}" = 5 ] || { echo "not ok - free ports # none found"; exit 1; }

start() {
	local i=$1; shift
	"$NODE" --dir "$TMP/d$i" --port "${PORT[$i]}" --listen 127.0.0.1 --no-multicast \
		--gossip-interval $INTERVAL --workers 1 "$@" >> "$TMP/log$i" 2>&1 &
	PIDS[$i]=$!
}
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
	return 1
}
node_up() { timeout 5 "$TOOL" node info -p "${PORT[$1]}" >/dev/null 2>&1; }
id_of() { local f="$TMP/d$1/node-id"; wait_for 10 test -s "$f" && head -c 32 "$f"; }
GW="$(dirname "$0")/gossip_wait.py"
eps() { for n in "$@"; do echo "tcp:127.0.0.1:${PORT[$n]}"; done; }
# gw SECONDS COND NODES...: gossip_wait.py; its output line in $GW_OUT
gw() {
	local t=$1 c=$2; shift 2
	GW_OUT=$("$PY" "$GW" "$t" "$c" $(eps "$@")) && return 0
	echo "# $c not reached: $GW_OUT" | tr '\n' ' '; echo; return 1
}
# rj I EXPR: evaluate EXPR on node I's `sheeptool ring --json` (d), print it
rj() {
	timeout 10 "$TOOL" ring --json -p "${PORT[$1]}" > "$TMP/r$1" 2>/dev/null || { echo "noanswer"; return; }
	"$PY" -c "
import json
d=json.load(open('$TMP/r$1'))
print($2)"
}
# same_ring N NODES...: every node's `sheeptool ring --json` has one digest
# and exactly N members IN (the ring as each node serves it over SM_RING)
same_ring() {
	local want=$1 first="" v; shift
	for n in "$@"; do
		v=$(rj "$n" "d['digest'] + ' ' + str(sum(1 for x in d['nodes'] if x['ring'] == 'in'))")
		[ "${v#* }" = "$want" ] || { echo "# node $n: $v"; return 1; }
		[ -z "$first" ] && first=${v% *}
		[ "${v% *}" = "$first" ] || { echo "# node $n digest ${v% *} != $first"; return 1; }
	done
}
ring_of() { rj "$1" "d['nodes'] and next((x['ring'] + ':' + str(x['generation']) for x in d['nodes'] if x['id'] == '$2'), 'none')"; }
epoch_of() { rj "$1" "d['epoch']"; }
digest_of() { rj "$1" "d['digest']"; }

# ---- 5 nodes agree ----
start 0
wait_for 10 node_up 0
for i in 1 2 3 4; do start $i --join "127.0.0.1:${PORT[0]}"; done
for i in 0 1 2 3 4; do ID[$i]=$(id_of $i); done
check "5 nodes: all alive everywhere" gw 30 count:alive:5 0 1 2 3 4
check "5 nodes: one ring digest, 5 placed (SM_STATUS)" gw 30 ring:same:5 0 1 2 3 4
check "5 nodes: sheeptool ring --json: same digest, 5 members IN on every node" same_ring 5 0 1 2 3 4
D5=$(digest_of 0); E5=$(epoch_of 0)
timeout 10 "$TOOL" ring -p "${PORT[1]}" > "$TMP/text1" 2>&1
n_in=0; for i in 0 1 2 3 4; do grep -q "${ID[$i]}.* in " "$TMP/text1" && n_in=$((n_in + 1)); done
check "sheeptool ring (text) lists the 5 members IN and the version line" \
	[ "$n_in" = 5 -a "$(grep -c "^ring version:  epoch $E5 *digest $D5" "$TMP/text1")" = 1 ]
check "every node logged 'ring version N digest X members 5'" \
	eval 'for i in 0 1 2 3 4; do grep -q "info: ring version [0-9]* digest ${D5:0:8} members 5" "$TMP/log$i" || exit 1; done'

# ---- kill -9: after it is dead everywhere, 4 agree on a new version ----
t0=$(now_ms)
kill -KILL "${PIDS[3]}"; wait "${PIDS[3]}" 2>/dev/null; PIDS[3]=
check "kill -9: all others mark it dead" gw 30 "state:${ID[3]}:dead" 0 1 2 4
t_dead=$(( $(now_ms) - t0 ))
if gw 30 ring:same:4 0 1 2 4; then
	t_agree=$(( $(now_ms) - t0 ))
	ok "kill -9: the 4 survivors agree on one digest with 4 placed"
else
	nok "kill -9: the 4 survivors agree on one digest with 4 placed"
fi
check "kill -9: sheeptool ring --json: same digest, 4 IN on every survivor" same_ring 4 0 1 2 4
D4=$(digest_of 0); E4=$(epoch_of 0)
check "kill -9: a new digest ($D5 -> $D4), the scalar epoch grew ($E5 -> $E4)" \
	[ "$D4" != "$D5" -a "${E4:-0}" -gt "${E5:-0}" ]
check "kill -9: the dead node is OUT in the ring" [ "$(ring_of 0 "${ID[3]}" | cut -d: -f1)" = out ]
echo "# figure: kill -9 until the 4 survivors report the same new ring digest: ${t_agree:-?} ms" \
	"(dead in every SM_MEMBERS view after ${t_dead:-?} ms; polled every ~50 ms; gossip-interval $INTERVAL ms)"

# ---- SIGTERM: 3 agree ----
kill -TERM "${PIDS[2]}"
wait "${PIDS[2]}"; rc=$?; PIDS[2]=
check "SIGTERM: the node exits 0" [ $rc = 0 ]
check "SIGTERM: the 3 others agree on one digest with 3 placed" gw 30 ring:same:3 0 1 4
check "SIGTERM: sheeptool ring --json: same digest, 3 IN" same_ring 3 0 1 4
E3=$(epoch_of 0)
check "SIGTERM: the scalar epoch grew ($E4 -> $E3)" [ "${E3:-0}" -gt "${E4:-0}" ]

# ---- restart the killed node on its data dir: 4 agree again ----
gen_before=$(ring_of 0 "${ID[3]}" | cut -d: -f2)
start 3 --join "127.0.0.1:${PORT[0]}"
check "restart: same id" [ "$(id_of 3)" = "${ID[3]}" ]
check "restart: 4 agree on one digest with 4 placed" gw 30 ring:same:4 0 1 3 4
check "restart: sheeptool ring --json: same digest, 4 IN" same_ring 4 0 1 3 4
gen_after=$(ring_of 0 "${ID[3]}" | cut -d: -f2)
check "restart: rejoined at a higher generation ($gen_before -> $gen_after)" \
	[ "${gen_after:-0}" -gt "${gen_before:-0}" ]
check "restart: the previous ring came from the ring history" \
	grep -q "ring: previous ring version [0-9]* (5 members) from the history" "$TMP/log3"

# ---- --locate gives the same replicas everywhere ----
loc_same() {
	local oid=$1 first="" v
	for n in 0 1 3 4; do
		v=$(timeout 10 "$TOOL" ring --locate "$oid" --json -p "${PORT[$n]}" 2>/dev/null |
			"$PY" -c "import json,sys; print(','.join(r['id'] for r in json.load(sys.stdin)['replicas']))")
		[ -n "$v" ] || return 1
		[ -z "$first" ] && first=$v
		[ "$v" = "$first" ] || { echo "# $oid: node $n says $v, node 0 $first"; return 1; }
	done
	[ "$(echo "$first" | tr ',' '\n' | sort -u | wc -l)" = 3 ]
}
check "--locate: 3 distinct replicas, identical on all 4 nodes (3 objects)" \
	eval 'loc_same 0x00abcdef00000007 && loc_same 0x8000000000000001 && loc_same 12345'

# ---- paused until declared dead: finds itself OUT and rejoins at g+1 ----
gen_before=$(ring_of 0 "${ID[4]}" | cut -d: -f2)
kill -STOP "${PIDS[4]}"
check "pause: the others mark the paused node dead" gw 30 "state:${ID[4]}:dead" 0 1 3
check "pause: the 3 others agree, 3 placed" gw 30 ring:same:3 0 1 3
kill -CONT "${PIDS[4]}"
check "resume: it rejoins, 4 agree with 4 placed" gw 30 ring:same:4 0 1 3 4
gen_after=$(ring_of 0 "${ID[4]}" | cut -d: -f2)
check "resume: IN at generation + 1 ($gen_before -> $gen_after)" \
	[ "$(ring_of 0 "${ID[4]}")" = "in:$(( ${gen_before:-0} + 1 ))" ]
check "resume: the node logged its rejoin" grep -q "ring: the cluster holds us out" "$TMP/log4"

# ---- clean exit, no sanitizer report ----
for i in 0 1 3 4; do kill -TERM "${PIDS[$i]}" 2>/dev/null; done
bad=0
for i in 0 1 3 4; do wait "${PIDS[$i]}"; rc=$?; [ $rc = 0 ] || { echo "# node $i exited $rc"; bad=1; }; PIDS[$i]=; done
check "all nodes exit 0 on SIGTERM" [ $bad = 0 ]
bad=$(grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP"/log* 2>/dev/null)
check "no sanitizer reports in the node logs" [ -z "$bad" ]
exit 0
