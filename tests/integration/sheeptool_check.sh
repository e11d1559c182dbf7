#!/bin/bash
# sheeptool_check.sh: `sheeptool cluster check [--repair]`, `node recovery`
# and `cluster info`'s health against 3 real sheepnodes on loopback
# (--no-multicast, --join, --gossip-interval 200, copies 3,
# --anti-entropy-interval 0: recovery passes only on ring changes or when
# asked, so a lost copy stays lost until `--repair`), issue 8:
#   - a VDI written with `vdi write`: check clean (exit 0, JSON parsed,
#     every object on 3 replicas)
#   - one object file deleted on one node's disk: check exit 6 naming the
#     oid and the node, JSON says "file gone"; cluster info degraded
#   - check --repair: exit 0, the file is back with the same bytes, node
#     recovery --json shows the passes (and a push) counted
#   - every copy of an object lost: degraded with "no copy left", and
#     --repair says it cannot make it clean (exit 6)
#   - SM_OBJECTS / SM_RECOVER header rules on the wire; no node: exit 4;
#     a killed replica: degraded (exit 6)
# Ports 16000-19999 (nobody else uses them). TAP-style lines. Env:
# SHEEPNODE, SHEEPTOOL (tests/run.sh sets both).
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
TOOL=${SHEEPTOOL:-$(dirname "$NODE")/sheeptool}
TMP=$(mktemp -d /tmp/sheeptool_check.XXXXXX)
declare -a PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for b in "$NODE" "$TOOL"; do
	if [ ! -x "$b" ]; then echo "not ok - binaries built # $b missing"; exit 1; fi
done
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || { echo "ok - cluster check # SKIP python3 missing"; exit 0; }

PORTS=$("$PY" - <<'PY'
import socket, random
for _ in range(50):
    base = random.randrange(16000, 19990, 8)
    socks = []
    try:
        for p in range(base, base + 4):
            for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", p)); socks.append(s)
        print(" ".join(str(p) for p in range(base, base + 4))); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
read -r -a PORT <<<"$PORTS"
[ "${#PORT[@]}" = 4 ] || { echo "not ok - free ports # none found"; exit 1; }

start() {
	local i=$1; shift
	"$NODE" --dir "$TMP/d$i" --port "${PORT[$i]}" --listen 127.0.0.1 --no-multicast \
		--gossip-interval 200 --workers 2 --anti-entropy-interval 0 --scrub-interval 0 \
		--copies 3 "$@" >> "$TMP/log$i" 2>&1 &
	PIDS[$i]=$!
}
wait_for() {
	local end=$(( $(now_ms) + $1 * 1000 )); shift
	while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
	return 1
}
node_up() { timeout 5 "$TOOL" node info -p "${PORT[$1]}" >/dev/null 2>&1; }
GW="$(dirname "$0")/gossip_wait.py"
eps() { for n in "$@"; do echo "tcp:127.0.0.1:${PORT[$n]}"; done; }
gw() {
	local t=$1 c=$2; shift 2
	GW_OUT=$("$PY" "$GW" "$t" "$c" $(eps "$@")) && return 0
	echo "# $c not reached: $GW_OUT" | tr '\n' ' '; echo; return 1
}
# st I ARGS...: sheeptool against node I; stdout in $TMP/out, stderr in $TMP/err, exit code in RC
st() {
	local i=$1; shift
	timeout 120 "$TOOL" "$@" -p "${PORT[$i]}" > "$TMP/out" 2> "$TMP/err"; RC=$?
}
rc_is() { [ "$RC" = "$1" ] || { echo "# exit code $RC, wanted $1; stderr: $(head -c 400 "$TMP/err")"; return 1; }; }
out_has() { grep -q -- "$1" "$TMP/out" || { echo "# stdout lacks '$1':"; sed 's/^/#   /' "$TMP/out" | head -20; return 1; }; }
err_has() { grep -q -- "$1" "$TMP/err" || { echo "# stderr lacks '$1': $(head -c 400 "$TMP/err")"; return 1; }; }
# js EXPR: a Python expression over the JSON on stdout (d)
js() { "$PY" -c "import json,sys; d=json.load(open('$TMP/out')); sys.exit(0 if ($1) else 1)" ||
	{ echo "# JSON check failed: $(head -c 600 "$TMP/out")"; return 1; }; }
# objs I: "name sha256" of every data object file node I holds, sorted
objs() {
	find "$TMP/d$1" -type f -regextype posix-extended -regex '.*/[0-9a-f]{6}/00[0-9a-f]{14}' \
		-exec sha256sum {} + 2>/dev/null | awk '{ n = split($2, a, "/"); print a[n], $1 }' | sort
}

# ---------------- no node ----------------
st 0 cluster check
check "cluster check, no node: exit 4 naming the address" eval 'rc_is 4 && err_has "127.0.0.1:${PORT[0]}"'
st 0 node recovery
check "node recovery, no node: exit 4" rc_is 4
st 0 cluster check --all
check "cluster check --all: usage error (exit 2)" eval 'rc_is 2 && err_has "does not apply"'

# ---------------- bash completion of the new commands ----------------
comp() { # words...: the completions offered for the last word
	bash -c 'source tools/sheeptool.bash-completion; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sheeptool; echo "${COMPREPLY[*]}"' _ "$@"
}
check "bash completion: cluster ch -> check" eval '[ "$(comp sheeptool cluster ch)" = check ]'
check "bash completion: cluster check --rep -> --repair" eval '[ "$(comp sheeptool cluster check --rep)" = --repair ]'
check "bash completion: node rec -> recovery" eval '[ "$(comp sheeptool node rec)" = recovery ]'
check "bash completion: node recovery --al -> --all" eval '[ "$(comp sheeptool node recovery --al)" = --all ]'
check "help lists the new commands and exit code 6" \
	eval '"$TOOL" --help | grep -q "cluster check" && "$TOOL" --help | grep -q "node recovery" && "$TOOL" --help | grep -q "6 cluster check found degraded"'

# ---------------- three nodes, one VDI ----------------
start 0
wait_for 10 node_up 0 || { nok "node 0 starts"; exit 1; }
start 1 --join "127.0.0.1:${PORT[0]}"
start 2 --join "127.0.0.1:${PORT[0]}"
check "3 nodes agree on one ring with 3 placed" gw 30 ring:same:3 0 1 2

st 0 vdi create chk 64M
check "vdi create chk 64M" rc_is 0
head -c $((12 * 1048576 + 4096)) /dev/urandom > "$TMP/data"
timeout 60 "$TOOL" vdi write chk -p "${PORT[0]}" < "$TMP/data" 2> "$TMP/err"; RC=$?
check "vdi write of 12 MiB + 4 KiB (4 objects)" rc_is 0
NOBJ=$(objs 0 | wc -l)
check "node 0 holds 4 data objects" [ "$NOBJ" = 4 ]

st 1 cluster check
check "cluster check: clean, exit 0, summary line" \
	eval 'rc_is 0 && out_has "^objects: 4, ok: 4, degraded: 0, extra: 0, orphan: 0$" && [ "$(grep -c "^node .*: 4 object(s) listed" "$TMP/out")" = 3 ]'
st 2 cluster check --json
check "cluster check --json: clean, 3 nodes listed, no problem objects" \
	js "d['clean'] is True and d['summary']['objects'] == 4 and d['summary']['ok'] == 4 and
	    d['summary']['degraded'] == 0 and d['objects'] == [] and len(d['nodes']) == 3 and
	    all(n['listed'] == 'yes' and n['objects'] == 4 and n['error'] is None for n in d['nodes']) and
	    d['copies_default'] == 3 and d['ring']['epoch'] >= 1 and d['repair'] is None"
st 0 cluster info --json
check "cluster info --json: health ok with the objects checked" \
	js "d['health'] == 'ok' and d['objects_checked'] == 4 and d['objects_degraded'] == 0"
st 0 node recovery --json
cp "$TMP/out" "$TMP/rec_before"
check "node recovery --json: one node, the documented counters" \
	js "len(d['nodes']) == 1 and d['nodes'][0]['error'] is None and
	    all(k in d['nodes'][0]['recovery'] for k in ('running','ring_epoch','objects_total','objects_done',
	        'objects_left','objects_per_s','bytes_moved','pushed','pulled','removed','verified','scrubbed',
	        'corrupt','repaired','passes','anti_entropy_interval_s','scrub_interval_s','rate_mb')) and
	    d['nodes'][0]['recovery']['anti_entropy_interval_s'] == 0"
st 0 node recovery
check "node recovery text: state, objects, copies, intervals" \
	eval 'rc_is 0 && out_has "^  state: *\(idle\|running\)" && out_has "^  copies: .* pushed, .* pulled" && out_has "anti-entropy 0 s"'

# ---------------- a copy lost on disk ----------------
VICTIM=$(objs 1 | head -n 1 | cut -d" " -f1)
GOOD=$(objs 0 | grep "^$VICTIM " | cut -d" " -f2)
F=$(find "$TMP/d1" -type f -name "$VICTIM")
check "picked object $VICTIM on node 1" [ -n "$VICTIM" ] && [ -f "$F" ]
rm -f "$F"
st 0 cluster check
sed 's/^/#   /' "$TMP/out"
check "cluster check after rm: exit 6" rc_is 6
check "... names the oid, node 1's address and 'file gone'" \
	eval 'out_has "^degraded $VICTIM .*: 2 of 3 copies good" && out_has "missing on [0-9a-f]* 127.0.0.1:${PORT[1]}: file gone" && out_has "degraded: 1,"'
st 2 cluster check --json
check "cluster check --json after rm: exit 6, the object with its replicas" \
	eval "rc_is 6 && js \"d['clean'] is False and d['summary']['degraded'] == 1 and d['summary']['missing_copies'] == 1 and
	    len(d['objects']) == 1 and d['objects'][0]['oid'] == '$VICTIM' and d['objects'][0]['status'] == 'degraded' and
	    d['objects'][0]['found'] == 2 and
	    [r['copy'] for r in d['objects'][0]['replicas'] if r['address'] == '127.0.0.1:${PORT[1]}'] == ['file gone']\""
st 0 cluster info
check "cluster info: health degraded: 1 objects short of copies" \
	eval 'rc_is 0 && out_has "health: *degraded: 1 objects short of copies"'

# ---------------- repair ----------------
passes_of() { "$PY" -c "import json; d=json.load(open('$1')); print(sum(n['recovery']['passes'] for n in d['nodes']), sum(n['recovery']['pushed'] for n in d['nodes']))"; }
st 0 node recovery --all --json
check "node recovery --all --json: 3 nodes" js "len(d['nodes']) == 3 and all(n['recovery'] for n in d['nodes'])"
read -r P0 PU0 <<<"$(passes_of "$TMP/out")"
st 1 cluster check --repair --timeout 60
sed 's/^/#   /' "$TMP/out"
check "cluster check --repair: exit 0, says clean" eval 'rc_is 0 && out_has "^repair: clean after [1-9][0-9]* round(s)" && out_has "degraded: 0,"'
check "the lost file is back on node 1 with the same bytes" eval '[ "$(objs 1 | grep "^$VICTIM " | cut -d" " -f2)" = "$GOOD" ]'
check "every node holds the 4 objects again" eval '[ "$(objs 0 | wc -l)" = 4 ] && [ "$(objs 1 | wc -l)" = 4 ] && [ "$(objs 2 | wc -l)" = 4 ]'
check "node 1's log says the record of the lost file was dropped" grep -q "SM_RECOVER: 1 object file(s) gone" "$TMP/log1"
st 0 node recovery --all --json
read -r P1 PU1 <<<"$(passes_of "$TMP/out")"
check "node recovery --all --json: passes went up ($P0 -> $P1), a copy was pushed ($PU0 -> $PU1)" \
	eval '[ "$P1" -ge $((P0 + 3)) ] && [ "$PU1" -ge $((PU0 + 1)) ]'
st 0 cluster check --json --repair
check "cluster check --repair --json on a clean cluster: 0 rounds, clean" \
	eval 'rc_is 0 && js "d[\"repair\"][\"rounds\"] == 0 and d[\"repair\"][\"clean\"] is True and d[\"clean\"] is True"'
timeout 60 "$TOOL" vdi read chk -p "${PORT[2]}" > "$TMP/back" 2> "$TMP/err"
check "the VDI reads back byte for byte through node 2" cmp -s -n $((12 * 1048576 + 4096)) "$TMP/data" "$TMP/back"

# ---------------- every copy of an object lost ----------------
objs 0 | cut -d" " -f1 > "$TMP/names_before"
st 0 vdi create lost 8M
printf 'precious' | timeout 30 "$TOOL" vdi write lost -p "${PORT[0]}" 2> "$TMP/err"
LOST=$(objs 0 | cut -d" " -f1 | grep -vxF -f "$TMP/names_before")
check "a second VDI with one object ($LOST)" [ "$(echo "$LOST" | wc -w)" = 1 ]
for i in 0 1 2; do rm -f "$(find "$TMP/d$i" -type f -name "$LOST")"; done
st 1 cluster check
check "all three files gone: exit 6, the object has no copy left" \
	eval 'rc_is 6 && out_has "^degraded $LOST .*: 0 of 3 copies good, no copy left on any node listed" && out_has "^warning: 1 object(s) referenced by a VDI have no copy"'
st 1 cluster check --repair --timeout 4
check "--repair cannot make that clean: exit 6, says so" \
	eval 'rc_is 6 && out_has "^repair: NOT clean" && err_has "still degraded"'
st 1 cluster check --json
check "... and after the records are dropped the index still names it: no copy x3, lost" \
	eval "rc_is 6 && js \"[o['oid'] for o in d['objects']] == ['$LOST'] and d['objects'][0]['lost'] is True and
	    [r['copy'] for r in d['objects'][0]['replicas']] == ['no copy'] * 3 and d['summary']['lost'] == 1\""
st 0 vdi delete lost
st 2 cluster check
check "once the VDI is deleted the cluster is clean again (4 objects)" \
	eval 'rc_is 0 && out_has "^objects: 4, ok: 4, degraded: 0"'

# ---------------- the opcodes on the wire ----------------
cat > "$TMP/raw.py" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
def req(op, flags, dlen, oid=0, payload=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    h = struct.pack("<BBHIII", 2, op, flags, 0, 7, dlen) + struct.pack("<QQ", oid, 0)
    h += b"\0" * (48 - len(h))
    s.sendall(h + payload)
    r = b""
    while len(r) < 48:
        x = s.recv(48 - len(r))
        if not x: break
        r += x
    n, res = struct.unpack_from("<I", r, 12)[0], struct.unpack_from("<I", r, 16)[0]
    body = b""
    while len(body) < n:
        x = s.recv(n - len(body))
        if not x: break
        body += x
    s.close()
    return res, body
out = []
out.append(req(0xE4, 0, 100)[0])                 # buffer too small
out.append(req(0xE4, 1, 16, 0, b"x" * 16)[0])    # WRITE flag
out.append(req(0xE5, 0, 4096)[0])                # SM_RECOVER with a reply buffer
res, body = req(0xE4, 0, 4096, 1 << 56)         # from past every data oid (and inodes are left out)
out.append(res)
print(" ".join(map(str, out)), body.decode())
PY
RAW=$("$PY" "$TMP/raw.py" "${PORT[0]}" 2>&1)
echo "# raw replies: $RAW"
check "raw SM_OBJECTS/SM_RECOVER: small buffer, WRITE flag, SM_RECOVER payload refused (INVALID_PARMS); an empty page" \
	[ "$RAW" = '5 5 5 0 {"objects":[],"next":null}' ]
check "node 0 still serves after the bad requests" node_up 0

# ---------------- a replica dies ----------------
kill -KILL "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null; PIDS[2]=
st 0 cluster check --json
check "after kill -9 of node 2: exit 6, its copies missing" \
	eval "rc_is 6 && js \"d['summary']['degraded'] == 4 and d['summary']['missing_copies'] == 4 and
	    [n['listed'] for n in d['nodes'] if n['address'] == '127.0.0.1:${PORT[2]}'] in (['unreachable'], ['not alive'])\""
st 0 node recovery --all
check "node recovery --all with a dead member: the two alive shown" \
	eval '[ "$(grep -c "^node " "$TMP/out")" -ge 2 ]'

st 0 node recovery
sed 's/^/#   /' "$TMP/out"

for i in 0 1; do kill -TERM "${PIDS[$i]}" 2>/dev/null; wait "${PIDS[$i]}" 2>/dev/null; PIDS[$i]=; done
st 0 cluster check
check "after shutdown: cluster check exits 4" rc_is 4
check "no sanitizer report in the node logs" eval '! grep -l "Sanitizer\|runtime error" "$TMP"/log*'
