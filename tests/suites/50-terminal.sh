#!/usr/bin/env bash
# The terminal and the BusyBox userland of build/exoswarm.iso: `make run`'s
# image booted with its serial console on a private Unix socket, and a
# scripted session typed into it (tests/tools/serial-session): the prompt,
# commands, a file from the initramfs, ^C and ^D, canonical-mode editing
# and raw mode.  The transcript is kept in build/test-logs/terminal/.
set -u
B=${BUILD:-build}
logdir=$B/test-logs/terminal
mkdir -p "$logdir"
if [ ! -f "$B/exoswarm.iso" ]; then
	echo "FAIL terminal: no $B/exoswarm.iso (make iso)"
	exit 1
fi
tests/tools/serial-session --iso "$B/exoswarm.iso" --transcript "$logdir/session.txt" \
	--timeout 900 --wait 60
