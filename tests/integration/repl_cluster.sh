#!/bin/bash
# repl_cluster.sh: issue 5 end to end on loopback. 3 real sheepnodes
# (--no-multicast, --join to the first, --gossip-interval 200), copies 3:
#   - a VDI made through node 0 is visible through nodes 1 and 2; data
#     written through node 0 reads back byte for byte through 1 and 2, and
#     every node holds every object (3 copies on 3 nodes)
#   - snapshot through node 1, listed through node 2 (the catalog is on all)
#   - two creations of one name at the same moment through two nodes: one
#     succeeds, one gets "exists"
#   - kill -9 of a replica during a stream of writes: every acknowledged
#     write reads back through both survivors
#   - the killed node restarts: reads through it give the new data, not its
#     stale copies; a partial write through it lands on the newest base
#   - kill -9 of the catalog leader: a VDI can still be created, and the
#     survivors list the same VDIs
#   - bad peer requests (no prefix, wrong ring) are refused, the node lives
# TAP-style lines. Env: SHEEPNODE, SHEEPTOOL (tests/run.sh sets both).
CL_NAME=repl_cluster CL_NODES=4
CL_ARGS=(--anti-entropy-interval 2 --scrub-interval 3)
# shellcheck source=tests/integration/lib_cluster.sh
. "$(dirname "$0")/lib_cluster.sh"
MB=1048576
OBJ=4194304
# objs I: "name sha256" of every data object file node I holds, sorted
objs() {
	find "$TMP/d$1" -type f -regextype posix-extended -regex '.*/[0-9a-f]{6}/00[0-9a-f]{14}' \
		-exec sha256sum {} + 2>/dev/null | awk '{ n = split($2, a, "/"); print a[n], $1 }' | sort
}
# converged NODES...: every object on min(3, #nodes) of them, copies identical
converged() {
	local want=$(( $# < 3 ? $# : 3 ))
	for i in "$@"; do objs "$i"; done | sort | uniq -c |
		awk -v w="$want" '{ c[$2] += $1; v[$2]++ } END { for (k in c) if (c[k] != w || v[k] != 1) exit 1; exit (length(c) ? 0 : 1) }'
}

start 0
wait_for 10 node_up 0
start 1 --join "127.0.0.1:${PORT[0]}"
start 2 --join "127.0.0.1:${PORT[0]}"
check "3 nodes agree on one ring with 3 placed" gw 30 ring:same:3 0 1 2

# ---- write through one node, read through the others ----
head -c $((20 * MB)) /dev/urandom > "$TMP/data"
check "create a VDI through node 0" T 0 vdi create v1 64M
check "write 20 MiB through node 0" eval 'T 0 vdi write v1 0 < "$TMP/data"'
check "node 1 reads the 20 MiB back byte for byte" eval 'T 1 vdi read v1 0 $((20 * MB)) | cmp -s - "$TMP/data"'
check "node 2 reads the 20 MiB back byte for byte" eval 'T 2 vdi read v1 0 $((20 * MB)) | cmp -s - "$TMP/data"'
objs=$(for i in 0 1 2; do st $i "d['objects']"; done | tr '\n' ' ')
check "every node holds the 5 data objects and the index (3 copies on 3 nodes): $objs" \
	[ "$objs" = "6 6 6 " ]
check "a VDI made through node 0 is listed through node 2" eval 'T 2 vdi list | grep -q "v1"'
T 1 ring --json > "$TMP/ring.json" 2>/dev/null
check "sheeptool ring shows each node's objects and share of them (6 each, a third)" \
	"$PY" -c "import json,sys; d=json.load(open('$TMP/ring.json')); n=d['nodes']; sys.exit(not (len(n) == 3 and all(x['objects'] == 6 and abs(x['objects_share_ppm'] - 333333) <= 1 for x in n)))"
check "snapshot through node 1" T 1 vdi snapshot v1 --tag s1
check "node 2 lists the snapshot" eval 'T 2 vdi list v1 | grep -q "s1"'
check "node 0 lists the snapshot" eval 'T 0 vdi list v1 | grep -q "s1"'
n_vdis=$(for i in 0 1 2; do st $i "d['vdis']"; done | tr '\n' ' ')
check "every node's catalog has the VDI and its snapshot: $n_vdis" [ "$n_vdis" = "2 2 2 " ]
check "clone of the snapshot through node 2" T 2 vdi clone v1:s1 c1
check "the clone reads the snapshot's data through node 0" \
	eval 'T 0 vdi read c1 0 $((20 * MB)) | cmp -s - "$TMP/data"'
check "resize through node 1" T 1 vdi resize c1 128M
sz=$(T 0 vdi info c1 --json 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin); d=d["vdis"][-1] if "vdis" in d else d; print(d["size"])' 2>/dev/null)
check "node 0 sees the new size ($sz)" [ "$sz" = $((128 * MB)) ]
check "delete through node 0" T 0 vdi delete c1
check "node 2 no longer finds it" eval '! T 2 vdi info c1 >/dev/null 2>&1'
check "node 1 no longer lists it" eval '! T 1 vdi list | grep -qw c1'
# a sparse raw image in through one node, out through another
truncate -s 48M "$TMP/sparse.raw"
head -c $MB /dev/urandom | dd of="$TMP/sparse.raw" bs=1M seek=10 conv=notrunc status=none
printf 'tail' | dd of="$TMP/sparse.raw" bs=1 seek=$((40 * MB + 5)) conv=notrunc status=none
check "import a sparse image through node 1" T 1 vdi import imp "$TMP/sparse.raw"
check "export it through node 2: byte for byte the same" \
	eval 'T 2 vdi export imp "$TMP/out.raw" && cmp -s "$TMP/out.raw" "$TMP/sparse.raw"'
used=$(du -k "$TMP/out.raw" | cut -f1)
check "the export is sparse ($used KiB on disk of 49152)" [ "$used" -lt 16384 ]

# ---- one name, two creators, two gateways, one moment ----
for k in 1 2 3; do
	T 1 vdi create "race$k" 8M > "$TMP/race1" 2>&1 & a=$!
	T 2 vdi create "race$k" 8M > "$TMP/race2" 2>&1 & b=$!
	wait $a; ra=$?; wait $b; rb=$?
	check "concurrent create of race$k through nodes 1 and 2: exactly one succeeds ($ra/$rb)" \
		eval '[ $ra = 0 -a $rb != 0 ] || [ $ra != 0 -a $rb = 0 ]'
done

# ---- kill -9 a replica during a stream of writes ----
# the leader is the lowest id; kill a node that is not the leader
leader=""
for i in 0 1 2; do [ "$(st $i "d['repl']['leader']")" = True ] && leader=$i; done
check "exactly one node says it is the catalog leader" [ -n "$leader" ]
victim=2; [ "$leader" = 2 ] && victim=1
gwy=0; [ "$victim" = 0 ] && gwy=1; [ "$leader" = 0 ] && [ "$victim" = 1 ] && gwy=0
other=$(( 3 - victim - gwy ))
head -c $OBJ /dev/urandom > "$TMP/chunk"
( for k in $(seq 0 11); do
	if T $gwy vdi write v1 $((k * OBJ)) < "$TMP/chunk" 2>/dev/null; then echo "$k"; fi
  done > "$TMP/acked" ) & W=$!
sleep 0.4
kill -KILL "${PIDS[$victim]}"; wait "${PIDS[$victim]}" 2>/dev/null; PIDS[$victim]=
t0=$(now_ms)
wait $W
t_stream=$(( $(now_ms) - t0 ))
n_ack=$(wc -l < "$TMP/acked")
check "the write stream went on after the kill: $n_ack of 12 writes acknowledged" [ "$n_ack" -ge 10 ]
echo "# figure: kill -9 of a replica mid-stream: the stream finished $t_stream ms after the kill (gossip-interval 200 ms)"
bad=0
for k in $(cat "$TMP/acked"); do
	for i in $gwy $other; do
		T $i vdi read v1 $((k * OBJ)) $OBJ | cmp -s - "$TMP/chunk" || bad=$((bad + 1))
	done
done
check "every acknowledged write reads back through both survivors ($bad bad)" [ "$bad" = 0 ]

# the victim misses these for sure: its copies of objects 0-4 go stale
head -c $OBJ /dev/urandom > "$TMP/chunk2"
stale_ok=0
for k in 0 1 2 3 4; do
	T $gwy vdi write v1 $((k * OBJ)) < "$TMP/chunk2" 2>>"$TMP/stale.err" && stale_ok=$((stale_ok + 1))
done
check "5 more writes while the victim is down" [ "$stale_ok" = 5 ]
[ "$stale_ok" = 5 ] || { sed 's/^/# /' "$TMP/stale.err"; grep -h "error\|EIO" "$TMP"/log* | tail -5 | sed 's/^/# /'; }

# ---- the killed node comes back with stale copies ----
start $victim
check "the restarted node is back in the ring (3 placed)" gw 30 ring:same:3 0 1 2
bad=0
# rd_cmp K FILE: object K read through the victim equals FILE (else say how)
rd_cmp() {
	T $victim vdi read v1 $(($1 * OBJ)) $OBJ > "$TMP/rd" 2> "$TMP/rd.err"; local rc=$?
	cmp -s "$TMP/rd" "$2" && return 0
	echo "# object $1: read exit $rc, $(wc -c < "$TMP/rd") bytes, $(cmp "$TMP/rd" "$2" 2>&1 | head -1); $(head -2 "$TMP/rd.err")"
	cmp -s "$TMP/rd" "$TMP/chunk" && echo "# object $1: got the stream's (older) data"
	return 1
}
for k in 0 1 2 3 4; do rd_cmp $k "$TMP/chunk2" || bad=$((bad + 1)); done
for k in $(cat "$TMP/acked"); do
	[ "$k" -le 4 ] && continue
	rd_cmp $k "$TMP/chunk" || bad=$((bad + 1))
done
check "reads through the restarted node give the new data, not its stale copies ($bad bad)" [ "$bad" = 0 ]
check "recovery converges: every object on all 3 nodes, the copies identical" wait_for 60 converged 0 1 2
rs=$(st $victim "d['recovery']['pulled'] + d['recovery']['verified']")
check "the restarted node's recovery pulled or verified its copies ($rs)" [ "${rs:-0}" -gt 0 ]

# a small write into object 0 through the restarted node, then a read
# through another node: old neighbourhood bytes must be the new ones
printf 'sheepmesh!' > "$TMP/small"
check "a partial write through the restarted node" eval 'T $victim vdi write v1 100 < "$TMP/small"'
head -c 100 "$TMP/chunk2" > "$TMP/expect"; cat "$TMP/small" >> "$TMP/expect"
tail -c +111 "$TMP/chunk2" | head -c $((OBJ - 110)) >> "$TMP/expect"
check "the partial write landed on the newest copy (read through node $other)" \
	eval 'T $other vdi read v1 0 $OBJ | cmp -s - "$TMP/expect"'
check "... and through node $gwy" eval 'T $gwy vdi read v1 0 $OBJ | cmp -s - "$TMP/expect"'

# ---- scrub: a copy corrupted on disk is repaired from a replica ----
f=$(find "$TMP/d$other" -type f -regextype posix-extended -regex '.*/[0-9a-f]{6}/00[0-9a-f]{14}' | head -1)
good=$(sha256sum < "$f")
printf 'garbage!garbage!' | dd of="$f" bs=1 seek=$((MB + 7)) conv=notrunc status=none
check "the corruption changed the file" [ "$(sha256sum < "$f")" != "$good" ]
check "scrub repairs the corrupt copy from a replica" wait_for 40 eval '[ -f "$f" ] && [ "$(sha256sum < "$f")" = "$good" ]'
cr=$(st $other "str(d['recovery']['corrupt']) + ' ' + str(d['recovery']['repaired'])")
check "the node counts one corrupt copy found and repaired ($cr)" eval '[ "${cr% *}" -ge 1 ] && [ "${cr#* }" -ge 1 ]'
[ "${cr#* }" -ge 1 ] 2>/dev/null || { echo "# corrupted: $f"; grep -h "scrub\|recovery:" "$TMP/log$other" | tail -6 | sed 's/^/# /'; }
check "the node logged the repair" grep -q "scrub: object .* repaired" "$TMP/log$other"

# ---- scrub without a recorded checksum: object 0 of v1 was last written
# partially, so the copies vote; a corrupted one is the odd one out ----
f=$(find "$TMP/d$other" -type f -path '*/709129/0070912900000000' | head -1)
if [ -n "$f" ]; then
	good=$(sha256sum < "$f")
	printf 'garbage!' | dd of="$f" bs=1 seek=$((2 * MB)) conv=notrunc status=none
	check "scrub repairs a corrupt copy of a partially written object (the copies vote)" \
		wait_for 40 eval '[ -f "$f" ] && [ "$(sha256sum < "$f")" = "$good" ]'
	check "... and logged it" grep -q "differs from every other copy" "$TMP/log$other"
else
	nok "object 0 of v1 is on node $other" "no file */709129/0070912900000000 under $TMP/d$other"
fi

# ---- scrub: an object file lost from disk (the index still lists it) ----
f=$(find "$TMP/d$gwy" -type f -regextype posix-extended -regex '.*/709128/00[0-9a-f]{14}' | head -1)
if [ -n "$f" ]; then
	good=$(sha256sum < "$f")
	rm -f "$f"
	check "scrub brings back an object file lost from disk" \
		wait_for 40 eval '[ -f "$f" ] && [ "$(sha256sum < "$f")" = "$good" ]'
	check "... and logged it" grep -q "cannot be read here" "$TMP/log$gwy"
else
	nok "a snapshot object is on node $gwy" "no file */709128/00* under $TMP/d$gwy"
fi

# ---- a 4th node joins: objects move to it, nothing is left behind ----
before=$(for i in 0 1 2; do objs $i; done | awk '{print $1}' | sort -u | wc -l)
start 3 --join "127.0.0.1:${PORT[0]}"
check "4 nodes agree on one ring" gw 30 ring:same:4 0 1 2 3
bad=0
for k in 0 1 2 3 4; do
	T 3 vdi read v1 $((k * OBJ)) $OBJ > "$TMP/rd" || bad=$((bad + 1))
done
check "the VDI reads through the new node while objects move ($bad failed)" [ "$bad" = 0 ]
check "after the join every object is on exactly 3 of the 4 nodes, copies identical" wait_for 60 converged 0 1 2 3
n3=$(objs 3 | wc -l)
after=$(for i in 0 1 2 3; do objs $i; done | awk '{print $1}' | sort -u | wc -l)
check "the new node holds objects ($n3) and none was lost ($before before, $after after)" \
	eval '[ "$n3" -gt 0 ] && [ "$after" = "$before" ]'
check "the data reads back through the new node" eval 'T 3 vdi read v1 0 $OBJ | cmp -s - "$TMP/expect"'
# in sync: anti-entropy passes (every 2 s here) settle objects by bucket
# summaries, one request per peer, not one per object
insync() { local v; v=$(st 3 "d['recovery']['in_sync']"); [ "${v:-0}" -gt 0 ]; }
check "anti-entropy finds objects in sync by summary (no request per object)" wait_for 20 insync
bt=$(st 3 "str(d['recovery']['bytes_total']) + ' ' + str(d['recovery']['bytes_left']) + ' ' + str(d['recovery']['objects_total'])")
check "recovery reports its pass in objects and bytes ($bt)" \
	eval 'set -- $bt; [ "$1" -ge $((4 * MB)) ] && [ "$2" -le "$1" ] && [ "$3" -gt 0 ]' 

# ---- kill -9 the catalog leader ----
leader=""
for i in 0 1 2 3; do [ "$(st $i "d['repl']['leader']")" = True ] && leader=$i; done
check "exactly one of the 4 nodes says it is the catalog leader" [ -n "$leader" ]
alive=(); for i in 0 1 2 3; do [ "$i" != "$leader" ] && alive+=("$i"); done
# a stream of writes that allocate objects (each one an index update the
# leader runs) through another node, across the leader's kill -9
check "create the VDI of the allocating stream" T "${alive[0]}" vdi create alloc 64M
head -c $MB /dev/urandom > "$TMP/piece"
( for k in $(seq 0 11); do
	T "${alive[0]}" vdi write alloc $((k * OBJ)) < "$TMP/piece" 2>/dev/null && echo "$k"
  done > "$TMP/alloc_acked" ) & W=$!
sleep 0.3
kill -KILL "${PIDS[$leader]}"; wait "${PIDS[$leader]}" 2>/dev/null; PIDS[$leader]=
wait $W
n_ack=$(wc -l < "$TMP/alloc_acked")
check "the allocating stream went on across the leader's death ($n_ack of 12 acknowledged)" [ "$n_ack" -ge 10 ]
bad=0
for k in $(cat "$TMP/alloc_acked"); do
	T "${alive[1]}" vdi read alloc $((k * OBJ)) $MB | cmp -s - "$TMP/piece" || bad=$((bad + 1))
done
check "every acknowledged allocating write reads back through node ${alive[1]} ($bad bad)" [ "$bad" = 0 ]
check "the 3 survivors agree on a ring without the leader" gw 30 ring:same:3 "${alive[@]}"
check "a VDI can be created after the leader died (through node ${alive[0]})" T "${alive[0]}" vdi create after 8M
check "node ${alive[1]} sees it" eval 'T ${alive[1]} vdi list | grep -q after'
check "the data written before reads back through node ${alive[1]}" \
	eval 'T ${alive[1]} vdi read v1 0 $OBJ | cmp -s - "$TMP/expect"'

# ---- bad peer requests ----
i=${alive[0]}
"$PY" - "${PORT[$i]}" > "$TMP/badpeer" 2>&1 <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
def req(op, flags, payload, oid=0):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    hdr = struct.pack("<BBHIII", 2, op, flags, 0, 7, len(payload)) + struct.pack("<QQ", oid, 0) + bytes(16)
    s.sendall(hdr + payload)
    rsp = b""
    while len(rsp) < 48:
        b = s.recv(48 - len(rsp))
        if not b: break
        rsp += b
    s.close()
    return struct.unpack("<I", rsp[16:20])[0] if len(rsp) == 48 else -1
# no prefix (payload too short): INVALID_PARMS 0x05
print("short", req(0xA0, 1, b"x" * 8))
# bad magic: INVALID_PARMS
print("magic", req(0xA0, 1, bytes(32)))
# another ring's digest: RING_STALE 0x90
pre = bytes(16) + struct.pack("<QII", 1, 0, 0x31504d53)
print("stale", req(0xA0, 1, pre + b"data", oid=1))
# forward of a data request: refused (only metadata goes to the leader)
print("fwd", req(0xA7, 1, pre))
PY
check "a peer request without a prefix gets INVALID_PARMS" grep -qx "short 5" "$TMP/badpeer"
check "a peer request with a bad magic gets INVALID_PARMS" grep -qx "magic 5" "$TMP/badpeer"
check "a peer request under another ring gets RING_STALE (0x90)" grep -qx "stale 144" "$TMP/badpeer"
check "the node still answers after the bad peer requests" node_up "$i"
check "no sanitizer reports in the node logs" eval '! grep -l "ERROR: AddressSanitizer\|runtime error:" "$TMP"/log* 2>/dev/null'
