#!/usr/bin/env bash
# tools/insncount/insncount.so counts exactly: tools/insncount/markloop.c
# runs windows of a known instruction count between two markers in an
# ExoSwarm VM (exo-run, -icount shift=0,sleep=off, one CPU, the plugin
# loaded as make bench loads it).  The small window (2,002 instructions)
# must be counted exactly in at least one of its five runs and never below
# (an interrupt inside a window only adds); the large one (20,000,002)
# within 0.5 % above; max=N bounds the marks written.  Host-only: no network.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
marks=$tmp/marks.txt

EXO_RUN_TIMEOUT=300 EXO_RUN_QEMU_ARGS="-icount shift=0,sleep=off -smp 1 -plugin $B/tools/insncount.so,out=$marks" \
	tools/exo-run "$B/user/insncount-markloop" > "$tmp/out.txt" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q '^markloop done' "$tmp/out.txt"; then echo "PASS insncount-guest-ran"
else echo "FAIL insncount-guest-ran: status $rc"; tail -n 15 "$tmp/out.txt"; fi

. tools/insncount/marks.sh
small=$(insn_windows "$marks" 1 | tr '\n' ' ')
large=$(insn_windows "$marks" 3)
echo "small windows: $small; large window: $large (expected 2002 and 20000002)"
if [ "$(wc -w <<< "$small")" = 5 ] && awk -v l="$small" 'BEGIN { n = split(l, v, " "); m = v[1];
	for (i = 1; i <= n; i++) { if (v[i] < 2002) exit 1; if (v[i] < m) m = v[i] } exit m != 2002 }'; then
	echo "PASS insncount-small-window-exact"
else echo "FAIL insncount-small-window-exact: got $small"; fi
if [ -n "$large" ] && [ "$large" -ge 20000002 ] && [ "$large" -le 20100002 ]; then echo "PASS insncount-large-window"
else echo "FAIL insncount-large-window: got '$large'"; fi
total=$(sed -n 's/^total //p' "$marks")
last=$(awk '$1 == "mark" { c = $3 } END { print c + 0 }' "$marks")
if [ -n "$total" ] && [ "$total" -gt "$last" ]; then echo "PASS insncount-total-at-exit"
else echo "FAIL insncount-total-at-exit: total '$total', last mark $last"; fi

# max=N bounds the file: markloop executes 13 markers; with max=4 the file
# holds 4 mark lines, one "dropped" line and the total.
capped=$tmp/capped.txt
EXO_RUN_TIMEOUT=300 EXO_RUN_QEMU_ARGS="-icount shift=0,sleep=off -smp 1 -plugin $B/tools/insncount.so,out=$capped,max=4" \
	tools/exo-run "$B/user/insncount-markloop" > "$tmp/out2.txt" 2>&1
n=$(grep -c '^mark ' "$capped"); d=$(grep -c '^dropped' "$capped"); t=$(grep -c '^total ' "$capped")
if [ "$n" = 4 ] && [ "$d" = 1 ] && [ "$t" = 1 ]; then echo "PASS insncount-max-bounds-output"
else echo "FAIL insncount-max-bounds-output: $n mark lines, $d dropped, $t total"; fi
