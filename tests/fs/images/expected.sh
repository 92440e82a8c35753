#!/usr/bin/env bash
# Prints what a compatibility image holds: directory listings (names, types,
# modes, sizes) and a checksum of every file.  Usage: expected.sh CRYPTOFS IMAGE
set -eu
cfs=$1 img=$2
for dir in / /dir /dir/sub; do
	echo "== $dir"
	"$cfs" ls "$img" "$dir"
done
for f in /hello.txt /dir/data.txt /dir/sub/again.txt; do
	echo "$f $("$cfs" get "$img" "$f" - | sha256sum | cut -d' ' -f1)"
done
