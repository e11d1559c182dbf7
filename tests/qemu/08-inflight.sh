#!/bin/bash
# 08-inflight: many requests in flight on QEMU's one pipelined async
# connection (spec 1.3): qemu-io aio_write/aio_read batches (64 objects of
# 1 MiB created at once, so 64 concurrent 4-byte index updates of the same
# inode must all stick), then 4 MiB objects with several writes per object,
# then qemu-img bench at queue depth 64; all verified in new processes and
# against a reference file.
. "$(dirname "$0")/lib.sh"
sd_ensure

# 1 MiB objects: one write per object, all created concurrently
V1=$(sd_uri q08-many)
R1="$SD_TMP/q08-many.ref"
check "create 64M with 1 MiB objects" "$QEMU_IMG" create -f raw -o object_size=1M "$V1" 64M
truncate -s $((64 * MIB)) "$R1"
W=(); RD=()
for i in $(seq 0 63); do
	off=$((i * MIB + (i % 16) * 4096)); pat=$((i + 1))
	W+=("aio_write -P $pat $off 262144")
	RD+=("aio_read -P $pat $off 262144")
done
qio "64 aio_writes to 64 new objects at once" "-f raw" "$V1" "${W[@]}" "aio_flush"
mirror "$R1" "${W[@]}" "aio_flush"
qio "64 aio_reads at once verify them (new process)" "-r -f raw" "$V1" "${RD[@]}" "aio_flush"
same_as_file "1 MiB-object VDI equals the reference (every index slot stuck)" "$V1" "$R1"

# 4 MiB objects: 96 writes over 12 objects, 8 per object in disjoint ranges
V4=$(sd_uri q08-mixed)
R4="$SD_TMP/q08-mixed.ref"
check "create 48M" "$QEMU_IMG" create -f raw "$V4" 48M
truncate -s $((48 * MIB)) "$R4"
W=(); RD=()
for j in $(seq 0 7); do
	for o in $(seq 0 11); do
		off=$((o * 4 * MIB + j * 512 * 1024 + 8192)); pat=$(( (o * 8 + j) % 255 + 1 ))
		W+=("aio_write -P $pat $off 65536")
		RD+=("aio_read -P $pat $off 65536")
	done
done
qio "96 aio_writes over 12 objects" "-f raw" "$V4" "${W[@]}" "aio_flush"
mirror "$R4" "${W[@]}" "aio_flush"
qio "96 aio_reads verify them" "-r -f raw" "$V4" "${RD[@]}" "aio_flush"
same_as_file "4 MiB-object VDI equals the reference" "$V4" "$R4"

# qemu-img bench: queue depth 64, 4 KiB writes every 64 KiB over 32M
VB=$(sd_uri q08-bench)
check "create 32M for bench" "$QEMU_IMG" create -f raw "$VB" 32M
check "qemu-img bench -w -d 64 (512 writes)" \
	"$QEMU_IMG" bench -f raw -w -c 512 -d 64 -s 4096 -S 65536 --pattern=0x5c "$VB"
check "qemu-img bench read -d 64 (2048 reads)" \
	"$QEMU_IMG" bench -f raw -c 2048 -d 64 -s 4096 -S 16384 "$VB"
qio "bench's writes landed" "-r -f raw" "$VB" \
	"read -P 0x5c 0 4096" "read -P 0 4096 61440" "read -P 0x5c 4M 4096" \
	"read -P 0x5c $((32 * MIB - 65536)) 4096" "read -P 0 $((32 * MIB - 61440)) 61440"

# several QEMU processes at once, each on its own VDI (many connections)
pids=()
for k in 1 2 3 4; do
	check "create parallel VDI $k" "$QEMU_IMG" create -f raw "$(sd_uri q08-par$k)" 8M
done
for k in 1 2 3 4; do
	q "$QEMU_IO" -f raw -c "aio_write -P $((0x40 + k)) 0 4M" -c "aio_write -P $((0x50 + k)) 4M 4M" \
		-c "aio_flush" "$(sd_uri q08-par$k)" > "$SD_TMP/par$k.out" &
	pids+=($!)
done
for k in 1 2 3 4; do
	wait "${pids[$((k - 1))]}"; prc=$?
	if [ "$prc" = 0 ] && [ "$(grep -c '^wrote 4194304/' "$SD_TMP/par$k.out")" = 2 ]; then
		ok "parallel qemu-io $k finished"
	else
		not_ok "parallel qemu-io $k finished (exit $prc)"; diag < "$SD_TMP/par$k.out"
	fi
done
for k in 1 2 3 4; do
	qio "parallel VDI $k holds its own data" "-r -f raw" "$(sd_uri q08-par$k)" \
		"read -P $((0x40 + k)) 0 4M" "read -P $((0x50 + k)) 4M 4M"
done

t_done
