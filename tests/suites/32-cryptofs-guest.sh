#!/usr/bin/env bash
# CryptoFS in the library OS (docs/CRYPTOFS.md, "In the guest"): disks
# attached with tools/exo-run --disk and CRYPTOFS_PASSPHRASE, mounted at
# /data.  Writes survive a power-off and a new VM; images made by the host
# tool mount in the guest and guest-written files read back on the host
# byte for byte; POSIX file programs behave on /data as on Linux; wrong
# passphrases, tampered blocks, blank and foreign disks are refused with a
# clear message and the disk left as it was.  All of it runs with the
# disk attached as virtio-blk, then again as NVMe (tests named nvme-...);
# EXO_RUN_DISK_IF set: once, on that.
set -u
if [ -z "${EXO_RUN_DISK_IF:-}" ]; then
	EXO_RUN_DISK_IF=virtio "$0"
	r1=$?
	EXO_RUN_DISK_IF=nvme "$0" | sed -E 's/^(PASS|FAIL) /\1 nvme-/'
	exit $((r1 | PIPESTATUS[0]))
fi
B=${BUILD:-build}
cfs="$B/host/cryptofs"
prog="$B/user/cfstest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state"	# the host tool's rollback records
export CRYPTOFS_ARGON2_OPS=1 CRYPTOFS_ARGON2_MEM=1	# volumes formatted here: fast
export EXO_RUN_TIMEOUT=180
unset CRYPTOFS_PASSPHRASE
P=correct-horse

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

# guest NAME PASS EXO-RUN-ARGS...: runs the VM; its checks become tests and
# its exit status lands in $rc
guest() {
	local name=$1 pw=$2
	shift 2
	CRYPTOFS_PASSPHRASE=$pw tools/exo-run "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	sed -n -e "s/^ok /PASS $name-/p" -e "s/^FAIL /FAIL $name-/p" "$tmp/out"
}
# want_ok NAME: the last guest run passed all its checks
want_ok() {
	if [ "$rc" -eq 0 ] && grep -q '^all checks passed$' "$tmp/out"; then pass "$1"
	else fail "$1" "status $rc"; tail -n 5 "$tmp/out"; tail -n 10 "$tmp/err"; fi
}

# 1. Write, power off, read back in a new VM on the same disk.
img="$tmp/vol.img"
truncate -s 64M "$img"
guest guest-write "$P" --disk "$img" --format "$prog" write 11
want_ok guest-write-formats-blank-disk-and-writes
# an unlinked file open at the time was removed when it was closed (its
# directory stays until the next mount)
if [ -z "$(CRYPTOFS_PASSPHRASE=$P "$cfs" ls "$img" /.exo-orphans 2>/dev/null)" ] &&
   CRYPTOFS_PASSPHRASE=$P "$cfs" ls "$img" / 2>/dev/null | grep -q 'exo-orphans'; then
	pass unlinked-open-file-removed-at-close
else fail unlinked-open-file-removed-at-close "$(CRYPTOFS_PASSPHRASE=$P "$cfs" ls "$img" /.exo-orphans 2>&1)"; fi
guest guest-reboot "$P" --disk "$img" "$prog" read 11
want_ok guest-writes-survive-power-off
guest guest-vec "$P" --disk "$img" "$prog" vec
want_ok guest-vector-registers-kept
# the same volume, fsck'd by the host tool
if CRYPTOFS_PASSPHRASE=$P "$cfs" fsck "$img" >"$tmp/fsck" 2>&1; then pass guest-volume-fsck-clean-on-host
else fail guest-volume-fsck-clean-on-host "$(tail -n 3 "$tmp/fsck")"; fi

# Programs run from /data: execve reads the file from CryptoFS, a rewrite
# and a truncate while a copy runs leave that copy as it started, fork and
# posix_spawn inside a run, 60 runs (user/tests/execimg.c, as 29-exec-image
# runs it on tmpfs; MAP_SHARED of a CryptoFS file is refused: ENODEV).
strip -o "$tmp/execimg" "$B/user/execimg"
guest exec-from-data "$P" --disk "$img" --file "$tmp/execimg:/bin/execimg" "$B/user/execimg" \
	run /bin/execimg /data no-shared-maps
if [ "$rc" -eq 0 ] && [ "$(grep -c '^run mark EXECIMG-MARK-' "$tmp/out")" -ge 7 ]; then
	pass exec-from-data-runs
else fail exec-from-data-runs "status $rc"; tail -n 5 "$tmp/out"; tail -n 10 "$tmp/err"; fi

# 2. A host-made image in the guest; a guest-written file on the host.
head -c 300000 /dev/urandom >"$tmp/host.bin"
head -c 200001 /dev/urandom >"$tmp/in.bin"
himg="$tmp/host.img"
CRYPTOFS_PASSPHRASE=$P "$cfs" mkfs "$himg" --size 16M --argon2-ops 1 --argon2-mem 1 >/dev/null 2>&1 &&
	CRYPTOFS_PASSPHRASE=$P "$cfs" mkdir "$himg" /h 2>/dev/null &&
	CRYPTOFS_PASSPHRASE=$P "$cfs" put "$himg" "$tmp/host.bin" /h/host.bin 2>/dev/null
CRYPTOFS_PASSPHRASE=$P tools/exo-run --disk "$himg" --file "$tmp/host.bin:/host.bin" \
	"$prog" cmp /data/h/host.bin /host.bin >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then pass host-made-image-read-in-guest
else fail host-made-image-read-in-guest "status $rc"; tail -n 5 "$tmp/err"; fi
CRYPTOFS_PASSPHRASE=$P tools/exo-run --disk "$himg" --file "$tmp/in.bin:/in.bin" \
	"$prog" copy /in.bin /data/h/out.bin >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && CRYPTOFS_PASSPHRASE=$P "$cfs" get "$himg" /h/out.bin "$tmp/out.bin" 2>/dev/null &&
   cmp -s "$tmp/in.bin" "$tmp/out.bin"; then pass guest-written-file-read-on-host
else fail guest-written-file-read-on-host "guest status $rc, or the bytes differ"; tail -n 5 "$tmp/err"; fi
# and the host's file is still intact next to it
if CRYPTOFS_PASSPHRASE=$P "$cfs" get "$himg" /h/host.bin "$tmp/back.bin" 2>/dev/null &&
   cmp -s "$tmp/host.bin" "$tmp/back.bin"; then pass host-file-intact-after-guest-writes
else fail host-file-intact-after-guest-writes "the bytes differ"; fi

# 3. POSIX file programs on /data answer as on Linux (a forked child's
#    calls reach the volume through the mounter's server, libos/chan.c).
big="$tmp/posix.img"
truncate -s 512M "$big"
for p in files_libc files_io; do
	mkdir -p "$tmp/host-$p"
	(cd "$tmp/host-$p" && umask 022 && "$OLDPWD/$B/host-musl/$p" work) >"$tmp/$p.host" 2>/dev/null </dev/null
	fmt=; [ $p = files_libc ] && fmt=--format
	# (files_io writes 17 files of 16 MiB a byte per page: slow on a loaded host)
	EXO_RUN_TIMEOUT=400 CRYPTOFS_PASSPHRASE=$P tools/exo-run --disk "$big" $fmt "$B/user/$p" /data/$p \
		>"$tmp/$p.guest" 2>"$tmp/$p.err" </dev/null
	diff "$tmp/$p.host" "$tmp/$p.guest" >"$tmp/$p.diff"
	if [ "$(grep -c '^[<>]' "$tmp/$p.diff")" -eq 0 ]; then
		pass "$p-on-cryptofs-matches-linux"
	else
		fail "$p-on-cryptofs-matches-linux" "the guest answered differently (< linux, > guest)"
		head -n 30 "$tmp/$p.diff"; tail -n 5 "$tmp/$p.err"
	fi
	# every wait for the disk ended by its interrupt's signal, none by timeout
	if ! grep -q 'without its signal' "$tmp/$p.err"; then pass "$p-disk-waits-woken-by-interrupt"
	else fail "$p-disk-waits-woken-by-interrupt" "$(grep 'without its signal' "$tmp/$p.err")"; fi
done

# 3b. Processes other than the mounter use the volume: a forked child and
#     an execve'd program read what the mounter wrote and the mounter reads
#     theirs; a client killed mid-request does not wedge the server; the
#     volume survives the mounter's execve (its new image serves it, and a
#     child's calls never fail meanwhile).  The cost of a 4 KiB call from
#     another process is printed.
shimg="$tmp/share.img"
truncate -s 128M "$shimg"
sp="$B/user/cfsshare"
self=(--file "$sp:/cfsshare")	# it execve's itself
guest share "$P" --disk "$shimg" --format "${self[@]}" "$sp" share
want_ok other-processes-share-the-volume
# after the power-off, on the host: what the child and the execve'd program wrote
if CRYPTOFS_PASSPHRASE=$P "$cfs" get "$shimg" /share/peer.txt "$tmp/peer.txt" 2>/dev/null &&
   CRYPTOFS_PASSPHRASE=$P "$cfs" get "$shimg" /share/child.txt "$tmp/child.txt" 2>/dev/null &&
   [ "$(cat "$tmp/peer.txt")" = peer ] && [ "$(cat "$tmp/child.txt")" = child ]; then
	pass other-processes-files-survive-power-off
else fail other-processes-files-survive-power-off "missing or wrong"; fi
guest kill "$P" --disk "$shimg" "${self[@]}" "$sp" kill
want_ok client-killed-mid-request-server-goes-on
if CRYPTOFS_PASSPHRASE=$P "$cfs" fsck "$shimg" >"$tmp/fsck" 2>&1; then pass volume-clean-after-client-killed
else fail volume-clean-after-client-killed "$(tail -n 3 "$tmp/fsck")"; fi
# a hostile process forging messages in the shared segment (libos/chan.c
# trusts none of them), and clients killed in a loop leave no messages
guest forge "$P" --disk "$shimg" "$sp" forge
want_ok forged-messages-refused-server-unharmed
guest reap "$P" --disk "$shimg" "$sp" reap
want_ok killed-clients-messages-freed
grep '^shared free' "$tmp/out" | sed 's/^/# /'
guest exec "$P" --disk "$shimg" "${self[@]}" "$sp" exec
want_ok volume-survives-the-mounters-execve
grep "^child's calls" "$tmp/out" | sed 's/^/# /'
if CRYPTOFS_PASSPHRASE=$P "$cfs" get "$shimg" /kept.txt "$tmp/kept.txt" 2>/dev/null &&
   [ "$(cat "$tmp/kept.txt")" = KEPT ]; then pass file-written-across-the-execve-on-disk
else fail file-written-across-the-execve-on-disk "missing or wrong"; fi
guest cost "$P" --disk "$shimg" "$sp" cost 200
want_ok cost-of-a-call-from-another-process
grep '^cost ' "$tmp/out" | sed 's/^/# /'

# 4. Refusals: nothing is written to the disk.
before=$(sum "$img")
guest wrong-pass wrong-passphrase --disk "$img" "$prog" read 11
if [ $rc -eq 3 ] && grep -q 'wrong passphrase' "$tmp/err" && [ "$(sum "$img")" = "$before" ]; then
	pass wrong-passphrase-refused-disk-unchanged
else fail wrong-passphrase-refused-disk-unchanged "status $rc (want 3)"; cat "$tmp/err"; fi

# both superblock payloads changed: damage (4), not a wrong passphrase
t1="$tmp/tamper-sb.img"
cp "$img" "$t1"
printf '\xff' | dd of="$t1" bs=1 seek=300 conv=notrunc status=none
printf '\xff' | dd of="$t1" bs=1 seek=$((4096 + 300)) conv=notrunc status=none
before=$(sum "$t1")
guest tamper-sb "$P" --disk "$t1" "$prog" read 11
if [ $rc -eq 4 ] && grep -q 'damaged' "$tmp/err" && [ "$(sum "$t1")" = "$before" ]; then
	pass tampered-superblocks-refused-disk-unchanged
else fail tampered-superblocks-refused-disk-unchanged "status $rc (want 4)"; cat "$tmp/err"; fi

# one byte of a block of the host's file changed: reading it fails and
# names the block; the rest of the volume still mounts
t2="$tmp/tamper-data.img"
cp "$himg" "$t2"
victim=$(python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
used = [i for i in range(2, len(d) // 4096) if any(d[i * 4096:(i + 1) * 4096])]
print(used[len(used) // 2])' "$t2")
printf '\x5a' | dd of="$t2" bs=1 seek=$((victim * 4096 + 100)) conv=notrunc status=none
before=$(sum "$t2")
CRYPTOFS_PASSPHRASE=$P tools/exo-run --disk "$t2" --file "$tmp/host.bin:/host.bin" \
	"$prog" cmp /data/h/host.bin /host.bin >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && grep -qE 'fails authentication|damaged' "$tmp/err" && [ "$(sum "$t2")" = "$before" ]; then
	pass tampered-block-refused-disk-unchanged
else fail tampered-block-refused-disk-unchanged "status $rc, block $victim"; cat "$tmp/err"; fi

# a blank disk is not formatted unless told; nor is a disk with a FAT on it
blank="$tmp/blank.img"
truncate -s 8M "$blank"
guest blank "$P" --disk "$blank" "$prog" read 11
if [ $rc -eq 2 ] && grep -q 'blank' "$tmp/err" && cmp -s "$blank" <(head -c 8M /dev/zero); then
	pass blank-disk-not-formatted-unasked
else fail blank-disk-not-formatted-unasked "status $rc (want 2)"; cat "$tmp/err"; fi
fat="$tmp/fat.img"
truncate -s 8M "$fat"
mkfs.fat "$fat" >/dev/null 2>&1
before=$(sum "$fat")
guest foreign "$P" --disk "$fat" --format "$prog" read 11
if [ $rc -eq 2 ] && grep -q 'not CryptoFS' "$tmp/err" && [ "$(sum "$fat")" = "$before" ]; then
	pass foreign-disk-not-formatted-by-format
else fail foreign-disk-not-formatted-by-format "status $rc (want 2)"; cat "$tmp/err"; fi
guest forced "$P" --disk "$fat" --format=force "$prog" write 3
want_ok foreign-disk-formatted-by-format-force

# the passphrase reaches no file that outlives the run: exo-run's kept
# files (EXO_RUN_KEEP copies its temp dir, but never the program disk that
# carried the passphrase) and the volume itself do not hold it
keep="$tmp/keep"
EXO_RUN_KEEP=$keep CRYPTOFS_PASSPHRASE=$P tools/exo-run --disk "$img" "$prog" read 11 >/dev/null 2>&1
if [ -f "$keep/kernel.log" ] && [ ! -e "$keep/disk.img" ] && [ ! -e "$keep/cfsmount" ] &&
   ! grep -rqa -- "$P" "$keep" "$img"; then
	pass passphrase-in-no-kept-file-nor-image
else fail passphrase-in-no-kept-file-nor-image "$(ls "$keep" 2>&1 | tr '\n' ' ')"; fi
