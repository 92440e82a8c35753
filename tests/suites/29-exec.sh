#!/usr/bin/env bash
# execve and friends in the library OS (user/tests/exectest.c): execve of a
# program with its arguments and environment, a #! script, the errors
# (ENOENT, ENOTDIR, EACCES, ENOEXEC, E2BIG, EFAULT, ELOOP), O_CLOEXEC,
# signal dispositions and mask across execve, posix_spawn + waitpid,
# system() and vfork, in the guest and, built with musl-gcc, on Linux; the
# outputs must be the same line for line.  Then 200 execs in a row must
# give back their memory and caps.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the guest's copies: stripped (execve reads the whole file)
strip -o "$tmp/exectest" "$B/user/exectest"
strip -o "$tmp/minish" "$B/user/minish"
guest_files=(--file "$tmp/exectest:/bin/exectest" --file "$tmp/minish:/bin/sh")

. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="${guest_files[*]}" EXO_RUN_TIMEOUT=300 \
	compare_with_linux exectest "run $PWD/$B/host-musl/exectest $tmp/host-exectest" "run /bin/exectest /tmp"

# 200 execs after the first: the budget and the caps held stay the same
t0=$(date +%s%N)
EXO_RUN_TIMEOUT=400 tools/exo-run --file "$tmp/exectest:/bin/exectest" "$B/user/exectest" \
	loop 201 - - /bin/exectest >"$tmp/loop.out" 2>"$tmp/loop.err"
rc=$?
echo "info exec-loop: 201 execs took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sed -n -e "s/^ok /PASS /p" -e "s/^FAIL /FAIL /p" -e "s/^info /info /p" "$tmp/loop.out"
if [ $rc -ne 0 ]; then
	echo "FAIL exec-loop-status: $rc"
	tail -n 10 "$tmp/loop.err"
fi

# A thread calling the library OS in a loop while its image execs: the new
# image lives on (it died of the ended thread's fault, 139, before the
# stub's page stayed mapped and THREAD_SET_REGS took a blocked thread out
# of its wait).
EXO_RUN_TIMEOUT=120 tools/exo-run --file "$tmp/exectest:/bin/exectest" "$B/user/exectest" \
	parked /bin/exectest >"$tmp/parked.out" 2>"$tmp/parked.err"
rc=$?
sed -n -e "s/^ok /PASS /p" -e "s/^FAIL /FAIL /p" "$tmp/parked.out"
if [ $rc -ne 0 ] || ! grep -q '^ok parked-new-image-lives-on$' "$tmp/parked.out"; then
	echo "FAIL exec-parked-thread-status: $rc"
	tail -n 10 "$tmp/parked.err"
fi

# Threads sleeping in the kernel, spinning in user mode and exited (parked
# in the library OS) when the image execs itself: afterwards the kernel
# counts one thread of the env alive (they stayed alive, resting on the
# stub's page, before THREAD_END), on one CPU and on two.
for n in 1 2; do
	EXO_RUN_QEMU_ARGS="-smp $n" EXO_RUN_TIMEOUT=120 tools/exo-run --file "$tmp/exectest:/bin/exectest" \
		"$B/user/exectest" ended /bin/exectest >"$tmp/ended.out" 2>"$tmp/ended.err"
	rc=$?
	grep '^info' "$tmp/ended.out"
	sed -n -e "s/^ok /PASS smp$n-/p" -e "s/^FAIL /FAIL smp$n-/p" "$tmp/ended.out"
	if [ $rc -ne 0 ] || ! grep -q '^ok ended-one-kernel-thread-left-after-execve$' "$tmp/ended.out"; then
		echo "FAIL exec-ended-threads-smp$n-status: $rc"
		tail -n 10 "$tmp/ended.err"
	fi
done

# Threads spinning in user mode and threads looping on system calls, on
# every CPU, while the image execs itself, round after round: each new image
# starts and no old thread runs again (THREAD_SET_REGS did not redirect a
# thread running on another CPU, and the resting threads' notification was
# deleted by the execve: status 139 within two rounds, every run).
for n in 2 4; do
	EXO_RUN_QEMU_ARGS="-smp $n" EXO_RUN_TIMEOUT=600 tools/exo-run --file "$tmp/exectest:/bin/exectest" \
		"$B/user/exectest" spinning /bin/exectest 6 >"$tmp/spin.out" 2>"$tmp/spin.err"
	rc=$?
	sed -n -e "s/^ok /PASS smp$n-/p" -e "s/^FAIL /FAIL smp$n-/p" "$tmp/spin.out"
	if [ $rc -ne 0 ] || ! grep -q '^ok spinning-' "$tmp/spin.out"; then
		echo "FAIL exec-spinning-smp$n-status: $rc"
		tail -n 10 "$tmp/spin.err"
	fi
done

# Programs not built with tools/exo-cc run under the personality image
# (build/user/ld-exo): the same output and status as on this Linux host.
for v in glibc pie musl; do
	prog="$B/foreign/hello-$v"
	want=$(cd "$tmp" && HOME=/root bash -c 'exec -a "$0" "$@"' "hello-$v" "$OLDPWD/$prog" a "b c" 2>/dev/null; echo "status $?")
	got=$(EXO_RUN_TIMEOUT=120 tools/exo-run -e HOME=/root "$prog" a "b c" 2>"$tmp/f.err"; echo "status $?")
	if [ "$want" = "$got" ]; then echo "PASS foreign-$v-static-like-linux"
	else echo "FAIL foreign-$v-static-like-linux: linux '$want', guest '$got'"; tail -n 5 "$tmp/f.err"; fi
done
# execve of a static-PIE from a program with its own library OS
strip -o "$tmp/ld-exo" "$B/user/ld-exo"
got=$(EXO_RUN_TIMEOUT=120 tools/exo-run --file "$B/foreign/hello-pie:/bin/hello-pie" \
	--file "$tmp/ld-exo:/lib/exo/ld-exo" "$B/user/exectest" exec /bin/hello-pie hello-pie x 2>"$tmp/f.err"; echo "status $?")
want=$(printf '%s\n' 'hello from a foreign program: argc 2 [hello-pie] [x] HOME=- pid>0 1' 'status 5')
if [ "$got" = "$want" ]; then echo "PASS exec-static-pie-from-exo-program"
else echo "FAIL exec-static-pie-from-exo-program: '$got'"; tail -n 5 "$tmp/f.err"; fi
# Debian's busybox-static, when installed: applets and its shell
if bb=$(command -v busybox) && file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
	printf 'one\ntwo\nthree\n' >"$tmp/t.txt"
	got=$(EXO_RUN_TIMEOUT=120 tools/exo-run --file "$tmp/t.txt:/etc/t.txt" "$bb" sha256sum /etc/t.txt 2>"$tmp/f.err"; echo "status $?")
	want=$(cd "$tmp" && sha256sum t.txt | sed 's| t.txt| /etc/t.txt|'; echo "status 0")
	if [ "$got" = "$want" ]; then echo "PASS busybox-static-sha256sum"
	else echo "FAIL busybox-static-sha256sum: '$got' want '$want'"; tail -n 5 "$tmp/f.err"; fi
	got=$(EXO_RUN_TIMEOUT=120 tools/exo-run "$bb" sh -c 'x=$((6*7)); echo "$x words"; exit 3' 2>"$tmp/f.err"; echo "status $?")
	if [ "$got" = "$(printf '42 words\nstatus 3')" ]; then echo "PASS busybox-static-sh-builtins"
	else echo "FAIL busybox-static-sh-builtins: '$got'"; tail -n 5 "$tmp/f.err"; fi
else
	echo "info busybox-static is not installed: its checks are skipped"
fi
