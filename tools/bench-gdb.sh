# Shell helpers for reading a guest's TSC at its kernel's first instruction
# through QEMU's gdb stub (sourced by tools/bench-kernel and
# tools/bench-boot, not run).  The kernel cannot read the TSC there itself,
# so QEMU waits for a debugger (-S, loopback port) and gdb stops the CPU at
# that instruction once (hardware breakpoint), points it at a few
# instructions written in free low memory that read the TSC into physical
# 0x600 and go on to that first instruction, and lets it run.  A stop
# moves the guest clock on (icount jumps to the next timer deadline while
# the VM waits), so the TSC is read after the one stop.  The caller sets B
# (its build folder).

# free_port: a loopback TCP port nobody listens on
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
	echo 47123
}
# wait_listen PORT: until something listens on loopback PORT (30 s at most)
wait_listen() {
	for _ in $(seq 300); do
		ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return
		sleep 0.1
	done
}
# set_entry ELF SYMBOL: points the ELF header's entry (8 bytes at 24) at SYMBOL
set_entry() {
	local a b s=
	a=$(nm "$1" | sed -n "s/^\([0-9a-f]*\) T $2\$/\1/p")
	[ -n "$a" ] || { echo "bench: no $2 in $1" >&2; exit 1; }
	for b in $(printf '%016x' "0x$a" | sed 's/../& /g'); do s="\\x$b$s"; done
	printf "$s" | dd of="$1" bs=1 seek=24 conv=notrunc status=none
}
# main_of ELF: the address of main in ELF
main_of() { nm "$1" | sed -n 's/^\([0-9a-f]*\) T main$/0x\1/p'; }
# bytes HEX...: gdb commands storing the bytes from linear address $at on
bytes() { local i=0 b; for b in "$@"; do echo "set *(unsigned char *)(\$at + $i) = 0x$b"; i=$((i + 1)); done; }
# tsc_stub KIND ENTRY: gdb commands, for a CPU stopped at the kernel's
# first instruction ENTRY, that make it read the TSC into 0x600 and go on
# there.  KIND is mb2 (32-bit protected mode, EAX holds the Multiboot2
# magic) or linux16 (real mode at 0x1020:0000).
tsc_stub() {
	if [ "$1" = mb2 ]; then
		# rdtsc; mov [0x600],eax; mov [0x604],edx; mov eax,magic; jmp entry
		echo "set \$at = 0x7000"
		bytes 0f 31 a3 00 06 00 00 89 15 04 06 00 00 b8 89 62 d7 36
		printf 'set *(unsigned char *)($at + 18) = 0xe9\nset *(int *)($at + 19) = %d - ($at + 23)\n' "$2"
		echo "set \$pc = \$at"
	else
		# rdtsc; push ds; push 0; pop ds; mov [0x600],eax; mov [0x604],edx;
		# pop ds; jmp far 1020:0000 (from 1020:f000)
		echo "set \$at = 0x1f200"
		bytes 0f 31 1e 6a 00 1f 66 a3 00 06 66 89 16 04 06 1f ea 00 00 20 10
		echo "set \$pc = 0xf000"
	fi
}
# gdb_head PORT: the start of every gdb script here
gdb_head() {
	printf '%s\n' "set pagination off" "set confirm off" "set architecture i386:x86-64" \
		"target remote 127.0.0.1:$1"
}
# tsc_at_600: reads "monitor xp /2wx 0x600" output on stdin, prints the TSC
tsc_at_600() {
	sed -n 's/^0*600: 0x\([0-9a-f]*\) 0x\([0-9a-f]*\).*/\1 \2/p' |
		{ read -r lo hi && echo $(( (16#$hi << 32) | 16#$lo )); }
}
# kernel_entry_tsc KIND ENTRY LATER LAUNCHER...: prints the TSC at the
# kernel's first instruction ENTRY (KIND as for tsc_stub); LATER is an
# address the CPU reaches after the probe's first instruction, where a
# second stop reads 0x600 back through QEMU's monitor, and the guest runs
# on to its end.  The launcher's output goes to $B/probe-out.txt.
kernel_entry_tsc() {
	local kind=$1 entry=$2 later=$3 port script
	shift 3
	port=$(free_port)
	script=$(mktemp)
	{
		gdb_head "$port"
		echo "hbreak *$entry"
		echo "continue"
		echo "delete"
		tsc_stub "$kind" "$entry"
		echo "hbreak *$later"
		echo "continue"
		echo "monitor xp /2wx 0x600"
		echo "detach"
	} > "$script"
	"$@" -gdb "tcp:127.0.0.1:$port" -S > "$B/probe-out.txt" 2>/dev/null &
	local qemu=$!
	wait_listen "$port"
	timeout 900 gdb -q -batch -x "$script" 2>&1 | tsc_at_600
	wait "$qemu" || true		# the guest runs on to its end
	rm -f "$script"
}
