#!/usr/bin/env bash
# Instructions per operation of an engine example under callgrind, repeatable to the
# instruction on a loaded machine: two run sizes, (big - small) / (big - small ops), so the
# setup cancels. The engine's clock reads the OS (ACORN_CLOCK=os), randomness is fixed
# (scripts/valgrind_fixed_random.c preloaded) and ASLR is off.
#
#   scripts/count-per-op.sh target/release/examples/write_loop stash 200000 400000
#
# runs `write_loop stash 0 200000` and `write_loop stash 0 400000` and prints
# "stash <instructions per operation>".
set -euo pipefail
if [ $# -ne 4 ]; then
    echo "usage: $0 EXAMPLE MODE SMALL BIG" >&2
    exit 2
fi
bin=$1 mode=$2 small=$3 big=$4
here=$(cd "$(dirname "$0")" && pwd)
preload=$(mktemp -d)
trap 'rm -rf "$preload"' EXIT
cc -shared -fPIC -O2 -o "$preload/vfr.so" "$here/valgrind_fixed_random.c"
count() {
    ACORN_CLOCK=os LD_PRELOAD="$preload/vfr.so" setarch "$(uname -m)" -R \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$mode" 0 "$1" 2>&1 \
        | awk '/Collected/ {print $4}'
}
a=$(count "$small")
b=$(count "$big")
if [ -z "$a" ] || [ -z "$b" ]; then
    echo "error: callgrind counted nothing (is valgrind installed, does $bin run?)" >&2
    exit 1
fi
echo "$mode $(( (b - a) / (big - small) ))"
