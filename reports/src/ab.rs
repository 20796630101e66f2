//! What `lab ab` found: a paired A/B between two builds of the lab (the schema of
//! `ab.json`, documented in `docs/results-schema.md`), its terminal lines and its page.
//!
//! Each comparison is one variant at one thread count: the candidate's worker and the
//! baseline's took turns running the same slices (`paired::forward` gives the order), and
//! the ratio candidate/baseline of their rates is judged by `paired::ratio`.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::charts::{forest, Palette};
use crate::format::{human, human_ns, percent, threads_text, variant_threads, Unit};
use crate::html::HtmlError;
use crate::paired::{self, per_second, Ratio, Timing, Verdict};
use crate::results::Machine;

/// Bumped on any change a reader of an older version could misread.
pub const AB_SCHEMA_VERSION: u32 = 1;

/// The `kind` of an `ab.json` (a `results.json` has none).
pub const KIND: &str = "ab";

/// One side of the comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// The lab executable(s) that ran this side's workers (several: comma separated).
    pub command: String,
    /// Its git revision(s), as its workers reported them.
    pub revision: String,
}

/// One round: each side ran the same slice once, in the order `candidate_first` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub round: usize,
    /// Which pair of worker processes ran it (0, 1, ...: fresh processes in turn).
    #[serde(default)]
    pub process: usize,
    pub candidate_first: bool,
    pub candidate_ops: u64,
    pub candidate_ns: u64,
    pub baseline_ops: u64,
    pub baseline_ns: u64,
    /// Each side's busy time in its slice: the wall-clock time less the threads' wait for
    /// a CPU (on average per thread), when the system says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_busy_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_busy_ns: Option<u64>,
}

impl Pair {
    /// The candidate's and the baseline's rates over `timing`'s time.
    pub fn rates(&self, timing: Timing) -> (f64, f64) {
        match (timing, self.candidate_busy_ns, self.baseline_busy_ns) {
            (Timing::Busy, Some(c), Some(b)) => (
                per_second(self.candidate_ops, c),
                per_second(self.baseline_ops, b),
            ),
            _ => (
                per_second(self.candidate_ops, self.candidate_ns),
                per_second(self.baseline_ops, self.baseline_ns),
            ),
        }
    }
}

/// What one side did over all its slices of a comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// The store, as this side's worker described it (e.g. "btreemap plus 100 rounds...").
    pub store: String,
    /// The median of its slices' rates.
    pub rate_median: f64,
    /// Latency percentiles over every operation of every slice.
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub errors: u64,
}

/// One variant at one thread count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub variant: String,
    pub threads: usize,
    /// Operations per thread in every slice of both sides (set from the warm-up's rates so
    /// that a slice lasts about `slice_s`).
    pub ops_per_slice: u64,
    /// Which time the rates are over (busy when every slice of both sides says).
    #[serde(default)]
    pub timing: Timing,
    /// candidate/baseline; `None` when too few rounds were usable.
    pub ratio: Option<Ratio>,
    /// candidate/baseline over wall-clock time alone, for comparison (not judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_ratio: Option<Ratio>,
    pub verdict: Option<Verdict>,
    pub candidate: Side,
    pub baseline: Side,
    pub pairs: Vec<Pair>,
}

/// A whole `ab.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AbResults {
    pub schema_version: u32,
    /// Always [`KIND`].
    pub kind: String,
    pub workload: String,
    pub description: String,
    pub candidate: Build,
    pub baseline: Build,
    /// A verdict needs the whole interval past 1 ± this fraction.
    pub threshold: f64,
    /// The slice length asked for, in seconds.
    pub slice_s: f64,
    pub started_at: String,
    pub finished_at: String,
    pub machine: Machine,
    /// True when interrupted: only the comparisons that finished are here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    pub comparisons: Vec<Comparison>,
}

impl Comparison {
    /// The pairs' rates over `timing`'s time, candidate's and baseline's, round by round.
    pub fn rates(&self, timing: Timing) -> (Vec<f64>, Vec<f64>) {
        self.pairs.iter().map(|p| p.rates(timing)).unzip()
    }

    /// Judges the pairs at `threshold`: sets `timing`, `ratio`, `wall_ratio` and
    /// `verdict`.
    pub fn judge(&mut self, threshold: f64) {
        let busy = self
            .pairs
            .iter()
            .all(|p| p.candidate_busy_ns.is_some() && p.baseline_busy_ns.is_some());
        self.timing = if busy { Timing::Busy } else { Timing::Wall };
        let process: Vec<usize> = self.pairs.iter().map(|p| p.process).collect();
        let (c, b) = self.rates(self.timing);
        self.ratio = paired::ratio_grouped(&c, &b, &process);
        self.verdict = self.ratio.map(|r| r.verdict(threshold));
        self.wall_ratio = if busy {
            let (c, b) = self.rates(Timing::Wall);
            paired::ratio_grouped(&c, &b, &process)
        } else {
            None
        };
    }

    /// "plain", or "plain (2 threads)" when the run had several thread counts.
    pub fn label(&self, several_threads: bool) -> String {
        if several_threads {
            format!("{} ({})", self.variant, threads_text(self.threads))
        } else {
            self.variant.clone()
        }
    }

    /// The greppable line: `plain: candidate/baseline 0.967× [0.958, 0.976] regression`.
    pub fn line(&self, several_threads: bool) -> String {
        let label = self.label(several_threads);
        match (self.ratio, self.verdict) {
            (Some(r), Some(v)) => format!("{label}: candidate/baseline {} {}", r.text(), v.label()),
            _ => format!(
                "{label}: candidate/baseline undecided (only {} rounds, {} needed)",
                self.pairs.len(),
                paired::MIN_PAIRS
            ),
        }
    }

    /// The line under it: pairs, switches, each side's rate and latency.
    pub fn details(&self, slice_s: f64) -> String {
        let switches = self.ratio.map_or(0, |r| r.switches);
        let usable = self.ratio.map_or(0, |r| r.pairs);
        let lost = self.pairs.len() - usable;
        format!(
            "{} pairs of {} slices ({} ops per thread) in {} pairs of processes{}, {} looked \
             like regime switches; median slice ({}): candidate {}, baseline {}; p50 {} vs \
             {}, p99 {} vs {}{}",
            self.pairs.len(),
            human_ns(slice_s * 1e9),
            self.ops_per_slice,
            self.ratio.map_or(0, |r| r.processes),
            if lost > 0 {
                format!(" ({lost} unusable)")
            } else {
                String::new()
            },
            switches,
            self.timing.label(),
            human(Unit::Rate, self.candidate.rate_median),
            human(Unit::Rate, self.baseline.rate_median),
            human_ns(self.candidate.p50_ns as f64),
            human_ns(self.baseline.p50_ns as f64),
            human_ns(self.candidate.p99_ns as f64),
            human_ns(self.baseline.p99_ns as f64),
            match self.candidate.errors + self.baseline.errors {
                0 => String::new(),
                _ => format!(
                    "; errors: candidate {}, baseline {}",
                    self.candidate.errors, self.baseline.errors
                ),
            }
        )
    }
}

impl AbResults {
    /// Whether the run had more than one thread count (labels then name it).
    pub fn several_threads(&self) -> bool {
        self.comparisons
            .iter()
            .any(|c| c.threads != self.comparisons[0].threads)
    }

    /// Whether some comparison is a regression (`lab ab` exits 1).
    pub fn regressed(&self) -> bool {
        self.comparisons
            .iter()
            .any(|c| c.verdict == Some(Verdict::Regression))
    }

    /// How many comparisons came to each verdict: regressions, improvements, no
    /// difference, undecided.
    pub fn counts(&self) -> [usize; 4] {
        let n = |v: Option<Verdict>| self.comparisons.iter().filter(|c| c.verdict == v).count();
        [
            n(Some(Verdict::Regression)),
            n(Some(Verdict::Improvement)),
            n(Some(Verdict::NoDifference)),
            n(None),
        ]
    }

    /// The closing line.
    pub fn summary(&self) -> String {
        let [reg, imp, same, undecided] = self.counts();
        format!(
            "regressions {reg}, improvements {imp}, no difference {same}{} (a verdict needs the \
             whole 95% interval past 1 ± {}){}",
            if undecided > 0 {
                format!(", undecided {undecided}")
            } else {
                String::new()
            },
            percent(self.threshold),
            if self.partial {
                "; PARTIAL: interrupted"
            } else {
                ""
            }
        )
    }

    /// Reads and checks an `ab.json`.
    pub fn load(path: &Path) -> Result<AbResults, String> {
        let shown = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
        let r: AbResults = serde_json::from_str(&text)
            .map_err(|e| format!("{shown}: not a valid ab.json: {e}"))?;
        if r.kind != KIND || r.schema_version > AB_SCHEMA_VERSION {
            return Err(format!(
                "{shown}: not an ab.json this lab reads (kind {:?}, schema_version {})",
                r.kind, r.schema_version
            ));
        }
        Ok(r)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The terminal output: one greppable line per comparison with its details under it, then
/// the summary.
pub fn render(r: &AbResults) -> String {
    let several = r.several_threads();
    let mut out = String::new();
    for c in &r.comparisons {
        let _ = writeln!(out, "{}", c.line(several));
        let _ = writeln!(out, "  {}", c.details(r.slice_s));
    }
    let _ = writeln!(out, "{}", r.summary());
    out
}

/// One row of the page's table.
#[derive(Serialize)]
struct PageRow {
    line: String,
    class: &'static str,
    variant: String,
    threads: usize,
    ratio: String,
    interval: String,
    verdict: &'static str,
    pairs: usize,
    switches: usize,
    ops: u64,
    candidate_rate: String,
    baseline_rate: String,
    p50: String,
    p99: String,
    errors: String,
}

fn page_row(c: &Comparison, several: bool) -> PageRow {
    let (ratio, interval, switches) = match c.ratio {
        Some(r) => (
            format!("{:.3}×", r.estimate),
            format!("[{:.3}, {:.3}]", r.lo, r.hi),
            r.switches,
        ),
        None => ("?".into(), "-".into(), 0),
    };
    PageRow {
        line: c.line(several),
        class: match c.verdict {
            Some(Verdict::Regression) => "regression",
            Some(Verdict::Improvement) => "improvement",
            _ => "",
        },
        variant: c.variant.clone(),
        threads: c.threads,
        ratio,
        interval,
        verdict: c.verdict.map_or("undecided", Verdict::label),
        pairs: c.pairs.len(),
        switches,
        ops: c.ops_per_slice,
        candidate_rate: human(Unit::Rate, c.candidate.rate_median),
        baseline_rate: human(Unit::Rate, c.baseline.rate_median),
        p50: format!(
            "{} / {}",
            human_ns(c.candidate.p50_ns as f64),
            human_ns(c.baseline.p50_ns as f64)
        ),
        p99: format!(
            "{} / {}",
            human_ns(c.candidate.p99_ns as f64),
            human_ns(c.baseline.p99_ns as f64)
        ),
        errors: format!("{} / {}", c.candidate.errors, c.baseline.errors),
    }
}

/// The forest plot of every comparison's ratio and interval.
pub fn forest(r: &AbResults) -> Option<String> {
    let mut variants: Vec<String> = Vec::new();
    for c in &r.comparisons {
        if !variants.contains(&c.variant) {
            variants.push(c.variant.clone());
        }
    }
    let palette = Palette::from_variants(variants);
    let rows: Vec<forest::Row> = r
        .comparisons
        .iter()
        .filter_map(|c| {
            let ratio = c.ratio?;
            Some(forest::Row {
                label: variant_threads(&c.variant, c.threads),
                variant: c.variant.clone(),
                estimate: ratio.estimate,
                lo: ratio.lo,
                hi: ratio.hi,
            })
        })
        .collect();
    forest::forest(
        &format!(
            "candidate/baseline throughput, 95% interval (lines at 1 and 1 ± {}; ×N = N threads)",
            percent(r.threshold)
        ),
        "candidate/baseline",
        &rows,
        r.threshold,
        &palette,
    )
}

/// The page `lab ab` writes beside ab.json: the verdict lines, the forest plot, a table
/// of every comparison, the setup and the method.
pub fn html(r: &AbResults) -> Result<String, HtmlError> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("ab.html", include_str!("../templates/ab.html.tera"))
        .map_err(|e| HtmlError(e.to_string()))?;
    let several = r.several_threads();
    let mut cx = tera::Context::new();
    cx.insert("workload", &r.workload);
    cx.insert("description", &r.description);
    cx.insert("partial", &r.partial);
    cx.insert(
        "rows",
        &r.comparisons
            .iter()
            .map(|c| page_row(c, several))
            .collect::<Vec<_>>(),
    );
    cx.insert("summary", &r.summary());
    cx.insert("forest", &forest(r));
    cx.insert("candidate", &r.candidate);
    cx.insert("baseline", &r.baseline);
    let mut stores: Vec<(String, String)> = Vec::new();
    for c in &r.comparisons {
        for (role, s) in [("candidate", &c.candidate), ("baseline", &c.baseline)] {
            let row = (format!("{} ({role})", c.variant), s.store.clone());
            if !stores.contains(&row) {
                stores.push(row);
            }
        }
    }
    cx.insert("stores", &stores);
    cx.insert("slice", &human_ns(r.slice_s * 1e9));
    cx.insert(
        "threshold",
        &format!(
            "{} (a verdict needs the whole interval past 1 ± it)",
            percent(r.threshold)
        ),
    );
    cx.insert("started_at", &r.started_at);
    cx.insert("machine", &r.machine);
    tera.render("ab.html", &cx)
        .map_err(|e| HtmlError(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn comparison(variant: &str, threads: usize, slow: f64) -> Comparison {
        let pairs = (0..40)
            .map(|i| Pair {
                round: i,
                process: i / 10,
                candidate_first: paired::forward(i),
                candidate_ops: 1000,
                candidate_ns: (1e6 * (1.0 + slow) * (1.0 + 0.001 * (i % 3) as f64)) as u64,
                baseline_ops: 1000,
                baseline_ns: (1e6 * (1.0 + 0.001 * (i % 5) as f64)) as u64,
                ..Pair::default()
            })
            .collect();
        let mut c = Comparison {
            variant: variant.into(),
            threads,
            ops_per_slice: 1000,
            pairs,
            ..Comparison::default()
        };
        c.judge(0.02);
        c
    }

    #[test]
    fn one_greppable_line_per_comparison_and_a_summary() {
        let r = AbResults {
            threshold: 0.02,
            slice_s: 0.05,
            comparisons: vec![
                comparison("synthetic", 1, 0.1),
                comparison("btreemap", 1, 0.0),
            ],
            ..AbResults::default()
        };
        let text = render(&r);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("synthetic: candidate/baseline 0.9")
                && lines[0].ends_with("] regression"),
            "{text}"
        );
        assert!(
            lines[1].starts_with(
                "  40 pairs of 50.00 ms slices (1000 ops per thread) in 4 pairs of processes, 0 \
                 looked like regime switches; median slice (wall-clock time): candidate"
            ),
            "{text}"
        );
        assert!(
            lines[2].starts_with("btreemap: candidate/baseline 1.00")
                && lines[2].ends_with("no difference"),
            "{text}"
        );
        assert!(lines[4].starts_with("regressions 1, improvements 0, no difference 1 (a verdict needs the whole 95% interval past 1 ± 2.0%)"), "{text}");
        assert!(r.regressed());
        let back: AbResults = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(render(&back), text);
        assert!(back
            .comparisons
            .iter()
            .zip(&r.comparisons)
            .all(|(a, b)| a.pairs == b.pairs));
    }

    #[test]
    fn thread_counts_are_named_when_there_are_several_and_few_rounds_are_undecided() {
        let mut few = comparison("plain", 2, 0.0);
        few.pairs.truncate(6);
        few.judge(0.02);
        let r = AbResults {
            comparisons: vec![comparison("plain", 1, 0.0), few],
            ..AbResults::default()
        };
        assert!(r.several_threads());
        let text = render(&r);
        assert!(
            text.contains(
                "\nplain (2 threads): candidate/baseline undecided (only 6 rounds, 10 needed)\n"
            ),
            "{text}"
        );
        assert!(
            text.starts_with("plain (1 thread): candidate/baseline"),
            "{text}"
        );
        assert!(!r.regressed());
        assert_eq!(r.counts(), [0, 0, 1, 1]);
    }

    #[test]
    fn the_page_holds_the_lines_a_forest_plot_and_escapes_names() {
        let mut evil = comparison("<b>x</b>", 1, 0.1);
        evil.candidate.store = "<script>".into();
        let r = AbResults {
            workload: "w".into(),
            threshold: 0.02,
            comparisons: vec![evil, comparison("btreemap", 1, 0.0)],
            ..AbResults::default()
        };
        let page = html(&r).unwrap();
        assert!(
            page.contains("&lt;b&gt;x&lt;&#x2F;b&gt;: candidate&#x2F;baseline 0.9"),
            "{page}"
        );
        assert!(!page.contains("<script>") && !page.contains("<b>x"));
        assert!(page.contains("class=\"regression\""));
        assert_eq!(
            page.matches("<circle").count(),
            4,
            "a whisker and a dot per row"
        );
        assert!(page.contains("regressions 1, improvements 0, no difference 1"));
    }
}
