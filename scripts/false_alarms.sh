#!/usr/bin/env bash
# How often `lab compare` cries wolf on this machine: runs one workload N times with the
# same build, compares every ordered pair (N·(N−1) comparisons), and prints how many
# called a regression (false alarms: nothing changed). With --planted VAR=VALUE it also
# runs the workload N more times with that environment (e.g. LAB_SYNTHETIC_READ_WORK=400
# slows the `synthetic` backend's reads) and compares every unplanted run with every
# planted one (N² comparisons), printing how many were caught.
#
# Usage: scripts/false_alarms.sh [-n N] [--threshold T] [--planted VAR=VALUE] [--lab PATH]
#                                [--out DIR] WORKLOAD [-- LAB RUN ARGS...]
#   -n N             runs per side (default 6: 30 ordered pairs)
#   --threshold T    passed to `lab compare` (default: its own)
#   --planted V=X    also run N times with V=X in the environment and count detections
#   --lab PATH       the lab binary (default: target/release/lab, built first)
#   --out DIR        where results go (default: a temporary directory, removed at the end)
#   LAB RUN ARGS     extra `lab run` arguments, e.g. -- --quick
# Output: one line per comparison (base, new, exit status, compare's summary line), then
#   false alarms: K of P ordered pairs (regressions); improvements I; undecided U
#   [caught: C of N² planted comparisons]
# Exit: 0 when it ran (whatever the counts), 2 on bad usage or a failed run.
set -uo pipefail
cd "$(dirname "$0")/.."

n=6
threshold=
planted=
lab=
out=
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -n) n=$2; shift 2 ;;
        --threshold) threshold=$2; shift 2 ;;
        --planted) planted=$2; shift 2 ;;
        --lab) lab=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --) shift; args+=("$@"); break ;;
        -*) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
        *) workload=$1; shift ;;
    esac
done
if [ -z "${workload:-}" ]; then
    echo "usage: $0 [-n N] [--threshold T] [--planted VAR=VALUE] [--lab PATH] [--out DIR] WORKLOAD [-- LAB RUN ARGS...]" >&2
    exit 2
fi
case "$n" in '' | *[!0-9]*) echo "-n takes a number of runs, got $n" >&2; exit 2 ;; esac
if [ "$n" -lt 2 ]; then
    echo "-n must be at least 2 (pairs of runs)" >&2
    exit 2
fi
if [ -n "$planted" ] && [[ "$planted" != *=* ]]; then
    echo "--planted takes VAR=VALUE, got $planted" >&2
    exit 2
fi
if [ -z "$lab" ]; then
    cargo build --release -q -p acorn-lab || exit 2
    lab=target/release/lab
fi
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out" || exit 2
compare_args=()
[ -n "$threshold" ] && compare_args=(--threshold "$threshold")

# run SIDE I [ENV...]: one run of the workload into $out/SIDE-I.
run() {
    local side=$1 i=$2
    shift 2
    if ! env "$@" "$lab" run "$workload" --quiet --out "$out/$side-$i" "${args[@]}" \
        >"$out/$side-$i.log" 2>&1; then
        # Exit 1 is a missed target: the results are still there.
        [ -f "$out/$side-$i/results.json" ] || {
            echo "error: run $side-$i failed; see its log:" >&2
            cat "$out/$side-$i.log" >&2
            exit 2
        }
    fi
}

for i in $(seq 1 "$n"); do
    run same "$i"
    echo "run $i of $n done" >&2
done
if [ -n "$planted" ]; then
    for i in $(seq 1 "$n"); do
        run planted "$i" "$planted"
        echo "planted run $i of $n done" >&2
    done
fi

regressions=0 improvements=0 undecided=0 pairs=0 refused=0
# judge BASE NEW: compares two results and tallies the outcome; sets $status.
judge() {
    local base=$1 new=$2 text
    text=$("$lab" compare "$out/$base/results.json" "$out/$new/results.json" \
        "${compare_args[@]}" 2>&1)
    status=$?
    local summary
    summary=$(printf '%s\n' "$text" | grep -E '^summary:' | tail -1)
    echo "$base -> $new: exit $status ${summary:-$(printf '%s\n' "$text" | tail -1)}"
    pairs=$((pairs + 1))
    [ "$status" -eq 1 ] && regressions=$((regressions + 1))
    [ "$status" -eq 2 ] && refused=$((refused + 1))
    if [[ "$summary" =~ improvements\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
        improvements=$((improvements + 1))
    fi
    if [[ "$summary" =~ undecided\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
        undecided=$((undecided + 1))
    fi
}

for i in $(seq 1 "$n"); do
    for j in $(seq 1 "$n"); do
        [ "$i" -eq "$j" ] || judge "same-$i" "same-$j"
    done
done
echo "false alarms: $regressions of $pairs ordered pairs called a regression;" \
    "$improvements with an improvement, $undecided with undecided rows, $refused refused (exit 2)" \
    "(workload $workload, ${args[*]:-no extra run arguments}, threshold ${threshold:-default})"

if [ -n "$planted" ]; then
    same_regressions=$regressions
    regressions=0 improvements=0 undecided=0 pairs=0 refused=0
    for i in $(seq 1 "$n"); do
        for j in $(seq 1 "$n"); do
            judge "same-$i" "planted-$j"
        done
    done
    echo "caught: $regressions of $pairs comparisons with $planted called a regression" \
        "($refused refused); false alarms above: $same_regressions"
fi
