#!/bin/sh
# summary.sh RESULTS_FILE...: prints the closing "N passed, N failed" line
# (plus skipped) and exits non-zero if anything failed or nothing ran.
cat "$@" 2>/dev/null | awk '{p+=$2; f+=$3; s+=$4} END {
	printf "%d passed, %d failed, %d skipped\n", p, f, s
	exit (f > 0 || p == 0) ? 1 : 0 }'
