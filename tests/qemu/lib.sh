# shellcheck shell=bash disable=SC2034
# lib.sh: helpers shared by the QEMU 5.2 scenarios (sourced, never run).
#
# run.sh exports SHEEPNODE, SD_HOST, SD_PORT, SD_UNIX (the shared daemon's
# unix socket) and SD_TMP (a scratch directory for this scenario). A scenario
# started by hand without SD_PORT gets its own daemon (sd_ensure), so
#   SHEEPNODE=build/x/sheepnode tests/qemu/02-rw-patterns.sh
# works on its own.
#
# Output is TAP-like: "ok - name", "not ok - name", "ok - name # SKIP why";
# the output of a failed command follows as "#" comment lines.

QEMU_BIN=${QEMU_BIN:-/opt/qemu52/bin}
QEMU_IMG=${QEMU_IMG:-$QEMU_BIN/qemu-img}
QEMU_IO=${QEMU_IO:-$QEMU_BIN/qemu-io}
# QEMU's driver reconnects forever when the daemon goes away (spec 7.14):
# every QEMU command runs under a timeout so a broken daemon fails, not hangs.
QTIMEOUT=${QTIMEOUT:-60}
SD_HOST=${SD_HOST:-127.0.0.1}
SD_LOGLEVEL=${SD_LOGLEVEL:-info}
MIB=1048576
OBJ=4194304           # default object size (block_size_shift 22)

T_FAIL=0
T_PIDS=""             # daemons this script started itself
T_OWN_TMP=""

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAIL=$((T_FAIL + 1)); }
skip()   { echo "ok - $1 # SKIP $2"; }
diag()   { sed 's/^/#   /'; }

# t_done: the scenario's exit status (non-zero if any check failed)
t_done() { [ "$T_FAIL" = 0 ]; }

# q CMD...: run a QEMU tool with a timeout, stderr folded into stdout, the
# driver's once-per-process deprecation notice (spec 0.9) filtered out.
q() {
	timeout -k 5 "$QTIMEOUT" "$@" 2>&1 | grep -v 'sheepdog block driver is deprecated'
	return "${PIPESTATUS[0]}"
}

# legacy and URI locations of a VDI on the shared daemon (spec 8.1, 8.2)
sd()     { echo "sheepdog:$SD_HOST:$SD_PORT:$1"; }
sd_uri() { echo "sheepdog://$SD_HOST:$SD_PORT/$1"; }

# unix-socket location of a VDI on the shared daemon (spec 8.1)
sd_unix() { echo "sheepdog+unix:///$1?socket=$SD_UNIX"; }

# check_out NAME REGEX CMD...: the command must succeed and print a line
# matching the extended regular expression REGEX
check_out() {
	local name=$1 re=$2 out rc; shift 2
	out=$(q "$@"); rc=$?
	if [ "$rc" = 0 ] && echo "$out" | grep -qE -- "$re"; then ok "$name"
	else not_ok "$name (exit $rc, expected /$re/)"; echo "$out" | head -30 | diag; fi
}

# check_not_out NAME REGEX CMD...: succeeds and prints nothing matching REGEX
check_not_out() {
	local name=$1 re=$2 out rc; shift 2
	out=$(q "$@"); rc=$?
	if [ "$rc" = 0 ] && ! echo "$out" | grep -qE -- "$re"; then ok "$name"
	else not_ok "$name (exit $rc, unexpected /$re/)"; echo "$out" | head -30 | diag; fi
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}

# check NAME CMD...: the command must succeed
check() {
	local name=$1 out rc; shift
	out=$(q "$@"); rc=$?
	if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name (exit $rc)"; echo "$out" | diag; fi
}

# check_fails NAME CMD...: the command must fail cleanly (not time out or
# die from a signal)
check_fails() {
	local name=$1 out rc; shift
	out=$(q "$@"); rc=$?
	if [ "$rc" != 0 ] && [ "$rc" -lt 124 ]; then ok "$name"
	else not_ok "$name (exit $rc, expected a clean failure)"; echo "$out" | diag; fi
}

# qio NAME "OPTS" FILE CMD...: one qemu-io process runs every CMD. Passes when
# qemu-io exits 0, every read/write/discard command reports completion and
# nothing says failed/error (aio_read pattern mismatches exit 0, so the text
# is what counts).
qio() {
	local name=$1 opts=$2 file=$3 c want=0 got out rc
	local -a args=()
	shift 3
	for c in "$@"; do
		args+=(-c "$c")
		case $c in read*|write*|aio_read*|aio_write*|discard*) want=$((want + 1));; esac
	done
	# shellcheck disable=SC2086 # OPTS is a list of options
	out=$(q "$QEMU_IO" $opts "${args[@]}" "$file"); rc=$?
	got=$(echo "$out" | grep -cE '^(read|wrote|discard) [0-9]+/[0-9]+ bytes at offset')
	if [ "$rc" = 0 ] && [ "$got" = "$want" ] && ! echo "$out" | grep -qiE 'fail|error|abort'; then
		ok "$name"
	else
		not_ok "$name (exit $rc, $got of $want operations completed)"
		echo "$out" | grep -v ' ops; ' | head -30 | diag
	fi
}

# check_clone NAME qemu-img create ... -b BACKING ... TARGET SIZE: like check,
# but works around a QEMU 5.2 client bug: qemu-img frees the backing_file
# string twice at the end of a sheepdog create, and glibc sometimes aborts
# (exit 134, "double free" / "corrupted ...") after the VDI was made. That
# abort passes if TARGET then opens; the scenario checks its contents.
check_clone() {
	local name=$1 out rc target; shift
	target=${*: -2:1}
	out=$(q "$@"); rc=$?
	if [ "$rc" = 0 ]; then
		ok "$name"
	elif [ "$rc" = 134 ] && echo "$out" | grep -qE 'free\(\)|double free|corrupted' &&
		q "$QEMU_IMG" info -f raw "$target" >/dev/null; then
		ok "$name"
		echo "# note: qemu-img aborted after creating $target (QEMU 5.2 double free of backing_file)"
	else
		not_ok "$name (exit $rc)"; echo "$out" | diag
	fi
}

# check_refused NAME CMD...: the command must fail without hanging; unlike
# check_fails a crash of the QEMU tool itself is tolerated (QEMU 5.2 has
# double frees on some sheepdog error paths; the server answered correctly
# when the tool got that far)
check_refused() {
	local name=$1 out rc; shift
	out=$(q "$@"); rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; then
		ok "$name"
		[ "$rc" -gt 128 ] && echo "# note: the QEMU tool died with signal $((rc - 128)) (a QEMU client bug)"
	else
		not_ok "$name (exit $rc, expected a refusal)"; echo "$out" | diag
	fi
	return 0
}

# qio_fails NAME "OPTS" FILE CMD...: some command must fail, cleanly (no
# timeout, no signal); qemu-io may report a failed command with exit 0, so
# its "failed" text counts too.
qio_fails() {
	local name=$1 opts=$2 file=$3 c out rc
	local -a args=()
	shift 3
	for c in "$@"; do args+=(-c "$c"); done
	# shellcheck disable=SC2086 # OPTS is a list of options
	out=$(q "$QEMU_IO" $opts "${args[@]}" "$file"); rc=$?
	if [ "$rc" -lt 124 ] && { [ "$rc" != 0 ] || echo "$out" | grep -qiE 'fail|error'; }; then
		ok "$name"
	else
		not_ok "$name (exit $rc, expected a clean failure)"; echo "$out" | head -30 | diag
	fi
}

# ---- a long-running qemu-io fed one command at a time -------------------------
# qemu-io reads stdin only when new bytes arrive: lines sent together are
# partly left in its buffer, so each command is sent after the previous one
# has finished (its next "qemu-io> " prompt appeared). Uses fd 7.

# bg_start OPTS FILE: start it (sets BG_PID, BG_OUT)
bg_start() {
	local fifo="$SD_TMP/bg.$$.fifo"
	BG_OUT="$SD_TMP/bg.$$.out"; BG_N=0
	rm -f "$fifo"; mkfifo "$fifo"
	exec 7<>"$fifo"
	# shellcheck disable=SC2086 # OPTS is a list of options
	timeout -k 5 "$QTIMEOUT" "$QEMU_IO" $1 "$2" <"$fifo" >"$BG_OUT" 2>&1 7>&- &
	BG_PID=$!
	bg_wait
}

# bg_prompts: how many prompts qemu-io printed so far
bg_prompts() { grep -o 'qemu-io> ' "$BG_OUT" 2>/dev/null | wc -l; }

# bg_send CMD: send without waiting; bg_wait: wait for the prompt after it
bg_send() { echo "$1" >&7; BG_N=$((BG_N + 1)); }
bg_wait() {
	local i
	for i in $(seq $((QTIMEOUT * 10))); do
		[ "$(bg_prompts)" -gt "$BG_N" ] && return 0
		pid_running "$BG_PID" || return 1
		sleep 0.1
	done
	return 1
}
# bg_cmd CMD: send and wait
bg_cmd() { bg_send "$1"; bg_wait; }

# bg_stop: quit, wait; returns qemu-io's exit status
bg_stop() {
	echo quit >&7
	exec 7>&-
	wait "$BG_PID"
}

# mirror FILE CMD...: apply the same qemu-io commands to a local raw file,
# the reference a VDI is compared against with same_as_file.
mirror() {
	local file=$1 c out rc
	local -a args=()
	shift
	for c in "$@"; do args+=(-c "$c"); done
	out=$(q "$QEMU_IO" -f raw "${args[@]}" "$file"); rc=$?
	if [ "$rc" != 0 ] || echo "$out" | grep -qiE 'fail|error'; then
		echo "# mirror $file failed:"; echo "$out" | diag
	fi
}

# same_as_file NAME LOCATION FILE: export the whole VDI with qemu-img convert
# and compare it byte for byte with FILE.
same_as_file() {
	local name=$1 loc=$2 file=$3 out rc exp="$SD_TMP/export.$$.raw"
	rm -f "$exp"
	out=$(q "$QEMU_IMG" convert -f raw -O raw "$loc" "$exp"); rc=$?
	if [ "$rc" != 0 ]; then
		not_ok "$name (convert out failed, exit $rc)"; echo "$out" | diag
	elif ! out=$(cmp "$exp" "$file" 2>&1); then
		not_ok "$name"; echo "$out" | diag
	else
		ok "$name"
	fi
	rm -f "$exp"
}

# info_field LOCATION KEY: a value of `qemu-img info --output=json`
info_field() {
	q "$QEMU_IMG" info -f raw --output=json "$1" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1], ""))' "$2" 2>/dev/null
}

# ---- daemon control ---------------------------------------------------------

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_running PID: the process exists and is not a zombie
pid_running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# sd_log_args: "--log-level LEVEL" if this sheepnode knows the flag
sd_log_args() {
	if "$SHEEPNODE" --help 2>&1 | grep -q -- '--log-level'; then
		echo "--log-level $SD_LOGLEVEL"
	fi
}

# sd_start DIR LOG [EXTRA_ARGS...]: start a sheepnode on a free port with its
# data in DIR; sets SD_PID and SD_PORT. Retries on another port if the chosen
# one was taken in the meantime (SD_WANT_PORT: that port only, e.g. to
# restart a daemon where a client expects it). Returns non-zero if no daemon came up.
sd_start() {
	local dir=$1 log=$2 attempt port pid i sock="" a prev=""
	shift 2
	for a in "$@"; do [ "$prev" = --unix ] && sock=$a; prev=$a; done
	mkdir -p "$dir"
	for attempt in 1 2 3 4 5; do
		port=${SD_WANT_PORT:-$(( (RANDOM % 12000) + 20000 ))}
		if port_open "$port"; then
			[ -n "${SD_WANT_PORT:-}" ] && sleep 0.5
			continue
		fi
		# shellcheck disable=SC2046 # sd_log_args is a list
		"$SHEEPNODE" --listen 127.0.0.1 --port "$port" --dir "$dir" $(sd_log_args) "$@" >>"$log" 2>&1 &
		pid=$!
		for i in $(seq 100); do
			pid_running "$pid" || break
			if port_open "$port" && { [ -z "$sock" ] || [ -S "$sock" ]; }; then
				SD_PID=$pid; SD_PORT=$port
				T_PIDS="$T_PIDS $pid"
				return 0
			fi
			sleep 0.1
		done
		if pid_running "$pid"; then kill -KILL "$pid" 2>/dev/null; fi
		wait "$pid" 2>/dev/null
		echo "# sheepnode did not come up on port $port (attempt $attempt); log tail:"
		tail -5 "$log" | diag
	done
	return 1
}

# sd_stop PID: SIGTERM, wait up to 20 s; returns the daemon's exit status
# (124 if it had to be killed). Only for daemons started by this shell.
sd_stop() {
	local pid=$1 i rc
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 200); do
		pid_running "$pid" || break
		sleep 0.1
	done
	if pid_running "$pid"; then
		kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rc=124
	else
		wait "$pid"; rc=$?
	fi
	T_PIDS=$(echo "$T_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
	return "$rc"
}

# t_cleanup: stop the daemons this script started, remove its scratch dir
t_cleanup() {
	local pid
	for pid in $T_PIDS; do pid_running "$pid" && sd_stop "$pid"; done
	[ -n "$T_OWN_TMP" ] && rm -rf "$T_OWN_TMP"
	T_PIDS=""
}

# sd_ensure: when not run by run.sh, make a scratch dir and start a daemon
sd_ensure() {
	trap t_cleanup EXIT
	trap 'exit 130' INT TERM
	if [ -z "${SD_TMP:-}" ]; then
		T_OWN_TMP=$(mktemp -d /tmp/sheepmesh-qemu.XXXXXX)
		SD_TMP=$T_OWN_TMP
	fi
	if [ -z "${SD_PORT:-}" ]; then
		: "${SHEEPNODE:?set SHEEPNODE to the sheepnode binary}"
		SD_UNIX=$SD_TMP/own.sock
		if ! sd_start "$SD_TMP/own-data" "$SD_TMP/own-sheepnode.log" --unix "$SD_UNIX"; then
			not_ok "start sheepnode"; exit 1
		fi
	fi
	if [ ! -x "$QEMU_IMG" ] || [ ! -x "$QEMU_IO" ]; then
		not_ok "QEMU 5.2 tools present in $QEMU_BIN"; exit 1
	fi
}
