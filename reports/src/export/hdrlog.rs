//! HdrHistogram interval logs (`lab run --hdr-log DIR`), which HistogramLogAnalyzer and
//! HdrHistogram's log processors read: one file per variant and thread count,
//! `<variant>-<threads>t.hlog` (`:` in a variant's name becomes `_`).
//!
//! Each measured repeat is one interval per operation kind, tagged with the operation's
//! name (`Tag=read,...`), its histogram the repeat's latencies in nanoseconds (V2
//! compressed). Interval start times are seconds since the run started (`BaseTime` and
//! `StartTime` are its start), the repeats laid end to end; the max column is in
//! milliseconds (`MaxValueDivisor` 1000000, as Java's HistogramLogWriter writes).

use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::results::Results;
use crate::stats;

/// The max column's divisor: nanoseconds shown as milliseconds.
pub const MAX_VALUE_DIVISOR: f64 = 1e6;

/// The log file of a variant at a thread count.
pub fn file_name(variant: &str, threads: usize) -> String {
    format!("{}-{threads}t.hlog", variant.replace([':', '/', '\\'], "_"))
}

/// A tag HdrHistogram accepts (no comma, space or line break).
fn tag_text(op: &str) -> String {
    op.replace([',', ' ', '\r', '\n'], "_")
}

/// Every log of `r`: (file name, contents), one per variant and thread count that ran.
/// Empty for instruction counts (they have no latencies).
pub fn logs(r: &Results) -> Result<Vec<(String, Vec<u8>)>, String> {
    let start = humantime::parse_rfc3339(&r.started_at).ok();
    let mut out = Vec::new();
    for s in &r.summaries {
        let mut runs: Vec<_> = r
            .runs
            .iter()
            .filter(|x| x.variant == s.variant && x.threads == s.threads)
            .collect();
        runs.sort_by_key(|x| x.repeat);
        let mut bytes = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment(&format!(
                "acorn-lab {}: variant {} at {} thread(s), latencies in ns, one interval per \
                 repeat and operation (tagged)",
                r.workload, s.variant, s.threads
            ))
            .with_max_value_divisor(MAX_VALUE_DIVISOR);
        if let Some(t) = start {
            builder.with_start_time(t).with_base_time(t);
        }
        let mut log = builder
            .begin_log_with(&mut bytes, &mut serializer)
            .map_err(|e| e.to_string())?;
        let mut at = Duration::ZERO;
        for run in runs {
            let length = Duration::try_from_secs_f64(run.elapsed_s).unwrap_or_default();
            for (op, o) in &run.per_op {
                let tag = tag_text(op);
                log.write_histogram(&stats::decode(&o.histogram), at, length, Tag::new(&tag))
                    .map_err(|e| format!("{}: {e}", file_name(&s.variant, s.threads)))?;
            }
            at += length;
        }
        drop(log);
        out.push((file_name(&s.variant, s.threads), bytes));
    }
    Ok(out)
}
