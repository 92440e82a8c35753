#!/usr/bin/env bash
# Installs what ExoSwarm needs to build and test, and unpacks the Debian source
# packages of lwIP, libsodium and BusyBox into build/third_party/.  Idempotent
# and quiet when everything is already there.  LWIP_SRC, SODIUM_SRC and
# BUSYBOX_SRC point the build at source trees elsewhere (other distributions)
# and skip apt-get source.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
third="$top/build/third_party"

# Debian packages: toolchain, emulator, firmware, boot loader, image tools,
# musl, a PSF console font, host libraries for the portable cores, the
# tools that build libsodium from its source package, and cpio for the
# image's initramfs; tshark for the dissector, and for the swarm dashboard
# (tools/swarm-dash) the d3 it serves and the headless browser its test
# drives.
packages=(
	build-essential clang lld libclang-rt-14-dev llvm
	qemu-system-x86 qemu-utils ovmf
	grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools dosfstools
	musl musl-tools musl-dev
	console-setup-linux
	libsodium-dev libfuse3-dev fuse3 gocryptfs pkg-config
	autoconf automake libtool dpkg-dev
	gdb python3 busybox-static iproute2 cpio
	tshark libjs-d3 chromium
)

# `tools/deps.sh bench` also installs what `make bench` compares against:
# a Linux kernel for the peer guest, cpio for its initramfs, and mkfs.ext4
# for its disks (tools/bench-disk), and Go with HashiCorp's memberlist for
# the membership comparison (bench/memberlist/).
if [ "${1:-}" = bench ]; then
	packages+=(linux-image-amd64 cpio e2fsprogs golang-go golang-github-hashicorp-memberlist-dev)
fi

say() { printf 'deps.sh: %s\n' "$*" >&2; }

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
	say "this system has no apt-get; install the equivalents of these Debian packages:"
	say "  ${packages[*]}"
	say "then point LWIP_SRC and SODIUM_SRC at unpacked lwIP and libsodium sources."
	exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
		say "not root and no sudo: cannot install packages"; exit 1
	fi
fi

missing=()
for p in "${packages[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

# A deb-src entry for every deb entry of the machine's own sources, in the
# format those sources use (deb822 .sources or one-line .list).
srcfile_822=/etc/apt/sources.list.d/exoswarm-src.sources
srcfile_list=/etc/apt/sources.list.d/exoswarm-src.list
have_debsrc() {
	grep -rhsqE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}
add_debsrc() {
	local tmp; tmp=$(mktemp)
	if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
		# deb822: copy each stanza whose Types has deb, as deb-src.
		awk 'BEGIN{RS=""; ORS="\n\n"}
		     /(^|\n)Types:[^\n]*deb([ \n]|$)/ && !/(^|\n)Enabled: *no/ {
		         sub(/Types:[^\n]*/, "Types: deb-src"); print }' \
			$(grep -lE '^Types:.*\bdeb\b' /etc/apt/sources.list.d/*.sources | grep -v exoswarm-src) >"$tmp"
		[ -s "$tmp" ] && "${sudo[@]}" install -m 644 "$tmp" "$srcfile_822"
	fi
	if [ ! -s "$tmp" ] && [ -f /etc/apt/sources.list ]; then
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list >"$tmp"
		[ -s "$tmp" ] && "${sudo[@]}" install -m 644 "$tmp" "$srcfile_list"
	fi
	local ok=0; [ -s "$tmp" ] && ok=1
	rm -f "$tmp"
	[ $ok = 1 ] || { say "found no deb entry in the apt sources to derive deb-src from"; exit 1; }
}

need_src=0
{ [ -n "${LWIP_SRC:-}" ] || [ -f "$third/lwip/src/core/tcp.c" ]; } || need_src=1
{ [ -n "${SODIUM_SRC:-}" ] || [ -f "$third/libsodium/configure.ac" ]; } || need_src=1
{ [ -n "${BUSYBOX_SRC:-}" ] || [ -f "$third/busybox/Config.in" ]; } || need_src=1

updated=0
apt_update() {
	[ $updated = 1 ] && return 0
	say "apt-get update"
	"${sudo[@]}" apt-get update -qq >/dev/null
	updated=1
}

if [ ${#missing[@]} -gt 0 ]; then
	# tshark's wireshark-common asks whether non-root users may capture:
	# answer no beforehand, so the install never stops for a question.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		"${sudo[@]}" debconf-set-selections
	apt_update
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $need_src = 1 ]; then
	if ! have_debsrc; then
		say "adding deb-src entries derived from the apt sources"
		add_debsrc
		updated=0
	fi
	apt_update
fi

# fetch_source PKG DIR MARKER: apt-get source PKG, unpacked as $third/DIR.
fetch_source() {
	local pkg=$1 dir=$2 marker=$3 work
	[ -f "$third/$dir/$marker" ] && return 0
	mkdir -p "$third"
	work=$(mktemp -d "$third/.fetch-$pkg.XXXXXX")
	say "apt-get source $pkg"
	(cd "$work" && apt-get source -qq "$pkg" >/dev/null 2>&1) || {
		rm -rf "$work"; say "apt-get source $pkg failed"; exit 1; }
	local unpacked
	unpacked=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	[ -n "$unpacked" ] && [ -f "$unpacked/$marker" ] || {
		rm -rf "$work"; say "$pkg: unpacked source lacks $marker"; exit 1; }
	rm -rf "${third:?}/$dir"
	mv "$unpacked" "$third/$dir"
	rm -rf "$work"
}

[ -n "${LWIP_SRC:-}" ] || fetch_source lwip lwip src/core/tcp.c
[ -n "${SODIUM_SRC:-}" ] || fetch_source libsodium libsodium configure.ac
[ -n "${BUSYBOX_SRC:-}" ] || fetch_source busybox busybox Config.in
exit 0
