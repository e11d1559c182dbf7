#!/bin/bash
# bench_repl.sh BUILDDIR: issue 5's figures in one run.
#  1. Throughput through QEMU's client (`qemu-img bench` of our QEMU 7.2
#     driver, or QEMU 5.2's when 7.2 is not built) against: 3 nodes x 3
#     copies, 3 nodes x 1 copy, 1 node, and a plain local raw file (the
#     limit), all on loopback with data under /var/tmp. Patterns: 4 MiB
#     sequential, 64 KiB sequential, 4 KiB strided (one request every
#     516 KiB), write and read, queue depth 16. Ratios against the file.
#  2. Recovery: 4 nodes x 3 copies hold a VDI of 4/3 GiB (so each node holds
#     about 1 GiB of replicas); kill -9 one node, time until the 3
#     survivors hold 3 identical copies of every object again, and bytes
#     moved (sum of the survivors' recovery counters); then restart it and
#     time until the 4 converge again (copies moved back, extras removed).
# BENCH_ONLY=recovery skips part 1.
# The machine is shared and noisy: the figures are rough.
set -u
B=${1:-build/release}
NODE="$B/sheepnode"; TOOL="$B/sheeptool"
CACHE=${CACHE:-/var/cache/sheepmesh}
IMG=${QEMU_IMG:-$CACHE/qemu-current/bin/qemu-img}
[ -x "$IMG" ] || IMG=/opt/qemu52/bin/qemu-img
for f in "$NODE" "$TOOL" "$IMG"; do [ -x "$f" ] || { echo "bench_repl: $f missing"; exit 1; }; done
T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/sm-brepl.XXXXXX") || exit 1
declare -a PIDS=() PORT=()
stop_all() {
	for p in "${PIDS[@]}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	PIDS=()
}
trap 'stop_all; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
base=$((20000 + RANDOM % 12000))
for i in 0 1 2 3; do PORT[$i]=$((base + i)); done
start() {   # start I COPIES ARGS...
	local i=$1 c=$2; shift 2
	"$NODE" --dir "$T/d$i" --port "${PORT[$i]}" --listen 127.0.0.1 --no-multicast --log-level warn \
		--gossip-interval 200 --copies "$c" --recovery-rate 1000 "$@" >> "$T/log$i" 2>&1 &
	PIDS[$i]=$!
}
up() { timeout 5 "$TOOL" node info -p "${PORT[$1]}" >/dev/null 2>&1; }
wait_until() { local end=$(( $(now_ms) + $1 * 1000 )); shift; while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.2; done; return 1; }
placed() { # placed N NODES...: every node's ring has N members
	local n=$1 i; shift
	for i in "$@"; do
		[ "$("$TOOL" node info --json -p "${PORT[$i]}" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ring"]["members"])' 2>/dev/null)" = "$n" ] || return 1
	done
}
cluster() { # cluster NODES COPIES
	local n=$1 c=$2 i
	stop_all; rm -rf "$T"/d* "$T"/log*
	start 0 "$c"; wait_until 10 up 0
	for ((i = 1; i < n; i++)); do start $i "$c" --join "127.0.0.1:${PORT[0]}"; done
	local all=(); for ((i = 0; i < n; i++)); do all+=("$i"); done
	wait_until 30 placed "$n" "${all[@]}" || echo "# ring not agreed"
}

declare -A RES
bench1() { # bench1 LABEL TARGET
	local label=$1 tgt=$2 p name args w t
	for p in "seq-4M -s 4M -c 64" "seq-64k -s 64k -c 2000" "stride-4k -s 4k -S 528384 -c 2000"; do
		name=${p%% *}; args=${p#* }
		for w in write read; do
			local wflag=; [ "$w" = write ] && wflag=-w
			# shellcheck disable=SC2086
			t=$("$IMG" bench -f raw -d 16 $args $wflag "$tgt" 2>/dev/null |
				sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p')
			local c=${args##*-c }; local bs=${args#-s }; bs=${bs%% *}
			local bytes; case $bs in *M) bytes=$(( ${bs%M} * 1048576 ));; *k) bytes=$(( ${bs%k} * 1024 ));; esac
			if [ -z "$t" ]; then RES["$label,$name,$w"]=fail; continue; fi
			RES["$label,$name,$w"]=$(awk -v c="$c" -v t="$t" -v b="$bytes" 'BEGIN { printf "%.1f", c * b / t / 1048576 }')
		done
	done
}
SIZE=$((1024 * 1048576))
if [ "${BENCH_ONLY:-}" != recovery ]; then
echo "# qemu-img: $IMG; data under $(df -hT "$T" | awk 'NR==2 {print $2, $6}')"
"$IMG" create -f raw "$T/plain.raw" "$SIZE" >/dev/null && bench1 file "$T/plain.raw"
for cfg in "1 1" "3 1" "3 3"; do
	set -- $cfg
	cluster "$1" "$2"
	"$IMG" create -f raw "sheepdog:127.0.0.1:${PORT[0]}:b" "$SIZE" >/dev/null 2>&1 || echo "# create failed ($cfg)"
	bench1 "$1x$2" "sheepdog:127.0.0.1:${PORT[1 % $1]}:b"
done
stop_all
printf '\n%-10s %-6s %12s %12s %12s %12s   (MiB/s; ratio to the file in [])\n' pattern op file 1node 3nodes-x1 3nodes-x3
for name in seq-4M seq-64k stride-4k; do
	for w in write read; do
		f=${RES["file,$name,$w"]:-fail}
		row=$(printf '%-10s %-6s %12s' "$name" "$w" "$f")
		for l in 1x1 3x1 3x3; do
			v=${RES["$l,$name,$w"]:-fail}
			r=$(awk -v v="$v" -v f="$f" 'BEGIN { if (v+0 > 0 && f+0 > 0) printf "%s [%.2f]", v, v / f; else printf "%s", v }')
			row="$row $(printf '%12s' "$r")"
		done
		echo "$row"
	done
done

fi   # BENCH_ONLY

# ---- recovery ----
objsum() { find "$T/d$1" -type f -regextype posix-extended -regex '.*/[0-9a-f]{6}/00[0-9a-f]{14}' 2>/dev/null | wc -l; }
rec_bytes() { local s=0 i b; for i in "$@"; do b=$("$TOOL" node info --json -p "${PORT[$i]}" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["recovery"]["bytes_moved"])' 2>/dev/null); s=$((s + ${b:-0})); done; echo $s; }
# placed_ok NODES...: each data object file on min(3,n) of them (cheap: names
# only, so the timing is not the check's own hashing)
placed_ok() {
	local want=$(( $# < 3 ? $# : 3 ))
	for i in "$@"; do find "$T/d$i" -type f -regextype posix-extended -regex '.*/[0-9a-f]{6}/00[0-9a-f]{14}' \
		-printf '%f\n' 2>/dev/null; done | sort | uniq -c |
		awk -v w="$want" '{ if ($1 != w) bad = 1; n++ } END { exit (bad || !n) }'
}
# identical NODES...: the copies of each object are byte-identical (slow: hashes all)
identical() {
	for i in "$@"; do find "$T/d$i" -type f -regextype posix-extended -regex '.*/[0-9a-f]{6}/00[0-9a-f]{14}' \
		-exec sha256sum {} + 2>/dev/null | awk '{ n = split($2, a, "/"); print a[n], $1 }'; done | sort -u |
		awk '{ c[$1]++ } END { for (k in c) if (c[k] != 1) exit 1; exit (length(c) ? 0 : 1) }'
}
cluster 4 3
RSIZE=$((1365 * 1048576))
"$IMG" create -f raw "sheepdog:127.0.0.1:${PORT[0]}:r" "$RSIZE" >/dev/null 2>&1
"$IMG" bench -f raw -w -d 16 -s 4M -c $((RSIZE / 4194304)) "sheepdog:127.0.0.1:${PORT[0]}:r" >/dev/null 2>&1
echo
echo "recovery: 4 nodes x 3 copies, VDI of $((RSIZE / 1048576)) MiB; node 3 holds $(( $(objsum 3) * 4 )) MiB of replicas; --recovery-rate 1000"
b0=$(rec_bytes 0 1 2)
kill -KILL "${PIDS[3]}"; wait "${PIDS[3]}" 2>/dev/null; t0=$(now_ms)
if wait_until 300 placed_ok 0 1 2; then
	t=$(( $(now_ms) - t0 )); b=$(( $(rec_bytes 0 1 2) - b0 ))
	echo "  kill -9 of node 3: 3 copies of every object again after $t ms (incl. failure detection); moved $((b / 1048576)) MiB (ideal: what node 3 held) = $(awk -v b="$b" -v t="$t" 'BEGIN { printf "%.0f", b / 1048576 / (t / 1000) }') MiB/s over the whole time"
	identical 0 1 2 && echo "  ... and the copies are byte-identical" || echo "  ... BUT the copies differ"
else
	echo "  kill -9 of node 3: not converged within 300 s"
fi
b0=$(rec_bytes 0 1 2)
start 3 3 --join "127.0.0.1:${PORT[0]}"; t0=$(now_ms)
if wait_until 300 placed_ok 0 1 2 3; then
	t=$(( $(now_ms) - t0 )); b=$(( $(rec_bytes 0 1 2 3) - b0 ))
	echo "  node 3 restarted: every object on exactly 3 of the 4 again (extras removed) after $t ms; moved $((b / 1048576)) MiB"
	identical 0 1 2 3 && echo "  ... and the copies are byte-identical" || echo "  ... BUT the copies differ"
else
	echo "  node 3 restarted: not converged within 300 s"
fi
