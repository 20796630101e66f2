//! Targets: `metric` names and `expect` expressions ("> 1M ops/s", "< 10 ms", "< 100 MB"),
//! parsed once (the lab validates workload files with these) and judged against summaries.

use crate::results::{TargetVerdict, VariantSummary};

/// Operation names a metric may start with.
pub const OPS: [&str; 8] = [
    "read", "update", "insert", "delete", "scan", "rmw", "query", "batch",
];
const LATENCY: [&str; 7] = ["p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"];

/// What a metric measures, which fixes the units its target may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Rate,
    Time,
    Bytes,
    Ratio,
}

/// A metric a target can name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metric {
    Throughput,
    OpThroughput(String),
    /// Operation and latency statistic ("p99", "max", ...).
    Latency(String, String),
    BytesPerItem,
    Rss,
    LoadThroughput,
    /// A backend metric such as `cache_hit_ratio`.
    Backend(String),
}

/// Every metric form, for error messages.
pub fn metric_help() -> String {
    format!(
        "throughput, <op>.throughput, <op>.<{}>, memory.bytes_per_item, memory.rss, load.throughput, \
         cache_hit_ratio (where <op> is one of {})",
        LATENCY.join("|"),
        OPS.join(", ")
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
                if !OPS.contains(&op) {
                    return Err(bad());
                }
                if stat == "throughput" {
                    Metric::OpThroughput(op.to_owned())
                } else if LATENCY.contains(&stat) {
                    Metric::Latency(op.to_owned(), stat.to_owned())
                } else {
                    return Err(bad());
                }
            }
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Metric::Throughput | Metric::OpThroughput(_) | Metric::LoadThroughput => Kind::Rate,
            Metric::Latency(..) => Kind::Time,
            Metric::BytesPerItem | Metric::Rss => Kind::Bytes,
            Metric::Backend(_) => Kind::Ratio,
        }
    }

    /// The value in base units (ops/s, ns, bytes, fraction), if the summary has it.
    pub fn value(&self, s: &VariantSummary) -> Option<f64> {
        match self {
            Metric::Throughput => Some(s.throughput_median),
            Metric::OpThroughput(op) => s.per_op.get(op).map(|o| o.throughput),
            Metric::Latency(op, stat) => s.per_op.get(op).map(|o| match stat.as_str() {
                "p50" => o.p50_ns as f64,
                "p90" => o.p90_ns as f64,
                "p99" => o.p99_ns as f64,
                "p99.9" => o.p999_ns as f64,
                "p99.99" => o.p9999_ns as f64,
                "max" => o.max_ns as f64,
                _ => o.mean_ns,
            }),
            Metric::BytesPerItem => s.bytes_per_item,
            Metric::Rss => s.rss_bytes.map(|b| b as f64),
            Metric::LoadThroughput => Some(s.load_throughput),
            Metric::Backend(name) => s.metrics.get(name).copied(),
        }
    }
}

/// A comparison with a threshold in base units.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub op: Cmp,
    pub threshold: f64,
    pub kind: Kind,
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
            "" => (Kind::Ratio, 1.0),
            "ops/s" | "op/s" | "items/s" | "/s" => (Kind::Rate, 1.0),
            "ns" => (Kind::Time, 1.0),
            "us" | "µs" | "μs" => (Kind::Time, 1e3),
            "ms" => (Kind::Time, 1e6),
            "s" => (Kind::Time, 1e9),
            "B" | "bytes" => (Kind::Bytes, 1.0),
            "KB" => (Kind::Bytes, 1e3),
            "MB" => (Kind::Bytes, 1e6),
            "GB" => (Kind::Bytes, 1e9),
            "KiB" => (Kind::Bytes, 1024.0),
            "MiB" => (Kind::Bytes, 1024.0 * 1024.0),
            "GiB" => (Kind::Bytes, 1024.0 * 1024.0 * 1024.0),
            other => {
                return Err(format!(
                    "expect {s:?} has an unknown unit {other:?}; {help}"
                ))
            }
        };
        Ok(Expect {
            op,
            threshold: number * scale * factor,
            kind,
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
    pub fn check_kind(&self, metric: &Metric) -> Result<(), String> {
        let want = metric.kind();
        // A plain number fits any metric, in its base unit.
        if self.kind == want || self.kind == Kind::Ratio {
            Ok(())
        } else {
            let unit = match want {
                Kind::Rate => "a rate such as ops/s",
                Kind::Time => "a time such as ns, µs or ms",
                Kind::Bytes => "a size such as B, KB or MB",
                Kind::Ratio => "a plain number",
            };
            Err(format!("this metric takes {unit}"))
        }
    }
}

/// Formats a base-unit value for people.
pub fn human(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Rate if v >= 1e6 => format!("{:.2}M ops/s", v / 1e6),
        Kind::Rate if v >= 1e3 => format!("{:.1}k ops/s", v / 1e3),
        Kind::Rate => format!("{v:.0} ops/s"),
        Kind::Time => human_ns(v),
        Kind::Bytes if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        Kind::Bytes if v >= 1e3 => format!("{:.1} KB", v / 1e3),
        Kind::Bytes => format!("{v:.0} B"),
        Kind::Ratio => format!("{v:.3}"),
    }
}

pub fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Judges one target against the summaries (the variant at its highest thread count).
pub fn judge(
    name: &str,
    metric: &str,
    variant: &str,
    expect: &str,
    summaries: &[VariantSummary],
) -> TargetVerdict {
    let mut verdict = TargetVerdict {
        name: name.to_owned(),
        metric: metric.to_owned(),
        variant: variant.to_owned(),
        expect: expect.to_owned(),
        actual: None,
        actual_text: "not measured".into(),
        pass: false,
    };
    let (Ok(m), Ok(e)) = (Metric::parse(metric), Expect::parse(expect)) else {
        verdict.actual_text = "invalid target".into();
        return verdict;
    };
    let summary = summaries
        .iter()
        .filter(|s| s.variant == variant)
        .max_by_key(|s| s.threads);
    if let Some(v) = summary.and_then(|s| m.value(s)) {
        verdict.actual = Some(v);
        verdict.actual_text = human(m.kind(), v);
        verdict.pass = e.holds(v);
    }
    verdict
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
        row[current] = format!("{} (`{}`, {})", t.actual_text, results.workload, t.variant);
        row[status] = if t.pass { "pass".into() } else { "FAIL".into() };
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
        assert_eq!((e.op, e.threshold, e.kind), (Cmp::Gt, 1e6, Kind::Rate));
        assert_eq!(Expect::parse("< 10 ms").unwrap().threshold, 1e7);
        assert_eq!(Expect::parse("<1 µs").unwrap().threshold, 1e3);
        assert_eq!(Expect::parse("< 100 MB").unwrap().threshold, 1e8);
        assert_eq!(Expect::parse(">= 0.8").unwrap().kind, Kind::Ratio);
        assert_eq!(Expect::parse("> 50k ops/s").unwrap().threshold, 5e4);
        assert!(Expect::parse("fast").is_err());
        assert!(Expect::parse("> 10 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(Expect::parse("> 1M ops/s")
            .unwrap()
            .check_kind(&Metric::parse("read.p99").unwrap())
            .is_err());
    }

    #[test]
    fn metrics_parse_and_reject_unknown_ones() {
        assert_eq!(
            Metric::parse("read.p99.9").unwrap(),
            Metric::Latency("read".into(), "p99.9".into())
        );
        assert_eq!(
            Metric::parse("update.throughput").unwrap(),
            Metric::OpThroughput("update".into())
        );
        assert!(Metric::parse("reed.p99").unwrap_err().contains("read"));
        assert!(Metric::parse("latency").is_err());
    }
}
