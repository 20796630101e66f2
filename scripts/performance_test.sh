#!/usr/bin/env bash
# The seed guide's performance test, done for real:
#   1. criterion benches of the engine (each once with --quick),
#   2. the standard workload suite through the lab, each compared with the previous run's
#      results if there is one (target/lab/baseline/), with an HTML report per workload,
#   3. the targets table in docs/PERFORMANCE.md rewritten from the results (not with --quick:
#      smoke-sized runs are not measurements),
#   4. instruction counts under callgrind (`--measure instructions`, needs valgrind) of the
#      counted suite, each compared with the previous run's counts at 1% (no noise model:
#      counts repeat exactly), with reports beside the wall-clock ones,
#   5. where the reports are.
# Usage: scripts/performance_test.sh [--quick]
# Exit: 0 ok; 1 a target missed or a regression against the baseline (full mode); 2 an error.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=false
case "${1:-}" in
    --quick) quick=true ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

out=target/lab/performance
# Quick (smoke-sized) and full runs are never each other's baseline: `lab compare` refuses
# a --quick run against a full one.
if $quick; then
    baseline=target/lab/baseline/quick
else
    baseline=target/lab/baseline/full
fi
mkdir -p "$out" "$baseline"

step() { printf '\n=== %s ===\n' "$*"; }

step "build (release)"
cargo build --release -p acorn-lab || exit 2
lab=target/release/lab

step "criterion benches"
if $quick; then
    cargo bench -p acorn --features ffi -- --test || exit 2
else
    cargo bench -p acorn --features ffi -- --warm-up-time 1 --measurement-time 3 || exit 2
fi

if $quick; then
    suite=(smoke basic)
else
    suite=(basic batch query memory serialization iterator concurrent ffi mixed)
fi

failed=0
for w in "${suite[@]}"; do
    step "workload $w"
    args=(run "workloads/$w.toml" --quiet --out "$out/$w")
    if $quick; then
        args+=(--quick)
    else
        args+=(--update-targets docs/PERFORMANCE.md --flamegraph)
    fi
    [ -f "$baseline/$w.json" ] && args+=(--baseline "$baseline/$w.json")
    "$lab" "${args[@]}"
    code=$?
    if [ $code -eq 2 ] || [ $code -gt 2 ]; then
        echo "error: lab run $w failed with exit code $code" >&2
        exit 2
    fi
    [ $code -eq 1 ] && ! $quick && failed=1
    if [ -f "$baseline/$w.json" ]; then
        "$lab" compare "$baseline/$w.json" "$out/$w/results.json"
        code=$?
        [ $code -eq 1 ] && ! $quick && failed=1
        [ $code -eq 2 ] && echo "note: $w could not be compared with its baseline (see the message above)"
    fi
    cp "$out/$w/results.json" "$baseline/$w.json"
done

# Counts of a quick run (100 operations) and a full one (the workload's own) are different
# measurements: each has its own baseline. A counted workload that also ran above gets both
# views side by side in its instruction report.
if $quick; then
    counted=(smoke)
    kind=instructions-quick
else
    counted=(smoke mixed)
    kind=instructions
fi
for w in "${counted[@]}"; do
    step "instruction counts $w"
    args=(run "workloads/$w.toml" --measure instructions --quiet --out "$out/$w/instructions")
    $quick && args+=(--ops 100)
    "$lab" "${args[@]}"
    code=$?
    if [ $code -ne 0 ]; then
        echo "error: lab run $w --measure instructions failed with exit code $code" >&2
        exit 2
    fi
    base="$baseline/$w.$kind.json"
    if [ -f "$base" ]; then
        "$lab" compare "$base" "$out/$w/instructions/results.json"
        code=$?
        [ $code -eq 1 ] && failed=1
        [ $code -eq 2 ] && echo "note: $w's counts could not be compared with their baseline"
    fi
    cp "$out/$w/instructions/results.json" "$base"
done

step "reports"
for w in "${suite[@]}"; do
    echo "  $out/$w/index.html"
done
for w in "${counted[@]}"; do
    echo "  $out/$w/instructions/index.html"
done
$quick || echo "  targets table: docs/PERFORMANCE.md"
exit $failed
