# Shell helpers shared by tools/bench-posix and tools/bench-net (sourced,
# not run): the Linux guest peer under the same QEMU flags as ExoSwarm's
# (tools/qemu: q35, TCG, -cpu max, no NIC unless asked), its initrd, and
# reading "bench NAME VALUE" lines.  The caller sets B (its build folder).
kernel=${BENCH_LINUX:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)}
[ -n "$kernel" ] || { echo "bench: no Linux kernel in /boot (tools/deps.sh bench installs one)" >&2; exit 1; }
moddir=/lib/modules/${kernel##*/vmlinuz-}
icount="-icount shift=0,sleep=off"

# linux_qemu SECONDS INITRD SERIAL-FILE INIT-ARGS QEMU-OPTIONS...: boots the
# Linux guest with INITRD; INIT-ARGS are passed to its /init
linux_qemu() {
	local secs=$1 initrd=$2 out=$3 args=$4; shift 4
	timeout "$secs" qemu-system-x86_64 -machine q35 -accel tcg -cpu max -no-reboot \
		-display none -monitor none -nic none -m 512M -smp 1 -kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 -- $args" -serial "file:$out" "$@" </dev/null || true
}

# initrd_modules DIR MODULE...: copies each kernel module (path under
# kernel/, without .ko) and what it depends on into DIR/modules, numbered
# in the order they must be loaded
initrd_modules() {
	local dir=$1 m; shift
	declare -gA bench_seen=()
	bench_n=0
	mkdir -p "$dir/modules"
	for m in "$@"; do bench_add_module "$dir" "kernel/$m.ko"; done
}
bench_add_module() {
	local dir=$1 m=$2 d
	[ -n "${bench_seen[$m]:-}" ] && return
	bench_seen[$m]=1
	for d in $(sed -n "s|^$m: *||p" "$moddir/modules.dep" | tr ' ' '\n' | tac); do bench_add_module "$dir" "$d"; done
	[ -f "$moddir/$m" ] || { echo "bench: $moddir/$m missing" >&2; exit 1; }
	cp "$moddir/$m" "$dir/modules/$(printf %02d "$bench_n")-$(basename "$m")"
	bench_n=$((bench_n + 1))
}

# pack DIR FILE: DIR as a gzipped cpio (newc) archive
pack() { (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) > "$2"; }

# val FILE NAME: the last "bench NAME VALUE" in FILE
val() { tr -d '\r' < "$1" | sed -n "s/^bench $2 \([0-9.]*\).*/\1/p" | tail -n 1; }
# ratio A B: A / B to three places, or - when either is missing
ratio() { awk -v a="${1:--}" -v b="${2:--}" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }'; }
# verdict A B OP TARGET: "met" or "not met" for A / B OP TARGET (OP is <=
# or >=), on the exact quotient: a ratio rounded for the table first
# would call 0.503 met against 0.5
verdict() {
	awk -v a="${1:--}" -v b="${2:--}" -v op="$3" -v t="$4" 'BEGIN {
		if (a == "-" || b == "-" || b == 0) { print "no figure"; exit }
		r = a / b
		if ((op == "<=" && r <= t) || (op == ">=" && r >= t)) print "met"; else print "not met" }'
}
