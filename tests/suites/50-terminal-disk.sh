#!/usr/bin/env bash
# The node's disk at boot, as `make run` attaches it (docs/CRYPTOFS.md,
# "At boot"): build/exoswarm.iso booted with a disk, init's questions
# answered on the serial console (tests/tools/disk-session).  A blank disk
# is left alone when the operator does not confirm, formatted when they
# do; the shell writes files in /data and commits them with `fsync FILE`
# and `sync` (commands of their own, fork and execve); the VM is powered
# off, a new one boots from the same disk, refuses a wrong passphrase,
# takes the right one, and `cat` reads the files back.  A disk with a FAT
# on it is not formatted and not written.  Then /etc/fstab's other keys,
# with init run by tools/exo-run on an fstab and inittab of the test's:
# key=ephemeral makes a fresh volume whose key stays in RAM, which the next
# boot cannot read and formats afresh; key=file:PATH unlocks a volume with
# the passphrase in a file of the boot medium, a wrong one mounts nothing.
# Transcripts in build/test-logs/terminal-disk/.
set -u
B=${BUILD:-build}
logdir=$B/test-logs/terminal-disk
mkdir -p "$logdir"
if [ ! -f "$B/exoswarm.iso" ]; then
	echo "FAIL terminal-disk: no $B/exoswarm.iso (make iso)"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img="$tmp/node.img"
truncate -s 64M "$img"
session() {
	local name=$1
	shift
	tests/tools/disk-session --iso "$B/exoswarm.iso" --disk "$2" --transcript "$logdir/$name.txt" \
		--name "$name" "${@:3}"
}
rc=0
# 1. A blank disk, not confirmed: nothing is written.
session disk-declined --disk "$img" pass:pw-one confirm:no 'expect:not formatted; /data is not mounted' \
	'sh:ls -d /data=>No such file' || rc=1
if cmp -s "$img" <(head -c 64M /dev/zero); then echo "PASS disk-declined-disk-untouched"
else echo "FAIL disk-declined-disk-untouched: the blank disk was written"; rc=1; fi
# 2. Confirmed: formatted, mounted; the shell writes and fsyncs a file.
session disk-format --disk "$img" pass:pw-one confirm:yes new:pw-one 'expect:init: /data is mounted' \
	'sh:echo kept-across-reboots >/data/note=>' 'sh:fsync /data/note; echo rc=$?=>^rc=0' \
	'sh:cat /data/note=>^kept-across-reboots' 'sh:df /data=>^cryptofs .* /data' \
	'sh:echo scratch >/tmp/scratch=>' 'sh:echo by-sync >/data/s=>' 'sh:sync; echo rc=$?=>^rc=0' || rc=1
# 3. A new VM on the same disk: a wrong passphrase is refused, the right
#    one mounts, the file is there and /tmp starts empty again.
session disk-reboot --disk "$img" pass:wrong-one 'expect:init: wrong passphrase' pass:pw-one \
	'expect:init: /data is mounted' 'sh:cat /data/note=>^kept-across-reboots' 'sh:cat /data/s=>^by-sync' \
	'sh:ls -A /tmp; echo end=>echo end\s+end\s*$' || rc=1
# 4. A disk with another file system on it is refused and left as it was.
fat="$tmp/fat.img"
truncate -s 16M "$fat"
mkfs.fat "$fat" >/dev/null 2>&1
before=$(sha256sum "$fat")
session disk-foreign --disk "$fat" 'expect:not CryptoFS; it is not formatted' 'sh:echo up=>^up' || rc=1
if [ "$(sha256sum "$fat")" = "$before" ]; then echo "PASS disk-foreign-disk-untouched"
else echo "FAIL disk-foreign-disk-untouched: the FAT disk was written"; rc=1; fi

# 5. /etc/fstab key=ephemeral and key=file:PATH (docs/CRYPTOFS.md "At
#    boot"): /sbin/init as the program of tools/exo-run, with FSTAB and
#    INITTAB naming files of the test's; the program init starts
#    (cfsshare boot ...) checks /data and ends init, so the VM.
cfs="$B/host/cryptofs"
# boot NAME DISK FSTAB-LINE INITTAB-COMMAND [--file HOST:GUEST]...
boot() {
	local name=$1 disk=$2 line=$3 cmd=$4
	shift 4
	printf 'disk /data cryptofs %s\n' "$line" >"$tmp/fstab"
	printf 'once:/cfsshare %s\n' "$cmd" >"$tmp/inittab"
	EXO_RUN_TIMEOUT=300 tools/exo-run --disk "$disk" -e FSTAB=/fstab -e INITTAB=/inittab \
		--file "$tmp/fstab:/fstab" --file "$tmp/inittab:/inittab" --file "$B/user/cfsshare:/cfsshare" \
		"$@" "$B/user/init" >"$logdir/$name.txt" 2>&1
	local st=$?
	sed -n "s/^ok /PASS $name-/p; s/^FAIL /FAIL $name-/p" "$logdir/$name.txt"
	if [ $st -eq 0 ] && grep -q '^all checks passed$' "$logdir/$name.txt"; then echo "PASS $name"
	else echo "FAIL $name: status $st"; tail -n 5 "$logdir/$name.txt"; rc=1; fi
}
eph="$tmp/eph.img"
truncate -s 32M "$eph"
secret=ephemeral-volume-text-$$
boot fstab-ephemeral "$eph" key=ephemeral "boot write e.txt $secret"
# the volume is CryptoFS, keyed as ephemeral (key kind 3), with no wrapped
# key a host could open and no plaintext
kind=$(od -An -tu4 -j48 -N4 "$eph" | tr -d ' ')
if head -c 8 "$eph" | grep -q CRYPTOFS && [ "$kind" = 3 ] && ! grep -qa "$secret" "$eph"; then
	echo "PASS fstab-ephemeral-volume-keyless-on-disk"
else echo "FAIL fstab-ephemeral-volume-keyless-on-disk: key kind '$kind'"; rc=1; fi
CRYPTOFS_PASSPHRASE=anything "$cfs" ls "$eph" / >/dev/null 2>&1
st=$?
if [ $st -eq 3 ]; then echo "PASS fstab-ephemeral-host-cannot-open"
else echo "FAIL fstab-ephemeral-host-cannot-open: host tool exit $st (want 3)"; rc=1; fi
# after the power-off the key is gone: the next boot formats a fresh volume
boot fstab-ephemeral-reboot "$eph" key=ephemeral "boot absent e.txt"
kf="$tmp/kf.img"
CRYPTOFS_PASSPHRASE=from-a-file "$cfs" mkfs "$kf" --size 32M --argon2-ops 1 --argon2-mem 1 >/dev/null 2>&1
printf host-wrote-this >"$tmp/h.txt"
CRYPTOFS_PASSPHRASE=from-a-file "$cfs" put "$kf" "$tmp/h.txt" /h.txt >/dev/null 2>&1
printf 'from-a-file\nsecond line is not read\n' >"$tmp/key"
boot fstab-key-file "$kf" key=file:/key "boot holds h.txt host-wrote-this" --file "$tmp/key:/key"
boot fstab-key-file-write "$kf" key=file:/key "boot write g.txt guest-wrote-this" --file "$tmp/key:/key"
if [ "$(CRYPTOFS_PASSPHRASE=from-a-file "$cfs" get "$kf" /g.txt - 2>/dev/null)" = guest-wrote-this ]; then
	echo "PASS fstab-key-file-guest-file-on-host"
else echo "FAIL fstab-key-file-guest-file-on-host"; rc=1; fi
before=$(sha256sum "$kf")
echo not-the-passphrase >"$tmp/bad"
boot fstab-key-file-wrong "$kf" key=file:/key "boot unmounted" --file "$tmp/bad:/key"
if [ "$(sha256sum "$kf")" = "$before" ]; then echo "PASS fstab-key-file-wrong-disk-untouched"
else echo "FAIL fstab-key-file-wrong-disk-untouched"; rc=1; fi
exit $rc
