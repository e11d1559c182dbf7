#!/bin/bash
# bench.sh SHEEPNODE: `qemu-img bench` figures in one run, for the issue's
# closing note. Targets: this driver (QEMU 7.2) against sheepnode, QEMU 5.2's
# own driver against the same sheepnode (if /opt/qemu52/bin exists, or
# QEMU52_BIN), and a local raw file through QEMU 7.2 (file-posix).
# Patterns: sequential 4 KiB and 64 KiB, and strided 4 KiB (one request
# every 516 KiB: qemu-img bench has no random mode), each read and write,
# queue depth 32, cache=writeback (bench's default). Prints a table of
# ops/s and MiB/s. The machine is shared: treat the figures as rough.
set -u
SHEEPNODE=${1:?usage: bench.sh SHEEPNODE}
CACHE=${CACHE:-/var/cache/sheepmesh}
Q72=${QEMU72_BIN:-$CACHE/qemu-current/bin}
Q52=${QEMU52_BIN:-/opt/qemu52/bin}
COUNT=${COUNT:-4000}
TMP=$(mktemp -d /tmp/qbench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SHEEPNODE" --dir "$TMP/data" --port "$PORT" --listen 127.0.0.1 --log-level warn \
	>"$TMP/node.log" 2>&1 &
NODE=$!
trap 'kill $NODE 2>/dev/null; wait $NODE 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 1
SIZE=$((3 * 1024 * 1024 * 1024))

# run LABEL IMG FILE: all patterns on one image
run() {
	local label=$1 img=$2 file=$3 name args t ops
	for p in "seq-4k -s 4k" "seq-64k -s 64k" "stride-4k -s 4k -S 528384"; do
		name=${p%% *}; args=${p#* }
		for w in write read; do
			wflag=; [ "$w" = write ] && wflag=-w
			# shellcheck disable=SC2086 # args is a list
			t=$("$img" bench -f raw -d 32 -c "$COUNT" $args $wflag \
				"$file" 2>/dev/null | sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p')
			if [ -z "$t" ]; then
				printf '%-22s %-10s %-6s %10s\n' "$label" "$name" "$w" "failed"
				continue
			fi
			bs=$(echo "$args" | sed 's/-s \([0-9]*\)k.*/\1/')
			ops=$(awk -v c="$COUNT" -v t="$t" 'BEGIN { printf "%.0f", c / t }')
			printf '%-22s %-10s %-6s %10s ops/s %8s MiB/s\n' "$label" "$name" "$w" "$ops" \
				"$(awk -v o="$ops" -v b="$bs" 'BEGIN { printf "%.1f", o * b / 1024 }')"
		done
	done
}

printf '%-22s %-10s %-6s %10s\n' target pattern op result
if [ -x "$Q72/qemu-img" ]; then
	"$Q72/qemu-img" create -f raw "sheepdog:127.0.0.1:$PORT:b72" "$SIZE" >/dev/null
	run "qemu7.2+sheepmesh-drv" "$Q72/qemu-img" "sheepdog:127.0.0.1:$PORT:b72"
	"$Q72/qemu-img" create -f raw "$TMP/local.raw" "$SIZE" >/dev/null
	run "qemu7.2 local raw" "$Q72/qemu-img" "$TMP/local.raw"
else
	echo "# no QEMU 7.2 build at $Q72"
fi
if [ -x "$Q52/qemu-img" ]; then
	"$Q52/qemu-img" create -f raw "sheepdog:127.0.0.1:$PORT:b52" "$SIZE" >/dev/null 2>&1
	run "qemu5.2 sheepdog-drv" "$Q52/qemu-img" "sheepdog:127.0.0.1:$PORT:b52"
else
	echo "# no QEMU 5.2 build at $Q52"
fi
