//! JUnit XML, which every CI shows as test results: a `<testsuite>` per workload, a
//! `<testcase>` per variant and thread count (a comparison's phase, or a run's measured
//! phase) and per target. A regression or a missed target is a `<failure>` whose message
//! holds the numbers; a phase no change of which could be judged is `<skipped>`.

use std::fmt::Write as _;

use super::{human_value, measurements, Compared, Comparison};
use crate::format::{self, Verdict};
use crate::results::{Results, TargetStatus};

/// Text safe in an XML attribute or element: the five entities escaped, and the control
/// characters XML 1.0 forbids left out.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// One test case before it is written.
struct Case {
    name: String,
    /// The failure's message and type (`regression`, `target`).
    failure: Option<(String, &'static str)>,
    skipped: Option<String>,
    out: String,
}

struct Suite {
    name: String,
    cases: Vec<Case>,
}

fn document(name: &str, suites: &[Suite]) -> String {
    let count = |f: fn(&Case) -> bool| -> usize {
        suites
            .iter()
            .map(|s| s.cases.iter().filter(|c| f(c)).count())
            .sum()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        escape(name),
        count(|_| true),
        count(|c| c.failure.is_some()),
        count(|c| c.skipped.is_some())
    );
    for s in suites {
        let failures = s.cases.iter().filter(|c| c.failure.is_some()).count();
        let skipped = s.cases.iter().filter(|c| c.skipped.is_some()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
             skipped=\"{skipped}\">",
            escape(&s.name),
            s.cases.len()
        );
        for c in &s.cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\">",
                escape(&s.name),
                escape(&c.name)
            );
            if let Some((m, kind)) = &c.failure {
                let _ = write!(
                    out,
                    "\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                    escape(m),
                    escape(m)
                );
            }
            if let Some(m) = &c.skipped {
                let _ = write!(out, "\n      <skipped message=\"{}\"/>", escape(m));
            }
            if !c.out.is_empty() {
                let _ = write!(out, "\n      <system-out>{}</system-out>", escape(&c.out));
            }
            out.push_str("\n    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// "plain ×2".
fn phase_name(variant: &str, threads: usize) -> String {
    format::variant_threads(variant, threads)
}

/// `lab run`'s results: a passing case per measured phase (its numbers in `system-out`),
/// and a case per target, failing when missed.
pub fn run(results: &[Results]) -> String {
    let suites: Vec<Suite> = results.iter().map(run_suite).collect();
    document("acorn-lab run", &suites)
}

fn run_suite(r: &Results) -> Suite {
    let m = measurements(r);
    let mut cases = Vec::new();
    for ((variant, threads), rows) in
        super::grouped(m.iter().map(|x| ((x.variant.as_str(), x.threads), x)))
    {
        let lines: Vec<String> = rows
            .iter()
            .map(|x| format!("{} {}: {}", x.op, x.metric, human_value(x.unit, x.value)))
            .collect();
        let name = if r.measure == crate::Measure::Instructions {
            variant.to_owned()
        } else {
            phase_name(variant, threads)
        };
        cases.push(Case {
            name,
            failure: None,
            skipped: None,
            out: lines.join("\n"),
        });
    }
    for t in &r.targets {
        let text = format!(
            "{}{} {} {}: got {}",
            t.variant,
            t.threads.map_or(String::new(), |n| format!(" ×{n}")),
            t.metric,
            t.expect,
            t.actual_text
        );
        let not_judged = crate::targets::not_judged(r);
        let status = t.status();
        let missed = status == TargetStatus::Fail && not_judged.is_none();
        cases.push(Case {
            name: format!("target: {}", t.name),
            failure: missed.then(|| (format!("target missed: {text}"), "target")),
            skipped: not_judged.map(|why| format!("targets {why}")).or_else(|| {
                (status == TargetStatus::Undecided)
                    .then(|| format!("undecided (the interval straddles it): {text}"))
            }),
            out: text,
        });
    }
    Suite {
        name: r.workload.clone(),
        cases,
    }
}

/// One change as a line: "all throughput: 1.20M ops/s → 1.00M ops/s (−16.67%, interval
/// [−18.20%, −15.10%], threshold 5.0%): REGRESSION (vs btreemap)".
fn change_line(c: &Compared, threshold: f64) -> String {
    let v = |x: f64| human_value(c.unit, x);
    let interval = super::interval_text(c);
    let interval = if interval.is_empty() {
        interval
    } else {
        format!(", interval {interval}")
    };
    let reason = if c.reason.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.reason)
    };
    format!(
        "{} {}: {} → {} ({}{interval}, threshold {}): {}{reason}",
        c.op,
        c.metric,
        v(c.base),
        v(c.new),
        c.change.map_or_else(|| "?".into(), format::change_percent),
        format::percent(threshold),
        format::verdict_label(c.verdict)
    )
}

/// `lab compare`'s outcome: a case per variant and thread count, failing when any of its
/// changes is a regression (each regressed change in the message), skipped when none
/// could be judged.
pub fn compare(c: &Comparison) -> String {
    let cases = c
        .phases()
        .into_iter()
        .map(|((variant, threads), changes)| {
            let regressions: Vec<String> = changes
                .iter()
                .filter(|x| x.verdict == Verdict::Slower)
                .map(|x| change_line(x, c.threshold))
                .collect();
            let all: Vec<String> = changes
                .iter()
                .map(|x| change_line(x, c.threshold))
                .collect();
            Case {
                name: if c.measure == "instructions" {
                    variant.to_owned()
                } else {
                    phase_name(variant, threads)
                },
                failure: (!regressions.is_empty()).then(|| {
                    (
                        format!("regression: {}", regressions.join("; ")),
                        "regression",
                    )
                }),
                skipped: changes
                    .iter()
                    .all(|x| x.verdict == Verdict::Unsure)
                    .then(|| "undecided: no change could be judged".to_owned()),
                out: all.join("\n"),
            }
        })
        .collect();
    let suite = Suite {
        name: format!("compare {}", c.workload),
        cases,
    };
    document("acorn-lab compare", &[suite])
}
