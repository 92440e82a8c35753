#!/usr/bin/env bash
# QEMU boot tests of the release kernel image: firmware {SeaBIOS, OVMF} x
# medium {CD, USB stick}, memory sizes (32 MiB, 4 GiB, 6 GiB past the 4 GiB
# hole), the legacy-PIC fallback, and deliberate faults.  Each boot runs the
# in-kernel self-tests or a fault and must power off through isa-debug-exit
# with the expected status; the serial log's banner is parsed and checked.
set -u
B=${BUILD:-build}
logdir=$B/test-logs/boot
mkdir -p "$logdir"

# The serial log without GRUB's terminal escapes and carriage returns.
clean_log() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }

fail() {
	echo "FAIL $1: $2"
	echo "--- last lines of the serial log ($3)"
	clean_log "$3" | tail -n 30 | sed 's/^/  | /'
}

# boot NAME TEST EXPECTED-STATUS TIMEOUT [tools/qemu options...]
# Sets $log to the cleaned serial log; returns 0 when the exit status matched.
boot() {
	local name=$1 test=$2 want=$3 tmo=$4
	shift 4
	raw="$logdir/$name.raw"
	log="$logdir/$name.log"
	tools/qemu --iso "$B/test-iso/$test.iso" --log "$raw" --timeout "$tmo" "$@" >"$logdir/$name.qemu" 2>&1
	rc=$?
	clean_log "$raw" >"$log"
	if [ $rc -ne "$want" ]; then
		case $rc in
		124) fail "$name" "no power-off within ${tmo}s (hang?)" "$raw" ;;
		*) fail "$name" "QEMU exit status $rc, expected $want" "$raw"; cat "$logdir/$name.qemu" ;;
		esac
		return 1
	fi
	return 0
}

# check_banner NAME FIRMWARE RAM-MIB MIN-USABLE-MIB: the first kernel line,
# the CPU and security lines, and the usable memory.
check_banner() {
	local name=$1 fw=$2 ram=$3 min=$4
	local line usable
	line=$(grep -m1 -E '^ExoSwarm ' "$log")
	if ! [[ $line =~ ^ExoSwarm\ [0-9][^\ ]*\ \((BIOS|UEFI)\)\ ([0-9]+)\ MiB\ usable$ ]]; then
		fail "$name" "no banner of the form 'ExoSwarm VERSION (BIOS|UEFI) N MiB usable'" "$raw"
		return 1
	fi
	usable=${BASH_REMATCH[2]}
	if [ "${BASH_REMATCH[1]}" != "$fw" ]; then
		fail "$name" "banner says ${BASH_REMATCH[1]}, booted with $fw" "$raw"; return 1
	fi
	if [ "$usable" -gt "$ram" ] || [ "$usable" -lt "$min" ]; then
		fail "$name" "$usable MiB usable with $ram MiB of RAM (expected $min..$ram)" "$raw"; return 1
	fi
	if ! grep -A2 -m1 -E '^ExoSwarm ' "$log" | grep -q '^cpu: ' ||
	   ! grep -A2 -m1 -E '^ExoSwarm ' "$log" | grep -qE '^security: NX (yes|no), SMEP (yes|no), SMAP (yes|no), UMIP (yes|no), RDRAND (yes|no), RDSEED (yes|no), FSGSBASE (yes|no)$'; then
		fail "$name" "the cpu: and security: lines do not follow the banner" "$raw"; return 1
	fi
	return 0
}

# selftest NAME FIRMWARE RAM-MIB MIN-USABLE-MIB TIMEOUT [qemu options]
selftest() {
	local name=$1 fw=$2 ram=$3 min=$4 tmo=$5
	shift 5
	boot "$name" self 33 "$tmo" --mem "${ram}M" "$@" || return
	check_banner "$name" "$fw" "$ram" "$min" || return
	if ! grep -q '^selftest: [1-9][0-9]* passed, 0 failed$' "$log"; then
		fail "$name" "self-tests did not all pass" "$raw"; return
	fi
	echo "PASS $name ($(grep -m1 '^ExoSwarm ' "$log" | sed 's/.*) //'))"
}

# fault NAME TEST VECTOR-TEXT ADDRESS-TEXT SYMBOL
fault() {
	local name=$1 test=$2 vec=$3 addr=$4 sym=$5
	boot "$name" "$test" 37 30 --mem 128M || return
	if ! grep -q "^FATAL: exception $vec" "$log"; then
		fail "$name" "no report of exception $vec" "$raw"; return
	fi
	if [ -n "$addr" ] && ! grep -q "$addr" "$log"; then
		fail "$name" "report lacks '$addr'" "$raw"; return
	fi
	if ! grep -A3 '^backtrace:' "$log" | grep -q " $sym+0x"; then
		fail "$name" "backtrace does not name $sym" "$raw"; return
	fi
	if ! grep -q '^  rax [0-9a-f]\{16\}' "$log"; then
		fail "$name" "registers are not printed" "$raw"; return
	fi
	echo "PASS $name"
}

selftest bios-cd-256M BIOS 256 240 30
selftest bios-usb-256M BIOS 256 240 30 --usb
selftest uefi-cd-256M UEFI 256 224 90 --uefi
selftest uefi-usb-256M UEFI 256 224 90 --uefi --usb
selftest bios-cd-32M BIOS 32 24 30
selftest bios-cd-4G BIOS 4096 4000 30
selftest bios-cd-6G BIOS 6144 6000 30
selftest uefi-cd-6G UEFI 6144 6000 90 --uefi
selftest bios-cd-legacy-pic BIOS 256 240 30 -- -cpu max,-apic,-x2apic
if grep -q '^irq: legacy 8259 PIC' "$logdir/bios-cd-legacy-pic.log"; then
	echo "PASS legacy-pic-fallback-used"
else
	echo "FAIL legacy-pic-fallback-used: the kernel did not fall back to the PIC"
fi
# A CPU that never starts: test=smp-missing sends the last of three CPUs
# no STARTUP; the kernel must name it on the console a second later and
# count two of three running (the self-test checks the counts).
if boot smp-missing-cpu smp-missing 33 60 --mem 128M -- -smp 3; then
	if ! grep -q '^smp: the cpu with apic id 2 did not start' "$log"; then
		fail smp-missing-cpu "no console line naming the cpu that did not start" "$raw"
	elif ! grep -q '^selftest: [1-9][0-9]* passed, 0 failed$' "$log"; then
		fail smp-missing-cpu "self-tests did not all pass" "$raw"
	else
		echo "PASS smp-missing-cpu-reported"
	fi
fi
# A calibration window stretched over three PIT wraps (test=clock-stall:
# boot work or a host stall longer than the PIT's 55 ms period): the
# clock must still run at the HPET's rate, within 2 %.
if boot clock-stall clock-stall 33 60 --mem 128M; then
	if grep -q '^selftest: [1-9][0-9]* passed, 0 failed$' "$log"; then
		echo "PASS clock-rate-after-stalled-calibration"
	else
		fail clock-stall "self-tests did not all pass" "$raw"
	fi
fi
fault fault-pagefault pagefault '14 (#PF page fault)' 'fault address (cr2) 0x000000000dead000: page not present on write' selftest_page_fault
fault fault-divide divide '0 (#DE divide error)' '' selftest_divide_fault
fault fault-stack-overflow stack '8 (#DF double fault)' '' selftest_stack_overflow
