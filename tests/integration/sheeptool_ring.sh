#!/bin/bash
# sheeptool_ring.sh: `sheeptool ring` against a live single sheepnode (text,
# --json, --locate OID and VDI:INDEX, --svg, error exits), then against a
# small fake node in python that serves a crafted multi-member epoch, a node
# without SM_MEMBERS, and malformed replies. TAP-style lines. Env:
# SHEEPNODE, SHEEPTOOL (tests/run.sh sets both); run from the repo root.
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-build/release/sheeptool}
TMP=$(mktemp -d /tmp/sheeptool_ring.XXXXXX)
PID=
FPID=
cleanup() {
	for p in "$PID" "$FPID"; do
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		fi
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }
check() { # name command...
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name" "rc=$rc stdout: $(head -c 400 "$TMP/out" 2>/dev/null) stderr: $(head -c 400 "$TMP/err" 2>/dev/null)"; fi
}
SAN=
san() { grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$TMP/err" && SAN="$SAN $*"; true; }
st() { timeout 60 "$TOOL" "${CONN[@]}" "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; san "$@"; }
rc_is() { [ "$rc" = "$1" ]; }
out_has() { grep -q -- "$1" "$TMP/out"; }
err_has() { grep -q -- "$1" "$TMP/err"; }
# js 'python expression over d': checks the last --json output
js() { python3 -c "import json,sys; d=json.load(open('$TMP/out')); sys.exit(0 if ($1) else 1)"; }

for b in "$NODE" "$TOOL"; do
	if [ ! -x "$b" ]; then
		nok "binaries exist" "$b is not executable (build it first)"
		exit 1
	fi
done
if ! command -v python3 >/dev/null; then
	echo "ok - sheeptool ring # SKIP python3 not installed (needed for ports, JSON and the fake node)"
	exit 0
fi
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
CONN=(-a 127.0.0.1 -p "$PORT")

# --- no node needed ---
st help ring
check "help ring shows --locate, --svg, --json, --copies" \
	eval 'rc_is 0 && out_has "usage: sheeptool ring" && out_has -- "--locate" && out_has -- "--svg" && out_has -- "--json" && out_has -- "--copies"'
st ring --locate "not-an-oid"
check "--locate garbage: exit 2 before connecting" eval 'rc_is 2 && err_has -- "--locate" && ! err_has "connect"'
st ring --locate "vdi:1048576"
check "--locate INDEX out of range: exit 2" eval 'rc_is 2 && err_has INDEX'
st ring
check "node down: exit 4 naming the address" eval 'rc_is 4 && err_has "127.0.0.1:$PORT"'

# --- a live single node ---
"$NODE" --dir "$TMP/data" --port "$PORT" --listen 127.0.0.1 --no-multicast --copies 2 \
	--workers 2 > "$TMP/node.log" 2>&1 &
PID=$!
up=0
for _ in $(seq 1 100); do
	if grep -q 'ready' "$TMP/node.log"; then up=1; break; fi
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
check "sheepnode starts" [ $up = 1 ]
[ $up = 1 ] || { tail -5 "$TMP/node.log" | sed 's/^/# /'; exit 1; }
SELF=$(tr -d '\n' < "$TMP/data/node-id")

st ring
check "ring: version line, the node itself, all of the hash space" \
	eval 'rc_is 0 && out_has "^ring version:  epoch [0-9]* *digest [0-9a-f]\{32\}" && out_has "^\* $SELF" && out_has "100.00%" && out_has " 128 "'
st ring --json
check "ring --json parses: epoch, digest, one node = self, 128 vnodes, 1e6 ppm" \
	js "d['epoch'] >= 1 and len(d['digest']) == 32 and d['vnodes_per_unit'] == 8 and len(d['nodes']) >= 1 and [n for n in d['nodes'] if n['id'] == '$SELF' and n['self'] and n['vnodes'] == 128 and n['share_ppm'] == 1000000 and n['ring'] == 'in' and n['objects'] == 0 and n['objects_share_ppm'] == 0]"
check "ring --json: the node's own address and state (when it gossips)" \
	js "[n for n in d['nodes'] if n['id'] == '$SELF' and (d['self'] is None or (n['address'].endswith(':$PORT') and n['state'] == 'alive'))]"
DIGEST=$(python3 -c "import json; print(json.load(open('$TMP/out'))['digest'])")

st ring --locate 0x00abcdef00000007
check "--locate OID (text): the node is the primary, copies from the cluster default (2)" \
	eval 'rc_is 0 && out_has "^object 00abcdef00000007: 1 of 2 copies" && out_has "1  $SELF" && out_has primary'
st ring --locate ABCDEF00000007 --copies 5 --json
check "--locate OID --copies 5 --json" \
	js "d['oid'] == '00abcdef00000007' and d['copies'] == 5 and d['vdi'] is None and [r['id'] for r in d['replicas']] == ['$SELF'] and d['digest'] == '$DIGEST'"
st vdi create disk1 64M
check "vdi create for --locate VDI:INDEX" rc_is 0
st vdi info disk1 --json
VID=$(python3 -c "import json; print(json.load(open('$TMP/out'))['vid'])" 2>/dev/null)
st ring --locate disk1:5 --json
check "--locate VDI:INDEX --json: oid = vid << 32 | index" \
	js "'$VID' != '' and d['vdi'] == 'disk1' and d['index'] == 5 and int(d['oid'], 16) == (int('${VID:-0}') << 32 | 5) and len(d['replicas']) == 1"
st ring --locate disk1:5
check "--locate VDI:INDEX (text) names the VDI and index" eval "rc_is 0 && out_has \"VDI 'disk1' index 5\""
st ring --locate nosuch:1
check "--locate of a missing VDI: exit 3" eval 'rc_is 3 && err_has nosuch'
st ring --svg "$TMP/ring.svg"
check "--svg writes a well-formed SVG" \
	eval 'rc_is 0 && python3 -c "import xml.etree.ElementTree as E,sys; r=E.parse(\"$TMP/ring.svg\").getroot(); sys.exit(0 if r.tag.endswith(\"svg\") and len(list(r.iter(\"{http://www.w3.org/2000/svg}circle\"))) >= 2 else 1)"'
st ring --svg "$TMP/nodir/ring.svg"
check "--svg into a missing directory: exit 1 naming the file" eval 'rc_is 1 && err_has nodir'
st ring --json --svg "$TMP/ring2.svg"
check "--json --svg: stdout stays pure JSON" eval 'rc_is 0 && js "True" && [ -s "$TMP/ring2.svg" ]'
[ -z "$SAN" ] && ok "no sanitizer reports (live node part)" || nok "no sanitizer reports (live node part)" "$SAN"
kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=

# --- a fake node with a crafted 3-member epoch ---
cat > "$TMP/fake.py" <<'EOF'
import socket, struct, sys, json
port, mode = int(sys.argv[1]), sys.argv[2]

def u(v):                       # msgpack unsigned, minimal
    if v < 128: return bytes([v])
    if v < 256: return b'\xcc' + bytes([v])
    if v < 65536: return b'\xcd' + struct.pack('>H', v)
    if v < 2**32: return b'\xce' + struct.pack('>I', v)
    return b'\xcf' + struct.pack('>Q', v)
def b(x): return b'\xc4' + bytes([len(x)]) + x
IDS = [bytes([0x10 * (k + 1)] * 16) for k in range(3)]
# ids ascending; member 2 (0x30..) left (OUT); weights 16 and 48
members = [(IDS[0], (1, 1, 16, 1)), (IDS[1], (1, 1, 48, 2)), (IDS[2], (2, 2, 16, 3))]
epoch = b'\x93' + u(1) + bytes([0x80 | 3]) + b''.join(b(i) + b'\x94' + b''.join(u(x) for x in m) for i, m in members) \
        + bytes([0x80 | 1]) + b(IDS[0]) + u(4)
doc = {"self": IDS[1].hex(), "cluster": "fake", "members": [
    {"id": IDS[0].hex(), "gossip": "10.9.0.1:7000", "data": "10.9.0.1:7000", "state": "alive",
     "incarnation": 3, "generation": 1, "zone": 1, "weight": 16},
    {"id": IDS[1].hex(), "gossip": "10.9.0.2:7000", "data": "10.9.0.2:7000", "state": "suspect",
     "incarnation": 1, "generation": 1, "zone": 2, "weight": 48},
    {"id": IDS[2].hex(), "gossip": "10.9.0.3:7000", "data": "10.9.0.3:7000", "state": "left",
     "incarnation": 9, "generation": 2, "zone": 3, "weight": 16}]}

def reply(c, hdr, result, payload=b'', copies=0):
    r = bytearray(48)
    r[0] = 2; r[1] = hdr[1]
    r[8:12] = hdr[8:12]
    r[12:16] = struct.pack('<I', len(payload))
    r[16:20] = struct.pack('<I', result)
    if hdr[1] == 0x18: r[20] = copies
    c.sendall(bytes(r) + payload)

s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', port)); s.listen(4)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    with c:
        while True:
            hdr = b''
            while len(hdr) < 48:
                x = c.recv(48 - len(hdr))
                if not x: break
                hdr += x
            if len(hdr) < 48: break
            op = hdr[1]
            if op == 0xE2:
                if mode == 'badepoch': reply(c, hdr, 0, b'\x93\x01\x81\xc4\x03abc\x94\x01\x01\x10\x00\x80')
                else: reply(c, hdr, 0, epoch)
            elif op == 0xE1:
                if mode == 'nomembers': reply(c, hdr, 5)
                elif mode == 'badmembers': reply(c, hdr, 0, b'{"self":"zz","members":[]}')
                else: reply(c, hdr, 0, json.dumps(doc).encode())
            elif op == 0x18:
                reply(c, hdr, 0, b'', copies=3)
            else:
                reply(c, hdr, 5)
EOF
start_fake() { # mode
	FPORT=$(free_port)
	python3 "$TMP/fake.py" "$FPORT" "$1" > "$TMP/fake.log" 2>&1 &
	FPID=$!
	for _ in $(seq 1 50); do grep -q ready "$TMP/fake.log" && break; sleep 0.1; done
	CONN=(-a 127.0.0.1 -p "$FPORT")
}
stop_fake() { kill -KILL "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; FPID=; }
ID1=10101010101010101010101010101010
ID2=20202020202020202020202020202020
ID3=30303030303030303030303030303030

start_fake full
st ring
check "fake node: 3 rows, the left one out of the ring, the asked one marked" \
	eval 'rc_is 0 && out_has "^ring version:  epoch 4 " && out_has "^  $ID1  10.9.0.1:7000 *alive *in " && out_has "^\* $ID2  10.9.0.2:7000 *suspect *in " && out_has "^  $ID3  10.9.0.3:7000 *left *out .* -  " && out_has "2 nodes, 512 vnodes"'
st ring --json
check "fake node --json: shares follow weights (48 vs 16), sum 1e6 ppm, left node has none" \
	js "d['epoch'] == 4 and d['placed_nodes'] == 2 and d['vnodes'] == 512 and d['cluster'] == 'fake' and d['self'] == '$ID2' and [n['ring'] for n in d['nodes']] == ['in', 'in', 'out'] and d['nodes'][2]['share_ppm'] == 0 and abs(sum(n['share_ppm'] for n in d['nodes']) - 10**6) <= 2 and d['nodes'][1]['share_ppm'] > 2 * d['nodes'][0]['share_ppm'] and [n['vnodes'] for n in d['nodes']] == [128, 384, 0]"
st ring --locate 0x42 --json
check "fake node --locate: 3 copies asked (cluster default), 2 placed replicas, never the left node" \
	js "d['copies'] == 3 and sorted(r['id'] for r in d['replicas']) == ['$ID1', '$ID2']"
st ring --svg "$TMP/fake.svg"
check "fake node --svg: legend for each placed node, arcs" \
	eval 'rc_is 0 && python3 -c "import xml.etree.ElementTree as E,sys; r=E.parse(\"$TMP/fake.svg\").getroot(); ns=\"{http://www.w3.org/2000/svg}\"; sys.exit(0 if len([x for x in r.iter(ns+\"rect\") if x.get(\"x\") == \"500\"]) == 2 and len(list(r.iter(ns+\"path\"))) >= 2 else 1)"'
stop_fake

start_fake nomembers
st ring
check "node without SM_MEMBERS: ring still shown, addresses unknown" \
	eval 'rc_is 0 && out_has "did not answer SM_MEMBERS" && out_has "^  $ID1  - "'
st ring --json
check "node without SM_MEMBERS --json: self and addresses null" \
	js "d['self'] is None and all(n['address'] is None for n in d['nodes'])"
stop_fake

start_fake badepoch
st ring
check "malformed epoch: exit 1 naming SM_RING and the field" eval 'rc_is 1 && err_has "bad epoch (SM_RING)" && err_has "epoch:"'
stop_fake

start_fake badmembers
st ring
check "malformed SM_MEMBERS: exit 1 naming the field" eval 'rc_is 1 && err_has "SM_MEMBERS" && err_has self'
stop_fake
[ -z "$SAN" ] && ok "no sanitizer reports" || nok "no sanitizer reports" "$SAN"
