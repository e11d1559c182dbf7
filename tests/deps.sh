#!/bin/sh
# Installs the Debian packages sheepmesh builds and tests with, when missing.
set -e
PKGS="build-essential pkg-config libev-dev liblmdb-dev libsodium-dev libmsgpack-dev
      libcmocka-dev btrfs-progs iproute2 nftables lmdb-utils python3"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
