#!/bin/bash
# 10-restart: with a daemon of its own, data written through QEMU survives a
# SIGTERM (exit 0) and a restart on the same --dir: data, snapshots, sizes.
# Then a qemu-io that keeps the image open while the daemon is stopped and
# restarted on the same port reconnects and finishes its writes (spec 7.14).
# Last, a snapshot deleted before a restart stays deleted after it.
. "$(dirname "$0")/lib.sh"
sd_ensure

DIR="$SD_TMP/q10-data"
DLOG="$SD_TMP/q10-sheepnode.log"
SD_UNIX="$SD_TMP/q10.sock"
if ! sd_start "$DIR" "$DLOG" --unix "$SD_UNIX"; then
	not_ok "start a second sheepnode"; tail -20 "$DLOG" | diag; exit 1
fi
ok "start a second sheepnode (port $SD_PORT)"

# stop_daemon NAME: SIGTERM, expect exit 0
stop_daemon() {
	local rc
	sd_stop "$SD_PID"; rc=$?
	if [ "$rc" = 0 ]; then ok "$1"; else not_ok "$1 (exit $rc)"; tail -20 "$DLOG" | diag; fi
}

VDI() { sd_uri q10-keep; }
check "create 20M" "$QEMU_IMG" create -f raw "$(VDI)" 20M
qio "write data" "-f raw" "$(VDI)" "write -P 0x01 0 4M" "write -P 0x02 $((8 * MIB - 512)) 1024"
check "snapshot k1" "$QEMU_IMG" snapshot -c k1 "$(VDI)"
qio "write after the snapshot" "-f raw" "$(VDI)" "write -P 0x03 0 4096"
check "resize to 24M" "$QEMU_IMG" resize -f raw "$(VDI)" 24M

stop_daemon "sheepnode exits 0 on SIGTERM"
if ! sd_start "$DIR" "$DLOG" --unix "$SD_UNIX"; then
	not_ok "restart on the same --dir"; tail -20 "$DLOG" | diag; exit 1
fi
ok "restart on the same --dir (port $SD_PORT)"

check_eq "size kept" "$(info_field "$(VDI)" virtual-size)" $((24 * MIB))
qio "working VDI data kept" "-r -f raw" "$(VDI)" \
	"read -P 0x03 0 4096" "read -P 0x01 4096 $((4 * MIB - 4096))" "read -P 0x02 $((8 * MIB - 512)) 1024" \
	"read -P 0 20M 4M"
check_out "snapshot k1 still listed" '^1[[:space:]]+k1[[:space:]]' "$QEMU_IMG" snapshot -l "$(VDI)"
qio "snapshot k1 data kept" "-r -f raw" "$(VDI)#k1" "read -P 0x01 0 4M" "read -P 0x02 $((8 * MIB - 512)) 1024"
check_fails "a second create of the name is still refused" "$QEMU_IMG" create -f raw "$(VDI)" 1M
check "a new VDI after the restart gets a fresh vid" "$QEMU_IMG" create -f raw "$(sd_uri q10-new)" 4M
qio "the new VDI reads zeros" "-r -f raw" "$(sd_uri q10-new)" "read -P 0 0 4M"

# reconnect: qemu-io keeps the image open across a daemon restart
bg_start "-f raw" "$(VDI)"
bg_cmd "write -P 0x11 12M 4096"
port=$SD_PORT
stop_daemon "sheepnode exits 0 on SIGTERM with a client connected"
bg_send "write -P 0x12 16M 4096"     # QEMU retries while the daemon is down
if SD_WANT_PORT=$port sd_start "$DIR" "$DLOG" --unix "$SD_UNIX"; then
	ok "restart on the same port $port"
else
	not_ok "restart on the same port $port"; tail -20 "$DLOG" | diag
fi
bg_wait
bg_cmd "read -P 0x11 12M 4096"
bg_cmd "read -P 0x12 16M 4096"
bg_stop; qrc=$?
# the driver's reconnect messages ("failed to get the header", "Failed to
# connect") are expected here; what counts is that every command completed
if [ "$qrc" = 0 ] && [ "$(grep -c 'wrote 4096/4096' "$BG_OUT")" = 2 ] &&
	[ "$(grep -c 'read 4096/4096' "$BG_OUT")" = 2 ] && ! grep -q 'Pattern verification failed' "$BG_OUT"; then
	ok "qemu-io reconnected and finished its I/O"
else
	not_ok "qemu-io reconnected and finished its I/O (exit $qrc; 124 = timed out)"
	grep -v 'deprecated' "$BG_OUT" | head -20 | diag
fi
qio "both writes are on the daemon" "-r -f raw" "$(VDI)" \
	"read -P 0x11 12M 4096" "read -P 0x12 16M 4096" "read -P 0x03 0 4096"

# deletions persist too
check "snapshot -c k2" "$QEMU_IMG" snapshot -c k2 "$(VDI)"
check "snapshot -d k1" "$QEMU_IMG" snapshot -d k1 "$(VDI)"
stop_daemon "sheepnode exits 0 on SIGTERM after the delete"
if sd_start "$DIR" "$DLOG" --unix "$SD_UNIX"; then
	ok "third start on the same --dir"
	check_not_out "k1 stays deleted after the restart" '[[:space:]]k1[[:space:]]' "$QEMU_IMG" snapshot -l "$(VDI)"
	check_out "k2 still listed after the restart" '[[:space:]]k2[[:space:]]' "$QEMU_IMG" snapshot -l "$(VDI)"
	qio "k2 keeps its data (objects shared with the deleted k1)" "-r -f raw" "$(VDI)#k2" \
		"read -P 0x03 0 4096" "read -P 0x01 4096 $((4 * MIB - 4096))" "read -P 0x11 12M 4096"
	qio_fails "k1 does not open after the restart" "-r -f raw" "$(VDI)#k1" "read 0 512"
	stop_daemon "sheepnode exits 0 on SIGTERM at the end"
else
	not_ok "third start on the same --dir"; tail -20 "$DLOG" | diag
fi
t_done
