#!/usr/bin/env bash
# The long kill -9 soak, run before a release: engine/tests/crash/ for minutes instead of
# the seconds `cargo test` gives it. Child processes commit batches (under Always and
# Group, 1 to 4 writer threads), compact and take checkpoints; the parent kills each with
# SIGKILL — at random moments, and while a compaction is held after cutting the log, with
# its temporary snapshot written, and after its rename (at least two segments on disk) —
# then reopens the directory strictly and checks that every acknowledged batch is there,
# whole, and in the change feed; that every checkpoint opens at exactly its version; and,
# while the children run, that a read-only tree following the directory only ever sees a
# prefix of what was acknowledged.
#
# Usage: scripts/soak.sh [SECONDS]      (default 300; the time is split over six scenarios)
# Prints one line per scenario and a total: rounds (kills), acknowledged batches, segments
# on disk at the kills (count: kills), read-only views and checkpoints checked, failures.
# Exit: 0 nothing lost; 1 an acknowledged batch was lost or partial, or a directory did not
# open; 2 an error (build, arguments).
set -uo pipefail
cd "$(dirname "$0")/.."

secs="${1:-300}"
case "$secs" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

rev=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git status --porcelain -- engine 2>/dev/null)" ]; then rev="$rev+changes"; fi
echo "soak: building the crash test (release) at $rev" >&2
exe=$(cargo test --release -p acorn --test crash --no-run --message-format=json \
    | grep -o '"executable":"[^"]*"' | tail -1 | sed 's/^"executable":"//; s/"$//')
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
    echo "soak: could not build the crash test" >&2
    exit 2
fi
start=$(date +%s)
out=$(mktemp)
ACORN_CRASH_SECS="$secs" "$exe" | tee "$out"
status=${PIPESTATUS[0]}
echo "soak: $(( $(date +%s) - start )) s, built at $rev" >&2
if [ "$status" -ne 0 ] || ! grep -q '^1 passed, 0 failed$' "$out"; then
    rm -f "$out"
    echo "soak: FAILED (see the FAILURE lines above)" >&2
    exit 1
fi
rm -f "$out"
echo "soak: passed" >&2
