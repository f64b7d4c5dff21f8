#!/bin/sh
# Rebuild the host-CPU semantics fixtures (test/semantics/fixtures/*.json).
# Needs gcc on an x86-64 host. The fixtures are committed; tests never run this.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../fixtures"
bin=$(mktemp -d)/gen
trap 'rm -rf "$(dirname "$bin")"' EXIT
gcc -O1 -mno-red-zone -Wall -Wextra -o "$bin" "$here/gen.c"
mkdir -p "$out"
"$bin" "$out"
echo "fixtures written to $out (host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
