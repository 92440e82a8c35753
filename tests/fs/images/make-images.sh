#!/usr/bin/env bash
# Makes the format-compatibility images in this folder with tools/cryptofs.
# Run it once per released on-disk format version and commit the results;
# tests/suites/31-cryptofs-tool.sh checks every image still mounts, verifies
# and holds the contents listed in its .expected file.
#   v1.cfs: format 1, passphrase "compat-v1" (Argon2id ops 1, 1 MiB)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
cfs="$top/tools/cryptofs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CRYPTOFS_PASSPHRASE=compat-v1
img="$here/v1.cfs"
rm -f "$img"
"$cfs" mkfs "$img" --size 128K --argon2-ops 1 --argon2-mem 1 >/dev/null
printf 'hello, cryptofs\n' >"$tmp/hello"
seq 1 2500 >"$tmp/data"
"$cfs" put "$img" "$tmp/hello" /hello.txt
"$cfs" mkdir "$img" /dir
"$cfs" mkdir "$img" /dir/sub
"$cfs" put "$img" "$tmp/data" /dir/data.txt
"$cfs" put "$img" "$tmp/hello" /dir/sub/again.txt
"$here/expected.sh" "$cfs" "$img" >"$here/v1.expected"
