//! Why the winner of an operation at a thread count won: how far ahead of the runner-up it
//! is, and the numbers that differ between them (cache hit ratio, allocations per
//! operation, bytes per item, serialization). The report's winners table (`html.rs`) picks
//! the winner, or a tie, from the repeats' intervals.

use crate::format::{allocations, human, percent, times, Unit};
use crate::paired::Ratio;
use crate::results::{OpResult, VariantSummary};

/// A variant's summary and its numbers for one operation.
pub type Entry<'a> = (&'a VariantSummary, &'a OpResult);

/// How far the winner is ahead of the runner-up (the ratio of their medians over
/// repeats), and what differs between them.
pub fn why(w: Entry<'_>, r: Entry<'_>) -> String {
    let ratio = if r.1.throughput > 0.0 {
        times(w.1.throughput / r.1.throughput)
    } else {
        "ahead of".into()
    };
    because(ratio, w, r)
}

/// As [`why`], with the ratio judged from paired rounds: "1.31× [1.27, 1.35] pooled: ...".
pub fn why_paired(w: Entry<'_>, r: Entry<'_>, ratio: &Ratio) -> String {
    because(ratio.text(), w, r)
}

/// "`ratio` runner-up: what differs".
fn because(ratio: String, w: Entry<'_>, r: Entry<'_>) -> String {
    let mut facts = Vec::new();
    let hit = |s: &VariantSummary| s.metrics.get("cache_hit_ratio").copied();
    match (hit(w.0), hit(r.0)) {
        (Some(a), Some(b)) => {
            facts.push(format!("cache hit ratio {} vs {}", percent(a), percent(b)))
        }
        (Some(a), None) => facts.push(format!("cache hit ratio {}", percent(a))),
        (None, Some(b)) => facts.push(format!("{}'s cache hit ratio {}", r.0.variant, percent(b))),
        (None, None) => {}
    }
    let (wa, ra) = (w.1.allocations_per_op(), r.1.allocations_per_op());
    if (wa.is_some() || ra.is_some()) && wa != ra {
        facts.push(format!(
            "{} allocations/op vs {}",
            allocations(wa),
            allocations(ra)
        ));
    }
    if let (Some(a), Some(b)) = (w.0.bytes_per_item, r.0.bytes_per_item) {
        if (a - b).abs() > 0.1 * a.max(b) {
            facts.push(format!(
                "{}/item vs {}",
                human(Unit::Bytes, a),
                human(Unit::Bytes, b)
            ));
        }
    }
    let ser = |s: &VariantSummary| s.info.get("serialization").cloned().unwrap_or_default();
    if ser(w.0) != ser(r.0) {
        facts.push(format!("{} vs {}", ser(w.0), ser(r.0)));
    }
    let mut out = format!("{ratio} {}", r.0.variant);
    if !facts.is_empty() {
        out.push_str(": ");
        out.push_str(&facts.join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn summary(variant: &str, threads: usize, rate: f64, allocs: Option<u64>) -> VariantSummary {
        let op = OpResult {
            count: 100,
            throughput: rate,
            p99_ns: (1e9 / rate) as u64,
            allocations: allocs,
            ..OpResult::default()
        };
        VariantSummary {
            variant: variant.into(),
            threads,
            per_op: BTreeMap::from([("read".to_owned(), op)]),
            info: BTreeMap::from([("serialization".to_owned(), "JSON".to_owned())]),
            ..VariantSummary::default()
        }
    }

    #[test]
    fn why_names_the_ratio_and_what_differs() {
        let mut cached = summary("cached", 1, 400.0, Some(0));
        cached.metrics.insert("cache_hit_ratio".into(), 0.9);
        let plain = summary("plain", 1, 100.0, Some(1900));
        let (w, r) = (&cached, &plain);
        assert_eq!(
            why((w, &w.per_op["read"]), (r, &r.per_op["read"])),
            "4.0× plain: cache hit ratio 90.0%; 0 allocations/op vs 19.0"
        );
    }
}
