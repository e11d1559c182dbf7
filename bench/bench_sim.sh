#!/bin/bash
# bench/bench_sim.sh [BUILDDIR]: sheepsim figures (virtual time; wall time
# and memory are the simulator's own cost, not protocol figures).
#   1. validation sweep over N (sim/scenarios/sweep.txt), 2 processes;
#   2. scale points: memory per node and simulated seconds per wall
#      second (SCALE="1000 10000"; 10,000 nodes need ~15 GiB and minutes).
# Runs at nice 19: the machine is shared.
set -eu
B=${1:-build/release}
SIM=$B/sheepsim
[ -x "$SIM" ] || { echo "bench_sim: $SIM missing (make BUILDDIR=$B $SIM)"; exit 1; }
echo "== validation sweep (${SWEEP:-100,300,1000,3000}) =="
nice -n 19 "$SIM" --scenario sim/scenarios/sweep.txt --sweep "${SWEEP:-100,300,1000,3000}" --jobs 2
for n in ${SCALE:-1000}; do
	echo "== scale: N=$n, 60 s, 3 crashes at 5 s, 2 joins at 45 s =="
	/usr/bin/time -f "max RSS %M KiB, %e s wall" nice -n 19 "$SIM" --nodes "$n" --duration 60s \
		--ring off --event "at 5s crash 3" --event "at 45s join 2" --quiet
done
