#!/bin/bash
# 12-many-snapshots: 16 generations of one VDI, each snapshotted: IDs 1-16
# in the listing, every snapshot opens by tag and by id with its own data
# (objects shared across generations by COW); then every other snapshot is
# deleted: the listing walk crosses the deleted (cleared but still
# allocated) vids (spec 5.2, 7.8) and the survivors keep their data.
. "$(dirname "$0")/lib.sh"
sd_ensure

VDI=$(sd_uri q12-many)
check "create 12M" "$QEMU_IMG" create -f raw "$VDI" 12M
fails=0
for g in $(seq 1 16); do
	# sector 0 always; one of the three objects in turn
	out=$(q "$QEMU_IO" -f raw -c "write -P $g 0 512" -c "write -P $((g + 100)) $(((g % 3) * 4 * MIB + 4096)) 4096" "$VDI") || fails=$((fails + 1))
	q "$QEMU_IMG" snapshot -c "g$g" "$VDI" >/dev/null || fails=$((fails + 1))
done
check_eq "16 writes + snapshots succeeded (failures)" "$fails" 0

out=$(q "$QEMU_IMG" snapshot -l "$VDI")
missing=""
for g in $(seq 1 16); do
	echo "$out" | grep -qE "^${g}[[:space:]]+g${g}[[:space:]]" || missing="$missing $g"
done
check_eq "listing has ID n with tag gn for n = 1..16 (missing)" "$missing" ""

# expected contents of generation g: sector 0 = g; object k's 4 KiB at
# k*4M+4096 = 100 + the last generation h <= g with h % 3 == k (0 if none)
expect_reads() {
	local g=$1 k h last
	echo "read -P $g 0 512"
	for k in 0 1 2; do
		last=0
		for h in $(seq 1 "$g"); do [ $((h % 3)) = "$k" ] && last=$((h + 100)); done
		echo "read -P $last $((k * 4 * MIB + 4096)) 4096"
	done
}
bad=""
for g in $(seq 1 16); do
	mapfile -t R < <(expect_reads "$g")
	args=(); for c in "${R[@]}"; do args+=(-c "$c"); done
	out=$(q "$QEMU_IO" -r -f raw "${args[@]}" "$VDI#g$g"); rc=$?
	if [ "$rc" != 0 ] || echo "$out" | grep -qi fail; then bad="$bad g$g"; fi
	out=$(q "$QEMU_IO" -r -f raw "${args[@]}" "$VDI#$g"); rc=$?
	if [ "$rc" != 0 ] || echo "$out" | grep -qi fail; then bad="$bad #$g"; fi
done
check_eq "every snapshot, by tag and by id, has its own data (bad)" "$bad" ""

fails=0
for g in $(seq 2 2 16); do q "$QEMU_IMG" snapshot -d "g$g" "$VDI" >/dev/null || fails=$((fails + 1)); done
check_eq "snapshot -d of the 8 even generations (failures)" "$fails" 0
out=$(q "$QEMU_IMG" snapshot -l "$VDI")
wrong=""
for g in $(seq 1 16); do
	if [ $((g % 2)) = 1 ]; then echo "$out" | grep -qE "^${g}[[:space:]]+g${g}[[:space:]]" || wrong="$wrong missing:$g"
	else echo "$out" | grep -qE "[[:space:]]g${g}[[:space:]]" && wrong="$wrong still-listed:$g"; fi
done
check_eq "listing shows exactly the odd generations" "$wrong" ""
bad=""
for g in $(seq 1 2 15); do
	mapfile -t R < <(expect_reads "$g")
	args=(); for c in "${R[@]}"; do args+=(-c "$c"); done
	out=$(q "$QEMU_IO" -r -f raw "${args[@]}" "$VDI#g$g"); rc=$?
	if [ "$rc" != 0 ] || echo "$out" | grep -qi fail; then bad="$bad g$g"; fi
done
check_eq "odd snapshots keep their data after the deletes (bad)" "$bad" ""
qio_fails "a deleted generation does not open" "-r -f raw" "$VDI#g8" "read 0 512"

t_done
