#!/usr/bin/env bash
# The node's disk at boot, as `make run` attaches it (docs/CRYPTOFS.md,
# "At boot"): build/exoswarm.iso booted with a disk, init's questions
# answered on the serial console (tests/tools/disk-session).  A blank disk
# is left alone when the operator does not confirm, formatted when they
# do; the shell writes files in /data and commits them with `fsync FILE`
# and `sync` (commands of their own, fork and execve); the VM is powered
# off, a new one boots from the same disk, refuses a wrong passphrase,
# takes the right one, and `cat` reads the files back.  A disk with a FAT
# on it is not formatted and not written.  Transcripts in
# build/test-logs/terminal-disk/.
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
exit $rc
