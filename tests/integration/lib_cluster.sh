# lib_cluster.sh: what the scripts that run several real sheepnodes on
# loopback share (repl_cluster.sh, repl_keys.sh). Sourced, not run (not
# executable, so tests/run.sh skips it). Before sourcing, a script sets
#   CL_NAME   its name (temp dir prefix, SKIP lines)
#   CL_NODES  how many nodes (ports to find)
#   CL_ARGS   extra sheepnode flags for every node (an array; may be empty)
# and gets NODE, TOOL, TMP, PY, PORT[], PIDS[], cleanup on exit, and
# ok/nok/check/now_ms/start/wait_for/node_up/eps/gw/T/st.
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-$(dirname "$NODE")/sheeptool}
TMP=$(mktemp -d "/tmp/$CL_NAME.XXXXXX")
declare -a PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
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
[ -n "$PY" ] || { echo "ok - $CL_NAME # SKIP python3 missing"; exit 0; }

PORTS=$("$PY" - "$CL_NODES" <<'PY'
import socket, random, sys
n = int(sys.argv[1])
# below 32768, the kernel's ephemeral range: an outgoing connection must
# not take a port a node of the test binds minutes later
for _ in range(50):
    base = random.randrange(20000, 32700, 8)
    socks = []
    try:
        for p in range(base, base + n):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", p)); socks.append(s)
        print(" ".join(str(p) for p in range(base, base + n))); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
read -r -a PORT <<<"$PORTS"
[ "${#PORT[@]}" = "$CL_NODES" ] || { echo "not ok - free ports # none found"; exit 1; }

# start I FLAGS...: node I in the background, its log in $TMP/logI
start() {
	local i=$1; shift
	"$NODE" --dir "$TMP/d$i" --port "${PORT[$i]}" --listen 127.0.0.1 --no-multicast \
		--gossip-interval 200 --workers 2 ${CL_ARGS[@]+"${CL_ARGS[@]}"} "$@" >> "$TMP/log$i" 2>&1 &
	PIDS[$i]=$!
}
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
	return 1
}
node_up() { timeout 5 "$TOOL" node info -p "${PORT[$1]}" >/dev/null 2>&1; }
GW="$(dirname "${BASH_SOURCE[0]}")/gossip_wait.py"
eps() { for n in "$@"; do echo "tcp:127.0.0.1:${PORT[$n]}"; done; }
# gw SECONDS COND NODES...: gossip_wait.py's condition on those nodes
gw() {
	local t=$1 c=$2; shift 2
	GW_OUT=$("$PY" "$GW" "$t" "$c" $(eps "$@")) && return 0
	echo "# $c not reached: $GW_OUT" | tr '\n' ' '; echo; return 1
}
# T I ARGS...: sheeptool against node I
T() { local i=$1; shift; timeout 60 "$TOOL" "$@" -p "${PORT[$i]}"; }
# st I EXPR: a field of node I's SM_STATUS document (d)
st() {
	T "$1" node info --json > "$TMP/s$1" 2>/dev/null || { echo "noanswer"; return; }
	"$PY" -c "import json; d=json.load(open('$TMP/s$1')); print($2)"
}
