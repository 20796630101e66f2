//! Reading instruction-count results (`measure = "instructions"`): the terminal table, the
//! comparison `lab compare` gates on (no noise model: two runs of one build count the same,
//! so any change past a tight threshold is real), the report's tables, and the side-by-side
//! view of a workload's wall-clock and instruction results with the ranks of each.

use std::fmt::Write as _;

use serde::Serialize;

use crate::counts::{InstructionRun, InstructionSummary, Measure, OpCounts, PerOp};
use crate::format::{change_percent, count_verdict_label, human_count, human_ns, Verdict};
use crate::results::Results;

/// `lab compare`'s threshold for instruction counts when none is given (1%).
pub const DEFAULT_THRESHOLD: f64 = 0.01;

/// The whole mix, as compare and the tables name it.
pub const ALL: &str = "all";

/// The counted run of `r`, if it holds one.
pub fn counted(r: &Results) -> Option<&InstructionRun> {
    r.instructions
        .as_ref()
        .filter(|_| r.measure == Measure::Instructions)
}

/// `("all", the whole mix)` then each operation kind, in name order.
pub fn ops_of(s: &InstructionSummary) -> impl Iterator<Item = (&str, &OpCounts)> {
    std::iter::once((ALL, &s.all)).chain(s.per_op.iter().map(|(k, v)| (k.as_str(), v)))
}

/// Every operation kind any variant of `run` counted, the whole mix (`all`) first, then by
/// name: the rows of the tables and the groups of the charts.
pub fn op_names(run: &InstructionRun) -> Vec<&str> {
    let mut ops: Vec<&str> = run
        .variants
        .iter()
        .flat_map(|s| ops_of(s).map(|(o, _)| o))
        .collect();
    ops.sort_by_key(|o| (*o != ALL, *o));
    ops.dedup();
    ops
}

/// One variant and operation, before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct CountChange {
    pub variant: String,
    /// "all" for the whole mix, else an operation name.
    pub op: String,
    /// Instructions per operation.
    pub base: f64,
    pub new: f64,
    /// new / base − 1 (infinite when base counted nothing).
    pub delta: f64,
    /// The same for estimated cycles per operation (shown, not gated on: it depends on
    /// where the allocator and the linker put things, instructions do not).
    pub cycles_delta: f64,
    pub verdict: Verdict,
}

/// Two instruction-count results side by side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CountComparison {
    pub changes: Vec<CountChange>,
    /// Variants counted in only one of the two.
    pub only_base: Vec<String>,
    pub only_new: Vec<String>,
    /// Operations per variant in each (warm state differs when they differ).
    pub ops: (u64, u64),
}

impl CountComparison {
    /// Whether any variant or operation got more expensive past the threshold.
    pub fn regressed(&self) -> bool {
        self.changes.iter().any(|c| c.verdict == Verdict::Slower)
    }
}

fn relative(base: f64, new: f64) -> f64 {
    if base > 0.0 {
        new / base - 1.0
    } else if new > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// Compares instructions per operation of every variant and operation in both files: a
/// change past `threshold` either way is a verdict; more instructions is a regression.
pub fn compare(base: &Results, new: &Results, threshold: f64) -> CountComparison {
    let (Some(b), Some(n)) = (counted(base), counted(new)) else {
        return CountComparison::default();
    };
    let mut out = CountComparison {
        ops: (b.ops, n.ops),
        ..CountComparison::default()
    };
    for s in &n.variants {
        let Some(bs) = b.variants.iter().find(|x| x.variant == s.variant) else {
            out.only_new.push(s.variant.clone());
            continue;
        };
        for (op, nc) in ops_of(s) {
            let Some((_, bc)) = ops_of(bs).find(|(o, _)| *o == op) else {
                continue;
            };
            let (bi, ni) = (
                bc.per_op(PerOp::Instructions),
                nc.per_op(PerOp::Instructions),
            );
            let delta = relative(bi, ni);
            let verdict = if delta > threshold {
                Verdict::Slower
            } else if delta < -threshold {
                Verdict::Faster
            } else {
                Verdict::Same
            };
            out.changes.push(CountChange {
                variant: s.variant.clone(),
                op: op.to_owned(),
                base: bi,
                new: ni,
                delta,
                cycles_delta: relative(
                    bc.per_op(PerOp::EstimatedCycles),
                    nc.per_op(PerOp::EstimatedCycles),
                ),
                verdict,
            });
        }
    }
    out.only_base = b
        .variants
        .iter()
        .filter(|x| !n.variants.iter().any(|s| s.variant == x.variant))
        .map(|x| x.variant.clone())
        .collect();
    out
}

/// The comparison as a terminal table.
pub fn render_compare(c: &CountComparison, threshold: f64) -> String {
    let mut out = format!(
        "instruction counts, no noise model: a change past {:.2}% in instructions per operation \
         counts\n{:<16} {:<8} {:>14} {:>14} {:>9} {:>11}  verdict\n",
        threshold * 100.0,
        "variant",
        "op",
        "base instr/op",
        "new instr/op",
        "change",
        "est.cycles"
    );
    for ch in &c.changes {
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:>14} {:>14} {:>9} {:>11}  {}",
            ch.variant,
            ch.op,
            human_count(ch.base),
            human_count(ch.new),
            change_percent(ch.delta),
            change_percent(ch.cycles_delta),
            count_verdict_label(ch.verdict, ch.delta)
        );
    }
    if c.ops.0 != c.ops.1 {
        let _ = writeln!(
            out,
            "note: base counted {} operations per variant, new {}: per-operation numbers \
             compare, but the state they ran in differs",
            c.ops.0, c.ops.1
        );
    }
    for (list, which) in [(&c.only_base, "base"), (&c.only_new, "new")] {
        if !list.is_empty() {
            let _ = writeln!(out, "only in {which}: {}", list.join(", "));
        }
    }
    out
}

const COLUMNS: [&str; 10] = [
    "variant",
    "op",
    "ops",
    "instr/op",
    "est.cycles/op",
    "reads/op",
    "writes/op",
    "L1 miss/op",
    "LL miss/op",
    "errors",
];

/// The cells of one variant's row for one operation.
fn cells(variant: &str, op: &str, c: &OpCounts) -> Vec<String> {
    vec![
        variant.to_owned(),
        op.to_owned(),
        c.count.to_string(),
        human_count(c.per_op(PerOp::Instructions)),
        human_count(c.per_op(PerOp::EstimatedCycles)),
        human_count(c.per_op(PerOp::DataReads)),
        human_count(c.per_op(PerOp::DataWrites)),
        human_count(c.per_op(PerOp::L1Misses)),
        human_count(c.per_op(PerOp::LlMisses)),
        c.errors.to_string(),
    ]
}

/// The terminal table of an instruction-count run.
pub fn render_table(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {}{}",
        r.workload,
        r.description,
        if r.partial {
            " [PARTIAL: interrupted]"
        } else {
            ""
        }
    );
    let Some(run) = counted(r) else {
        return out;
    };
    let _ = writeln!(
        out,
        "measure: instructions, {} ({}), {} operations per variant on one thread after {} \
         uncounted warm-up operations, rev {}\nestimated cycles = {}; caches: {}",
        run.tool,
        r.machine.cpu,
        run.ops,
        run.warmup_ops,
        r.machine.git_revision,
        run.cycles_formula,
        run.caches
    );
    let mut rows = vec![COLUMNS.map(str::to_owned).to_vec()];
    for s in &run.variants {
        for (i, (op, c)) in ops_of(s).enumerate() {
            rows.push(cells(if i == 0 { &s.variant } else { "" }, op, c));
        }
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
            let _ = if i < 2 {
                write!(out, "{c:<w$}  ")
            } else {
                write!(out, "{c:>w$}  ")
            };
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    for s in &run.skipped {
        let _ = writeln!(out, "skipped {}: {}", s.variant, s.reason);
    }
    for s in &run.variants {
        for (op, c) in &s.per_op {
            if let Some(e) = c.error_samples.first() {
                let _ = writeln!(out, "{} {op}: {} failed, e.g. {e}", s.variant, c.errors);
            }
        }
    }
    out
}

/// One row of the report's instruction tables.
#[derive(Clone, Debug, Serialize)]
pub struct CountRow {
    pub variant: String,
    pub op: String,
    pub cells: Vec<String>,
    /// Fewest instructions per operation for this operation.
    pub best: bool,
}

/// The report's instruction tables: per operation, one row per variant.
pub fn rows(r: &Results) -> Vec<CountRow> {
    let Some(run) = counted(r) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for op in op_names(run) {
        let present: Vec<(&InstructionSummary, &OpCounts)> = run
            .variants
            .iter()
            .filter_map(|s| ops_of(s).find(|(o, _)| *o == op).map(|(_, c)| (s, c)))
            .collect();
        let fewest = present
            .iter()
            .map(|(_, c)| c.per_op(PerOp::Instructions))
            .fold(f64::INFINITY, f64::min);
        out.extend(present.iter().map(|(s, c)| CountRow {
            variant: s.variant.clone(),
            op: op.to_owned(),
            cells: cells(&s.variant, op, c).split_off(2),
            best: c.per_op(PerOp::Instructions) <= fewest,
        }));
    }
    out
}

/// The report's comparison of instruction counts with a baseline.
pub fn deltas(r: &Results, baseline: Option<&Results>) -> Vec<[String; 7]> {
    let Some(b) = baseline else {
        return Vec::new();
    };
    compare(b, r, DEFAULT_THRESHOLD)
        .changes
        .into_iter()
        .map(|c| {
            [
                c.variant,
                c.op,
                human_count(c.base),
                human_count(c.new),
                change_percent(c.delta),
                change_percent(c.cycles_delta),
                count_verdict_label(c.verdict, c.delta).to_owned(),
            ]
        })
        .collect()
}

/// One variant in the side-by-side view of one operation.
#[derive(Clone, Debug, Serialize)]
pub struct ViewRow {
    pub variant: String,
    /// Wall-clock time per operation (one thread): the mix's 1 / throughput, or the
    /// operation's mean latency.
    pub wall_ns: f64,
    pub wall: String,
    pub wall_rank: usize,
    pub instructions_value: f64,
    pub instructions: String,
    pub instructions_rank: usize,
    pub cycles_value: f64,
    pub cycles: String,
    pub cycles_rank: usize,
    /// The wall-clock rank differs from the instruction or the estimated-cycle rank.
    pub differs: bool,
}

/// Both views of one operation.
#[derive(Clone, Debug, Serialize)]
pub struct View {
    pub op: String,
    pub rows: Vec<ViewRow>,
}

/// 1-based ranks of `values`, smallest first (ties share the better rank).
fn ranks(values: &[f64]) -> Vec<usize> {
    values
        .iter()
        .map(|v| 1 + values.iter().filter(|x| *x < v).count())
        .collect()
}

/// The wall-clock time per operation of `variant` at one thread, for `op`.
fn wall_ns(wall: &Results, variant: &str, op: &str) -> Option<f64> {
    let s = wall
        .summaries
        .iter()
        .filter(|s| s.variant == variant)
        .min_by_key(|s| s.threads)
        .filter(|s| s.threads == 1)?;
    if op == ALL {
        (s.throughput_median > 0.0).then(|| 1e9 / s.throughput_median)
    } else {
        s.per_op.get(op).map(|o| o.mean_ns)
    }
}

/// Wall-clock and instruction views of the same workload, per operation, for the variants
/// both hold (wall clock at one thread, as instructions are counted). Empty unless one of
/// the two is wall-clock and the other instruction counts.
pub fn views(a: &Results, b: &Results) -> Vec<View> {
    let (wall, counts) = match (counted(a), counted(b)) {
        (None, Some(c)) => (a, c),
        (Some(c), None) => (b, c),
        _ => return Vec::new(),
    };
    op_names(counts)
        .into_iter()
        .filter_map(|op| view(wall, counts, op))
        .collect()
}

fn view(wall: &Results, counts: &InstructionRun, op: &str) -> Option<View> {
    let both: Vec<(&str, f64, &OpCounts)> = counts
        .variants
        .iter()
        .filter_map(|s| {
            let c = ops_of(s).find(|(o, _)| *o == op)?.1;
            Some((s.variant.as_str(), wall_ns(wall, &s.variant, op)?, c))
        })
        .collect();
    if both.len() < 2 {
        return None;
    }
    let w: Vec<f64> = both.iter().map(|b| b.1).collect();
    let i: Vec<f64> = both
        .iter()
        .map(|b| b.2.per_op(PerOp::Instructions))
        .collect();
    let c: Vec<f64> = both
        .iter()
        .map(|b| b.2.per_op(PerOp::EstimatedCycles))
        .collect();
    let (wr, ir, cr) = (ranks(&w), ranks(&i), ranks(&c));
    let rows = (0..both.len())
        .map(|k| ViewRow {
            variant: both[k].0.to_owned(),
            wall_ns: w[k],
            wall: human_ns(w[k]),
            wall_rank: wr[k],
            instructions_value: i[k],
            instructions: human_count(i[k]),
            instructions_rank: ir[k],
            cycles_value: c[k],
            cycles: human_count(c[k]),
            cycles_rank: cr[k],
            differs: wr[k] != ir[k] || wr[k] != cr[k],
        })
        .collect();
    Some(View {
        op: op.to_owned(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_one_based_smallest_first_with_ties_shared() {
        assert_eq!(ranks(&[3.0, 1.0, 2.0, 1.0]), [4, 1, 3, 1]);
    }

    #[test]
    fn nothing_counted_before_and_something_after_is_a_change() {
        assert_eq!(relative(0.0, 0.0), 0.0);
        assert!(relative(0.0, 5.0).is_infinite());
        assert!((relative(100.0, 102.0) - 0.02).abs() < 1e-12);
    }
}
