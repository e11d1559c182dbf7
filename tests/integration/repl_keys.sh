#!/bin/bash
# repl_keys.sh: issue 5's "with a cluster key set, peer connections are
# authenticated and encrypted; a peer without the key is refused", end to
# end on loopback. 3 real sheepnodes with one --key-file (--no-multicast,
# --join to the first, --gossip-interval 200):
#   - data written through node 0 reads back byte for byte through 1 and 2
#     (every peer write, read, catalog push and forward sealed)
#   - raw peer requests (python3, libsodium through ctypes, following
#     node/PEER.md "Sealing"): plaintext -> SM_AUTH (0x93); sealed with
#     another key -> SM_AUTH; sealed right -> SUCCESS with a sealed reply
#     that opens and decodes; the same bytes again (replay) -> SM_AUTH;
#     sent 60 s ago -> SM_AUTH; a changed header field -> SM_AUTH; the
#     node lives and logs the refusals
#   - a 4th node with another key never becomes a member
# (keyed node -> keyless node is refused too: tests/unit/test_node_peerseal.c,
# test_mode_mismatch, since such a node cannot join a keyed gossip.)
# TAP-style lines. Env: SHEEPNODE, SHEEPTOOL (tests/run.sh sets both).
CL_NAME=repl_keys CL_NODES=4
CL_ARGS=()
# shellcheck source=tests/integration/lib_cluster.sh
. "$(dirname "$0")/lib_cluster.sh"
MB=1048576

"$NODE" --keygen "$TMP/k1" > /dev/null 2>&1
"$NODE" --keygen "$TMP/k2" > /dev/null 2>&1
check "two cluster keys made with --keygen" [ -s "$TMP/k1" -a -s "$TMP/k2" ]
KEY=(--key-file "$TMP/k1")

start 0 "${KEY[@]}"
wait_for 10 node_up 0
start 1 "${KEY[@]}" --join "127.0.0.1:${PORT[0]}"
start 2 "${KEY[@]}" --join "127.0.0.1:${PORT[0]}"
check "3 keyed nodes agree on one ring with 3 placed" gw 30 ring:same:3 0 1 2
check "every node says its peer protocol is sealed" \
	eval 'for i in 0 1 2; do grep -q "peer protocol: sealed" "$TMP/log$i" || exit 1; done'

# ---- write through one node, read through the others ----
head -c $((12 * MB)) /dev/urandom > "$TMP/data"
check "create a VDI through node 1 (forwarded to the leader, sealed)" T 1 vdi create v1 64M
check "write 12 MiB through node 0" eval 'T 0 vdi write v1 0 < "$TMP/data"'
check "node 1 reads the 12 MiB back byte for byte" eval 'T 1 vdi read v1 0 $((12 * MB)) | cmp -s - "$TMP/data"'
check "node 2 reads the 12 MiB back byte for byte" eval 'T 2 vdi read v1 0 $((12 * MB)) | cmp -s - "$TMP/data"'
objs=$(for i in 0 1 2; do st $i "d['objects']"; done | tr '\n' ' ')
check "every node holds the 3 data objects and the index: $objs" [ "$objs" = "4 4 4 " ]
check "node 2 lists the VDI" eval 'T 2 vdi list | grep -q v1'
check "no peer request was refused in normal operation" \
	eval '! grep -q "refused: " "$TMP"/log0 "$TMP"/log1 "$TMP"/log2'

# ---- raw peer requests against node 2 ----
"$PY" - "${PORT[2]}" "$TMP/k1" "$TMP/k2" > "$TMP/raw" 2>&1 <<'PY'
import ctypes, ctypes.util, os, socket, struct, sys, time
port, k1, k2 = int(sys.argv[1]), open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
na = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert na.sodium_init() >= 0
NAME = b"sheepmesh"
SEALED, WRITE = 0x4000, 0x0001
def enc(key, nonce, m, ad):
    c = ctypes.create_string_buffer(len(m) + 16); cl = ctypes.c_ulonglong()
    na.crypto_aead_xchacha20poly1305_ietf_encrypt(c, ctypes.byref(cl), m, ctypes.c_ulonglong(len(m)),
        ad, ctypes.c_ulonglong(len(ad)), None, nonce, key)
    return c.raw[:cl.value]
def dec(key, nonce, c, ad):
    m = ctypes.create_string_buffer(max(len(c), 1)); ml = ctypes.c_ulonglong()
    r = na.crypto_aead_xchacha20poly1305_ietf_decrypt(m, ctypes.byref(ml), None, c, ctypes.c_ulonglong(len(c)),
        ad, ctypes.c_ulonglong(len(ad)), nonce, key)
    return m.raw[:ml.value] if r == 0 else None
def hdr(op, flags, dlen, oid=0, epoch=0, rid=7):
    return struct.pack("<BBHIII", 2, op, flags, epoch, rid, dlen) + struct.pack("<QQ", oid, 0) + bytes(16)
def send(h, payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(h + payload)
    rsp = b""
    while len(rsp) < 48:
        b = s.recv(48 - len(rsp))
        if not b: break
        rsp += b
    if len(rsp) < 48:
        return -1, 0, b""
    flags, dlen, res = struct.unpack("<H", rsp[2:4])[0], struct.unpack("<I", rsp[12:16])[0], struct.unpack("<I", rsp[16:20])[0]
    body = b""
    while len(body) < dlen:
        b = s.recv(dlen - len(body))
        if not b: break
        body += b
    s.close()
    return res, flags, body
# VDI_LIST (0xA6) is not ring-checked: the prefix's digest may be zero
prefix = bytes(16) + struct.pack("<QII", 0, 0, 0x31504d53)
def sealed(key, op=0xA6, t_ms=None, oid=0, epoch=0):
    t_ms = int(time.time() * 1000) if t_ms is None else t_ms
    nonce = os.urandom(24)
    m = struct.pack("<Q", t_ms) + prefix
    dlen = 24 + len(m) + 16
    h = hdr(op, WRITE | SEALED, dlen, oid, epoch)
    ad = h[:8] + bytes(8) + h[16:] + NAME
    return h, nonce + enc(key, nonce, m, ad), nonce
# 1. plaintext with a valid prefix to a keyed node
print("plain", send(hdr(0xA6, WRITE, len(prefix)), prefix)[0])
# 2. sealed with another key
h, p, _ = sealed(k2)
print("wrongkey", send(h, p)[0])
# 3. sealed right: SUCCESS, sealed reply bound to our nonce
h, p, nonce = sealed(k1)
res, fl, body = send(h, p)
print("good", res, "sealedflag", 1 if fl & SEALED else 0)
ad = nonce + struct.pack("<IH", res, fl) + NAME
plain = dec(k1, body[:24], body[24:], ad) if len(body) >= 40 else None
print("reply", "opens" if plain is not None else "no", "entries", len(plain) // 12 if plain else 0)
bad = dec(k1, body[:24], body[24:], os.urandom(24) + struct.pack("<IH", res, fl) + NAME) if len(body) >= 40 else None
print("reply-other-nonce", "opens" if bad is not None else "refused")
# 4. the same bytes again
print("replay", send(h, p)[0])
# 5. sent 60 s ago, and 60 s ahead
h, p, _ = sealed(k1, t_ms=int(time.time() * 1000) - 60000)
print("old", send(h, p)[0])
h, p, _ = sealed(k1, t_ms=int(time.time() * 1000) + 60000)
print("future", send(h, p)[0])
# 6. a header field changed after sealing (epoch)
h, p, _ = sealed(k1)
h2 = h[:4] + struct.pack("<I", 5) + h[8:]
print("tampered", send(h2, p)[0])
# 7. sealed but cut short
h, p, _ = sealed(k1)
h3 = h[:12] + struct.pack("<I", 40) + h[16:]
print("short", send(h3, p[:40])[0])
PY
cat "$TMP/raw" | sed 's/^/# /'
check "a plaintext peer request to a keyed node gets SM_AUTH (0x93)" grep -qx "plain 147" "$TMP/raw"
check "a peer request sealed with another key gets SM_AUTH" grep -qx "wrongkey 147" "$TMP/raw"
check "a correctly sealed PEER_VDI_LIST succeeds with a sealed reply" grep -qx "good 0 sealedflag 1" "$TMP/raw"
check "the reply opens with the cluster key and lists the VDI" grep -qx "reply opens entries 1" "$TMP/raw"
check "the reply does not open bound to another request's nonce" grep -qx "reply-other-nonce refused" "$TMP/raw"
check "the same sealed request replayed gets SM_AUTH" grep -qx "replay 147" "$TMP/raw"
check "a request sealed 60 s ago gets SM_AUTH" grep -qx "old 147" "$TMP/raw"
check "a request sealed 60 s ahead gets SM_AUTH" grep -qx "future 147" "$TMP/raw"
check "a sealed request whose header was changed gets SM_AUTH" grep -qx "tampered 147" "$TMP/raw"
check "a sealed request cut short gets SM_AUTH" grep -qx "short 147" "$TMP/raw"
check "node 2 still answers after the refused requests" node_up 2
check "node 2 logged the first refusal with its reason (then rate-limited)" \
	grep -q "PEER_VDI_LIST id 7 .* refused: plaintext request, but this node has --key-file" "$TMP/log2"
# SM_STATUS "repl" "auth_failed" (node_repl_status_json): 7 refusals above
af=$(st 2 "d['repl'].get('auth_failed', 'absent')")
if [ "$af" = absent ]; then
	echo "ok - node 2 counts the 7 refusals in SM_STATUS # SKIP repl.auth_failed not in SM_STATUS yet"
else
	check "node 2 counts the 7 refusals in SM_STATUS repl.auth_failed ($af)" [ "$af" = 7 ]
	af0=$(st 0 "d['repl'].get('auth_failed')")
	check "node 0 refused nothing ($af0)" [ "$af0" = 0 ]
fi
check "the cluster still works: node 2 reads the data back" \
	eval 'T 2 vdi read v1 0 $((12 * MB)) | cmp -s - "$TMP/data"'

# ---- a node with another key ----
start 3 --key-file "$TMP/k2" --join "127.0.0.1:${PORT[0]}"
wait_for 10 node_up 3
sleep 2
check "the node with another key is up" node_up 3
check "it never becomes a member: the 3 keyed nodes still have 3 placed" gw 10 ring:same:3 0 1 2
check "it does not see the VDI" eval '! T 3 vdi list 2>/dev/null | grep -q v1'

check "no sanitizer reports in the node logs" eval '! grep -l "ERROR: AddressSanitizer\|runtime error:" "$TMP"/log* 2>/dev/null'
