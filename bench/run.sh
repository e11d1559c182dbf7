#!/bin/bash
# run.sh BUILDDIR: start a sheepnode on a free loopback port with its data
# in a fresh temp dir under /var/tmp (a disk, not tmpfs), run bench_node
# against it and a plain file in the same directory, stop the node.
# Then runs the tree's other bench/bench_* programs. Keeps to about a
# minute; prints every command it runs.
set -u
B=${1:-build/release}
NODE="$B/sheepnode"
BENCH="$B/bench/bench_node"
SIZE_MIB=${BENCH_SIZE_MIB:-256}
SECONDS_PER_PHASE=${BENCH_SECONDS:-4}
QD=${BENCH_QD:-16}
for f in "$NODE" "$BENCH"; do
	[ -x "$f" ] || { echo "bench: $f not built (make BUILDDIR=$B all)"; exit 1; }
done

T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/sm-bench.XXXXXX") || exit 1
pid=
stop_node() { # SIGTERM our node (by pid), SIGKILL after 10 s
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		echo "node: stopped (exit $?)"
	fi
	pid=
}
cleanup() { stop_node; rm -rf "$T"; }
trap cleanup EXIT INT TERM

# a free port: nothing answers on it now
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 12000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "bench: no free port"; exit 1; }

mkdir -p "$T/data"
echo "filesystem: $(df -hT "$T" | awk 'NR==2 {print $2, $1}')"
cmd=("$NODE" --port "$port" --dir "$T/data" --log-level warn)
echo "node: ${cmd[*]}"
"${cmd[@]}" > "$T/node.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { echo "bench: sheepnode exited"; cat "$T/node.log"; exit 1; }
	sleep 0.1
done

"$BENCH" --port "$port" --file "$T/plain.img" --size-mib "$SIZE_MIB" \
	--seconds "$SECONDS_PER_PHASE" --qd "$QD"
rc=$?
[ $rc = 0 ] || { echo "---- node log"; tail -20 "$T/node.log"; }
stop_node

# the other benchmarks of the tree (standalone, no node needed)
for b in "$B"/bench/bench_*; do
	case "$b" in *.o|*.d|*/bench_node) continue;; esac
	[ -x "$b" ] || continue
	echo "== $b"
	timeout 120 "$b" || { echo "bench: $b failed"; rc=1; }
done
# the replicated data path (issue 5): several nodes, QEMU's client
if [ -z "${BENCH_NO_REPL:-}" ]; then
	echo "== bench/bench_repl.sh $B"
	timeout 1800 bash "$(dirname "$0")/bench_repl.sh" "$B" || { echo "bench: bench_repl.sh failed"; rc=1; }
fi
exit $rc
