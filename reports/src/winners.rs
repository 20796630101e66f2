//! The winner of each operation at each thread count, and why: how far ahead of the
//! runner-up it is, and the numbers that differ between them (cache hit ratio,
//! allocations per operation, bytes per item, serialization).

use std::collections::BTreeSet;

use crate::format::{allocations, human, human_ns, percent, times, Unit};
use crate::results::{OpResult, Results, VariantSummary};

/// The fastest variant for one operation at one thread count.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Winner {
    pub op: String,
    pub threads: usize,
    pub fastest: String,
    pub fastest_rate: String,
    pub lowest_p99: String,
    pub p99: String,
    /// "2.71× plain: 0 allocations/op vs 19.0; postcard (binary serde) vs JSON (serde_json)";
    /// empty when the variant ran alone.
    pub why: String,
}

type Entry<'a> = (&'a VariantSummary, &'a OpResult);

/// One winner per operation and thread count, in operation then thread order.
pub fn winners(results: &Results) -> Vec<Winner> {
    let keys: BTreeSet<(&String, usize)> = results
        .summaries
        .iter()
        .flat_map(|s| s.per_op.keys().map(move |op| (op, s.threads)))
        .collect();
    keys.into_iter()
        .filter_map(|(op, threads)| {
            let mut present: Vec<Entry<'_>> = results
                .summaries
                .iter()
                .filter(|s| s.threads == threads)
                .filter_map(|s| s.per_op.get(op).map(|o| (s, o)))
                .collect();
            present.sort_by(|a, b| b.1.throughput.total_cmp(&a.1.throughput));
            let fastest = *present.first()?;
            let lowest = present.iter().min_by_key(|(_, o)| o.p99_ns)?;
            Some(Winner {
                op: op.clone(),
                threads,
                fastest: fastest.0.variant.clone(),
                fastest_rate: human(Unit::Rate, fastest.1.throughput),
                lowest_p99: lowest.0.variant.clone(),
                p99: human_ns(lowest.1.p99_ns as f64),
                why: present.get(1).map(|r| why(fastest, *r)).unwrap_or_default(),
            })
        })
        .collect()
}

/// How far the winner is ahead of the runner-up, and what differs between them.
fn why(w: Entry<'_>, r: Entry<'_>) -> String {
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
    let ratio = if r.1.throughput > 0.0 {
        times(w.1.throughput / r.1.throughput)
    } else {
        "ahead of".into()
    };
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
    fn winners_per_thread_count_say_why() {
        let mut cached = summary("cached", 1, 400.0, Some(0));
        cached.metrics.insert("cache_hit_ratio".into(), 0.9);
        let results = Results {
            summaries: vec![
                summary("plain", 1, 100.0, Some(1900)),
                cached,
                summary("plain", 2, 150.0, None),
            ],
            ..Results::default()
        };
        let w = winners(&results);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].fastest.as_str(), w[0].threads), ("cached", 1));
        assert_eq!(
            w[0].why,
            "4.00× plain: cache hit ratio 90.0%; 0 allocations/op vs 19.0"
        );
        assert_eq!((w[1].fastest.as_str(), w[1].why.as_str()), ("plain", ""));
    }
}
