//! A tight loop of `query().collect()` of every item of a 10k tree, for profilers (`perf
//! record`, callgrind): `cached` is the goal's measure in `examples/goals` (the tree
//! keeps the query's result list, so every collect after the first reads it); `scan`
//! turns the query cache off, so every collect walks the B+tree; `iter` collects
//! `tree.iter()`; `raw` clones every item out of the reference of docs/PERFORMANCE.md, a
//! `RwLock<BTreeMap<String, Vec<u8>>>`; `floor` is the least any owned result sharing
//! its items can cost: 10k `Arc<[u8]>` values, each cloned (one reference taken, one given
//! back at the drop) into a 72-byte element (a `Nut`'s size) of a list sized up front.
//!
//! `cargo run --release -p acorn --example collect_loop [cached|scan|iter|raw|floor] [collects]`
//! (default `cached 2000`). It prints wall-clock and on-CPU time per collect (the
//! thread's time on a core, from `/proc/thread-self/schedstat` on Linux). Instructions per
//! item under callgrind: run two sizes and divide the difference by 10,000 × the extra
//! collects (the setup cancels out):
//!
//! Per-function counts of the loop alone: add `--toggle-collect='collect_loop::collect_all'`.
//!
//! ```sh
//! cargo build --release -p acorn --example collect_loop
//! for n in 100 200; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/collect_loop cached $n 2>&1 | grep Collected; done
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use acorn::Tree;

/// Nanoseconds this thread has spent on a CPU (Linux), if known.
fn on_cpu() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// The measured loop, out of line so that callgrind can count it alone
/// (`--toggle-collect='collect_loop::collect_all'`).
#[inline(never)]
fn collect_all(
    tree: &Tree,
    raw: &std::sync::RwLock<std::collections::BTreeMap<String, Vec<u8>>>,
    shared: &[std::sync::Arc<[u8]>],
    mode: &str,
    collects: usize,
) -> acorn::Result<()> {
    for _ in 0..collects {
        match mode {
            "cached" | "scan" => drop(black_box(tree.query().collect()?)),
            "iter" => drop(black_box(tree.iter().collect::<Vec<_>>())),
            "raw" => {
                let m = raw.read().unwrap();
                let mut out = Vec::with_capacity(m.len());
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                drop(black_box(out));
            }
            "floor" => {
                // What any owned result sharing its item costs at least: one reference
                // taken (and given back) per item, 72 bytes written per item.
                let mut out = Vec::with_capacity(shared.len());
                out.extend(shared.iter().map(|v| (v.clone(), [v.len() as u64; 7])));
                drop(black_box(out));
            }
            other => panic!("mode {other:?}: cached, scan, iter, raw or floor"),
        }
    }
    Ok(())
}

fn main() -> acorn::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "cached".into());
    let collects: usize = args.next().map_or(2_000, |a| a.parse().expect("collects"));
    let n = 10_000;
    // The keys and values of examples/goals.rs.
    let keys: Vec<String> = (0..n).map(|i| format!("user-{i:012}")).collect();
    let value = |i: usize| {
        let mut v = format!("{{\"id\":{i},\"value\":{},\"pad\":\"", i % 1000).into_bytes();
        v.resize(98, b'x');
        v.extend_from_slice(b"\"}");
        v
    };
    let cache = if mode == "scan" { 0 } else { 64 };
    let tree = Tree::builder().query_cache(cache).open()?;
    let mut b = tree.batch();
    for (i, k) in keys.iter().enumerate() {
        b.stash(k, value(i));
    }
    b.commit()?;
    let raw = std::sync::RwLock::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), value(i)))
            .collect::<std::collections::BTreeMap<_, _>>(),
    );
    let shared: Vec<std::sync::Arc<[u8]>> = (0..n).map(|i| value(i).into()).collect();
    let cpu = on_cpu();
    let start = std::time::Instant::now();
    collect_all(&tree, &raw, &shared, &mode, collects)?;
    let el = start.elapsed();
    let cpu = on_cpu().zip(cpu).map(|(b, a)| b - a);
    println!(
        "{collects} collects of {n} ({mode}) in {el:?}: {:.1} µs/collect; on CPU: {} µs/collect",
        el.as_nanos() as f64 / collects as f64 / 1e3,
        cpu.map_or("?".into(), |c| format!(
            "{:.1}",
            c as f64 / collects as f64 / 1e3
        ))
    );
    Ok(())
}
