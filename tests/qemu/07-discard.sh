#!/bin/bash
# 07-discard: qemu-io -d unmap 'discard' of whole objects zeroes their index
# slot with a 4-byte inode write (spec 7.6); they then read as zeros in a new
# process, and a later write recreates the object zero-filled (spec 6.3).
# Partial objects are skipped by QEMU (their data stays). A discard in the
# working VDI leaves a snapshot's copy of the object alone.
. "$(dirname "$0")/lib.sh"
sd_ensure

VDI=$(sd_uri q07-discard)
check "create 16M" "$QEMU_IMG" create -f raw "$VDI" 16M
qio "fill 16M with 0x71" "-f raw" "$VDI" "write -P 0x71 0 16M"

# without -d unmap the block layer drops discards before the driver
qio "discard object 1 and objects 2-3 (whole objects)" "-d unmap -f raw" "$VDI" \
	"discard 4M 4M" "discard 8M 8M"
qio "discarded objects read zeros, object 0 intact" "-r -f raw" "$VDI" \
	"read -P 0x71 0 4M" "read -P 0 4M 12M"
qio "partial-object discard is skipped (data stays)" "-d unmap -f raw" "$VDI" "discard 1M 1M"
qio "object 0 still holds its data" "-r -f raw" "$VDI" "read -P 0x71 0 4M"

qio "write 4 KiB into a discarded object" "-f raw" "$VDI" "write -P 0x72 $((5 * MIB)) 4096"
qio "recreated object is zero apart from the write" "-r -f raw" "$VDI" \
	"read -P 0 4M 1M" "read -P 0x72 5M 4096" "read -P 0 $((5 * MIB + 4096)) $((3 * MIB - 4096))"

# discard after a snapshot: only the working VDI's view changes
qio "refill object 2" "-f raw" "$VDI" "write -P 0x73 8M 4M"
check "snapshot d1" "$QEMU_IMG" snapshot -c d1 "$VDI"
qio "discard object 2 in the working VDI" "-d unmap -f raw" "$VDI" "discard 8M 4M"
qio "working VDI: object 2 reads zeros" "-r -f raw" "$VDI" "read -P 0 8M 4M" "read -P 0x71 0 4M"
qio "snapshot d1 still has object 2" "-r -f raw" "$VDI#d1" "read -P 0x73 8M 4M" "read -P 0x72 5M 4096"

# discard and read in one process, over the unix socket
qio "discard + read in one process (unix socket)" "-d unmap -f raw" "$(sd_unix q07-discard)" \
	"discard 0 4M" "read -P 0 0 4M"
qio "that discard persisted" "-r -f raw" "$VDI" "read -P 0 0 4M" "read -P 0x72 5M 4096"

t_done
