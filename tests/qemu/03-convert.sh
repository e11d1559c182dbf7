#!/bin/bash
# 03-convert: qemu-img convert a raw file into a new VDI (convert creates it),
# back out, and compare byte for byte; convert -n into an existing VDI,
# VDI to VDI, and qemu-img compare. The file mixes random data, zero runs
# (QEMU skips them) and a size that ends inside an object.
. "$(dirname "$0")/lib.sh"
sd_ensure

SRC="$SD_TMP/q03.src"
OUTF="$SD_TMP/q03.out"
SIZE=$((9 * MIB + 512))
head -c "$SIZE" /dev/urandom > "$SRC"
# zero runs: a whole object (4M-8M) and a smaller hole in object 0
dd if=/dev/zero of="$SRC" bs=1M seek=4 count=4 conv=notrunc status=none
dd if=/dev/zero of="$SRC" bs=64k seek=3 count=5 conv=notrunc status=none

check "convert raw file -> new VDI (URI)" \
	"$QEMU_IMG" convert -f raw -O raw "$SRC" "$(sd_uri q03-in)"
check_eq "converted VDI has the file's size" "$(info_field "$(sd_uri q03-in)" virtual-size)" "$SIZE"
rm -f "$OUTF"
check "convert VDI -> raw file" "$QEMU_IMG" convert -f raw -O raw "$(sd_uri q03-in)" "$OUTF"
if cmp "$SRC" "$OUTF" >/dev/null 2>&1; then ok "round trip is byte-identical (cmp)"
else not_ok "round trip is byte-identical (cmp)"; cmp "$SRC" "$OUTF" 2>&1 | diag; fi
check "qemu-img compare file vs VDI" "$QEMU_IMG" compare -f raw -F raw "$SRC" "$(sd_uri q03-in)"
qio "the zero object reads as zeros" "-r -f raw" "$(sd_uri q03-in)" "read -P 0 $((4 * MIB)) $((4 * MIB))"

# legacy form, into a VDI created beforehand (-n: no create)
check "create target for convert -n" "$QEMU_IMG" create -f raw "$(sd q03-n)" "$SIZE"
check "convert -n raw file -> existing VDI (legacy form)" \
	"$QEMU_IMG" convert -n -f raw -O raw "$SRC" "$(sd q03-n)"
same_as_file "convert -n result equals the file" "$(sd q03-n)" "$SRC"

# VDI to VDI on the same daemon, the target over the unix socket
check "convert VDI -> new VDI (unix socket target)" \
	"$QEMU_IMG" convert -f raw -O raw "$(sd_uri q03-in)" "$(sd_unix q03-copy)"
same_as_file "VDI copy equals the file" "$(sd_uri q03-copy)" "$SRC"

# converting over data already there: the old contents must not leak through
check "create a VDI full of 0xee" "$QEMU_IMG" create -f raw "$(sd_uri q03-over)" "$SIZE"
qio "fill it with 0xee" "-f raw" "$(sd_uri q03-over)" "write -P 0xee 0 $SIZE"
check "convert -n the file over it" \
	"$QEMU_IMG" convert -n -f raw -O raw "$SRC" "$(sd_uri q03-over)"
same_as_file "overwritten VDI equals the file (zero runs included)" "$(sd_uri q03-over)" "$SRC"

check_fails "convert into an existing name without -n fails" \
	"$QEMU_IMG" convert -f raw -O raw "$SRC" "$(sd_uri q03-in)"
same_as_file "the refused convert changed nothing" "$(sd_uri q03-in)" "$SRC"

rm -f "$SRC" "$OUTF"
t_done
