#!/bin/bash
# tests/integration/sim.sh: sheepsim end to end at small N with a shipped
# scenario: summary table, CSV files, SVG plots, determinism, sweep, and
# clear errors for bad scenarios.  TAP-style "ok - x" / "not ok - x".
set -u
B=${SM_BUILD:-build/release}
SIM=$B/sheepsim
T=$(mktemp -d /tmp/sheepsim-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; }
check() { # name, command...
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}

if [ ! -x "$SIM" ]; then
	echo "not ok - sheepsim binary missing at $SIM"
	exit 1
fi

# 1% of 150 nodes crash (scenario file, N overridden by a flag)
"$SIM" --scenario sim/scenarios/crash1pct.txt --nodes 150 --duration 60s --csv "$T/out" --quiet \
	> "$T/summary.txt" 2> "$T/err.txt"
rc=$?
check "crash1pct runs" test $rc -eq 0
check "summary names the crash rows" grep -q "crash/leave: all live know" "$T/summary.txt"
# 1% of 150 -> 2 nodes; both detected everywhere, none unfinished, no false death
check "summary: both crashes known everywhere" grep -Eq "all live know +[0-9.]+ .* n=2 \(0 of 2 not finished\)" "$T/summary.txt"
check "summary: no false deaths" grep -q "false deaths: 0 " "$T/summary.txt"
check "summary: digest printed" grep -Eq "digest: [0-9a-f]{32}$" "$T/summary.txt"
for f in timeseries.csv subjects.csv ring.csv curves.svg known.svg traffic.svg epochs.svg; do
	check "output $f written" test -s "$T/out/$f"
done
# timeseries: header + one row per simulated second (0..60)
check "timeseries has 61 rows" test "$(($(wc -l < "$T/out/timeseries.csv") - 1))" -eq 61
check "timeseries: up drops from 150 to 148" \
	awk -F, 'NR==2 && $2!=150 {exit 1} END {if ($2!=148) exit 1}' "$T/out/timeseries.csv"
# subjects: two crashes, first dead after the minimum suspicion (4*log10(150) s = 8.7 s)
check "subjects.csv: 2 crashes, dead after min suspicion" \
	awk -F, 'NR>1 && $1=="crash" {n++; if ($5 < 8.7 || $6 == "") bad=1} END {exit !(n==2 && !bad)}' \
	"$T/out/subjects.csv"
check "ring.csv: a ring change with movement near ideal" \
	awk -F, 'NR>1 && $4>=0 {n++; if ($4 > 2*$5 || $4 < 0.5*$5) bad=1} END {exit !(n>=1 && !bad)}' \
	"$T/out/ring.csv"
check "svg is an svg" grep -q "<svg" "$T/out/curves.svg"

# same seed, same digest; other seed, other digest
d1=$("$SIM" --nodes 80 --duration 30s --seed 4 --event "at 5s crash 1" --quiet | sed -n 's/.*digest: //p')
d2=$("$SIM" --nodes 80 --duration 30s --seed 4 --event "at 5s crash 1" --quiet | sed -n 's/.*digest: //p')
d3=$("$SIM" --nodes 80 --duration 30s --seed 5 --event "at 5s crash 1" --quiet | sed -n 's/.*digest: //p')
check "deterministic per seed" test -n "$d1" -a "$d1" = "$d2"
check "other seed, other digest" test "$d1" != "$d3"

# every shipped scenario parses and runs briefly at small N
for s in sim/scenarios/*.txt; do
	"$SIM" --scenario "$s" --nodes 60 --duration 40s --quiet > "$T/scn.txt" 2>&1
	check "scenario $(basename "$s") runs at N=60" test $? -eq 0
done

# sweep: two processes, one table
"$SIM" --sweep 50,100 --jobs 2 --duration 40s --event "at 10s crash 1" > "$T/sweep.txt" 2>/dev/null
check "sweep prints a row per N" test "$(grep -Ec '^ +(50|100) ' "$T/sweep.txt")" -eq 2

# bad input: exit 2 and a message naming line and field
printf 'nodes 50\nat 5s crash lots\n' > "$T/bad.txt"
"$SIM" --scenario "$T/bad.txt" > /dev/null 2> "$T/bad.err"
rc=$?
check "bad scenario exits 2" test $rc -eq 2
check "bad scenario message names line and field" grep -q "bad.txt:2: field 'count'" "$T/bad.err"
"$SIM" --loss 250% > /dev/null 2> "$T/bad2.err"
check "bad flag value names the flag" grep -q -- "--loss.*field 'loss'" "$T/bad2.err"
exit 0
