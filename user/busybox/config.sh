#!/bin/sh
# Writes ExoSwarm's BusyBox configuration into the build directory $1 (which
# already holds BusyBox's own `make defconfig` result, .config): the changes
# below are ours, applied to BusyBox's defaults; `make oldconfig` then fills
# in whatever they expose.  Every option turned off says why.
set -e
cfg="$1/.config"
[ -f "$cfg" ] || { echo "config.sh: no $cfg (run BusyBox's defconfig first)" >&2; exit 1; }

# set_opt NAME VALUE: y, n (off), or a quoted string / number
set_opt() {
	sed -i -e "/^CONFIG_$1=/d" -e "/^# CONFIG_$1 is not set/d" "$cfg"
	if [ "$2" = n ]; then
		echo "# CONFIG_$1 is not set" >> "$cfg"
	else
		echo "CONFIG_$1=$2" >> "$cfg"
	fi
}

# One static program; tools/exo-cc links it with the library OS.
set_opt STATIC y
set_opt PIE n
set_opt LFS y
# The kernel's UAPI headers (linux/, asm/) come from a directory of links
# that busybox.mk makes, since musl-gcc does not look in /usr/include.
set_opt EXTRA_CFLAGS "\"-isystem $1/kheaders\""

# Applets run inside the shell without exec: NOFORK applets (echo, test,
# printf...) in the shell's own process, NOEXEC ones (ls, cat...) in a
# forked child; the rest re-run /bin/busybox (there is no /proc/self/exe).
set_opt FEATURE_PREFER_APPLETS y
set_opt FEATURE_SH_STANDALONE y
set_opt FEATURE_SH_NOFORK y
set_opt BUSYBOX_EXEC_PATH '"/bin/busybox"'

# The shell: ash, with line editing and history.
set_opt SH_IS_ASH y
set_opt BASH_IS_NONE y
set_opt FEATURE_EDITING y
set_opt FEATURE_EDITING_HISTORY 255
set_opt FEATURE_EDITING_SAVEHISTORY n	# no persistent home directory yet
set_opt FEATURE_TAB_COMPLETION y
set_opt FEATURE_EDITING_FANCY_PROMPT y
# Job control: ^Z, jobs, fg and bg (docs/LIBOS.md, "Job control").
set_opt ASH_JOB_CONTROL y
# Our own /sbin/init (user/init/init.c) starts the shell; BusyBox's init,
# linuxrc and the init-like supervisors stay off.
set_opt INIT n
set_opt LINUXRC n
set_opt FEATURE_INIT_SCTTY n

# Off because they cannot build against musl or make no sense here:
set_opt SELINUX n
set_opt PAM n
set_opt FEATURE_MOUNT_NFS n		# needs Sun RPC
set_opt FEATURE_INETD_RPC n
set_opt FEATURE_UTMP n			# no login records in the guest
set_opt FEATURE_WTMP n
