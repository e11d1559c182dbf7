#!/bin/bash
# gossip_netns.sh: 5 sheepnodes, one per network namespace, joined by a
# Linux bridge (10.77.0.1-5/24), find each other by multicast alone (no
# --join); 10% random loss (nftables) inside one namespace for a while
# gives no false death; kill -9 one -> dead at all others; SIGTERM one ->
# left.  Needs root and iproute2 (else "ok - ... # SKIP why"); everything
# it creates carries this script's pid in its name and is removed on exit,
# even on failure.  TAP-style lines.  Env: SHEEPNODE, SHEEPTOOL.
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-$(dirname "$NODE")/sheeptool}
N=5
LOSS_S=${GOSSIP_NETNS_LOSS_S:-20}   # seconds of 10% loss (issue 3 asks ~30; shortened for CI)
INTERVAL=${GOSSIP_TEST_INTERVAL:-200}   # --gossip-interval: 200 keeps the test in seconds
TAG=$$
BR=gnbr$TAG
TMP=$(mktemp -d /tmp/gossip_netns.XXXXXX)
declare -a PIDS=() NS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	ip link del "$BR" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
skip() { echo "ok - gossip over network namespaces # SKIP $1"; exit 0; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for b in "$NODE" "$TOOL"; do
	if [ ! -x "$b" ]; then echo "not ok - binaries built # $b missing"; exit 1; fi
done
[ "$(id -u)" = 0 ] || skip "not root (network namespaces need CAP_SYS_ADMIN)"
command -v ip >/dev/null || skip "iproute2 (ip) not installed"
# the system python: a pyenv shim costs ~1.5 s per call
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || skip "python3 missing"
ip link add "$BR" type bridge 2>"$TMP/err" || skip "cannot create a bridge: $(head -c 200 "$TMP/err")"
# multicast floods to every port: no IGMP snooping state to wait for
ip link set "$BR" type bridge mcast_snooping 0 2>/dev/null ||
	echo 0 > "/sys/class/net/$BR/bridge/multicast_snooping" 2>/dev/null
ip link set "$BR" up || skip "cannot bring up $BR"
for i in $(seq 1 $N); do
	ns=gn$TAG-$i
	ip netns add "$ns" 2>"$TMP/err" || skip "cannot create a network namespace: $(head -c 200 "$TMP/err")"
	NS[$i]=$ns
	ip link add "g${TAG}h$i" type veth peer name "g${TAG}n$i" || skip "cannot create veth pairs"
	ip link set "g${TAG}n$i" netns "$ns"
	ip link set "g${TAG}h$i" master "$BR" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.77.0.$i/24" dev "g${TAG}n$i"
	ip -n "$ns" link set "g${TAG}n$i" up
done
ok "bridge $BR and $N namespaces created"

# start I: node I inside namespace I, multicast discovery only (no --join)
start() {
	local i=$1
	ip netns exec "${NS[$i]}" "$NODE" --dir "$TMP/d$i" --port 7000 --unix "$TMP/s$i" \
		--gossip-interval $INTERVAL --cluster-name "gn-netns-$TAG" --workers 1 \
		>> "$TMP/log$i" 2>&1 &
	PIDS[$i]=$!
}
view() { timeout 10 "$TOOL" node list -u "$TMP/s$1" --json > "$TMP/v$1" 2>/dev/null; }
state() {
	view "$1" || { echo "noanswer"; return; }
	"$PY" -c "
import json
d=json.load(open('$TMP/v$1'))
print(next((m['state'] for m in d['members'] if m['id']=='$2'), 'none'))"
}
count() {
	view "$1" || { echo -1; return; }
	"$PY" -c "
import json
d=json.load(open('$TMP/v$1'))
print(sum(1 for m in d['members'] if m['state']=='$2'))"
}
GW="$(dirname "$0")/gossip_wait.py"
gw() { # SECONDS COND NODES...: poll SM_MEMBERS over the unix sockets
	local t=$1 c=$2 n; shift 2
	GW_MS=$("$PY" "$GW" "$t" "$c" $(for n in "$@"; do echo "unix:$TMP/s$n"; done)) && return 0
	echo "# $c not reached: $GW_MS" | tr '\n' ' '; echo; return 1
}
all_are() { local st=$1 id=$2; shift 2; for n in "$@"; do [ "$(state "$n" "$id")" = "$st" ] || return 1; done; }
all_count() { local st=$1 want=$2; shift 2; for n in "$@"; do [ "$(count "$n" "$st")" = "$want" ] || return 1; done; }
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.2; done
	return 1
}
logms() {
	local l; l=$(grep -m1 -- "$2" "$TMP/log$1" | cut -c1-23)
	[ -n "$l" ] && echo $(( $(date -d "$l" +%s%N) / 1000000 ))
}
last_log() {
	local pat=$1 max=0 t; shift
	for n in "$@"; do t=$(logms "$n" "$pat"); [ -n "$t" ] || return 1; [ "$t" -gt "$max" ] && max=$t; done
	echo $max
}
id_of() { wait_for 10 test -s "$TMP/d$1/node-id" && head -c 32 "$TMP/d$1/node-id"; }

t0=$(now_ms)
for i in $(seq 1 $N); do start $i; done
for i in $(seq 1 $N); do ID[$i]=$(id_of $i); done
if gw 30 count:alive:$N 1 2 3 4 5; then
	ok "multicast alone: all $N see $N alive"
	echo "# figure: $N processes started together until all list $N alive: $(( $(now_ms) - t0 )) ms (polled)"
	for i in 2 3 4 5; do
		t=$(last_log "node ${ID[$i]} .* joined" $(seq 1 $N | grep -vx $i)); r=$(logms $i "info: ready")
		[ -n "$t" ] && [ -n "$r" ] && echo "# figure: node $i ready -> all others logged its join: $(( t - r )) ms"
	done
else
	nok "multicast alone: all $N see $N alive" "counts: $(for n in 1 2 3 4 5; do count $n alive; done | tr '\n' ' ')"
fi
# any node will do: one that starts late learns the others from the push-pull
# of those that heard its announcement, and logs no discovery of its own
check "discovery went through multicast (logged)" \
	eval 'cat "$TMP"/log[1-9] 2>/dev/null | grep -q "discovered node .* by multicast"'
check "each node advertises its namespace address" grep -q "advertising gossip 10.77.0.3:7000" "$TMP/log3"

# ---- 10% random loss in namespace 1: no false death ----
if command -v nft >/dev/null && ip netns exec "${NS[1]}" nft -f - <<EOF2 2>"$TMP/err"
table inet gnloss {
	chain in { type filter hook input priority 0; udp dport 7000 numgen random mod 10 == 0 counter drop; }
	chain out { type filter hook output priority 0; udp sport 7000 numgen random mod 10 == 0 counter drop; }
}
EOF2
then
	sleep "$LOSS_S"
	drops=$(ip netns exec "${NS[1]}" nft list table inet gnloss 2>/dev/null | grep -o 'packets [0-9]*' | awk '{s+=$2} END {print s+0}')
	check "10% loss in one namespace for ${LOSS_S}s dropped packets ($drops)" [ "${drops:-0}" -gt 0 ]
	check "10% loss: no node declared anyone dead" bash -c "! grep -q ' is dead' $TMP/log*"
	check "10% loss: all still alive everywhere" all_count alive $N 1 2 3 4 5
	check "sheeptool node list over the unix socket shows $N alive" \
		[ "$(timeout 10 "$TOOL" node list -u "$TMP/s2" | grep -c ' alive ')" = $N ]
	echo "# suspicions raised and refuted during the loss: $(grep -h ' is suspect' "$TMP"/log* | wc -l) / $(grep -h 'alive again' "$TMP"/log* | wc -l)"
	ip netns exec "${NS[1]}" nft delete table inet gnloss
else
	echo "ok - 10% loss without false deaths # SKIP nftables unavailable: $(head -c 200 "$TMP/err")"
fi

# ---- kill -9 ----
t0=$(now_ms)
kill -KILL "${PIDS[5]}"; wait "${PIDS[5]}" 2>/dev/null; PIDS[5]=
if gw 30 "state:${ID[5]}:dead" 1 2 3 4; then
	ok "kill -9: all others mark it dead"
	echo "# figure: kill -9 until all 4 others list it dead: $(( $(now_ms) - t0 )) ms (polled, gossip-interval $INTERVAL ms)"
	t=$(last_log "node ${ID[5]} .* is dead" 1 2 3 4)
	[ -n "$t" ] && echo "# figure: kill -9 until all 4 others logged it dead: $(( t - t0 )) ms"
else
	nok "kill -9: all others mark it dead" "states: $(for n in 1 2 3 4; do state $n "${ID[5]}"; done | tr '\n' ' ')"
fi

# ---- SIGTERM ----
kill -TERM "${PIDS[4]}"; wait "${PIDS[4]}"; rc=$?; PIDS[4]=
check "SIGTERM: the node exits 0" [ $rc = 0 ]
check "SIGTERM: all others mark it left" gw 10 "state:${ID[4]}:left" 1 2 3
sleep 2
check "SIGTERM: still left (not dead) 2 s later" all_are left "${ID[4]}" 1 2 3

# ---- a node restarted later is found again by multicast ----
start 5
check "the killed node, restarted, is found again by multicast" gw 20 "state:${ID[5]}:alive" 1 2 3 5

bad=$(grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP"/log* 2>/dev/null)
check "no sanitizer reports in the node logs" [ -z "$bad" ]
exit 0
