#!/bin/bash
# 02-rw-patterns: qemu-io pattern writes and verified reads in a separate
# process: inside one object, across 4 MiB object boundaries, overwrites of
# existing objects (WRITE_OBJ) next to creates (CREATE_AND_WRITE_OBJ),
# unaligned bytes (read-modify-write by QEMU), the very end of a disk whose
# size is not a multiple of the object size, and 1 MiB objects. A local raw
# file gets the same writes and the whole VDI is compared with it.
. "$(dirname "$0")/lib.sh"
sd_ensure

SIZE=$((12 * MIB + 1536))         # objects 0-2 full, object 3 holds 1536 bytes
VDI=$(sd_uri q02-rw)
REF="$SD_TMP/q02.ref"
truncate -s "$SIZE" "$REF"

W=(
	"write -P 0x11 0 512"                                    # first sector
	"write -P 0x22 $((4 * MIB - 4096)) 8192"                 # across boundary 0|1
	"write -P 0x33 $((8 * MIB - 512)) $((4 * MIB + 1024))"   # 1|2 and 2|3, all of 2
	"write -P 0x44 $((SIZE - 2048)) 2048"                    # the last bytes (2|3)
	"write -P 0x55 $((4 * MIB + 65536)) 512"                 # overwrite in object 1
	"write -P 0x66 1000 100"                                 # unaligned (QEMU RMW)
)

check "create $SIZE bytes" "$QEMU_IMG" create -f raw "$VDI" "$SIZE"
qio "pattern writes (create, cross-object, end of disk, unaligned)" "-f raw" "$VDI" "${W[@]}"
mirror "$REF" "${W[@]}"

qio "verified reads in a new process" "-r -f raw" "$VDI" \
	"read -P 0x11 0 512" \
	"read -P 0 512 488" \
	"read -P 0x66 1000 100" \
	"read -P 0 1100 $((4 * MIB - 4096 - 1100))" \
	"read -P 0x22 $((4 * MIB - 4096)) 8192" \
	"read -P 0 $((4 * MIB + 4096)) $((65536 - 4096))" \
	"read -P 0x55 $((4 * MIB + 65536)) 512" \
	"read -P 0 $((4 * MIB + 65536 + 512)) $((4 * MIB - 65536 - 512 - 512))" \
	"read -P 0x33 $((8 * MIB - 512)) $((4 * MIB))" \
	"read -P 0x44 $((SIZE - 2048)) 2048"
qio "read across all four objects in one request" "-r -f raw" "$VDI" \
	"read 0 $SIZE"
qio "the same reads over the unix socket" "-r -f raw" "$(sd_unix q02-rw)" \
	"read -P 0x22 $((4 * MIB - 4096)) 8192" "read -P 0x44 $((SIZE - 2048)) 2048"
qio "the same reads through the legacy form" "-r -f raw" "$(sd q02-rw)" \
	"read -P 0x11 0 512" "read -P 0x55 $((4 * MIB + 65536)) 512"
same_as_file "whole VDI equals the reference file" "$VDI" "$REF"

# overwrite a whole existing object, then part of it again
W2=("write -P 0x77 $((4 * MIB)) $((4 * MIB))" "write -P 0x78 $((6 * MIB)) 4096")
qio "overwrite a whole object, then 4 KiB of it" "-f raw" "$VDI" "${W2[@]}"
mirror "$REF" "${W2[@]}"
qio "overwritten object reads back" "-r -f raw" "$VDI" \
	"read -P 0x77 $((4 * MIB)) $((2 * MIB))" "read -P 0x78 $((6 * MIB)) 4096" \
	"read -P 0x77 $((6 * MIB + 4096)) $((2 * MIB - 4096))"
same_as_file "whole VDI still equals the reference file" "$VDI" "$REF"

# cache=none: DIRECT flag instead of CACHE on every request (spec 7.1)
qio "write + read with -t none (DIRECT requests)" "-t none -f raw" "$VDI" \
	"write -P 0x88 $((2 * MIB)) 8192" "read -P 0x88 $((2 * MIB)) 8192"
qio "the DIRECT write is visible to a new process" "-r -f raw" "$VDI" \
	"read -P 0x88 $((2 * MIB)) 8192"

# writeback: no flush after each write, one FLUSH_VDI before close (spec 7.5)
qio "write + read with -t writeback" "-t writeback -f raw" "$VDI" \
	"aio_write -P 0x89 $((3 * MIB)) 8192" "aio_write -P 0x8a $((7 * MIB)) 8192" "aio_flush" \
	"read -P 0x89 $((3 * MIB)) 8192" "read -P 0x8a $((7 * MIB)) 8192"
qio "the writeback writes are visible to a new process" "-r -f raw" "$VDI" \
	"read -P 0x89 $((3 * MIB)) 8192" "read -P 0x8a $((7 * MIB)) 8192"

# block_size_shift 20: 1 MiB objects
V1M=$(sd_uri q02-obj1m)
check "create 8M with object_size=1M" "$QEMU_IMG" create -f raw -o object_size=1M "$V1M" 8M
qio "1 MiB objects: writes across 1 MiB boundaries" "-f raw" "$V1M" \
	"write -P 0xa1 $((MIB - 512)) 1024" "write -P 0xa2 $((3 * MIB - 4096)) $((2 * MIB + 8192))" \
	"write -P 0xa3 $((8 * MIB - 512)) 512"
qio "1 MiB objects: verified reads" "-r -f raw" "$V1M" \
	"read -P 0 0 $((MIB - 512))" "read -P 0xa1 $((MIB - 512)) 1024" \
	"read -P 0xa2 $((3 * MIB - 4096)) $((2 * MIB + 8192))" "read -P 0xa3 $((8 * MIB - 512)) 512"

# the largest VDI with 4 MiB objects (4 TiB, 2^20 index slots): the last
# object's index slot is the inode's last 4 bytes (spec 4.2, 4.3)
T4=$((4 * 1024 * 1024 * MIB))
VBIG=$(sd_uri q02-4t)
check "create 4T (largest with 4 MiB objects)" "$QEMU_IMG" create -f raw "$VBIG" 4T
check_eq "info: 4T" "$(info_field "$VBIG" virtual-size)" "$T4"
qio "write the last 4 KiB and across the last object boundary" "-f raw" "$VBIG" \
	"write -P 0xe1 $((T4 - 4096)) 4096" "write -P 0xe2 $((T4 - 4 * MIB - 512)) 1024"
qio "read them back; the rest of the last objects is zero" "-r -f raw" "$VBIG" \
	"read -P 0xe1 $((T4 - 4096)) 4096" "read -P 0xe2 $((T4 - 4 * MIB - 512)) 1024" \
	"read -P 0 $((T4 - 4 * MIB + 512)) $((4 * MIB - 4096 - 512))" "read -P 0 $((T4 / 2)) 4096"
check_fails "a VDI above 4T is refused" "$QEMU_IMG" create -f raw "$(sd_uri q02-toobig)" 5T

t_done
