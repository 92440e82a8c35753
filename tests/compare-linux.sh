# Sourced by suites that compare a test program's output in the guest with
# the same program built with plain musl-gcc and run on this Linux host.
# compare_with_linux PROG HOST-ARG GUEST-ARG: runs $B/host-musl/PROG with
# HOST-ARG in a fresh directory under $tmp and $B/user/PROG with GUEST-ARG
# under tools/exo-run; prints PASS/FAIL lines for the program's own checks,
# its exit status and its output, line for line.  COMPARE_EXO_RUN_OPTS
# (split at spaces) goes to exo-run before the program, e.g. --file options.
compare_with_linux() {
	local prog=$1 harg=$2 garg=$3 hrc grc t0
	mkdir -p "$tmp/host-$prog"
	(cd "$tmp/host-$prog" && umask 022 && "$OLDPWD/$B/host-musl/$prog" $harg) >"$tmp/$prog.host" 2>"$tmp/$prog.host-err" </dev/null
	hrc=$?
	t0=$(date +%s%N)
	tools/exo-run ${COMPARE_EXO_RUN_OPTS:-} "$B/user/$prog" $garg >"$tmp/$prog.guest" 2>"$tmp/$prog.guest-err" </dev/null
	grc=$?
	echo "info $prog: guest run took $(( ($(date +%s%N) - t0) / 1000000 )) ms, $(grep -c . "$tmp/$prog.guest") lines"
	sed -n -e "s/^ok /PASS $prog-/p" -e "s/^FAIL /FAIL $prog-/p" "$tmp/$prog.guest"
	grep '^FAIL ' "$tmp/$prog.host" | sed "s/^FAIL /FAIL $prog-on-linux-/"
	if [ $hrc -ne 0 ] || [ $grc -ne 0 ]; then
		echo "FAIL $prog-status: linux $hrc, guest $grc"
		echo "--- the guest's last output lines"
		tail -n 10 "$tmp/$prog.guest"
		echo "--- the guest's log"
		tail -n 20 "$tmp/$prog.guest-err"
	elif diff -u "$tmp/$prog.host" "$tmp/$prog.guest" >"$tmp/$prog.diff"; then
		echo "PASS $prog-output-matches-linux"
	else
		echo "FAIL $prog-output-matches-linux: the guest answered differently (- linux, + guest)"
		head -n 60 "$tmp/$prog.diff"
	fi
}
