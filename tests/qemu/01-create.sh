#!/bin/bash
# 01-create: qemu-img create in every location form (legacy, URI, unix
# socket, json:), qemu-img info reports the virtual size, a second create of
# the same name and info on an unknown name fail cleanly (spec 5.6, 7.1, 8).
. "$(dirname "$0")/lib.sh"
sd_ensure

G=1073741824

check "create 1G, legacy sheepdog:HOST:PORT:NAME" \
	"$QEMU_IMG" create -f raw "$(sd q01-legacy)" 1G
check_eq "info (legacy form) virtual size 1G" "$(info_field "$(sd q01-legacy)" virtual-size)" "$G"
check_eq "info (URI form) of the same VDI" "$(info_field "$(sd_uri q01-legacy)" virtual-size)" "$G"

check "create 100M, sheepdog://HOST:PORT/NAME" \
	"$QEMU_IMG" create -f raw "$(sd_uri q01-uri)" 100M
check_eq "info virtual size 100M" "$(info_field "$(sd_uri q01-uri)" virtual-size)" $((100 * MIB))

check "create 20M, sheepdog+unix:///NAME?socket=PATH" \
	"$QEMU_IMG" create -f raw "$(sd_unix q01-unix)" 20M
check_eq "info over the unix socket: virtual size 20M" \
	"$(info_field "$(sd_unix q01-unix)" virtual-size)" $((20 * MIB))
check_eq "info over TCP of the VDI made over unix" \
	"$(info_field "$(sd_uri q01-unix)" virtual-size)" $((20 * MIB))

# odd size: rounded up to 512 bytes by QEMU, kept exactly by the server
check "create 1000000 bytes" "$QEMU_IMG" create -f raw "$(sd_uri q01-odd)" 1000000
check_eq "info of an odd size (rounded up to 512)" "$(info_field "$(sd_uri q01-odd)" virtual-size)" 1000448

check "create with object_size=1M" \
	"$QEMU_IMG" create -f raw -o object_size=1M "$(sd_uri q01-obj1m)" 64M
check_eq "info of the 1 MiB-object VDI" "$(info_field "$(sd_uri q01-obj1m)" virtual-size)" $((64 * MIB))

# (preallocation=full is not tested: QEMU 5.2's qemu-img aborts in its QAPI
# visitor on that path after NEW_VDI, whatever the server answers)
check "create with redundancy=2 (2 copies)" \
	"$QEMU_IMG" create -f raw -o redundancy=2 "$(sd_uri q01-copies2)" 8M
qio "the 2-copy VDI takes writes" "-f raw" "$(sd_uri q01-copies2)" "write -P 0x3e 0 4096" "read -P 0x3e 0 4096"

json="json:{\"driver\":\"raw\",\"file\":{\"driver\":\"sheepdog\",\"server\":{\"type\":\"inet\",\"host\":\"$SD_HOST\",\"port\":\"$SD_PORT\"},\"vdi\":\"q01-uri\"}}"
check_eq "info through json: options" "$(info_field "$json" virtual-size)" $((100 * MIB))
qio "write + read through json: options" "" "$json" \
	"write -P 0x5a 0 64k" "read -P 0x5a 0 64k"

# a new VDI reads as zeros
qio "new VDI reads zeros (first, middle, last object)" "-r -f raw" "$(sd_uri q01-legacy)" \
	"read -P 0 0 1M" "read -P 0 512M 4M" "read -P 0 $((G - 4 * MIB)) 4M"

# the longest name QEMU accepts (255 bytes, spec 8.1) fills the inode's name
# field up to its last NUL; one that differs only in the last byte is another VDI
LONG=q01-$(printf 'n%.0s' $(seq 251))
LONG2=${LONG%n}m
check "create a VDI with a 255-byte name" "$QEMU_IMG" create -f raw "$(sd_uri "$LONG")" 8M
check "create one differing in the 255th byte" "$QEMU_IMG" create -f raw "$(sd_uri "$LONG2")" 4M
check_eq "255-byte name: size" "$(info_field "$(sd_uri "$LONG")" virtual-size)" $((8 * MIB))
check_eq "the other 255-byte name: size" "$(info_field "$(sd_uri "$LONG2")" virtual-size)" $((4 * MIB))
qio "write + read the 255-byte name" "-f raw" "$(sd_uri "$LONG")" "write -P 0x3c 4M 4096" "read -P 0x3c 4M 4096"
check "snapshot of the 255-byte name" "$QEMU_IMG" snapshot -c long-snap "$(sd_uri "$LONG")"
check_out "listed" '[[:space:]]long-snap[[:space:]]' "$QEMU_IMG" snapshot -l "$(sd_uri "$LONG")"
check_fails "a 256-byte name is refused" "$QEMU_IMG" create -f raw "$(sd_uri "${LONG}x")" 4M

check_fails "second create of the same name fails (VDI_EXIST)" \
	"$QEMU_IMG" create -f raw "$(sd_uri q01-uri)" 10M
check_eq "size unchanged after the refused create" \
	"$(info_field "$(sd_uri q01-uri)" virtual-size)" $((100 * MIB))
check_fails "info of an unknown VDI fails (NO_VDI)" \
	"$QEMU_IMG" info -f raw "$(sd_uri q01-no-such-vdi)"
check_fails "qemu-io open of an unknown VDI fails" \
	"$QEMU_IO" -f raw -c "read 0 512" "$(sd_uri q01-no-such-vdi)"

t_done
