#!/bin/bash
# guest.sh: make a tiny guest for booting through the sheepdog driver:
# Debian's cloud kernel and a busybox initramfs whose /init loads virtio_blk,
# prints the md5 of the first MiB of /dev/vda, writes 8 MiB of 'G' (0x47) at
# 3 MiB (across two 4 MiB object boundaries), syncs and powers off.
#
# The packages are fetched with `apt-get download` and unpacked with
# dpkg -x into $CACHE/guest (nothing is installed on the host). Prints the
# directory holding vmlinuz and initrd.img on the last line. Idempotent.
set -euo pipefail
CACHE=${CACHE:-/var/cache/sheepmesh}
G=$CACHE/guest
# out-N: bump N when the guest changes, so a cached older guest is rebuilt
OUT=$G/out-2
if [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
	echo "$OUT"
	exit 0
fi
mkdir -p "$G/dl"
cd "$G/dl"
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || { echo "guest.sh: no linux-image-cloud-amd64 known to apt" >&2; exit 1; }
ls ./*.deb >/dev/null 2>&1 || apt-get download busybox-static "$kpkg" >&2
rm -rf "$G/x" "$G/root" "$OUT"
mkdir -p "$G/x" "$G/root/bin" "$G/root/lib" "$G/root/proc" "$G/root/sys" "$G/root/dev" "$OUT"
for d in ./*.deb; do dpkg -x "$d" "$G/x"; done
cp "$G/x/bin/busybox" "$G/root/bin/busybox"
kdir=$(ls -d "$G"/x/lib/modules/*/kernel/drivers)
for m in virtio/virtio virtio/virtio_ring virtio/virtio_pci_legacy_dev \
	virtio/virtio_pci_modern_dev virtio/virtio_pci block/virtio_blk; do
	cp "$kdir/$m.ko" "$G/root/lib/"
done
cat >"$G/root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# dependencies first (virtio needs virtio_ring in newer kernels); a second
# round catches whatever a future kernel orders differently
for round in 1 2; do
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
		grep -q "^$m " /proc/modules || insmod /lib/$m.ko 2>/dev/null
	done
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
echo "GUEST-SIZE $(cat /sys/block/vda/size)"
echo "GUEST-MD5 $(dd if=/dev/vda bs=1M count=1 2>/dev/null | md5sum)"
dd if=/dev/zero bs=1M count=8 2>/dev/null | tr '\000' 'G' | dd of=/dev/vda bs=1M seek=3 conv=fsync 2>/dev/null
echo "GUEST-WRITE $?"
sync
echo "GUEST-READBACK $(dd if=/dev/vda bs=1M skip=3 count=8 2>/dev/null | tr -d 'G' | wc -c)"
poweroff -f
EOF
chmod +x "$G/root/init"
(cd "$G/root" && find . | "$G/root/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$OUT/initrd.img")
cp "$G"/x/boot/vmlinuz-* "$OUT/vmlinuz"
echo "$OUT"
