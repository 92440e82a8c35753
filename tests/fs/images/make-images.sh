#!/usr/bin/env bash
# Makes a format-compatibility image in this folder with tools/cryptofs:
#   make-images.sh N   writes vN.cfs (format N, passphrase "compat-vN",
#                      Argon2id ops 1, 1 MiB) and vN.expected
# Run it once when a format version is released and commit the results;
# tests/suites/31-cryptofs-tool.sh checks every image still mounts, verifies
# and holds the contents listed in its .expected file.
set -eu
v=${1:?usage: make-images.sh FORMAT_VERSION}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
cfs="$top/tools/cryptofs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state"      # generation records: not the real home
export CRYPTOFS_PASSPHRASE=compat-v$v
img="$here/v$v.cfs"
rm -f "$img"
"$cfs" mkfs "$img" --size 128K --argon2-ops 1 --argon2-mem 1 --format "$v" >/dev/null
printf 'hello, cryptofs\n' >"$tmp/hello"
seq 1 2500 >"$tmp/data"
"$cfs" put "$img" "$tmp/hello" /hello.txt
"$cfs" mkdir "$img" /dir
"$cfs" mkdir "$img" /dir/sub
"$cfs" put "$img" "$tmp/data" /dir/data.txt
"$cfs" put "$img" "$tmp/hello" /dir/sub/again.txt
"$here/expected.sh" "$cfs" "$img" >"$here/v$v.expected"
