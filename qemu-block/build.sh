#!/bin/bash
# build.sh: build QEMU 7.2 (Debian 12's source package) with sheepmesh's new
# `sheepdog` block driver (qemu-block/sheepdog*.c) and install qemu-img,
# qemu-io, qemu-nbd and qemu-system-x86_64 into a cached prefix:
#
#   $CACHE/qemu-<debian version>-<hash of driver sources + this script>/
#
# Unchanged inputs never rebuild: if that prefix already holds a qemu-img that
# lists the driver, we only print its path. A changed driver reuses the
# configured source tree ($CACHE/src/qemu-<version>/build-sheepmesh), so only
# the driver and the links are redone.
#
# Environment: CACHE (default /var/cache/sheepmesh), JOBS (default 2),
#   QEMU_DEB_VERSION (default: newest 1:7.2* that `apt-cache showsrc qemu`
#   knows), TOOLS_ONLY=1 (stop after qemu-img/qemu-io/qemu-nbd; no install),
#   FORCE=1 (rebuild and reinstall even if the prefix exists).
# Prints the prefix on the last line of stdout ("qemu-block: prefix DIR").
# The compile runs under `nice -n 19` with -j$JOBS: the machine is shared.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${CACHE:-/var/cache/sheepmesh}
JOBS=${JOBS:-2}
T0=$(date +%s)

log() { echo "qemu-block: $*"; }

# The inputs that define a build: driver sources, hooks, the protocol header
# and this script. Their hash keys the install prefix.
shopt -s nullglob
INPUTS=("$HERE"/sheepdog*.c "$HERE"/sheepdog*.h "$HERE"/meson.build
	"$HERE"/qapi-sheepdog.py "$HERE"/build.sh "$ROOT"/include/sheepdog_proto.h)
HASH=$(cat "${INPUTS[@]}" | sha256sum | cut -c1-12)

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
	log "another build holds $CACHE/.build.lock; waiting"
	flock 9
fi

# --- 1. the source package -------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
need_pkgs="dpkg-dev build-essential pkg-config python3 ninja-build meson
	libglib2.0-dev libpixman-1-dev zlib1g-dev libaio-dev xz-utils flex bison
	libfdt-dev seabios ipxe-qemu qemu-system-data"
missing=
for p in $need_pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing$missing"
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

have_src_72() { apt-cache showsrc qemu 2>/dev/null | grep '^Version: 1:7\.2' >/dev/null; }
if ! have_src_72; then
	# Add a deb-src-only entry for the suites of the machine's bookworm
	# mirror (and its security mirror), as build-qemu52.sh does for bullseye.
	MIRROR=; SECMIRROR=
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		while read -r uri suites; do
			case " $suites " in
			*" bookworm-security "*) [ -n "$SECMIRROR" ] || SECMIRROR=$uri ;;
			*" bookworm "*) [ -n "$MIRROR" ] || MIRROR=$uri ;;
			esac
		done < <(awk '
			function flush() { if (uri != "") print uri, suites; uri = ""; suites = "" }
			/^[ \t]*$/ { flush(); next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { suites = $0; sub(/^Suites:[ \t]*/, "", suites) }
			END { flush() }' "$f")
	done
	if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list ]; then
		MIRROR=$(awk '$1 == "deb" && $0 !~ /security/ && / bookworm / {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	[ -n "$MIRROR" ] || { log "cannot find the Debian bookworm mirror in the apt configuration" >&2; exit 1; }
	{
		printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$MIRROR"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		if [ -n "$SECMIRROR" ]; then
			printf '\nTypes: deb-src\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$SECMIRROR"
			printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		fi
	} >/etc/apt/sources.list.d/sheepmesh-bookworm-src.sources
	apt-get update -q
	have_src_72 || { log "no qemu 7.2 source package known to apt" >&2; exit 1; }
fi
if [ -z "${QEMU_DEB_VERSION:-}" ]; then
	QEMU_DEB_VERSION=
	for v in $(apt-cache showsrc qemu | sed -n 's/^Version: \(1:7\.2.*\)/\1/p'); do
		if [ -z "$QEMU_DEB_VERSION" ] || dpkg --compare-versions "$v" gt "$QEMU_DEB_VERSION"; then
			QEMU_DEB_VERSION=$v
		fi
	done
fi
VER=$QEMU_DEB_VERSION
UPVER=${VER#*:}
PREFIX=$CACHE/qemu-$UPVER-$HASH

if [ "${FORCE:-0}" != 1 ] && [ "${TOOLS_ONLY:-0}" != 1 ] && [ -x "$PREFIX/bin/qemu-img" ] &&
	"$PREFIX/bin/qemu-img" --help 2>/dev/null | grep -w sheepdog >/dev/null; then
	log "up to date (QEMU $VER, driver $HASH)"
	log "prefix $PREFIX"
	exit 0
fi

SRCTOP=$CACHE/src
SRC=$SRCTOP/qemu-$UPVER
if [ ! -f "$SRC/.sheepmesh-unpacked" ]; then
	log "fetching qemu=$VER source"
	rm -rf "$SRC" "$SRCTOP/dl-$UPVER"
	mkdir -p "$SRCTOP/dl-$UPVER"
	(cd "$SRCTOP/dl-$UPVER" && apt-get source --download-only "qemu=$VER" &&
		dpkg-source -x "qemu_$UPVER.dsc" "$SRC")
	touch "$SRC/.sheepmesh-unpacked"
fi

# --- 2. hook the driver into the tree --------------------------------------
# Our files go to block/sheepmesh/ (copied only when changed, so ninja
# rebuilds only what changed). block/meson.build gets one subdir() line and
# the QAPI schema gets the -blockdev entry (qapi-sheepdog.py is idempotent).
DST=$SRC/block/sheepmesh
mkdir -p "$DST"
for f in "$HERE"/sheepdog*.c "$HERE"/sheepdog*.h "$HERE"/meson.build "$ROOT"/include/sheepdog_proto.h; do
	[ -e "$f" ] || continue
	cmp -s "$f" "$DST/$(basename "$f")" || cp "$f" "$DST/"
done
grep -qx "subdir('sheepmesh')" "$SRC/block/meson.build" ||
	echo "subdir('sheepmesh')" >>"$SRC/block/meson.build"
python3 "$HERE/qapi-sheepdog.py" "$SRC/qapi/block-core.json"

# --- 3. configure once, then build ------------------------------------------
BLD=$SRC/build-sheepmesh
# Firmware: SeaBIOS and iPXE from their packages, and the option ROMs
# (linuxboot_dma.bin for -kernel, kvmvapic.bin) from qemu-system-data, as
# Debian's source package ships no prebuilt blobs.
CONF_ARGS=(
	--prefix=/opt/sheepmesh-qemu
	--meson=meson
	--firmwarepath=/opt/sheepmesh-qemu/share/qemu:/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
	--target-list=x86_64-softmmu
	--enable-tools --disable-docs --disable-guest-agent
	--disable-werror --disable-debug-info
	--audio-drv-list=
	--disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-spice
	--disable-xen --disable-libusb --disable-usb-redir --disable-smartcard
	--disable-curses --disable-vte --disable-virglrenderer --disable-brlapi
	--disable-capstone --disable-slirp --enable-fdt=system
	--disable-gnutls --disable-nettle --disable-gcrypt
	--disable-curl --disable-rbd --disable-glusterfs --disable-libiscsi
	--disable-libnfs --disable-libssh --disable-vde --disable-libpmem
	--disable-libdaxctl --disable-linux-io-uring --enable-linux-aio
)
# The marker holds the arguments: changing them reconfigures (and rebuilds).
if [ ! -f "$BLD/.sheepmesh-configured" ] ||
	[ "$(cat "$BLD/.sheepmesh-configured")" != "${CONF_ARGS[*]}" ]; then
	rm -rf "$BLD"; mkdir -p "$BLD"
	# Fixed prefix; QEMU 7.2 binaries are relocatable, so the tree is
	# installed with DESTDIR and moved to the hashed prefix below.
	(cd "$BLD" && ../configure "${CONF_ARGS[@]}")
	echo "${CONF_ARGS[*]}" >"$BLD/.sheepmesh-configured"
fi

cd "$BLD"
log "compiling (nice -n 19, -j$JOBS); log in $BLD/ninja.log"
# (plain redirection: a pipeline's status would be masked by the grep)
rc=0
nice -n 19 ninja -j"$JOBS" qemu-img qemu-io qemu-nbd >"$BLD/ninja.log" 2>&1 || rc=$?
grep -E ' error:|FAILED|sheepmesh/.*warning' "$BLD/ninja.log" || true
[ "$rc" = 0 ] || { log "tools build failed, see $BLD/ninja.log" >&2; exit 1; }
if [ "${TOOLS_ONLY:-0}" = 1 ]; then
	log "tools built in $BLD after $(( $(date +%s) - T0 ))s (TOOLS_ONLY: not installed)"
	exit 0
fi
nice -n 19 ninja -j"$JOBS" >>"$BLD/ninja.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || { grep -E ' error:|FAILED' "$BLD/ninja.log"; log "build failed, see $BLD/ninja.log" >&2; exit 1; }

# --- 4. install into the hashed prefix --------------------------------------
STAGE=$CACHE/.stage-$HASH
rm -rf "$STAGE"
DESTDIR=$STAGE meson install --no-rebuild --quiet >/dev/null
rm -rf "$PREFIX"
mv "$STAGE/opt/sheepmesh-qemu" "$PREFIX"
rm -rf "$STAGE"
"$PREFIX/bin/qemu-img" --help | grep -w sheepdog >/dev/null ||
	{ log "installed qemu-img lacks the sheepdog driver" >&2; exit 1; }
ln -sfn "$PREFIX" "$CACHE/qemu-current"
log "built QEMU $VER with driver $HASH in $(( $(date +%s) - T0 ))s"
log "prefix $PREFIX"
