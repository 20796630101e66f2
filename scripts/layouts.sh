#!/usr/bin/env bash
# Several builds of the lab from this working tree that differ only in code layout: each
# links every function in an order shuffled by its seed (lld's --shuffle-sections), so
# `lab ab` given several of them per side (`--baseline A --baseline B ...`, and
# `--candidate ...`) judges a change against how much layout alone moves the rates, not
# against one draw of it. docs/ab.md ("Code layout") has the why and the measurements.
#
# Usage: scripts/layouts.sh OUTDIR [N] [FIRST_SEED]
# (default: 10 builds, seeds 1 to 10: one per pair of processes of a default `lab ab`)
# Writes OUTDIR/lab-<revision>-s<seed> (a "+" after the revision: uncommitted changes) and
# prints their paths. Only the `lab` binary is rebuilt and relinked: a few seconds each here
# (the first can take a minute or two when the last build of the lab was for other targets).
# Exit: 0 when every build was written, 2 on an error (e.g. a linker that is not lld).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    echo "usage: scripts/layouts.sh OUTDIR [N] [FIRST_SEED]" >&2
    exit 2
fi
out=$1
n=${2:-10}
first=${3:-1}
case "$n$first" in
    *[!0-9]*) echo "layouts.sh: N and FIRST_SEED are whole numbers, got '$n' '$first'" >&2; exit 2 ;;
esac
if [ "$n" -eq 0 ]; then
    echo "layouts.sh: N is the number of builds to make, at least 1" >&2
    exit 2
fi
if [ "$first" -eq 0 ]; then
    # lld reads seed 0 as "a random seed": the build could not be made again.
    echo "layouts.sh: FIRST_SEED starts at 1 (seed 0 is random in lld)" >&2
    exit 2
fi
mkdir -p "$out" || exit 2
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then
    rev="$rev+"
fi
for ((seed = first; seed < first + n; seed++)); do
    echo "layouts.sh: building seed $seed" >&2
    if ! cargo rustc --release --quiet -p acorn-lab --bin lab -- \
        -C "link-arg=-Wl,--shuffle-sections=.text*=$seed"; then
        echo "layouts.sh: the build with seed $seed failed (the shuffle needs lld, the" \
            "linker Rust uses on x86_64 Linux from 1.90 on)" >&2
        exit 2
    fi
    target=${CARGO_TARGET_DIR:-target}
    if ! readelf -p .comment "$target/release/lab" 2>/dev/null | grep -q 'Linker: LLD'; then
        echo "layouts.sh: $target/release/lab was not linked by lld, so its code was not" \
            "shuffled" >&2
        exit 2
    fi
    cp "$target/release/lab" "$out/lab-$rev-s$seed" || exit 2
    echo "$out/lab-$rev-s$seed"
done
