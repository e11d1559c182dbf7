#!/bin/bash
# 06-resize: qemu-img resize grows a VDI (inode header write, spec 7.11):
# the new size is reported, old data stays, the new area reads zeros and
# takes writes up to the new end; a snapshot keeps its own size; shrinking
# fails cleanly and changes nothing.
. "$(dirname "$0")/lib.sh"
sd_ensure

VDI=$(sd_uri q06-resize)
check "create 8M" "$QEMU_IMG" create -f raw "$VDI" 8M
qio "write the old end" "-f raw" "$VDI" "write -P 0x41 $((8 * MIB - 512)) 512" "write -P 0x42 0 4096"

check "resize to 16M" "$QEMU_IMG" resize -f raw "$VDI" 16M
check_eq "info after grow: 16M" "$(info_field "$VDI" virtual-size)" $((16 * MIB))
qio "old data intact, new area zeros" "-r -f raw" "$VDI" \
	"read -P 0x42 0 4096" "read -P 0x41 $((8 * MIB - 512)) 512" "read -P 0 8M 8M"
qio "write across the old end and at the new end" "-f raw" "$VDI" \
	"write -P 0x43 $((8 * MIB - 256)) 1024" "write -P 0x44 $((16 * MIB - 512)) 512"
qio "read them back in a new process" "-r -f raw" "$VDI" \
	"read -P 0x41 $((8 * MIB - 512)) 256" "read -P 0x43 $((8 * MIB - 256)) 1024" \
	"read -P 0 $((8 * MIB + 768)) $((8 * MIB - 768 - 512))" "read -P 0x44 $((16 * MIB - 512)) 512"

check "resize +4M (relative, over the unix socket)" "$QEMU_IMG" resize -f raw "$(sd_unix q06-resize)" +4M
check_eq "info after relative grow: 20M" "$(info_field "$VDI" virtual-size)" $((20 * MIB))

check "snapshot at 20M" "$QEMU_IMG" snapshot -c at20 "$VDI"
check "resize the working VDI to 24M" "$QEMU_IMG" resize -f raw "$VDI" 24M
check_eq "working VDI is 24M" "$(info_field "$VDI" virtual-size)" $((24 * MIB))
check_eq "snapshot keeps 20M" "$(info_field "$VDI#at20" virtual-size)" $((20 * MIB))
qio "data readable after the resize following a snapshot" "-f raw" "$VDI" \
	"read -P 0x44 $((16 * MIB - 512)) 512" "write -P 0x45 $((24 * MIB - 512)) 512" \
	"read -P 0x45 $((24 * MIB - 512)) 512"

check_fails "shrink to 4M fails" "$QEMU_IMG" resize --shrink -f raw "$VDI" 4M
check_eq "size unchanged after the refused shrink" "$(info_field "$VDI" virtual-size)" $((24 * MIB))
qio "data unchanged after the refused shrink" "-r -f raw" "$VDI" \
	"read -P 0x42 0 4096" "read -P 0x45 $((24 * MIB - 512)) 512"

t_done
