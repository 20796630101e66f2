#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

/// Reads the number after `"value":` without decoding the document (the seed guide's
/// filter-before-deserialize idea).
fn raw_value(b: &[u8]) -> Option<u64> {
    let at = b.windows(8).position(|w| w == b"\"value\":")? + 8;
    let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    std::str::from_utf8(&b[at..at + digits]).ok()?.parse().ok()
}

fn query(c: &mut Criterion) {
    let mut g = c.benchmark_group("query_operations");
    for n in SIZES {
        let tree = filled(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("query_all_{n}"), |b| {
            b.iter(|| black_box(tree.query().collect().unwrap()));
        });
        let raw = raw_filled(n);
        g.bench_function(format!("raw_btreemap_collect_all_{n}"), |b| {
            b.iter(|| {
                let m = raw.read().unwrap();
                let mut out = Vec::with_capacity(m.len());
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                black_box(out)
            });
        });
        g.bench_function(format!("query_all_borrowed_{n}"), |b| {
            b.iter(|| {
                let mut bytes = 0;
                tree.query().for_each(|n| bytes += n.value.len()).unwrap();
                black_box(bytes)
            });
        });
        g.bench_function(format!("count_all_{n}"), |b| {
            b.iter(|| black_box(tree.query().count().unwrap()));
        });
        g.bench_function(format!("filtered_raw_{n}"), |b| {
            b.iter(|| {
                black_box(
                    tree.query()
                        .filter_raw(|v| raw_value(v).is_some_and(|x| x > 900))
                        .collect()
                        .unwrap(),
                )
            });
        });
        g.bench_function(format!("filtered_decoded_{n}"), |b| {
            b.iter(|| {
                black_box(
                    tree.query()
                        .filter(|n| {
                            serde_json::from_slice::<serde_json::Value>(n.value)
                                .ok()
                                .and_then(|v| v["value"].as_u64())
                                .is_some_and(|x| x > 900)
                        })
                        .collect()
                        .unwrap(),
                )
            });
        });
        g.bench_function(format!("ordered_newest_take10_{n}"), |b| {
            b.iter(|| black_box(tree.query().newest().take(10).collect().unwrap()));
        });
        g.bench_function(format!("paginated_skip_half_take20_{n}"), |b| {
            b.iter(|| black_box(tree.query().skip(n / 2).take(20).collect().unwrap()));
        });
    }
    g.finish();
}

criterion_group!(benches, query);
criterion_main!(benches);
