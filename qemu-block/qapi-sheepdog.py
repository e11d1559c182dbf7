#!/usr/bin/env python3
"""qapi-sheepdog.py SCHEMA: add the `sheepdog` driver to QEMU 7.2's
qapi/block-core.json so that -blockdev / blockdev-add accept it (7.2 removed
the schema entry together with the old driver). Idempotent; fails loudly if
an anchor it needs is missing, rather than producing a half-patched schema."""
import sys

STRUCT = """##
# @BlockdevOptionsSheepdog:
#
# Options of sheepmesh's sheepdog block driver (the Sheepdog wire
# protocol, as served by sheepnode).
#
# @server: address of the server (inet or unix)
#
# @vdi: virtual disk image name
#
# @snap-id: snapshot ID (0 is invalid)
#
# @tag: snapshot tag name
#
# @reconnect-delay: seconds between reconnection attempts (default 1)
#
# @reconnect-timeout: seconds without a connection after which pending and
#                     new I/O fail with EIO (default 60)
#
# Since: 7.2
##
{ 'struct': 'BlockdevOptionsSheepdog',
  'data': { 'server': 'SocketAddress',
            'vdi': 'str',
            '*snap-id': 'uint32',
            '*tag': 'str',
            '*reconnect-delay': 'uint32',
            '*reconnect-timeout': 'uint32' } }

"""


def replace_once(text, old, new, what):
    if text.count(old) < 1:
        sys.exit("qapi-sheepdog: anchor for %s not found" % what)
    return text.replace(old, new, 1)


def main():
    path = sys.argv[1]
    with open(path) as f:
        text = f.read()
    if "BlockdevOptionsSheepdog" in text:
        return
    text = replace_once(text, "            'ssh', 'throttle', 'vdi', 'vhdx',",
                        "            'sheepdog', 'ssh', 'throttle', 'vdi', 'vhdx',",
                        "BlockdevDriver")
    text = replace_once(text, "      'ssh':        'BlockdevOptionsSsh',",
                        "      'sheepdog':   'BlockdevOptionsSheepdog',\n"
                        "      'ssh':        'BlockdevOptionsSsh',",
                        "BlockdevOptions")
    text = replace_once(text, "##\n# @BlockdevOptionsSsh:\n",
                        STRUCT + "##\n# @BlockdevOptionsSsh:\n", "struct")
    with open(path + ".tmp", "w") as f:
        f.write(text)
    import os
    os.replace(path + ".tmp", path)


main()
