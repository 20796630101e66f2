//! Targets: `metric` names and `expect` expressions ("> 1M ops/s", "< 10 ms", "< 100 MB"),
//! parsed once (the lab validates workload files with these) and judged against summaries.

use std::fmt;

use crate::estimate::{self, Estimate, Stat};
use crate::format::Unit;
use crate::op::OpKind;
use crate::results::{RunResult, TargetStatus, TargetVerdict, VariantSummary};

const LATENCY: [&str; 7] = ["p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"];

/// A metric a target can name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metric {
    Throughput,
    OpThroughput(OpKind),
    /// Operation and latency statistic ("p99", "max", ...).
    Latency(OpKind, &'static str),
    /// Heap allocations per operation ("update.allocations").
    Allocations(OpKind),
    BytesPerItem,
    Rss,
    LoadThroughput,
    /// A backend metric such as `cache_hit_ratio`.
    Backend(String),
}

/// Every metric form, for error messages.
pub fn metric_help() -> String {
    format!(
        "throughput, <op>.throughput, <op>.<{}>, <op>.allocations, memory.bytes_per_item, \
         memory.rss, load.throughput, cache_hit_ratio (where <op> is one of {})",
        LATENCY.join("|"),
        OpKind::ALL.map(OpKind::name).join(", ")
    )
}

impl Metric {
    pub fn parse(s: &str) -> Result<Metric, String> {
        let bad = || format!("unknown metric {s:?}; metrics are {}", metric_help());
        Ok(match s {
            "throughput" => Metric::Throughput,
            "memory.bytes_per_item" => Metric::BytesPerItem,
            "memory.rss" => Metric::Rss,
            "load.throughput" => Metric::LoadThroughput,
            "cache_hit_ratio" => Metric::Backend(s.to_owned()),
            _ => {
                let (op, stat) = s.split_once('.').ok_or_else(bad)?;
                let op = OpKind::parse(op).ok_or_else(bad)?;
                if stat == "throughput" {
                    Metric::OpThroughput(op)
                } else if stat == "allocations" {
                    Metric::Allocations(op)
                } else {
                    let stat = LATENCY.iter().find(|l| **l == stat).ok_or_else(bad)?;
                    Metric::Latency(op, stat)
                }
            }
        })
    }

    /// The unit its values are in.
    pub fn unit(&self) -> Unit {
        match self {
            Metric::Throughput | Metric::OpThroughput(_) | Metric::LoadThroughput => Unit::Rate,
            Metric::Latency(..) => Unit::Time,
            Metric::BytesPerItem | Metric::Rss => Unit::Bytes,
            Metric::Backend(_) | Metric::Allocations(_) => Unit::Ratio,
        }
    }

    /// The value in base units (ops/s, ns, bytes, fraction), if the summary has it.
    pub fn value(&self, s: &VariantSummary) -> Option<f64> {
        match self {
            Metric::Throughput => Some(s.throughput_median),
            Metric::OpThroughput(op) => s.per_op.get(op.name()).map(|o| o.throughput),
            Metric::Latency(op, stat) => s.per_op.get(op.name()).map(|o| match *stat {
                "p50" => o.p50_ns as f64,
                "p90" => o.p90_ns as f64,
                "p99" => o.p99_ns as f64,
                "p99.9" => o.p999_ns as f64,
                "p99.99" => o.p9999_ns as f64,
                "max" => o.max_ns as f64,
                _ => o.mean_ns,
            }),
            Metric::Allocations(op) => s.per_op.get(op.name())?.allocations_per_op(),
            Metric::BytesPerItem => s.bytes_per_item,
            Metric::Rss => s.rss_bytes.map(|b| b as f64),
            Metric::LoadThroughput => Some(s.load_throughput),
            Metric::Backend(name) => s.metrics.get(name).copied(),
        }
    }
}

impl Metric {
    /// The estimate the target is judged on: for throughputs and the latency percentiles
    /// kept per block (p50, p90, p99, p99.9), the median over the blocks of `runs` with its
    /// interval ([`crate::estimate`]); for the rest (max, mean, p99.99, memory,
    /// allocations, load, backend counters), the summary's value, with no interval.
    pub fn estimate(&self, s: &VariantSummary, runs: &[&RunResult]) -> Option<Estimate> {
        let blocked = match self {
            Metric::Throughput => estimate::over_runs(runs, None, Stat::Throughput),
            Metric::OpThroughput(op) => {
                estimate::over_runs(runs, Some(op.name()), Stat::Throughput)
            }
            Metric::Latency(op, stat) => {
                Stat::latency(stat).and_then(|st| estimate::over_runs(runs, Some(op.name()), st))
            }
            _ => None,
        };
        blocked.or_else(|| self.value(s).map(Estimate::exact))
    }
}

impl fmt::Display for Metric {
    /// The metric as a workload file writes it (`Metric::parse` reads it back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Throughput => f.write_str("throughput"),
            Metric::OpThroughput(op) => write!(f, "{}.throughput", op.name()),
            Metric::Latency(op, stat) => write!(f, "{}.{stat}", op.name()),
            Metric::Allocations(op) => write!(f, "{}.allocations", op.name()),
            Metric::BytesPerItem => f.write_str("memory.bytes_per_item"),
            Metric::Rss => f.write_str("memory.rss"),
            Metric::LoadThroughput => f.write_str("load.throughput"),
            Metric::Backend(name) => f.write_str(name),
        }
    }
}

/// A comparison with a threshold in base units.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub op: Cmp,
    pub threshold: f64,
    pub unit: Unit,
    /// The expression as written, for reports.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Expect {
    /// Parses "> 1M ops/s", "<= 2.5 ms", "< 100 MB", ">= 0.8".
    pub fn parse(s: &str) -> Result<Expect, String> {
        let help = "write it as <comparison> <number>[k|M|G] [unit], e.g. \"> 1M ops/s\", \"< 10 ms\", \"< 100 MB\", \">= 0.8\"";
        let t = s.trim();
        let (op, rest) = if let Some(r) = t.strip_prefix(">=") {
            (Cmp::Ge, r)
        } else if let Some(r) = t.strip_prefix("<=") {
            (Cmp::Le, r)
        } else if let Some(r) = t.strip_prefix('>') {
            (Cmp::Gt, r)
        } else if let Some(r) = t.strip_prefix('<') {
            (Cmp::Lt, r)
        } else {
            return Err(format!("expect {s:?} has no comparison; {help}"));
        };
        let rest = rest.trim();
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..split]
            .replace('_', "")
            .parse()
            .map_err(|_| format!("expect {s:?} has no number; {help}"))?;
        let mut unit = rest[split..].trim();
        let mut scale = 1.0;
        for (suffix, factor) in [("k", 1e3), ("K", 1e3), ("M", 1e6), ("G", 1e9)] {
            // "1M ops/s" but not "100 MB" (a byte unit) or "1 ms".
            if let Some(u) = unit.strip_prefix(suffix) {
                if u.is_empty()
                    || u.starts_with(' ')
                    || u.starts_with("ops")
                    || u.starts_with("items")
                {
                    scale = factor;
                    unit = u.trim();
                    break;
                }
            }
        }
        let (kind, factor) = match unit {
            "" => (Unit::Ratio, 1.0),
            "ops/s" | "op/s" | "items/s" | "/s" => (Unit::Rate, 1.0),
            "ns" => (Unit::Time, 1.0),
            "us" | "µs" | "μs" => (Unit::Time, 1e3),
            "ms" => (Unit::Time, 1e6),
            "s" => (Unit::Time, 1e9),
            "B" | "bytes" => (Unit::Bytes, 1.0),
            "KB" => (Unit::Bytes, 1e3),
            "MB" => (Unit::Bytes, 1e6),
            "GB" => (Unit::Bytes, 1e9),
            "KiB" => (Unit::Bytes, 1024.0),
            "MiB" => (Unit::Bytes, 1024.0 * 1024.0),
            "GiB" => (Unit::Bytes, 1024.0 * 1024.0 * 1024.0),
            other => {
                return Err(format!(
                    "expect {s:?} has an unknown unit {other:?}; {help}"
                ))
            }
        };
        Ok(Expect {
            op,
            threshold: number * scale * factor,
            unit: kind,
            text: t.to_owned(),
        })
    }

    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Cmp::Gt => value > self.threshold,
            Cmp::Ge => value >= self.threshold,
            Cmp::Lt => value < self.threshold,
            Cmp::Le => value <= self.threshold,
        }
    }

    /// Checks the unit fits the metric ("< 10 ms" for a throughput is a mistake).
    pub fn check_unit(&self, metric: &Metric) -> Result<(), String> {
        let want = metric.unit();
        // A plain number fits any metric, in its base unit.
        if self.unit == want || self.unit == Unit::Ratio {
            Ok(())
        } else {
            let unit = match want {
                Unit::Rate => "a rate such as ops/s",
                Unit::Time => "a time such as ns, µs or ms",
                Unit::Bytes => "a size such as B, KB or MB",
                Unit::Ratio => "a plain number",
            };
            Err(format!("this metric takes {unit}"))
        }
    }
}

/// A parsed target: what to measure on which variant, and what it must satisfy.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub name: String,
    pub variant: String,
    pub metric: Metric,
    pub expect: Expect,
}

impl serde::Serialize for Target {
    /// As the workload file wrote it: name, variant, metric and expectation as text.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Target", 4)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("metric", &self.metric.to_string())?;
        st.serialize_field("variant", &self.variant)?;
        st.serialize_field("expect", &self.expect.text)?;
        st.end()
    }
}

impl Target {
    /// Parses a target from the strings a workload or results file holds.
    pub fn parse(name: &str, variant: &str, metric: &str, expect: &str) -> Result<Target, String> {
        let metric = Metric::parse(metric)?;
        let expect = Expect::parse(expect)?;
        expect.check_unit(&metric)?;
        Ok(Target {
            name: name.to_owned(),
            variant: variant.to_owned(),
            metric,
            expect,
        })
    }

    /// Judges the target on the variant at its highest thread count: its estimate (the
    /// median over blocks of `runs`, with its 95% interval; other metrics, measured once,
    /// as they are) passes when the whole interval meets the expectation, fails when the
    /// whole interval misses it, and is undecided when the interval straddles it.
    pub fn judge(&self, summaries: &[VariantSummary], runs: &[RunResult]) -> TargetVerdict {
        self.judge_with(summaries, runs, 1.0)
    }

    /// [`Target::judge`], where a miss counts as a failure only if it would still miss
    /// with the interval stretched `slack` times towards the expectation (a busy machine
    /// may have run this `slack` times slower than it can); a miss within that is
    /// undecided.
    pub fn judge_with(
        &self,
        summaries: &[VariantSummary],
        runs: &[RunResult],
        slack: f64,
    ) -> TargetVerdict {
        let mut verdict = TargetVerdict {
            name: self.name.clone(),
            metric: self.metric.to_string(),
            variant: self.variant.clone(),
            expect: self.expect.text.clone(),
            threads: None,
            actual: None,
            interval: None,
            actual_text: "not measured".into(),
            pass: false,
            status: Some(TargetStatus::Fail),
        };
        let summary = summaries
            .iter()
            .filter(|s| s.variant == self.variant)
            .max_by_key(|s| s.threads);
        let Some(s) = summary else {
            return verdict;
        };
        let mine: Vec<&RunResult> = runs
            .iter()
            .filter(|r| r.variant == s.variant && r.threads == s.threads)
            .collect();
        let Some(e) = self.metric.estimate(s, &mine) else {
            return verdict;
        };
        let unit = self.metric.unit();
        let slack = slack.max(1.0);
        let stretched = self.expect.holds(e.hi * slack) || self.expect.holds(e.lo / slack);
        let status = match (self.expect.holds(e.lo), self.expect.holds(e.hi)) {
            (true, true) => TargetStatus::Pass,
            (false, false) if !stretched => TargetStatus::Fail,
            _ => TargetStatus::Undecided,
        };
        verdict.threads = Some(s.threads);
        verdict.actual = Some(e.median);
        verdict.interval = e.has_interval().then(|| e.interval());
        verdict.actual_text = crate::estimate::with_interval(unit, &e);
        verdict.pass = status == TargetStatus::Pass;
        verdict.status = Some(status);
        verdict
    }
}

/// Judges `targets` on the runs and summaries of `r` (see [`Target::judge`]). On a machine
/// that was busy with other work ([`crate::estimate::busy`]: load average `L` on `c`
/// cores), the run may have had as little as `c / L` of the cores it asked for, so a
/// target it missed fails only if it would still miss at `L / c` times the speed; within
/// that it is undecided. (A target met on a busy machine stands.)
pub fn judge_all(targets: &[Target], r: &crate::results::Results) -> Vec<TargetVerdict> {
    let slack = crate::estimate::busy(r).map_or(1.0, |load| load / r.machine.cores as f64);
    targets
        .iter()
        .map(|t| t.judge_with(&r.summaries, &r.runs, slack))
        .collect()
}

/// Why the targets of `r` were not judged, when they were not: an interrupted run, or a
/// `--quick` one (a smoke run, not a measurement). `None` for a run that judges its
/// targets (or has none).
pub fn not_judged(r: &crate::results::Results) -> Option<&'static str> {
    if r.measure != crate::Measure::WallClock {
        return None;
    }
    if r.partial {
        Some("not judged (the run was interrupted)")
    } else if r.quick {
        Some(
            "not judged (--quick: short phases and one repeat are a smoke run, not a \
             measurement)",
        )
    } else {
        None
    }
}

const BEGIN: &str = "<!-- targets:begin -->";
const END: &str = "<!-- targets:end -->";

/// Rewrites the Current and Status cells of every row of the targets table (between the
/// markers) whose first cell names a target in `results`, and the "_Updated …_" line under
/// it. Everything else in `text` is left as it was.
pub fn update_markdown(text: &str, results: &crate::results::Results) -> Result<String, String> {
    let b = text.find(BEGIN).ok_or(format!("no `{BEGIN}` marker"))? + BEGIN.len();
    let e = text[b..]
        .find(END)
        .map(|i| b + i)
        .ok_or(format!("no `{END}` marker after `{BEGIN}`"))?;
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let mut lines: Vec<String> = text[b..e].lines().map(str::to_owned).collect();
    let header = lines
        .iter()
        .position(|l| {
            l.trim_start().starts_with('|') && l.contains("Current") && l.contains("Status")
        })
        .ok_or("the targets table has no header row with `Current` and `Status` columns")?;
    let head = cells(&lines[header]);
    let col = |name: &str| head.iter().position(|c| c == name);
    let (Some(current), Some(status)) = (col("Current"), col("Status")) else {
        return Err("the targets table has no `Current` or `Status` column".into());
    };
    let mut matched = 0;
    for line in lines.iter_mut().skip(header + 2) {
        if !line.trim_start().starts_with('|') {
            continue;
        }
        let mut row = cells(line);
        let Some(t) = results
            .targets
            .iter()
            .find(|t| row.first().is_some_and(|c| *c == t.name))
        else {
            continue;
        };
        if row.len() <= current.max(status) {
            continue;
        }
        let at = t.threads.map_or(String::new(), |n| {
            format!(", {}", crate::format::threads_text(n))
        });
        row[current] = format!(
            "{} (`{}`, {}{at})",
            t.actual_text, results.workload, t.variant
        );
        row[status] = t.status().label().into();
        *line = format!("| {} |", row.join(" | "));
        matched += 1;
    }
    lines.retain(|l| !l.starts_with("_Updated "));
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines.push(String::new());
    lines.push(format!(
        "_Updated {} on {} ({} cores), rev {}, from `{}`: {matched} row(s)._",
        results.started_at,
        results.machine.cpu,
        results.machine.cores,
        results.machine.git_revision,
        results.workload
    ));
    Ok(format!(
        "{}{}\n{}",
        &text[..b],
        lines.join("\n"),
        &text[e..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse_into_base_units() {
        let e = Expect::parse("> 1M ops/s").unwrap();
        assert_eq!((e.op, e.threshold, e.unit), (Cmp::Gt, 1e6, Unit::Rate));
        assert_eq!(Expect::parse("< 10 ms").unwrap().threshold, 1e7);
        assert_eq!(Expect::parse("<1 µs").unwrap().threshold, 1e3);
        assert_eq!(Expect::parse("< 100 MB").unwrap().threshold, 1e8);
        assert_eq!(Expect::parse(">= 0.8").unwrap().unit, Unit::Ratio);
        assert_eq!(Expect::parse("> 50k ops/s").unwrap().threshold, 5e4);
        assert!(Expect::parse("fast").is_err());
        assert!(Expect::parse("> 10 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(Expect::parse("> 1M ops/s")
            .unwrap()
            .check_unit(&Metric::parse("read.p99").unwrap())
            .is_err());
    }

    #[test]
    fn metrics_parse_and_reject_unknown_ones() {
        assert_eq!(
            Metric::parse("read.p99.9").unwrap(),
            Metric::Latency(OpKind::Read, "p99.9")
        );
        assert_eq!(
            Metric::parse("update.throughput").unwrap(),
            Metric::OpThroughput(OpKind::Update)
        );
        for text in [
            "throughput",
            "read.p99.9",
            "scan.throughput",
            "memory.rss",
            "cache_hit_ratio",
            "update.allocations",
        ] {
            assert_eq!(Metric::parse(text).unwrap().to_string(), text, "round trip");
        }
        assert!(Metric::parse("reed.p99").unwrap_err().contains("read"));
        assert!(Metric::parse("latency").is_err());
    }
}
