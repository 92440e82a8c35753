#!/usr/bin/env bash
# The cryptofs host tool: command line, exit statuses and messages, damage
# reports, passphrase change and recovery key, the FUSE mount, the
# format-compatibility images, and a short libFuzzer run over mutated images.
set -u
cfs="$BUILD/host/cryptofs"
fuzz="$BUILD/fuzz/fuzz_cryptofs"
tmp=$(mktemp -d)
mnt="$tmp/mnt"
fuse_pid=
cleanup() {
	if [ -n "$fuse_pid" ]; then
		fusermount3 -u "$mnt" 2>/dev/null
		wait "$fuse_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
unset CRYPTOFS_PASSPHRASE CRYPTOFS_NEW_PASSPHRASE
# the tool records generations under the XDG state directory: never the real home
export XDG_STATE_HOME="$tmp/state"

failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

# expect NAME STATUS CMD...: run CMD, want exit STATUS; on failure want
# exactly one line on stderr.
expect() {
	local name=$1 want=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "  $name: exit $got, want $want; stderr:"; sed 's/^/    /' "$tmp/err"
		return 1
	fi
	if [ "$want" != 0 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then
		echo "  $name: want one line on stderr, got:"; sed 's/^/    /' "$tmp/err"
		return 1
	fi
	return 0
}

t_basic() {
	local img=$tmp/a.img k=$tmp/key
	head -c 64 /dev/urandom >"$k"
	head -c 1000000 /dev/urandom >"$tmp/big"
	: >"$tmp/empty"
	expect mkfs 0 "$cfs" mkfs "$img" --size 4M --key-file "$k" || return 1
	grep -Eq '^  ([0-9a-f]{4}-){15}[0-9a-f]{4}$' "$tmp/out" || { echo "  no recovery key"; return 1; }
	cp "$tmp/out" "$tmp/recovery"
	expect mkdir 0 "$cfs" mkdir "$img" /docs --key-file "$k" || return 1
	expect put 0 "$cfs" put "$img" "$tmp/big" /docs/big --key-file "$k" || return 1
	expect put-empty 0 "$cfs" put "$img" "$tmp/empty" /empty --key-file "$k" || return 1
	expect put-replace 0 "$cfs" put "$img" "$tmp/key" /docs/big --key-file "$k" || return 1
	expect get 0 "$cfs" get "$img" /docs/big "$tmp/back" --key-file "$k" || return 1
	cmp -s "$tmp/back" "$k" || { echo "  replaced contents differ"; return 1; }
	expect put-again 0 "$cfs" put "$img" "$tmp/big" /docs/big --key-file "$k" || return 1
	expect get-stdout 0 "$cfs" --key-file "$k" get "$img" /docs/big - || return 1
	cmp -s "$tmp/out" "$tmp/big" || { echo "  contents differ"; return 1; }
	expect ls 0 "$cfs" ls "$img" --key-file "$k" || return 1
	grep -q '^d 0755 .* docs$' "$tmp/out" && grep -q '^- 0644 *0 empty$' "$tmp/out" ||
		{ echo "  ls output:"; cat "$tmp/out"; return 1; }
	expect ls-dir 0 "$cfs" ls "$img" /docs --key-file "$k" || return 1
	[ "$(cat "$tmp/out")" = "- 0644      1000000 big" ] || { cat "$tmp/out"; return 1; }
	expect stat 0 "$cfs" stat "$img" /docs/big --key-file "$k" || return 1
	grep -q '^type: file$' "$tmp/out" && grep -q '^size: 1000000$' "$tmp/out" || return 1
	expect fsck 0 "$cfs" fsck "$img" --key-file "$k" || return 1
	grep -q 'clean: format 2,' "$tmp/out" || return 1
	expect rm 0 "$cfs" rm "$img" /empty --key-file "$k" || return 1
	expect rm-missing 1 "$cfs" rm "$img" /empty --key-file "$k" || return 1
	expect get-missing 1 "$cfs" get "$img" /nope - --key-file "$k" || return 1
	expect rm-nonempty 1 "$cfs" rm "$img" /docs --key-file "$k" || return 1
	expect wrong-key 3 "$cfs" ls "$img" --key-file "$tmp/big" || return 1
	expect no-image 1 "$cfs" ls "$tmp/none" --key-file "$k" || return 1
	head -c 1M /dev/urandom >"$tmp/garbage"
	expect garbage 4 "$cfs" ls "$tmp/garbage" --key-file "$k" || return 1
	expect tiny 4 "$cfs" ls "$tmp/empty" --key-file "$k" || return 1
	expect usage-cmd 2 "$cfs" frob "$img" || return 1
	expect usage-args 2 "$cfs" get "$img" /x || return 1
	expect usage-size 2 "$cfs" mkfs "$tmp/b.img" --key-file "$k" || return 1
	expect usage-badsize 2 "$cfs" mkfs "$tmp/b.img" --size 12Q --key-file "$k" || return 1
	expect usage-format 2 "$cfs" mkfs "$tmp/b.img" --size 1M --format 3 --key-file "$k" || return 1
	expect mkfs-format1 0 "$cfs" mkfs "$tmp/f1.img" --size 4M --format 1 --key-file "$k" || return 1
	expect put-format1 0 "$cfs" put "$tmp/f1.img" "$tmp/big" /big --key-file "$k" || return 1
	expect fsck-format1 0 "$cfs" fsck "$tmp/f1.img" --key-file "$k" || return 1
	grep -q 'format 1,' "$tmp/out" || { echo "  --format 1 made: $(cat "$tmp/out")"; return 1; }
	expect get-format1 0 "$cfs" get "$tmp/f1.img" /big - --key-file "$k" || return 1
	cmp -s "$tmp/out" "$tmp/big" || { echo "  format 1 contents differ"; return 1; }
	expect ephemeral 2 "$cfs" mkfs "$tmp/b.img" --size 1M --ephemeral --key-file "$k" || return 1
	grep -q 'ephemeral' "$tmp/err" || return 1
	expect no-passphrase 2 "$cfs" ls "$img" </dev/null || return 1
	local rec
	rec=$(sed -n 2p "$tmp/recovery" | tr -d ' ')
	echo "$rec" >"$tmp/rec.txt"
	expect recovery 0 "$cfs" ls "$img" /docs --recovery-key "$tmp/rec.txt" || return 1
	expect recovery-stdin 0 "$cfs" ls "$img" /docs --recovery-key - <"$tmp/rec.txt" || return 1
	# never on the command line (ps, shell history)
	expect recovery-argv 2 "$cfs" ls "$img" /docs --recovery-key "$rec" || return 1
	grep -q 'FILE' "$tmp/err" || return 1
	local bad=${rec%?}0
	[ "$bad" != "$rec" ] || bad=${rec%?}1
	echo "$bad" >"$tmp/rec-bad.txt"
	expect recovery-bad 3 "$cfs" ls "$img" --recovery-key "$tmp/rec-bad.txt" || return 1
	expect argon2-bound 2 "$cfs" mkfs "$tmp/b.img" --size 1M --argon2-mem 2048 || return 1
	expect argon2-ops-bound 2 "$cfs" mkfs "$tmp/b.img" --size 1M --argon2-ops 11 || return 1
	"$cfs" --help | grep -q 'mount IMAGE DIR' || return 1
}

t_passphrase() {
	local img=$tmp/p.img
	export CRYPTOFS_PASSPHRASE="first secret"
	expect mkfs 0 "$cfs" mkfs "$img" --size 1M --argon2-ops 1 --argon2-mem 1 || return 1
	# below libsodium's MODERATE cost: a warning, once
	[ "$(grep -c 'warning: .*below MODERATE' "$tmp/err")" = 1 ] || { cat "$tmp/err"; return 1; }
	sed -n 2p "$tmp/out" >"$tmp/rec1"
	echo hi >"$tmp/hi"
	expect put 0 "$cfs" put "$img" "$tmp/hi" /hi || return 1
	grep -q 'below MODERATE' "$tmp/err" || return 1
	CRYPTOFS_PASSPHRASE=nope expect wrong 3 "$cfs" ls "$img" || return 1
	expect passwd 0 env CRYPTOFS_NEW_PASSPHRASE="second secret" "$cfs" passwd "$img" \
		--argon2-ops 1 --argon2-mem 1 || return 1
	expect old-pass 3 "$cfs" ls "$img" || return 1
	export CRYPTOFS_PASSPHRASE="second secret"
	expect new-pass 0 "$cfs" get "$img" /hi - || return 1
	[ "$(cat "$tmp/out")" = hi ] || return 1
	expect recovery 0 "$cfs" get "$img" /hi - --recovery-key "$tmp/rec1" || return 1
	# passwd replaces the recovery key: the old one stops working
	expect new-recovery 0 "$cfs" passwd "$img" --new-recovery-key || return 1
	sed -n 2p "$tmp/out" >"$tmp/rec2"
	grep -Eq '^  ([0-9a-f]{4}-){15}[0-9a-f]{4}$' "$tmp/rec2" && ! cmp -s "$tmp/rec1" "$tmp/rec2" ||
		{ cat "$tmp/out"; return 1; }
	expect old-recovery 3 "$cfs" get "$img" /hi - --recovery-key "$tmp/rec1" || return 1
	expect new-recovery-opens 0 "$cfs" get "$img" /hi - --recovery-key - <"$tmp/rec2" || return 1
	[ "$(cat "$tmp/out")" = hi ] || return 1
	expect pass-after-recovery 0 "$cfs" ls "$img" || return 1
	unset CRYPTOFS_PASSPHRASE
}

# mkfs and ls reading the passphrase from a terminal (a pty), without echo.
t_prompt() {
	local img=$tmp/t.img
	python3 - "$cfs" "$img" <<'PY' || return 1
import os, pty, signal, sys
signal.alarm(30)   # a hang is a failure, not a stuck suite
def run(args, answers):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[1], [sys.argv[1]] + args)
    out = b""
    for prompt, answer in answers:
        while prompt not in out:
            out += os.read(fd, 1024)
        os.write(fd, answer)
    try:
        while True:
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if b"tty secret" in out:
        sys.exit("passphrase echoed")
    return status, out
st, out = run(["mkfs", sys.argv[2], "--size", "1M", "--argon2-ops", "1", "--argon2-mem", "1"],
              [(b"Passphrase: ", b"tty secret\n"), (b"Again: ", b"tty secret\n")])
if st != 0 or b"Recovery key" not in out:
    sys.exit("mkfs via prompt failed: %d %r" % (st, out))
st, out = run(["ls", sys.argv[2]], [(b"Passphrase: ", b"wrong\n")])
if st != 3:
    sys.exit("wrong passphrase via prompt: %d" % st)
PY
	CRYPTOFS_PASSPHRASE="tty secret" expect ls-after-prompt 0 "$cfs" ls "$img"
}

t_damage() {
	local img=$tmp/d.img k=$tmp/key
	expect mkfs 0 "$cfs" mkfs "$img" --size 2M --key-file "$k" || return 1
	expect put 0 "$cfs" put "$img" "$tmp/big" /victim --key-file "$k" || return 1
	expect fsck 0 "$cfs" fsck "$img" --key-file "$k" || return 1
	local gen
	gen=$(sed -n 's/.*generation \([0-9]*\).*/\1/p' "$tmp/out")
	cp "$img" "$tmp/old.img"
	expect mkdir 0 "$cfs" mkdir "$img" /newer --key-file "$k" || return 1
	cp "$tmp/old.img" "$tmp/rolled.img"
	expect rollback 4 env XDG_STATE_HOME="$tmp/other-state" "$cfs" ls "$tmp/rolled.img" \
		--key-file "$k" --min-generation $((gen + 1)) || return 1
	grep -q rollback "$tmp/err" || return 1
	# the file fills the middle of the image: damage one block there
	printf 'XXXXXXXX' | dd of="$img" bs=1 seek=$((200 * 4096 + 100)) conv=notrunc status=none
	expect get-damaged 4 "$cfs" get "$img" /victim "$tmp/x" --key-file "$k" || return 1
	grep -q '/victim: damaged block 200 ' "$tmp/err" || { cat "$tmp/err"; return 1; }
	expect fsck-damaged 4 "$cfs" fsck "$img" --key-file "$k" || return 1
	grep -q '^/victim: block 200: damaged block lost data at offset' "$tmp/out" ||
		{ cat "$tmp/out"; return 1; }
}

t_compat() {
	local ok=0
	for img in tests/fs/images/v*.cfs; do
		local v want
		v=$(basename "$img" .cfs)
		cp "$img" "$tmp/compat.img"
		CRYPTOFS_PASSPHRASE="compat-$v" expect "fsck $v" 0 "$cfs" fsck "$tmp/compat.img" || return 1
		grep -q "format ${v#v}," "$tmp/out" || { echo "  $v: fsck does not say format ${v#v}"; return 1; }
		want="tests/fs/images/$v.expected"
		CRYPTOFS_PASSPHRASE="compat-$v" tests/fs/images/expected.sh "$cfs" "$tmp/compat.img" \
			>"$tmp/got" 2>"$tmp/got.err"
		diff -u "$want" "$tmp/got" || return 1
		# made at 1 MiB: every open warns about the low Argon2id cost, nothing else
		grep -v 'warning: .*below MODERATE' "$tmp/got.err" && return 1
		grep -q 'below MODERATE' "$tmp/got.err" || return 1
		ok=$((ok + 1))
	done
	[ $ok -ge 2 ]
}

fuse_works() {
	[ -c /dev/fuse ] && command -v fusermount3 >/dev/null
}

# start_mount IMAGE OPTIONS...: mount IMAGE at $mnt in the foreground, in
# the background of this shell (fuse_pid), and wait for it.
start_mount() {
	local img=$1
	shift
	mkdir -p "$mnt"
	"$cfs" mount "$img" "$mnt" -f "$@" 2>"$tmp/fuse.err" &
	fuse_pid=$!
	for _ in $(seq 50); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	cat "$tmp/fuse.err"
	return 1
}

t_fuse() {
	local img=$tmp/f.img k=$tmp/key
	expect mkfs 0 "$cfs" mkfs "$img" --size 8M --key-file "$k" || return 1
	expect mount-nodir 1 "$cfs" mount "$img" "$tmp/nonexistent" --key-file "$k" || return 1
	expect mount-badopt 1 "$cfs" mount "$img" "$tmp" -o no_such_option_xyz --key-file "$k" ||
		return 1
	start_mount "$img" --key-file "$k" || return 1
	mkdir "$mnt/d" && cp "$tmp/big" "$mnt/d/big" && echo one >"$mnt/f" && echo two >"$mnt/g" &&
		mv "$mnt/g" "$mnt/f" && ln -s /d/big "$mnt/l" && mkdir "$mnt/d/e" && rmdir "$mnt/d/e" &&
		dd if=/dev/zero of="$mnt/sparse" bs=1 count=1 seek=100M status=none || return 1
	[ "$(cat "$mnt/f")" = two ] && [ ! -e "$mnt/g" ] && cmp -s "$mnt/d/big" "$tmp/big" &&
		[ "$(readlink "$mnt/l")" = /d/big ] && [ "$(stat -c %s "$mnt/sparse")" = 104857601 ] ||
		return 1
	[ "$(ls "$mnt" | tr '\n' ' ')" = "d f l sparse " ] || { ls -la "$mnt"; return 1; }
	# parallel readers (decrypting outside the core lock) while a writer commits
	local pids=""
	for i in 1 2 3; do cat "$mnt/d/big" >"$tmp/r$i" & pids="$pids $!"; done
	for i in 1 2 3 4 5; do
		head -c 300000 /dev/urandom >"$mnt/w$i" && sync "$mnt/w$i" && rm "$mnt/w$i"
	done
	wait $pids
	for i in 1 2 3; do cmp -s "$tmp/r$i" "$tmp/big" || { echo "  parallel read $i differs"; return 1; }; done
	# the committer makes a change durable within about a second, unasked
	# (no fsync, the file stays open); wait up to 10 s for a loaded machine
	exec 7>"$mnt/c" && echo committed >&7 || return 1
	local seen=
	for _ in $(seq 100); do
		sleep 0.1
		"$cfs" get "$img" /c - --key-file "$k" >"$tmp/out" 2>/dev/null || continue
		[ "$(cat "$tmp/out")" = committed ] && { seen=1; break; }
	done
	exec 7>&-
	[ -n "$seen" ] || { echo "  not committed within 10 s"; return 1; }
	fusermount3 -u "$mnt" || return 1
	wait "$fuse_pid" || return 1
	fuse_pid=
	expect fsck 0 "$cfs" fsck "$img" --key-file "$k" || return 1
	expect get 0 "$cfs" get "$img" /d/big - --key-file "$k" || return 1
	cmp -s "$tmp/out" "$tmp/big"
}

# A long-running mount forgets CRYPTOFS_PASSPHRASE: neither its
# environment nor /proc/PID/environ (the initial block) holds it.
t_fuse_env() {
	local img=$tmp/e.img pw="env-secret-$$-passphrase"
	CRYPTOFS_PASSPHRASE=$pw expect mkfs 0 "$cfs" mkfs "$img" --size 2M --argon2-ops 1 \
		--argon2-mem 1 || return 1
	CRYPTOFS_PASSPHRASE=$pw start_mount "$img" || return 1
	local leaked=
	grep -qa "$pw" "/proc/$fuse_pid/environ" && leaked=1
	tr '\0' '\n' <"/proc/$fuse_pid/environ" | grep -q '^CRYPTOFS_PASSPHRASE=.' && leaked=1
	echo x >"$mnt/x" || leaked=1
	fusermount3 -u "$mnt" || return 1
	wait "$fuse_pid" || return 1
	fuse_pid=
	[ -z "$leaked" ] || { echo "  the mount still holds the passphrase in its environment"; return 1; }
}

t_fuzz_short() {
	"$fuzz" -seed=1 -max_total_time=5 -timeout=10 >"$tmp/fuzz.log" 2>&1 ||
		{ tail -30 "$tmp/fuzz.log"; return 1; }
	grep -q 'Done' "$tmp/fuzz.log"
}

# tamper_header IMAGE generation|argon2: change that header field in both
# superblock slots and make their unkeyed checksums whole again.
tamper_header() {
	python3 - "$1" "$2" <<'PY'
import hashlib, struct, sys
path, what = sys.argv[1], sys.argv[2]
with open(path, "r+b") as f:
    for slot in (0, 1):
        f.seek(slot * 4096)
        sb = bytearray(f.read(4096))
        if what == "generation":
            sb[16:24] = struct.pack("<Q", struct.unpack("<Q", sb[16:24])[0] + 1000)
        else:
            sb[52:60] = struct.pack("<II", 0xffffffff, 1 << 22)
        sb[4064:4096] = hashlib.blake2b(bytes(sb[:4064]), digest_size=32).digest()
        f.seek(slot * 4096)
        f.write(sb)
PY
}

# A tampered header is damage (exit 4), not a wrong key (3): a field the
# key wrappings do not cover changed in both slots with the unkeyed
# checksum made whole again, and a raised Argon2id cost (would hang).
t_tamper_header() {
	local img=$tmp/h.img k=$tmp/key
	expect mkfs 0 "$cfs" mkfs "$img" --size 1M --key-file "$k" || return 1
	sed -n 2p "$tmp/out" >"$tmp/hrec"
	tamper_header "$img" generation || return 1
	expect keyfile-tampered 4 "$cfs" ls "$img" --key-file "$k" || return 1
	expect recovery-tampered 4 "$cfs" ls "$img" --recovery-key "$tmp/hrec" || return 1
	CRYPTOFS_PASSPHRASE=x expect passphrase-on-keyfile 3 "$cfs" ls "$img" || return 1
	local pimg=$tmp/hp.img
	CRYPTOFS_PASSPHRASE=pw expect mkfs-pass 0 "$cfs" mkfs "$pimg" --size 1M \
		--argon2-ops 1 --argon2-mem 1 || return 1
	tamper_header "$pimg" argon2 || return 1
	CRYPTOFS_PASSPHRASE=pw expect argon2-tampered 4 timeout 20 "$cfs" ls "$pimg" || return 1
	# bytes changed without a whole checksum: both slots torn
	printf 'XX' | dd of="$img" bs=1 seek=40 conv=notrunc status=none
	printf 'XX' | dd of="$img" bs=1 seek=$((4096 + 40)) conv=notrunc status=none
	expect torn 4 "$cfs" ls "$img" --key-file "$k" || return 1
	# authentic superblocks over a damaged tree: said as such, not "no superblock"
	expect mkfs-tree 0 "$cfs" mkfs "$img" --size 1M --key-file "$k" || return 1
	head -c $((254 * 4096)) /dev/zero | tr '\0' 'Z' |
		dd of="$img" bs=4096 seek=2 conv=notrunc status=none
	expect damaged-tree 4 "$cfs" ls "$img" --key-file "$k" || return 1
	grep -q 'superblock is authentic but the tree it names is damaged' "$tmp/err" ||
		{ cat "$tmp/err"; return 1; }
}

# Rollback: the newest generation of each volume is kept under the XDG
# state directory; restoring an older copy (which brings back a deleted,
# crypto-shredded file) is refused unless --allow-rollback says otherwise.
t_rollback() {
	local img=$tmp/r.img k=$tmp/key
	expect mkfs 0 "$cfs" mkfs "$img" --size 1M --key-file "$k" || return 1
	expect put 0 "$cfs" put "$img" "$tmp/key" /secret --key-file "$k" || return 1
	cp "$img" "$tmp/r-old.img"
	expect rm 0 "$cfs" rm "$img" /secret --key-file "$k" || return 1
	ls "$XDG_STATE_HOME"/cryptofs/ | grep -Eq '^[0-9a-f]{32}$' || { ls -R "$tmp/state"; return 1; }
	cp "$tmp/r-old.img" "$img"
	expect restored 4 "$cfs" ls "$img" --key-file "$k" || return 1
	grep -q 'rollback.*--allow-rollback' "$tmp/err" || { cat "$tmp/err"; return 1; }
	expect restored-get 4 "$cfs" get "$img" /secret - --key-file "$k" || return 1
	expect allowed 0 "$cfs" ls "$img" --key-file "$k" --allow-rollback || return 1
	grep -q secret "$tmp/out" || return 1
	# accepted once on purpose, the older copy is now the one remembered
	expect after-allowed 0 "$cfs" ls "$img" --key-file "$k" || return 1
	# without XDG_STATE_HOME the record lives in ~/.local/state
	mkdir -p "$tmp/home"
	expect home-mkfs 0 env -u XDG_STATE_HOME HOME="$tmp/home" "$cfs" mkfs "$tmp/r2.img" \
		--size 1M --key-file "$k" || return 1
	expect home-mkdir 0 env -u XDG_STATE_HOME HOME="$tmp/home" "$cfs" mkdir "$tmp/r2.img" /d \
		--key-file "$k" || return 1
	ls "$tmp/home/.local/state/cryptofs/" | grep -Eq '^[0-9a-f]{32}$' || return 1
	local f
	f=$(ls "$tmp/home/.local/state/cryptofs/"*)
	[ "$(stat -c %a "$tmp/home/.local/state/cryptofs")" = 700 ] || return 1
	expect home-fsck 0 env -u XDG_STATE_HOME HOME="$tmp/home" "$cfs" fsck "$tmp/r2.img" \
		--key-file "$k" || return 1
	grep -q "generation $(cat "$f")," "$tmp/out" || { cat "$tmp/out" "$f"; return 1; }
}

for t in t_basic t_passphrase t_prompt t_damage t_compat t_tamper_header t_rollback; do
	if $t; then pass "cryptofs_tool_${t#t_}"; else fail "cryptofs_tool_${t#t_}" "see log"; fi
done
if fuse_works; then
	if t_fuse; then pass cryptofs_fuse_mount; else fail cryptofs_fuse_mount "see log"; fi
	if t_fuse_env; then pass cryptofs_fuse_env; else fail cryptofs_fuse_env "see log"; fi
else
	echo "SKIP cryptofs_fuse_mount: no /dev/fuse or fusermount3 here"
fi
if t_fuzz_short; then pass cryptofs_fuzz_short; else fail cryptofs_fuzz_short "see log"; fi
exit $failed
