#!/usr/bin/env bash
# Several builds of the lab from this working tree that differ only in code layout: each
# links every function in an order shuffled by its seed (lld's --shuffle-sections), so
# `lab ab` given several of them per side (`--baseline A --baseline B ...`, and
# `--candidate ...`) judges a change against how much layout alone moves the rates, not
# against one draw of it. docs/ab.md ("Code layout") has the why and the measurements.
#
# Usage: scripts/layouts.sh OUTDIR [N] [FIRST_SEED]
# (default: 10 builds, seeds 1 to 10: one per pair of processes of a default `lab ab`)
# Writes OUTDIR/lab-<revision>-s<seed> (a "+" after the revision: uncommitted changes to
# tracked files) and prints their paths. Only the `lab` binary is rebuilt and relinked: a
# few seconds each here (the first can take a minute or two when the last build of the lab
# was for other targets). Needs lld (Rust's default linker on x86_64 Linux from 1.90 on).
# Exit: 0 when every build was written, 2 on an error.
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    echo "usage: scripts/layouts.sh OUTDIR [N] [FIRST_SEED]" >&2
    exit 2
fi
n=${2:-10}
first=${3:-1}
if ! [[ $n =~ ^[0-9]{1,4}$ && $first =~ ^[0-9]{1,9}$ ]]; then
    echo "layouts.sh: N and FIRST_SEED are whole numbers (N up to 9999), got '$n' '$first'" >&2
    exit 2
fi
n=$((10#$n))
first=$((10#$first))
if [ "$n" -eq 0 ]; then
    echo "layouts.sh: N is the number of builds to make, at least 1" >&2
    exit 2
fi
if [ "$first" -eq 0 ]; then
    # lld reads seed 0 as "a random seed": the build could not be made again.
    echo "layouts.sh: FIRST_SEED starts at 1 (seed 0 is random in lld)" >&2
    exit 2
fi
# OUTDIR as the caller meant it, before moving to the repository's root.
out=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
cd "$(dirname "$0")/.." || exit 2

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then
    rev="$rev+"
fi
previous=
for ((seed = first; seed < first + n; seed++)); do
    echo "layouts.sh: building seed $seed" >&2
    # The executable cargo wrote, from its own report (wherever the target directory is).
    if ! built=$(cargo rustc --release --quiet --message-format=json-render-diagnostics \
        -p acorn-lab --bin lab -- -C "link-arg=-Wl,--shuffle-sections=.text*=$seed" |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1) || [ -z "$built" ]; then
        echo "layouts.sh: the build with seed $seed failed (the shuffle needs lld)" >&2
        exit 2
    fi
    if ! readelf -p .comment "$built" 2>/dev/null | grep -q 'Linker: LLD'; then
        echo "layouts.sh: $built was not linked by lld (or readelf is missing), so its" \
            "code may not be shuffled" >&2
        exit 2
    fi
    if [ -n "$previous" ] && cmp -s "$built" "$previous"; then
        echo "layouts.sh: seed $seed gave the same executable as the seed before it" >&2
        exit 2
    fi
    cp "$built" "$out/lab-$rev-s$seed" || exit 2
    previous=$out/lab-$rev-s$seed
    echo "$previous"
done
