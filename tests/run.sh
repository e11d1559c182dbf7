#!/bin/bash
# run.sh BUILD_DIR RESULTS_FILE: runs every test program of one build
# variant and appends "name passed failed skipped" lines to RESULTS_FILE.
# Test programs are cmocka binaries (their summary is parsed) or scripts
# printing TAP-style "ok"/"not ok" lines ("# SKIP why" marks a skip).
set -u
B=$1; OUT=$2
export SHEEPNODE="$PWD/$B/sheepnode"
[ -x "$B/sheeptool" ] && export SHEEPTOOL="$PWD/$B/sheeptool"
export SM_BUILD="$PWD/$B"
export CMOCKA_MESSAGE_OUTPUT=STDOUT
rc=0
log_dir="$B/test-logs"; mkdir -p "$log_dir"

record() { # name log
	local name=$1 log=$2 p f s
	if grep -q '^\[==========\]' "$log"; then
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	else
		p=$(grep -c '^ok ' "$log" | tr -d ' '); p=$((p - $(grep -c '^ok .*# SKIP' "$log")))
		f=$(grep -c '^not ok ' "$log")
		s=$(grep -c '^ok .*# SKIP' "$log")
	fi
	p=${p:-0}; f=${f:-0}; s=${s:-0}
	if [ "$3" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # crashed or exited non-zero
	if [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ]; then f=1; fi  # ran nothing: a failure
	echo "$name $p $f $s" >> "$OUT"
	printf '%-52s %3s passed %3s failed %3s skipped\n' "$name" "$p" "$f" "$s"
	[ "$f" = 0 ] || { rc=1; echo "---- $log (tail)"; tail -40 "$log"; echo "----"; }
}

for t in "$B"/tests/unit/test_* "$B"/tests/integration/test_* tests/integration/*.sh; do
	[ -x "$t" ] || continue
	case "$t" in *.o|*.d) continue;; esac
	name="$(basename "$B")/$(basename "$t")"
	log="$log_dir/$(basename "$t").log"
	timeout 900 "$t" > "$log" 2>&1
	record "$name" "$log" $?
done
exit $rc
