#!/usr/bin/env bash
# The seed guide's performance test, done for real:
#   1. criterion benches of the engine (each once with --quick),
#   2. the standard workload suite through the lab, each compared with the previous run's
#      results if there is one (<out>/baseline/full/, or quick/ for smoke-sized runs), with
#      an HTML report and flamegraphs per workload,
#   3. the targets table rewritten from the results: a copy in <out>/PERFORMANCE.md, or
#      docs/PERFORMANCE.md itself with --update-targets (never with --quick: smoke-sized
#      runs are not measurements), so a plain full run leaves the working tree clean,
#   4. instruction counts under callgrind (`--measure instructions`, needs valgrind) of the
#      counted suite, each compared with the previous run's counts at 1% (no noise model:
#      counts repeat exactly), with reports beside the wall-clock ones,
#   5. where the reports are.
# Usage: scripts/performance_test.sh [--quick | --update-targets]
# The suite: fourteen workloads (basic batch query memory serialization iterator concurrent
# ffi mixed reads writes hot-set store-read store-write); --quick: smoke and basic.
# Exit: 0 ok; 1 a target missed or a regression against the baseline (full mode); 2 an error.
#
# The environment can shrink a full run without skipping a stage (the test of this script
# does; the defaults are the real thing):
#   CARGO_TARGET_DIR  honoured: the lab runs from wherever cargo builds it
#   PERF_PROFILE      cargo profile of the lab and the benches (default: release)
#   PERF_CRITERION    criterion's options in full mode
#                     (default: --warm-up-time 1 --measurement-time 3)
#   PERF_BENCHES      the engine's bench targets to run, space separated (default: all)
#   PERF_WORKLOADS    the workloads of the suite, space separated (default: the fourteen
#                     above)
#   PERF_COUNTED      the workloads counted under callgrind (default: smoke mixed; --quick:
#                     smoke)
#   PERF_SHORT=1      full mode, but every workload runs with --quick (short phases); like
#                     --quick, short runs gate nothing and the targets table they rewrite is
#                     a copy in <out> unless PERF_TARGETS names one
#   PERF_OUT          where reports and baselines go (default: <target dir>/lab)
#   PERF_TARGETS      the Markdown targets table to rewrite (default: <out>/PERFORMANCE.md,
#                     a copy of docs/PERFORMANCE.md; with --update-targets that file)
#   PERF_DRY_RUN=1    print which lab, output directory and targets table a run would use,
#                     and stop
set -uo pipefail
cd "$(dirname "$0")/.."

quick=false
update=false
for arg in "$@"; do
    case "$arg" in
        --quick) quick=true ;;
        --update-targets) update=true ;;
        *) echo "usage: $0 [--quick | --update-targets]" >&2; exit 2 ;;
    esac
done
if $quick && $update; then
    echo "error: --quick runs are smoke-sized, not measurements: they update no targets table" >&2
    exit 2
fi
short=false
[ "${PERF_SHORT:-}" = 1 ] && short=true
# Quick and short runs are smoke-sized: they gate nothing.
gate=true
{ $quick || $short; } && gate=false

step() { printf '\n=== %s ===\n' "$*"; }
started=$SECONDS

# Where cargo puts what it builds (CARGO_TARGET_DIR, a config's build.target-dir, or target/).
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "$target_dir" ]; then
    echo "error: cargo metadata did not say where the target directory is" >&2
    exit 2
fi
profile=${PERF_PROFILE:-release}
case "$profile" in
    dev | test) profile_dir=debug ;;
    release | bench) profile_dir=release ;;
    *) profile_dir=$profile ;;
esac
lab="$target_dir/$profile_dir/lab"

root=${PERF_OUT:-$target_dir/lab}
out=$root/performance
# Smoke-sized (--quick, PERF_SHORT) and full runs are never each other's baseline: `lab
# compare` refuses a --quick run against a full one.
if $gate; then
    baseline=$root/baseline/full
else
    baseline=$root/baseline/quick
fi
# Only --update-targets rewrites the repository's table; otherwise a copy under <out>.
targets_table=${PERF_TARGETS:-$out/PERFORMANCE.md}
$update && ! $short && targets_table=${PERF_TARGETS:-docs/PERFORMANCE.md}

if [ "${PERF_DRY_RUN:-}" = 1 ]; then
    echo "lab: $lab"
    echo "out: $out"
    echo "targets table: $targets_table"
    exit 0
fi

mkdir -p "$out" "$baseline" || exit 2
if [ "$targets_table" = "$out/PERFORMANCE.md" ]; then
    cp docs/PERFORMANCE.md "$targets_table" || exit 2
fi

step "build ($profile)"
cargo build --profile "$profile" -p acorn-lab || exit 2
echo "lab: $lab"

step "criterion benches"
# Only the bench targets get criterion's options (the library's own test harness would
# reject them: its [lib] has bench = false as well).
bench_targets=(--benches)
if [ -n "${PERF_BENCHES:-}" ]; then
    bench_targets=()
    for b in $PERF_BENCHES; do bench_targets+=(--bench "$b"); done
fi
bench_profile=()
[ "$profile" != release ] && bench_profile=(--profile "$profile")
if $quick; then
    cargo bench "${bench_profile[@]}" -p acorn --features ffi "${bench_targets[@]}" -- --test ||
        exit 2
else
    read -r -a criterion <<<"${PERF_CRITERION:---warm-up-time 1 --measurement-time 3}"
    cargo bench "${bench_profile[@]}" -p acorn --features ffi "${bench_targets[@]}" -- \
        "${criterion[@]}" || exit 2
fi

if [ -n "${PERF_WORKLOADS:-}" ]; then
    read -r -a suite <<<"$PERF_WORKLOADS"
elif $quick; then
    suite=(smoke basic)
else
    suite=(basic batch query memory serialization iterator concurrent ffi mixed reads writes hot-set store-read store-write)
fi

failed=0
for w in "${suite[@]}"; do
    step "workload $w"
    args=(run "workloads/$w.toml" --quiet --out "$out/$w")
    if $quick; then
        args+=(--quick)
    else
        args+=(--update-targets "$targets_table" --flamegraph)
        $short && args+=(--quick)
    fi
    [ -f "$baseline/$w.json" ] && args+=(--baseline "$baseline/$w.json")
    "$lab" "${args[@]}"
    code=$?
    if [ $code -ge 2 ]; then
        echo "error: lab run $w failed with exit code $code" >&2
        exit 2
    fi
    [ $code -eq 1 ] && $gate && failed=1
    if [ -f "$baseline/$w.json" ]; then
        "$lab" compare "$baseline/$w.json" "$out/$w/results.json"
        code=$?
        [ $code -eq 1 ] && $gate && failed=1
        [ $code -eq 2 ] && echo "note: $w could not be compared with its baseline (see the message above)"
    fi
    cp "$out/$w/results.json" "$baseline/$w.json" || exit 2
done

# Counts of a smoke-sized run (--quick or PERF_SHORT: 100 operations) and a full one (the
# workload's own) are different measurements: each has its own baseline directory, as the
# wall-clock results do. A counted workload that also ran above gets both views side by
# side in its instruction report.
if [ -n "${PERF_COUNTED:-}" ]; then
    read -r -a counted <<<"$PERF_COUNTED"
elif $quick; then
    counted=(smoke)
else
    counted=(smoke mixed)
fi
for w in "${counted[@]}"; do
    step "instruction counts $w"
    args=(run "workloads/$w.toml" --measure instructions --quiet --out "$out/$w/instructions")
    $gate || args+=(--ops 100)
    "$lab" "${args[@]}"
    code=$?
    if [ $code -ne 0 ]; then
        echo "error: lab run $w --measure instructions failed with exit code $code" >&2
        exit 2
    fi
    base="$baseline/$w.instructions.json"
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
$quick || echo "  targets table: $targets_table"
echo "done in $((SECONDS - started)) s"
exit $failed
