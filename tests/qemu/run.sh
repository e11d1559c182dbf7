#!/bin/bash
# run.sh BUILD_DIR RESULTS_FILE: QEMU 5.2's own sheepdog client (qemu-img,
# qemu-io) against one live sheepnode on loopback.
#
# 1. QEMU 5.2's tools: /opt/qemu52/bin (QEMU_BIN) is used as is; if missing
#    they are built with build-qemu52.sh, looked up next to the repository
#    (../shared/tools) and at /work/shared/tools. With neither, every
#    scenario is reported as skipped, saying why.
# 2. One sheepnode (BUILD_DIR/sheepnode) on a free port, a temp --dir and a
#    --unix socket.
# 3. Every tests/qemu/[0-9][0-9]-*.sh scenario, each with its own scratch
#    dir; scenarios use their own VDI names on the shared daemon.
# 4. SIGTERM to the daemon, which must exit 0 (a check of its own).
# 5. One "qemu-NN-name passed failed skipped" line per scenario appended to
#    RESULTS_FILE (the format of tests/run.sh), plus qemu-tools and
#    qemu-sheepnode lines. TAP lines go to stdout as they come.
# Exits non-zero if anything failed.
set -u
B=$1; OUT=$2
case $B in /*) ;; *) B="$PWD/$B";; esac
case $OUT in /*) ;; *) OUT="$PWD/$OUT";; esac
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export SHEEPNODE="$B/sheepnode"
export QEMU_BIN=${QEMU_BIN:-/opt/qemu52/bin}
# shellcheck source=tests/qemu/lib.sh
. "$HERE/lib.sh"

LOGS="$B/test-logs"; mkdir -p "$LOGS"
rc=0
RUN_TMP=""

cleanup() {
	t_cleanup
	[ -n "$RUN_TMP" ] && rm -rf "$RUN_TMP"
	RUN_TMP=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record NAME PASSED FAILED SKIPPED: one results line, and the overall status
record() {
	echo "$1 $2 $3 $4" >> "$OUT"
	printf '%-52s %3s passed %3s failed %3s skipped\n' "$1" "$2" "$3" "$4"
	[ "$3" = 0 ] || rc=1
}

# count_log LOG EXIT_STATUS: "passed failed skipped" of a scenario's TAP log
count_log() {
	local log=$1 st=$2 p f s
	s=$(grep -c '^ok .*# SKIP' "$log")
	p=$(( $(grep -c '^ok ' "$log") - s ))
	f=$(grep -c '^not ok ' "$log")
	if [ "$st" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # died or timed out
	if [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ]; then f=1; fi  # ran nothing
	echo "$p $f $s"
}

SCENARIOS=()
for t in "$HERE"/[0-9][0-9]-*.sh; do [ -f "$t" ] && SCENARIOS+=("$t"); done
sname() { local b; b=$(basename "$1" .sh); echo "qemu-$b"; }

# skip_all WHY: report every scenario as skipped
skip_all() {
	local t
	for t in "${SCENARIOS[@]}"; do
		echo "ok - $(sname "$t") # SKIP $1"
		record "$(sname "$t")" 0 0 1
	done
}

# ---- 1. QEMU 5.2's tools ----------------------------------------------------
tp=0; tf=0
if [ ! -x "$QEMU_BIN/qemu-img" ]; then
	script=""
	for s in "$REPO/../shared/tools/build-qemu52.sh" /work/shared/tools/build-qemu52.sh; do
		if [ -f "$s" ]; then script=$s; break; fi
	done
	if [ -z "$script" ]; then
		skip_all "no $QEMU_BIN/qemu-img and no build-qemu52.sh (../shared/tools or /work/shared/tools) to build it"
		exit 0
	fi
	echo "# building QEMU 5.2's tools with $script (log: $LOGS/qemu-build.log)"
	if PREFIX=${QEMU_BIN%/bin} timeout 3600 bash "$script" > "$LOGS/qemu-build.log" 2>&1; then
		echo "ok - build QEMU 5.2 tools"; tp=$((tp + 1))
	else
		echo "not ok - build QEMU 5.2 tools (see $LOGS/qemu-build.log)"; tf=$((tf + 1))
		tail -20 "$LOGS/qemu-build.log" | diag
	fi
fi
if [ -x "$QEMU_IMG" ] && [ -x "$QEMU_IO" ]; then
	echo "ok - qemu-img and qemu-io present in $QEMU_BIN"; tp=$((tp + 1))
	if "$QEMU_IMG" --help 2>/dev/null | grep -qw sheepdog; then
		echo "ok - qemu-img lists the sheepdog driver"; tp=$((tp + 1))
	else
		echo "not ok - qemu-img lists the sheepdog driver"; tf=$((tf + 1))
	fi
else
	echo "not ok - qemu-img and qemu-io present in $QEMU_BIN"; tf=$((tf + 1))
fi
record qemu-tools "$tp" "$tf" 0
if [ "$tf" != 0 ]; then
	skip_all "QEMU 5.2 tools unusable (qemu-tools failed)"
	exit 1
fi

# ---- 2. the daemon ------------------------------------------------------------
dp=0; df=0
RUN_TMP=$(mktemp -d /tmp/sheepmesh-qemu.XXXXXX)
DLOG="$LOGS/qemu-sheepnode.log"; : > "$DLOG"
export SD_HOST=127.0.0.1
export SD_UNIX="$RUN_TMP/sheepnode.sock"
DARGS=(--unix "$SD_UNIX")

# daemon_up: start (or restart) the shared daemon on the same data dir
daemon_up() {
	rm -f "$SD_UNIX"
	if [ -x "$SHEEPNODE" ] && sd_start "$RUN_TMP/data" "$DLOG" "${DARGS[@]}"; then
		export SD_PORT SD_PID
		return 0
	fi
	return 1
}

if daemon_up; then
	echo "ok - sheepnode started (port $SD_PORT, unix $SD_UNIX, pid $SD_PID)"; dp=$((dp + 1))
else
	echo "not ok - sheepnode started ($SHEEPNODE, log $DLOG)"; df=$((df + 1))
	tail -20 "$DLOG" | diag
	record qemu-sheepnode "$dp" "$df" 0
	for t in "${SCENARIOS[@]}"; do
		echo "not ok - $(sname "$t") (no daemon)"
		record "$(sname "$t")" 0 1 0
	done
	exit 1
fi

# ---- 3. scenarios -----------------------------------------------------------------
dead=0
for t in "${SCENARIOS[@]}"; do
	name=$(sname "$t")
	if [ "$dead" = 1 ]; then
		echo "not ok - $name (no daemon)"; record "$name" 0 1 0; continue
	fi
	log="$LOGS/$name.log"
	export SD_TMP="$RUN_TMP/$name"
	mkdir -p "$SD_TMP"
	echo "# ---- $name"
	dlines=$(wc -l < "$DLOG")
	t0=$SECONDS
	timeout -k 10 900 bash "$t" 2>&1 | tee "$log"
	st=${PIPESTATUS[0]}
	echo "# $name took $((SECONDS - t0)) s"
	read -r p f s < <(count_log "$log" "$st")
	record "$name" "$p" "$f" "$s"
	if [ "$f" != 0 ]; then
		echo "# daemon log during $name (last 30 lines):"
		tail -n +"$((dlines + 1))" "$DLOG" | tail -30 | diag
	fi
	rm -rf "$SD_TMP"
	if pid_running "$SD_PID"; then
		echo "ok - sheepnode still running after $name"; dp=$((dp + 1))
	else
		wait "$SD_PID"; drc=$?
		echo "not ok - sheepnode still running after $name (it exited with $drc)"; df=$((df + 1))
		tail -20 "$DLOG" | diag
		# shellcheck disable=SC2034 # read by lib.sh's t_cleanup
		T_PIDS=""                     # that daemon is gone
		if daemon_up; then
			echo "# restarted sheepnode on port $SD_PORT for the remaining scenarios"
		else
			echo "not ok - sheepnode restarted after $name"; df=$((df + 1))
			dead=1
		fi
	fi
done

# ---- 4. stop ------------------------------------------------------------------
if pid_running "$SD_PID"; then
	sd_stop "$SD_PID"; drc=$?
	if [ "$drc" = 0 ]; then
		echo "ok - sheepnode exits 0 on SIGTERM"; dp=$((dp + 1))
	else
		echo "not ok - sheepnode exits 0 on SIGTERM (exit $drc; 124 = killed after 20 s)"
		df=$((df + 1))
		tail -20 "$DLOG" | diag
	fi
fi
record qemu-sheepnode "$dp" "$df" 0
exit $rc
