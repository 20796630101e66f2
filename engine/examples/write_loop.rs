//! A tight loop of in-memory writes over 10k keys, for profilers (`perf record`,
//! callgrind): overwriting stashes, or batches of 1,000 overwrites, into a tree with 0 or
//! more secondary indexes; or (`raw`) the same overwrites into the reference of
//! docs/PERFORMANCE.md, a `RwLock<BTreeMap<String, Vec<u8>>>` (key and value cloned in). Keys and values are made before the loop, so a profile holds
//! the engine alone.
//!
//! `cargo run --release -p acorn --example write_loop [stash|batch|raw] [indexes] [writes]`
//! (default `stash 0 2000000`). It prints wall-clock and on-CPU time per write (the
//! thread's time on a core, from `/proc/thread-self/schedstat` on Linux: on a shared
//! machine it leaves out the time other processes had the core). Instructions per write
//! under callgrind: run two sizes and divide the difference (the setup cancels out):
//!
//! ```sh
//! cargo build --release -p acorn --example write_loop
//! for n in 100000 200000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/write_loop stash 0 $n 2>&1 | grep Collected; done
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use acorn::{IndexKey, NutRef, Tree};

/// Nanoseconds this thread has spent on a CPU (Linux), if known.
fn on_cpu() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() -> acorn::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "stash".into());
    let indexes: usize = args.next().map_or(0, |a| a.parse().expect("indexes"));
    let writes: usize = args
        .next()
        .map_or(2_000_000, |a| a.parse().expect("writes"));
    let n = 10_000;
    let keys: Vec<String> = (0..n).map(|i| format!("user-{i:012}")).collect();
    // The first 8 bytes are an index key (kept by every overwrite of a key); 100 bytes.
    let value = |i: usize| {
        let mut v = IndexKey::u64((i % 1000) as u64).to_vec();
        v.resize(100, b'x');
        v
    };
    let values: Vec<Vec<u8>> = (0..n).map(value).collect();
    let mut builder = Tree::builder();
    for i in 0..indexes {
        builder = builder.index(format!("i{i}"), |nut: &NutRef<'_>| {
            nut.value.get(..8).map(<[u8]>::to_vec)
        });
    }
    let tree = builder.open()?;
    let mut b = tree.batch();
    for (k, v) in keys.iter().zip(&values) {
        b.stash(k, v);
    }
    b.commit()?;
    let cpu = on_cpu();
    let start = std::time::Instant::now();
    match mode.as_str() {
        "stash" => {
            for w in 0..writes {
                let i = w % n;
                tree.stash(&keys[i], &values[i])?;
            }
        }
        "batch" => {
            for r in 0..writes / 1000 {
                let mut b = tree.batch();
                for j in 0..1000 {
                    let i = (r * 1000 + j) % n;
                    b.stash(&keys[i], &values[i]);
                }
                b.commit()?;
            }
        }
        "raw" => {
            let raw = std::sync::RwLock::new(std::collections::BTreeMap::new());
            for (k, v) in keys.iter().zip(&values) {
                raw.write().unwrap().insert(k.clone(), v.clone());
            }
            for w in 0..writes {
                let i = w % n;
                let old = raw
                    .write()
                    .unwrap()
                    .insert(keys[i].clone(), values[i].clone());
                drop(std::hint::black_box(old));
            }
        }
        other => panic!("mode {other:?}: stash, batch or raw"),
    }
    let el = start.elapsed();
    let cpu = on_cpu().zip(cpu).map(|(b, a)| b - a);
    println!(
        "{writes} writes ({mode}, {indexes} indexes) in {el:?}: {:.0} ns/write; on CPU: {} ns/write",
        el.as_nanos() as f64 / writes as f64,
        cpu.map_or("?".into(), |c| format!("{:.0}", c as f64 / writes as f64))
    );
    Ok(())
}
