//! A tight loop of in-memory writes over 10k keys, for profilers (`perf record`,
//! callgrind): overwriting stashes, or batches of 1,000 overwrites, into a tree with 0 or
//! more secondary indexes; or (`raw`) the same overwrites into the reference of
//! docs/PERFORMANCE.md, a `RwLock<BTreeMap<String, Vec<u8>>>` (key and value cloned in). Keys and values are made before the loop, so a profile holds
//! the engine alone.
//!
//! `cargo run --release -p acorn --example write_loop [stash|batch|raw] [indexes] [writes]`
//! (default `stash 0 2000000`).
//!
//! `cold` overwrites random keys (a fixed sequence) of a set too large for the CPU's caches,
//! so every write finds its key's slot, leaf and old record cold, as a write of a key that
//! only a cache in front of the tree has read lately does (`lab`'s `cached` variant on
//! `mixed`): `write_loop cold [indexes] [writes] [keys] [value bytes]`, by default 50,000
//! keys of 1,120-byte values (`mixed.toml`'s documents), one warm value buffer written
//! under a key formatted in place; `coldmix` (same arguments) makes a third of them tosses.
//! Its misses per write, in the simulated caches `lab
//! --measure instructions` uses:
//!
//! ```sh
//! for n in 100000 200000; do ACORN_CLOCK=os LD_PRELOAD=/work/tools/vfr.so setarch x86_64 -R \
//!     valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 \
//!     --LL=8388608,16,64 --cachegrind-out-file=/dev/null \
//!     target/release/examples/write_loop cold 0 $n 2>&1 | grep -E 'I +refs|LL misses'; done
//! ``` It prints wall-clock and on-CPU time per write (the
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
    if mode == "cold" || mode == "coldmix" {
        let keys = args.next().map_or(50_000, |a| a.parse().expect("keys"));
        let bytes = args
            .next()
            .map_or(1_120, |a| a.parse().expect("value bytes"));
        return cold(indexes, writes, keys, bytes, mode == "coldmix");
    }
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
        other => panic!("mode {other:?}: stash, batch, raw, cold or coldmix"),
    }
    report(&format!("{mode}, {indexes} indexes"), writes, start, cpu);
    Ok(())
}

fn report(what: &str, writes: usize, start: std::time::Instant, cpu: Option<u64>) {
    let el = start.elapsed();
    let cpu = on_cpu().zip(cpu).map(|(b, a)| b - a);
    println!(
        "{writes} writes ({what}) in {el:?}: {:.0} ns/write; on CPU: {} ns/write",
        el.as_nanos() as f64 / writes as f64,
        cpu.map_or("?".into(), |c| format!("{:.0}", c as f64 / writes as f64))
    );
}

/// Writes `user-` and `i` as 12 digits into `key` (no formatting machinery per write).
fn key_into(key: &mut [u8; 17], mut i: usize) {
    key[..5].copy_from_slice(b"user-");
    for d in key[5..].iter_mut().rev() {
        *d = b'0' + (i % 10) as u8;
        i /= 10;
    }
}

/// `cold`: `writes` overwrites of uniformly random keys among `n`, values of `bytes`;
/// `coldmix` (`mix`): a third of them tosses instead (`mixed.toml`'s 20% updates and 10%
/// deletes), so some stashes insert a key a toss removed.
fn cold(indexes: usize, writes: usize, n: usize, bytes: usize, mix: bool) -> acorn::Result<()> {
    let mut builder = Tree::builder();
    for i in 0..indexes {
        builder = builder.index(format!("i{i}"), |nut: &NutRef<'_>| {
            nut.value.get(..8).map(<[u8]>::to_vec)
        });
    }
    let tree = builder.open()?;
    let mut value = IndexKey::u64(7).to_vec();
    value.resize(bytes.max(8), b'x');
    let mut key = [0u8; 17];
    for first in (0..n).step_by(1000) {
        let mut b = tree.batch();
        for i in first..(first + 1000).min(n) {
            key_into(&mut key, i);
            b.stash(std::str::from_utf8(&key).expect("ascii"), &value);
        }
        b.commit()?;
    }
    // SplitMix64, fixed seed: the same keys in the same order on every run.
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let cpu = on_cpu();
    let start = std::time::Instant::now();
    for w in 0..writes {
        let r = next();
        let i = ((u128::from(r) * n as u128) >> 64) as usize;
        key_into(&mut key, i);
        let key = std::str::from_utf8(&key).expect("ascii");
        if mix && r % 3 == 0 {
            tree.toss(key)?;
        } else {
            value[8] = w as u8;
            tree.stash(key, &value)?;
        }
    }
    let what = if mix { "coldmix" } else { "cold" };
    report(
        &format!("{what}, {indexes} indexes, {n} keys of {bytes} B"),
        writes,
        start,
        cpu,
    );
    Ok(())
}
