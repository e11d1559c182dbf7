#!/bin/bash
# 11-hash-collision: names whose 24-bit FNV-1a hashes collide (spec 5.1,
# 5.3, 5.4, 7.8). q11-c31959 and q11-c42584 both hash to 0x73cdcb, so their
# working VDIs and snapshots share one run of vids; q11-c5251 (0xd9e6db)
# and q11-c40749 (0xd9e6dc) are neighbours, so a snapshot of the first must
# probe past the second. Every lookup, listing, read and delete must only
# ever see its own name.
. "$(dirname "$0")/lib.sh"
sd_ensure

A=q11-c31959; B=q11-c42584      # same hash_vid 0x73cdcb
C=q11-c5251;  D=q11-c40749      # hash_vid 0xd9e6db and 0xd9e6dc
VA=$(sd_uri $A); VB=$(sd_uri $B); VC=$(sd_uri $C); VD=$(sd_uri $D)

check "create A" "$QEMU_IMG" create -f raw "$VA" 8M
qio "write A gen 1" "-f raw" "$VA" "write -P 0xa1 0 4M"
check "snapshot A sa1" "$QEMU_IMG" snapshot -c sa1 "$VA"
check "create B (same hash as A)" "$QEMU_IMG" create -f raw "$VB" 12M
qio "write B" "-f raw" "$VB" "write -P 0xb1 0 4M"
check "snapshot B sb1" "$QEMU_IMG" snapshot -c sb1 "$VB"
qio "write A gen 2" "-f raw" "$VA" "write -P 0xa2 0 4096"
check "snapshot A sa2" "$QEMU_IMG" snapshot -c sa2 "$VA"

out=$(q "$QEMU_IMG" snapshot -l "$VA")
if echo "$out" | grep -qE '[[:space:]]sa1[[:space:]]' && echo "$out" | grep -qE '[[:space:]]sa2[[:space:]]' &&
	! echo "$out" | grep -q 'sb1'; then ok "A lists sa1 and sa2, not B's sb1"
else not_ok "A lists sa1 and sa2, not B's sb1"; echo "$out" | diag; fi
out=$(q "$QEMU_IMG" snapshot -l "$VB")
if echo "$out" | grep -qE '^1[[:space:]]+sb1[[:space:]]' && ! echo "$out" | grep -q 'sa[12]'; then
	ok "B lists only sb1 (ID 1)"
else not_ok "B lists only sb1 (ID 1)"; echo "$out" | diag; fi

check_eq "A's size" "$(info_field "$VA" virtual-size)" $((8 * MIB))
check_eq "B's size" "$(info_field "$VB" virtual-size)" $((12 * MIB))
qio "A working" "-r -f raw" "$VA" "read -P 0xa2 0 4096" "read -P 0xa1 4096 $((4 * MIB - 4096))"
qio "A#sa1" "-r -f raw" "$VA#sa1" "read -P 0xa1 0 4M"
qio "A#1 (by id) is sa1" "-r -f raw" "$VA#1" "read -P 0xa1 0 4096"
qio "B#sb1 and B#1" "-r -f raw" "$VB#sb1" "read -P 0xb1 0 4M"
qio_fails "A#sb1 (B's tag) is not found for A" "-r -f raw" "$VA#sb1" "read 0 512"
qio_fails "B#sa1 (A's tag) is not found for B" "-r -f raw" "$VB#sa1" "read 0 512"

check "delete B's sb1" "$QEMU_IMG" snapshot -d sb1 "$VB"
check_out "A still lists sa1" '[[:space:]]sa1[[:space:]]' "$QEMU_IMG" snapshot -l "$VA"
qio "A#sa1 still readable" "-r -f raw" "$VA#sa1" "read -P 0xa1 0 4M"
check "goto A sa1 (deletes A's working VDI)" "$QEMU_IMG" snapshot -a sa1 "$VA"
qio "A working is sa1's data" "-r -f raw" "$VA" "read -P 0xa1 0 4M"
check_eq "B untouched by A's goto (size)" "$(info_field "$VB" virtual-size)" $((12 * MIB))
qio "B's working VDI still opens and writes" "-f raw" "$VB" "write -P 0xb2 4M 4096" "read -P 0xb2 4M 4096"

check "create C" "$QEMU_IMG" create -f raw "$VC" 4M
check "create D (hash right after C's)" "$QEMU_IMG" create -f raw "$VD" 4M
qio "write C" "-f raw" "$VC" "write -P 0xc1 0 4096"
qio "write D" "-f raw" "$VD" "write -P 0xd1 0 4096"
check "snapshot C (new working vid must skip D's)" "$QEMU_IMG" snapshot -c sc1 "$VC"
check "snapshot D" "$QEMU_IMG" snapshot -c sd1 "$VD"
check_out "C lists sc1" '^1[[:space:]]+sc1[[:space:]]' "$QEMU_IMG" snapshot -l "$VC"
check_out "D lists sd1" '^1[[:space:]]+sd1[[:space:]]' "$QEMU_IMG" snapshot -l "$VD"
check_not_out "C does not list D's snapshot" 'sd1' "$QEMU_IMG" snapshot -l "$VC"
qio "C and C#sc1 read C's data" "-r -f raw" "$VC#sc1" "read -P 0xc1 0 4096"
qio "D reads D's data" "-r -f raw" "$VD" "read -P 0xd1 0 4096"
qio "C working reads C's data" "-r -f raw" "$VC" "read -P 0xc1 0 4096"

t_done
