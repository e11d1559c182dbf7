#!/bin/bash
# man_pages.sh: the checked-in man pages (doc/sheepnode.8, doc/sheeptool.8,
# doc/sheepsim.1) are what `make man` (doc/mkman.sh) generates from this
# build's --help text, so a help change without `make man` fails here; and
# they render without groff warnings. TAP-style lines. Env: SHEEPNODE
# (tests/run.sh sets it; sheeptool and sheepsim are beside it).
set -u
NODE=${SHEEPNODE:-build/release/sheepnode}
B=$(dirname "$NODE")
TMP=$(mktemp -d /tmp/man_pages.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

for p in sheepnode sheeptool sheepsim; do
	if [ ! -x "$B/$p" ]; then echo "not ok - $p built # $B/$p missing"; exit 1; fi
done
if sh doc/mkman.sh "$B" "$TMP" > "$TMP/log" 2>&1; then
	echo "ok - doc/mkman.sh runs"
else
	echo "not ok - doc/mkman.sh runs"; sed 's/^/# /' "$TMP/log"; exit 1
fi
for f in sheepnode.8 sheeptool.8 sheepsim.1; do
	if cmp -s "$TMP/$f" "doc/$f"; then
		echo "ok - doc/$f is up to date"
	else
		echo "not ok - doc/$f is up to date # run 'make man' and check the page in"
		diff -u "doc/$f" "$TMP/$f" | head -20 | sed 's/^/# /'
	fi
	if grep -q "^\.SH DESCRIPTION" "doc/$f" && grep -q "^\.TH " "doc/$f"; then
		echo "ok - doc/$f has .TH and DESCRIPTION"
	else
		echo "not ok - doc/$f has .TH and DESCRIPTION"
	fi
	if command -v groff > /dev/null; then
		w=$(groff -man -Tutf8 -ww -z "doc/$f" 2>&1)
		if [ -z "$w" ]; then echo "ok - doc/$f renders without groff warnings"
		else echo "not ok - doc/$f renders without groff warnings"; echo "$w" | head -5 | sed 's/^/# /'; fi
	else
		echo "ok - doc/$f renders # SKIP groff not installed"
	fi
done
grep -q "^\.SS sheeptool vdi lock list$" doc/sheeptool.8 && grep -q "^\.SS sheeptool cluster info$" doc/sheeptool.8 &&
	echo "ok - sheeptool.8 has a section per command" || echo "not ok - sheeptool.8 has a section per command"
