#!/bin/bash
# 13-cluster: QEMU 5.2's own sheepdog driver against 3 sheepnodes of this
# scenario's own (loopback, --join, copies 3): an image created and written
# through node A reads back through nodes B and C; a snapshot taken through
# B is listed through C; a qemu-io that keeps writing through A survives a
# kill -9 of another node (its writes pause until the ring drops the dead
# node, then go on), and every write reads back through the survivor.
. "$(dirname "$0")/lib.sh"
sd_ensure

GWAIT="$(dirname "$0")/../integration/gossip_wait.py"
declare -a P=() PID=()
for i in 0 1 2; do
	args=(--no-multicast --gossip-interval 200)
	[ "$i" -gt 0 ] && args+=(--join "127.0.0.1:${P[0]}")
	if ! sd_start "$SD_TMP/q13-d$i" "$SD_TMP/q13-log$i" "${args[@]}"; then
		not_ok "start node $i"; tail -20 "$SD_TMP/q13-log$i" | diag; exit 1
	fi
	P[$i]=$SD_PORT; PID[$i]=$SD_PID
done
ok "3 nodes started (ports ${P[*]})"
if python3 "$GWAIT" 30 ring:same:3 "tcp:127.0.0.1:${P[0]}" "tcp:127.0.0.1:${P[1]}" "tcp:127.0.0.1:${P[2]}" > /dev/null; then
	ok "the 3 nodes agree on one ring"
else
	not_ok "the 3 nodes agree on one ring"; exit 1
fi
at() { echo "sheepdog://127.0.0.1:${P[$1]}/$2"; }

check "create 40M through node 0" "$QEMU_IMG" create -f raw "$(at 0 q13)" 40M
qio "write through node 0" "-f raw" "$(at 0 q13)" "write -P 0x5a 0 6M" "write -P 0x66 $((20 * MIB)) 64k"
qio "node 1 reads what node 0 wrote" "-r -f raw" "$(at 1 q13)" \
	"read -P 0x5a 0 6M" "read -P 0 6M 14M" "read -P 0x66 $((20 * MIB)) 64k"
qio "node 2 reads what node 0 wrote" "-r -f raw" "$(at 2 q13)" \
	"read -P 0x5a 0 6M" "read -P 0x66 $((20 * MIB)) 64k"
check "snapshot through node 1" "$QEMU_IMG" snapshot -c c1 "$(at 1 q13)"
check_out "node 2 lists the snapshot" '^1[[:space:]]+c1[[:space:]]' "$QEMU_IMG" snapshot -l "$(at 2 q13)"
check_fails "a second create of the name through node 2 is refused" "$QEMU_IMG" create -f raw "$(at 2 q13)" 1M

# a guest-style stream through node 0 across a kill -9 of node 2
bg_start "-f raw" "$(at 0 q13)"
for k in 0 1 2 3; do bg_cmd "write -P 0x7$k $((k * 4 * MIB)) 1M"; done
kill -KILL "${PID[2]}"; wait "${PID[2]}" 2>/dev/null
T_PIDS=$(echo "$T_PIDS" | sed "s/\b${PID[2]}\b//")
# one command at a time (qemu-io reads stdin only when new bytes arrive);
# the first pauses until the ring drops the dead node
n=0
for k in 4 5 6 7 8; do bg_cmd "write -P 0x7$k $((k * 4 * MIB)) 1M" && n=$((n + 1)); done
bg_stop
if [ "$n" = 5 ] && [ "$(grep -o 'wrote 1048576/1048576' "$BG_OUT" | wc -l)" -ge 9 ] &&
   ! grep -qiE 'error|fail' "$BG_OUT"; then
	ok "qemu-io's writes through node 0 went on after kill -9 of node 2"
else
	not_ok "qemu-io's writes through node 0 went on after kill -9 of node 2 ($n of 5)"; tail -10 "$BG_OUT" | diag
fi
reads=()
for k in 0 1 2 3 4 5 6 7 8; do reads+=("read -P 0x7$k $((k * 4 * MIB)) 1M"); done
qio "node 1 reads every write of the stream" "-r -f raw" "$(at 1 q13)" "${reads[@]}"
qio "the snapshot still reads its old data through node 1" "-r -f raw" "$(at 1 q13)#c1" "read -P 0x5a 0 6M"
t_done
