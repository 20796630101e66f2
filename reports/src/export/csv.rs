//! CSV for spreadsheets (RFC 4180: a header row, fields with a comma, quote or line break
//! quoted), one number per row so that a pivot table lays it out any way:
//! - a run: `workload,variant,threads,op,metric,value,lower,upper,unit` (lower and upper:
//!   the 95% interval over the repeats, empty with one repeat);
//! - a comparison:
//!   `workload,variant,threads,op,metric,unit,base,new,change,lower,upper,verdict,reason`
//!   (change and its interval `lower`..`upper` as fractions; verdict `no-difference`,
//!   `improvement`, `regression` or `undecided`; reason: why undecided, or what the row was
//!   judged against).

use super::{measurements, verdict_name, Comparison};
use crate::results::Results;

/// The header of a run's CSV.
pub const RUN_HEADER: [&str; 9] = [
    "workload", "variant", "threads", "op", "metric", "value", "lower", "upper", "unit",
];

/// The header of a comparison's CSV.
pub const COMPARE_HEADER: [&str; 13] = [
    "workload", "variant", "threads", "op", "metric", "unit", "base", "new", "change", "lower",
    "upper", "verdict", "reason",
];

/// One field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn line(out: &mut String, fields: &[String]) {
    let fields: Vec<String> = fields.iter().map(|f| field(f)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// A number as a spreadsheet reads it; empty when absent or not finite.
fn number(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or(String::new(), |v| v.to_string())
}

/// `lab run`'s results, every workload in one table.
pub fn run(results: &[Results]) -> String {
    let mut out = String::new();
    line(&mut out, &RUN_HEADER.map(str::to_owned));
    for r in results {
        for m in measurements(r) {
            line(
                &mut out,
                &[
                    m.workload,
                    m.variant,
                    m.threads.to_string(),
                    m.op,
                    m.metric.to_owned(),
                    number(Some(m.value)),
                    number(m.lower),
                    number(m.upper),
                    m.unit.to_owned(),
                ],
            );
        }
    }
    out
}

/// `lab compare`'s outcome.
pub fn compare(c: &Comparison) -> String {
    let mut out = String::new();
    line(&mut out, &COMPARE_HEADER.map(str::to_owned));
    for x in &c.changes {
        line(
            &mut out,
            &[
                c.workload.clone(),
                x.variant.clone(),
                x.threads.to_string(),
                x.op.clone(),
                x.metric.to_owned(),
                x.unit.to_owned(),
                number(Some(x.base)),
                number(Some(x.new)),
                number(x.change),
                number(x.lower),
                number(x.upper),
                verdict_name(x.verdict).to_owned(),
                x.reason.clone(),
            ],
        );
    }
    out
}
