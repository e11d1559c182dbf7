#!/usr/bin/env python3
"""gossip_wait.py: polls sheepnodes' SM_MEMBERS (opcode 0xE1) directly over
the Sheepdog wire protocol (cheaper than a sheeptool process per poll, so
the polled figures of gossip_*.sh are close to the truth).  Helper of
tests/integration/gossip_loopback.sh and gossip_netns.sh (not a test).

  gossip_wait.py TIMEOUT_S COND EP...   exit 0 once COND holds at every
                                        endpoint (prints the ms it took),
                                        1 on timeout (prints the views)
  COND: count:STATE:N  every EP lists exactly N members in STATE
        state:ID:STATE every EP lists member ID in STATE ("none": absent)
        ring:same:N    every EP's SM_STATUS "ring" has the same digest and
                       N placed members (on success the line also carries
                       the digest and epochs: "MS DIGEST EPOCH...")
  EP:   tcp:HOST:PORT or unix:PATH
"""
import json, socket, struct, sys, time

OP_SM_STATUS = 0xE0
OP_SM_MEMBERS = 0xE1
PROTO_VER = 0x02
BUF = 1 << 20


def view(ep, op=OP_SM_MEMBERS):
    kind, _, where = ep.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = where
    else:
        host, _, port = where.rpartition(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, int(port))
    s.settimeout(5)
    try:
        s.connect(addr)
        hdr = struct.pack("<BBHIII", PROTO_VER, op, 0, 0, 1, BUF) + bytes(32)
        s.sendall(hdr)
        rsp = b""
        while len(rsp) < 48:
            b = s.recv(48 - len(rsp))
            if not b:
                return None
            rsp += b
        n, result = struct.unpack_from("<II", rsp, 12)
        if result != 0:
            return None
        data = b""
        while len(data) < n:
            b = s.recv(n - len(data))
            if not b:
                return None
            data += b
        return json.loads(data)
    except (OSError, ValueError):
        return None
    finally:
        s.close()


def holds(cond, d):
    if d is None:
        return False
    kind, a, b = cond.split(":")
    if kind == "count":
        return sum(1 for m in d["members"] if m["state"] == a) == int(b)
    st = next((m["state"] for m in d["members"] if m["id"] == a), "none")
    return st == b


def ring_same(views, n):
    rings = [None if d is None else d.get("ring") for d in views.values()]
    if any(r is None for r in rings):
        return False
    return len(set(r["digest"] for r in rings)) == 1 and all(r["members"] == n for r in rings)


def main():
    timeout, cond, eps = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
    t0 = time.monotonic()
    views = {}
    ring = cond.startswith("ring:")
    while True:
        views = {ep: view(ep, OP_SM_STATUS if ring else OP_SM_MEMBERS) for ep in eps}
        if ring and ring_same(views, int(cond.split(":")[2])):
            r = [views[ep]["ring"] for ep in eps]
            print(int((time.monotonic() - t0) * 1000), r[0]["digest"],
                  " ".join(str(x["epoch"]) for x in r))
            return 0
        if not ring and all(holds(cond, views[ep]) for ep in eps):
            print(int((time.monotonic() - t0) * 1000))
            return 0
        if time.monotonic() - t0 > timeout:
            if ring:
                for ep, d in views.items():
                    print("%s: %s" % (ep, None if d is None else d.get("ring")))
                return 1
            for ep, d in views.items():
                brief = None if d is None else [(m["id"][:8], m["state"]) for m in d["members"]]
                print("%s: %s" % (ep, brief))
            return 1
        time.sleep(0.05)


sys.exit(main())
