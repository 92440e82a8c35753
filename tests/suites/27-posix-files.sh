#!/usr/bin/env bash
# POSIX files in the library OS: each test program (user/tests/files_*.c)
# runs in the guest with tools/exo-run and, built with plain musl-gcc, on
# this Linux host; their outputs must be the same line for line, and every
# check in them must pass on both.  Then the initramfs: files put in with
# exo-run --file are there, with their contents and modes.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. tests/compare-linux.sh
for prog in files_io files_dir files_libc; do
	compare_with_linux $prog work /tmp/work
done

# Files and pipes shared by processes and threads (user/tests/files_procs.c).
# Its processes part needs every process to map the shared segment; the
# single-process stand-in for it (libos/shared.c, which then defines
# sh_single_process) gives each process a copy instead.  Until the segment
# replaces it, the guest runs the threads part and Linux runs both parts,
# which keeps the program itself honest; with the segment, each part is
# compared with Linux in the guest.
if grep -q sh_single_process libos/shared.c; then
	compare_with_linux files_procs "work threads" "/tmp/work threads"
	mkdir -p "$tmp/procs-host"
	hostprog=$(cd "$B/host-musl" && pwd)/files_procs
	(cd "$tmp/procs-host" && "$hostprog" work all) >"$tmp/procs.out" 2>&1 </dev/null
	if [ $? -eq 0 ] && tail -n 1 "$tmp/procs.out" | grep -qx 'all checks passed'; then
		echo "PASS files_procs-processes-part-on-linux"
		echo "info files_procs: the processes part waits for the shared segment to run in the guest"
	else
		echo "FAIL files_procs-processes-part-on-linux"; tail -n 20 "$tmp/procs.out"
	fi
else
	compare_with_linux files_procs "work procs" "/tmp/work procs" | sed 's/ files_procs-/ files_procs-procs-/'
	compare_with_linux files_procs "work threads" "/tmp/work threads"
fi
# What a forked child gets for its parent's eventfd and epoll (process-local
# kinds): ENXIO for every call, close works.  Linux shares them: guest only.
tools/exo-run "$B/user/files_procs" /tmp/work stale >"$tmp/stale.out" 2>"$tmp/stale.err"
rc=$?
sed -n -e 's/^ok /PASS files_procs-/p' -e 's/^FAIL /FAIL files_procs-/p' "$tmp/stale.out"
if [ $rc -eq 0 ] && tail -n 1 "$tmp/stale.out" | grep -qx 'all checks passed'; then
	echo "PASS files_procs-stale-status"
else
	echo "FAIL files_procs-stale-status: status $rc"; tail -n 20 "$tmp/stale.err"
fi

# The initramfs: two files, one in nested directories, with their modes.
printf 'first file\nwith two lines\n' >"$tmp/a.txt"
head -c 10000 /dev/urandom >"$tmp/bin.dat"
chmod 0640 "$tmp/a.txt"
chmod 0755 "$tmp/bin.dat"
tools/exo-run --file "$tmp/a.txt:/etc/a.txt" --file "$tmp/bin.dat:/data/x y/z/bin.dat" \
	"$B/user/catfile" /etc/a.txt "/data/x y/z/bin.dat" "/data/x y" /missing >"$tmp/cat.out" 2>"$tmp/cat.err"
rc=$?
{
	echo "/etc/a.txt: mode 100640 size $(stat -c %s "$tmp/a.txt")"
	cat "$tmp/a.txt"
	echo "/data/x y/z/bin.dat: mode 100755 size 10000"
	cat "$tmp/bin.dat"
	echo "/data/x y: mode 40755 size 60"
	echo "/missing: ENOENT"
} >"$tmp/cat.want"
if [ $rc -eq 1 ] && cmp -s "$tmp/cat.out" "$tmp/cat.want"; then
	echo "PASS initramfs-files-contents-and-modes"
else
	echo "FAIL initramfs-files-contents-and-modes: status $rc (want 1), or the output differs"
	cmp "$tmp/cat.out" "$tmp/cat.want"
	head -c 600 "$tmp/cat.out"; tail -n 20 "$tmp/cat.err"
fi
# Without --file there is no initramfs, and the root still has /tmp and /dev.
tools/exo-run "$B/user/catfile" /etc/a.txt /dev/null /tmp >"$tmp/cat.out" 2>"$tmp/cat.err"
rc=$?
if [ $rc -eq 1 ] && [ "$(cat "$tmp/cat.out")" = "$(printf '%s\n' '/etc/a.txt: ENOENT' \
	'/dev/null: mode 20666 size 0' '/tmp: mode 41777 size 40')" ]; then
	echo "PASS no-initramfs-root-has-tmp-and-dev"
else
	echo "FAIL no-initramfs-root-has-tmp-and-dev: status $rc"; cat "$tmp/cat.out"
fi
# exo-run refuses a malformed --file before it boots anything.
tools/exo-run --file nocolon "$B/user/catfile" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 125 ] && grep -q 'absolute GUESTPATH' "$tmp/err"; then echo "PASS exo-run-file-usage-125"
else echo "FAIL exo-run-file-usage-125: status $rc"; cat "$tmp/err"; fi
tools/exo-run --file "$tmp/nonexistent:/x" "$B/user/catfile" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 125 ] && grep -q 'not a regular file' "$tmp/err"; then echo "PASS exo-run-file-missing-125"
else echo "FAIL exo-run-file-missing-125: status $rc"; cat "$tmp/err"; fi
tools/exo-run --file "$tmp/a.txt:/etc/" "$B/user/catfile" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 125 ] && grep -q 'names a directory' "$tmp/err"; then echo "PASS exo-run-file-directory-125"
else echo "FAIL exo-run-file-directory-125: status $rc"; cat "$tmp/err"; fi
