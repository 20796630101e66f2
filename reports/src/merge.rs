//! `lab merge`: results of one workload from several processes or machines that drove load
//! at the same time, as one. Runs are kept; summaries add throughputs (the generators ran
//! side by side) and merge histograms exactly, so merged percentiles are true percentiles.

use std::collections::BTreeMap;

use crate::results::{OpResult, Results, VariantSummary};
use crate::stats;

/// Merges `parts` (at least one) of the same workload.
pub fn merge(parts: &[Results]) -> Result<Results, String> {
    let first = parts.first().ok_or("nothing to merge")?;
    if let Some(other) = parts.iter().find(|p| p.workload != first.workload) {
        return Err(format!(
            "cannot merge different workloads: {:?} and {:?}",
            first.workload, other.workload
        ));
    }
    let mut out = first.clone();
    out.runs = parts.iter().flat_map(|p| p.runs.iter().cloned()).collect();
    out.partial = parts.iter().any(|p| p.partial);
    out.contended = parts.iter().any(|p| p.contended);
    let mut summaries: Vec<VariantSummary> = Vec::new();
    for s in parts.iter().flat_map(|p| &p.summaries) {
        match summaries
            .iter_mut()
            .find(|m| m.variant == s.variant && m.threads == s.threads)
        {
            None => summaries.push(s.clone()),
            Some(m) => {
                m.throughput_median += s.throughput_median;
                m.throughput_ci95 = [
                    m.throughput_ci95[0] + s.throughput_ci95[0],
                    m.throughput_ci95[1] + s.throughput_ci95[1],
                ];
                m.spread = m.spread.max(s.spread);
                let mut per_op: BTreeMap<String, OpResult> = BTreeMap::new();
                for op in m.per_op.keys().chain(s.per_op.keys()) {
                    let parts: Vec<&OpResult> = [m.per_op.get(op), s.per_op.get(op)]
                        .into_iter()
                        .flatten()
                        .collect();
                    let mut merged = stats::merge_ops(&parts, 1.0);
                    merged.throughput = parts.iter().map(|p| p.throughput).sum();
                    per_op.insert(op.clone(), merged);
                }
                m.per_op = per_op;
                m.metrics = stats::merge_metrics([&m.metrics, &s.metrics]);
            }
        }
    }
    out.summaries = summaries;
    out.machine.hostname = parts
        .iter()
        .map(|p| p.machine.hostname.as_str())
        .collect::<Vec<_>>()
        .join("+");
    out.targets = first
        .targets
        .iter()
        .map(|t| {
            // The part files hold targets as text; one that no longer parses is reported
            // as such rather than judged.
            match crate::targets::Target::parse(&t.name, &t.variant, &t.metric, &t.expect) {
                Ok(target) => target.judge(&out.summaries),
                Err(_) => crate::results::TargetVerdict {
                    actual: None,
                    actual_text: "invalid target".into(),
                    pass: false,
                    ..t.clone()
                },
            }
        })
        .collect();
    Ok(out)
}
