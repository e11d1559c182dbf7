#!/bin/bash
# 04-snapshot: qemu-img snapshot -c / -l, qemu-img info's snapshot table,
# opening snapshots by tag and by id in every location form (spec 8.1, 8.2,
# 9.6) while the working VDI holds newer data (COW, spec 7.4), unknown tags
# and ids, snapshot goto (-a) and writing to an opened snapshot (both
# replace the working VDI, spec 7.9), and a snapshot taken by another
# process while qemu-io keeps the image open (READONLY recovery, spec 7.13).
. "$(dirname "$0")/lib.sh"
sd_ensure

N=q04-snap
VDI=$(sd_uri "$N")
check "create 16M" "$QEMU_IMG" create -f raw "$VDI" 16M
qio "write generation a" "-f raw" "$VDI" "write -P 0xa1 0 4M" "write -P 0xa2 6M 1M"

check "snapshot -c s1" "$QEMU_IMG" snapshot -c s1 "$VDI"
check_out "snapshot -l lists ID 1 TAG s1" '^1[[:space:]]+s1[[:space:]]' "$QEMU_IMG" snapshot -l "$VDI"

qio "write generation b to the working VDI" "-f raw" "$VDI" \
	"write -P 0xb1 0 1M" "write -P 0xb2 12M 1M"
qio "working VDI: new data, COW kept the rest of object 0" "-r -f raw" "$VDI" \
	"read -P 0xb1 0 1M" "read -P 0xa1 1M 3M" "read -P 0xa2 6M 1M" "read -P 0xb2 12M 1M"

A_READS=("read -P 0xa1 0 4M" "read -P 0 4M 2M" "read -P 0xa2 6M 1M" "read -P 0 12M 1M")
qio "snapshot by tag (URI #s1) has the old data" "-r -f raw" "$VDI#s1" "${A_READS[@]}"
qio "snapshot by id (URI #1) has the old data" "-r -f raw" "$VDI#1" "${A_READS[@]}"
qio "snapshot by tag (legacy NAME:s1)" "-r -f raw" "$(sd "$N"):s1" "${A_READS[@]}"
qio "snapshot by id (legacy NAME:1)" "-r -f raw" "$(sd "$N"):1" "${A_READS[@]}"
qio "snapshot by tag over the unix socket" "-r -f raw" "$(sd_unix "$N")#s1" "read -P 0xa1 0 4M"
check_eq "snapshot's virtual size" "$(info_field "$VDI#s1" virtual-size)" $((16 * MIB))

check "snapshot -c s2" "$QEMU_IMG" snapshot -c s2 "$VDI"
out=$(q "$QEMU_IMG" snapshot -l "$VDI")
if echo "$out" | grep -qE '^1[[:space:]]+s1[[:space:]]' && echo "$out" | grep -qE '^2[[:space:]]+s2[[:space:]]'; then
	ok "snapshot -l lists 1 s1 and 2 s2"
else
	not_ok "snapshot -l lists 1 s1 and 2 s2"; echo "$out" | diag
fi
check_out "qemu-img info shows the snapshot table" '^2[[:space:]]+s2[[:space:]]' \
	"$QEMU_IMG" info -f raw "$VDI"
qio "write generation c" "-f raw" "$VDI" "write -P 0xc1 0 512"
qio "s2 has generation b, s1 still generation a" "-r -f raw" "$VDI#s2" \
	"read -P 0xb1 0 1M" "read -P 0xb2 12M 1M"
qio "s1 unchanged after s2 and more writes" "-r -f raw" "$VDI#s1" "${A_READS[@]}"
qio "working VDI has generation c" "-r -f raw" "$VDI" "read -P 0xc1 0 512" "read -P 0xb1 512 1023k"

qio_fails "unknown tag fails (NO_TAG)" "-r -f raw" "$VDI#nosuchtag" "read 0 512"
qio_fails "unknown snapshot id fails" "-r -f raw" "$VDI#9" "read 0 512"
qio_fails "snapshot of an unknown VDI fails (NO_VDI)" "-r -f raw" "$(sd_uri q04-nothere)#s1" "read 0 512"

# goto: the working VDI is replaced by a clone of s1
check "snapshot -a s1 (goto)" "$QEMU_IMG" snapshot -a s1 "$VDI"
qio "after goto the working VDI has s1's data" "-r -f raw" "$VDI" "${A_READS[@]}"
out=$(q "$QEMU_IMG" snapshot -l "$VDI")
if echo "$out" | grep -qE '^1[[:space:]]+s1[[:space:]]' && echo "$out" | grep -qE '^2[[:space:]]+s2[[:space:]]'; then
	ok "snapshots survive the goto"
else
	not_ok "snapshots survive the goto"; echo "$out" | diag
fi
qio "write after goto" "-f raw" "$VDI" "write -P 0xd1 8M 4096" "read -P 0xd1 8M 4096"
qio "s1 untouched by writes after goto" "-r -f raw" "$VDI#s1" "read -P 0 8M 4096" "read -P 0xa1 0 4M"

# writing to a snapshot opened read-write branches from it (spec 7.9)
qio "write to the opened snapshot s2 (branch)" "-f raw" "$VDI#s2" "write -P 0xe1 1M 4096"
qio "working VDI is now s2 + that write" "-r -f raw" "$VDI" \
	"read -P 0xb1 0 1M" "read -P 0xe1 1M 4096" "read -P 0xa1 $((MIB + 4096)) $((3 * MIB - 4096))" \
	"read -P 0xb2 12M 1M" "read -P 0 8M 4096"
qio "s2 itself unchanged by the branch write" "-r -f raw" "$VDI#s2" "read -P 0xa1 1M 4096"

# a snapshot taken by another process while qemu-io has the image open: the
# open image's next write to an object now owned by the snapshot gets
# READONLY, QEMU reloads the inode and COWs (spec 7.13)
X=q04-ext
XV=$(sd_uri "$X")
check "create 8M for the external snapshot" "$QEMU_IMG" create -f raw "$XV" 8M
bg_start "-f raw" "$XV"
bg_cmd "write -P 0xf1 0 1M"
check "snapshot -c ext by another process while the image is open" "$QEMU_IMG" snapshot -c ext "$XV"
bg_cmd "write -P 0xf2 0 512"
bg_cmd "read -P 0xf2 0 512"
bg_cmd "read -P 0xf1 512 $((MIB - 512))"
bg_stop; qrc=$?
if [ "$qrc" = 0 ] && [ "$(grep -c 'wrote 1048576/\|wrote 512/' "$BG_OUT")" = 2 ] &&
	[ "$(grep -c 'read 512/512\|read 1048064/' "$BG_OUT")" = 2 ] && ! grep -qiE 'fail|error' "$BG_OUT"; then
	ok "the open qemu-io keeps writing after the external snapshot"
else
	not_ok "the open qemu-io keeps writing after the external snapshot (exit $qrc)"
	grep -v 'deprecated' "$BG_OUT" | head -20 | diag
fi
qio "working VDI has the write made after the snapshot" "-r -f raw" "$XV" \
	"read -P 0xf2 0 512" "read -P 0xf1 512 $((MIB - 512))"
qio "snapshot ext kept the data from before it" "-r -f raw" "$XV#ext" "read -P 0xf1 0 1M"

t_done
