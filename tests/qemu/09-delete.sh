#!/bin/bash
# 09-delete: deletion as QEMU does it (spec 5.9, 7.9, 7.10). qemu-img has no
# VDI delete; it deletes snapshots (snapshot -d, by tag) and the
# working VDI when it branches (snapshot -a, or a write to an opened
# snapshot). Deleted snapshots vanish from listings and cannot be opened;
# the snapshots and clones that share their objects keep reading them; the
# name stays usable.
#
# Spec 0.7: QEMU's snapshot -d first zeroes the index of the working VDI it
# opened (a client bug). The working VDI's contents after snapshot -d are
# therefore not checked here.
. "$(dirname "$0")/lib.sh"
sd_ensure

N=q09-del
VDI=$(sd_uri "$N")
check "create 12M" "$QEMU_IMG" create -f raw "$VDI" 12M
qio "generation 1" "-f raw" "$VDI" "write -P 0x91 0 12M"
check "snapshot s1" "$QEMU_IMG" snapshot -c s1 "$VDI"
qio "generation 2 (object 1 only)" "-f raw" "$VDI" "write -P 0x92 4M 4M"
check "snapshot s2 (shares objects 0 and 2 with s1)" "$QEMU_IMG" snapshot -c s2 "$VDI"
qio "generation 3 (object 2 only)" "-f raw" "$VDI" "write -P 0x93 8M 4M"
check "snapshot s3" "$QEMU_IMG" snapshot -c s3 "$VDI"
check_clone "clone of s1 (keeps s1's objects in use)" \
	"$QEMU_IMG" create -f raw -b "$VDI#s1" -F sheepdog "$(sd_uri q09-clone)" 12M

check "snapshot -d s1 (by tag)" "$QEMU_IMG" snapshot -d s1 "$VDI"
out=$(q "$QEMU_IMG" snapshot -l "$VDI")
if ! echo "$out" | grep -qE '[[:space:]]s1[[:space:]]' && echo "$out" | grep -qE '^2[[:space:]]+s2[[:space:]]' &&
	echo "$out" | grep -qE '^3[[:space:]]+s3[[:space:]]'; then
	ok "s1 gone from the list, s2 and s3 still there"
else
	not_ok "s1 gone from the list, s2 and s3 still there"; echo "$out" | diag
fi
qio_fails "opening the deleted s1 by tag fails" "-r -f raw" "$VDI#s1" "read 0 512"
qio_fails "opening the deleted s1 by id fails" "-r -f raw" "$VDI#1" "read 0 512"
qio "s2 still reads objects it shares with the deleted s1" "-r -f raw" "$VDI#s2" \
	"read -P 0x91 0 4M" "read -P 0x92 4M 4M" "read -P 0x91 8M 4M"
qio "the clone of s1 still reads s1's data" "-r -f raw" "$(sd_uri q09-clone)" "read -P 0x91 0 12M"
check_fails "snapshot -d of the deleted s1 again fails" "$QEMU_IMG" snapshot -d s1 "$VDI"

# qemu-img 5.2's snapshot -d looks the argument up by tag only
check_fails "snapshot -d 2 (an id, not a tag) is refused by qemu-img" "$QEMU_IMG" snapshot -d 2 "$VDI"
check "snapshot -d s2" "$QEMU_IMG" snapshot -d s2 "$VDI"
check_not_out "s2 gone from the list" '[[:space:]]s2[[:space:]]' "$QEMU_IMG" snapshot -l "$VDI"
qio "s3 still reads all its objects" "-r -f raw" "$VDI#s3" \
	"read -P 0x91 0 4M" "read -P 0x92 4M 4M" "read -P 0x93 8M 4M"
check_fails "snapshot -d of an unknown tag fails" "$QEMU_IMG" snapshot -d nosuch "$VDI"

# the working VDI is deleted and replaced when QEMU goes to a snapshot
qio "write generation 4 into the working VDI" "-f raw" "$VDI" "write -P 0x94 0 12M"
check "snapshot -a s3 deletes the working VDI and branches from s3" "$QEMU_IMG" snapshot -a s3 "$VDI"
qio "the new working VDI has s3's data, generation 4 is gone" "-r -f raw" "$VDI" \
	"read -P 0x91 0 4M" "read -P 0x92 4M 4M" "read -P 0x93 8M 4M"
check_out "s3 still listed after the goto" '^3[[:space:]]+s3[[:space:]]' "$QEMU_IMG" snapshot -l "$VDI"
check_eq "working VDI keeps the size" "$(info_field "$VDI" virtual-size)" $((12 * MIB))

# the same through a write to an opened snapshot; twice in a row, so the
# name goes through several deleted working VDIs
qio "write to the opened s3 (branch, legacy form)" "-f raw" "$(sd "$N"):s3" "write -P 0x95 0 4096"
qio "write to the opened s3 again" "-f raw" "$VDI#s3" "write -P 0x96 4096 4096"
qio "working VDI = s3 + the last write only" "-r -f raw" "$VDI" \
	"read -P 0x91 0 4096" "read -P 0x96 4096 4096" "read -P 0x91 8192 $((4 * MIB - 8192))" \
	"read -P 0x93 8M 4M"
qio "s3 itself untouched" "-r -f raw" "$VDI#s3" "read -P 0x91 0 8192"

# delete the last snapshot, take a new one: the name keeps working
check "snapshot -d s3" "$QEMU_IMG" snapshot -d s3 "$VDI"
check_not_out "no snapshots listed" '[[:space:]]s[0-9][[:space:]]' "$QEMU_IMG" snapshot -l "$VDI"
qio "the clone still reads s1's data after all deletes" "-r -f raw" "$(sd_uri q09-clone)" "read -P 0x91 0 12M"
qio "the working VDI still takes writes" "-f raw" "$VDI" "write -P 0x97 0 4096" "read -P 0x97 0 4096"
check "a new snapshot after the deletes" "$QEMU_IMG" snapshot -c s4 "$VDI"
check_out "s4 listed" '[[:space:]]s4[[:space:]]' "$QEMU_IMG" snapshot -l "$VDI"
qio "s4 opens" "-r -f raw" "$VDI#s4" "read -P 0x97 0 4096"

t_done
