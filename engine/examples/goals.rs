//! The read/write goals of docs/PERFORMANCE.md, measured side by side in one process:
//! the engine beside what people write by hand (`RwLock<BTreeMap<String, Vec<u8>>>`,
//! std `HashMap`). Each measure alternates engine and references and keeps the best of
//! several rounds, so a shared machine's busy moments hurt both sides alike.
//!
//! `cargo run --release -p acorn --example goals [rounds]` (default 7 rounds). `GOALS=a,b`
//! runs only the named parts: `reads`, `writes` (stash and batch), `collect`, `threads`,
//! `1m`, `durable` (group commit: 8 writers under `Group` and `Always` against one `Always`
//! writer, in a temporary directory; set TMPDIR to move it; and `Never` with its log
//! buffer against a write per commit, counting write syscalls from `/proc/self/io`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use acorn::{SyncPolicy, Tree};

type RawMap = RwLock<BTreeMap<String, Vec<u8>>>;

fn key(i: usize) -> String {
    format!("user-{i:012}")
}

fn value(i: usize) -> Vec<u8> {
    let mut v = format!("{{\"id\":{i},\"value\":{},\"pad\":\"", i % 1000).into_bytes();
    v.resize(98, b'x');
    v.extend_from_slice(b"\"}");
    v
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Data {
    keys: Vec<String>,
    tree: Tree,
    raw: RawMap,
    hash: HashMap<String, Vec<u8>>,
}

fn data(n: usize) -> Data {
    let keys: Vec<String> = (0..n).map(key).collect();
    let tree = Tree::open_memory();
    let mut b = tree.batch();
    for (i, k) in keys.iter().enumerate() {
        b.stash(k, value(i));
    }
    b.commit().unwrap();
    Data {
        raw: RwLock::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), value(i)))
                .collect(),
        ),
        hash: keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), value(i)))
            .collect(),
        keys,
        tree,
    }
}

/// Nanoseconds per operation of `ops` calls of `f`.
fn per_op(ops: usize, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    for i in 0..ops {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// A measure of `ops` reads of random keys below `n` (the same sequence every time).
fn reads(ops: usize, n: usize, mut read: impl FnMut(usize)) -> impl FnMut() -> f64 {
    move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        per_op(ops, |_| read(rng.below(n)))
    }
}

/// Runs every measure once per round, in turn; returns the best (lowest) of each.
fn best<const N: usize>(rounds: usize, mut measures: [&mut dyn FnMut() -> f64; N]) -> [f64; N] {
    let mut best = [f64::INFINITY; N];
    for _ in 0..rounds {
        for (b, m) in best.iter_mut().zip(measures.iter_mut()) {
            *b = b.min(m());
        }
    }
    best
}

/// Reads per second of `threads` readers doing `ops` random reads each, with a writer
/// stashing every ~20 µs alongside when `writer`.
fn throughput(
    threads: usize,
    ops: usize,
    writer: bool,
    keys: &[String],
    read: &(dyn Fn(&str) + Sync),
    write: &(dyn Fn(&str) + Sync),
) -> f64 {
    let done = AtomicBool::new(false);
    let took: Duration = std::thread::scope(|s| {
        if writer {
            let done = &done;
            s.spawn(move || {
                let mut rng = Rng(0xfeed);
                while !done.load(Ordering::Relaxed) {
                    write(&keys[rng.below(keys.len())]);
                    std::thread::sleep(Duration::from_micros(20));
                }
            });
        }
        let start = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng(0x1234_5678 + t as u64);
                    for _ in 0..ops {
                        read(&keys[rng.below(keys.len())]);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let took = start.elapsed();
        done.store(true, Ordering::Relaxed);
        took
    });
    (threads * ops) as f64 / took.as_secs_f64()
}

/// Whether the part `name` was asked for (`GOALS`, comma-separated; all when unset).
fn wanted(name: &str) -> bool {
    std::env::var("GOALS").map_or(true, |only| only.split(',').any(|p| p.trim() == name))
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(7, |r| r.parse().expect("rounds: a number"));
    println!("best of {rounds} rounds, engine and references alternating\n");
    println!("| measure | engine | reference | ratio |");
    println!("|---|---|---|---|");

    let data10k = data(10_000);
    let d = &data10k;
    if wanted("reads") {
        reads_10k(d, rounds);
    }
    if wanted("writes") {
        writes_10k(d, rounds);
    }
    if wanted("collect") {
        collect_10k(d, rounds);
    }
    if wanted("threads") {
        threads_10k(d, rounds);
    }
    drop(data10k);
    if wanted("1m") {
        reads_1m(rounds);
    }
    if wanted("durable") {
        group_commit(rounds);
        never(rounds);
    }
}

fn reads_10k(d: &Data, rounds: usize) {
    let n = d.keys.len();
    let ops = 200_000;
    let [crack, crack_with, raw, hash] = best(
        rounds,
        [
            &mut reads(ops, n, move |i| {
                drop(black_box(d.tree.crack(&d.keys[i]).unwrap()))
            }),
            &mut reads(ops, n, move |i| {
                black_box(d.tree.crack_with(&d.keys[i], |v| v.value.len()).unwrap());
            }),
            &mut reads(ops, n, move |i| {
                drop(black_box(d.raw.read().unwrap().get(&d.keys[i]).cloned()));
            }),
            &mut reads(ops, n, move |i| {
                black_box(d.hash.get(&d.keys[i]).map(Vec::len));
            }),
        ],
    );
    println!(
        "| random `crack` (owned), 10k keys vs RwLock<BTreeMap> get + clone | {crack:.0} ns | {raw:.0} ns | {:.2}× the raw map's speed |",
        raw / crack
    );
    println!(
        "| random `crack_with` (borrowed), 10k keys vs std HashMap get | {crack_with:.0} ns | {hash:.0} ns | {:.2}× the HashMap's time |",
        crack_with / hash
    );
}

fn writes_10k(d: &Data, rounds: usize) {
    let n = d.keys.len();
    let ops = 200_000;
    let val = value(7);
    let mut i = 0;
    let mut j = 0;
    let [stash, insert] = best(
        rounds,
        [
            &mut || {
                per_op(ops, |_| {
                    i = (i + 1) % n;
                    black_box(d.tree.stash(&d.keys[i], &val).unwrap());
                })
            },
            &mut || {
                per_op(ops, |_| {
                    j = (j + 1) % n;
                    drop(black_box(
                        d.raw
                            .write()
                            .unwrap()
                            .insert(d.keys[j].clone(), val.clone()),
                    ));
                })
            },
        ],
    );
    println!(
        "| `stash` (overwrite, 10k keys) vs raw map insert | {stash:.0} ns | {insert:.0} ns | {:.2}× the raw map's speed |",
        insert / stash
    );

    // Batches of 1,000 overwrites (the next 1,000 keys each time), per item: the engine's
    // batch (built and committed) against 1,000 raw map inserts each taking the lock, and
    // (for reference) 1,000 inserts under one lock.
    let size = 1_000;
    let batches = 100;
    let (mut bi, mut ri, mut li) = (0, 0, 0);
    let [batch, raw, raw_locked] = best(
        rounds,
        [
            &mut || {
                per_op(batches, |_| {
                    let mut b = d.tree.batch();
                    for _ in 0..size {
                        bi = (bi + 1) % n;
                        b.stash(&d.keys[bi], &val);
                    }
                    black_box(b.commit().unwrap());
                }) / size as f64
            },
            &mut || {
                per_op(batches, |_| {
                    for _ in 0..size {
                        ri = (ri + 1) % n;
                        drop(black_box(
                            d.raw
                                .write()
                                .unwrap()
                                .insert(d.keys[ri].clone(), val.clone()),
                        ));
                    }
                }) / size as f64
            },
            &mut || {
                per_op(batches, |_| {
                    let mut m = d.raw.write().unwrap();
                    for _ in 0..size {
                        li = (li + 1) % n;
                        drop(black_box(m.insert(d.keys[li].clone(), val.clone())));
                    }
                }) / size as f64
            },
        ],
    );
    println!(
        "| batch of 1k overwrites, per item, vs raw map inserts | {batch:.0} ns | {raw:.0} ns (under one lock {raw_locked:.0} ns) | {:.2}× the raw map's speed ({:.2}× under one lock) |",
        raw / batch,
        raw_locked / batch
    );
}

/// Collecting all 10k beside the raw map's clone-all and beside the floor of any owned
/// result that shares its items (one reference taken and given back per item, a
/// 72-byte element per item, as `examples/collect_loop.rs floor`). The floor moves with
/// the machine (0.09–0.2 ms on three VMs), so the ratio to it says what the code costs
/// beyond it (docs/PERFORMANCE.md).
fn collect_10k(d: &Data, rounds: usize) {
    let repeats = 20;
    // The floor's element is a `Nut`'s size: an `Arc<[u8]>` (16 bytes) and 56 more.
    const _: () = assert!(std::mem::size_of::<acorn::Nut>() == 72);
    let shared: Vec<std::sync::Arc<[u8]>> = (0..d.keys.len()).map(|i| value(i).into()).collect();
    let [collect, raw_collect, floor] = best(
        rounds,
        [
            &mut || {
                per_op(repeats, |_| {
                    drop(black_box(d.tree.query().collect().unwrap()))
                })
            },
            &mut || {
                per_op(repeats, |_| {
                    let m = d.raw.read().unwrap();
                    let mut out = Vec::with_capacity(m.len());
                    out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                    drop(black_box(out));
                })
            },
            &mut || {
                per_op(repeats, |_| {
                    let mut out = Vec::with_capacity(shared.len());
                    out.extend(shared.iter().map(|v| (v.clone(), [v.len() as u64; 7])));
                    drop(black_box(out));
                })
            },
        ],
    );
    println!(
        "| `query().collect()` of all 10k vs raw map clone-all | {:.3} ms | {:.3} ms | {:.2}× the raw map's speed |",
        collect / 1e6,
        raw_collect / 1e6,
        raw_collect / collect
    );
    println!(
        "| `query().collect()` of all 10k vs the owned-result floor | {:.3} ms | {:.3} ms | {:.2}× the floor's time |",
        collect / 1e6,
        floor / 1e6,
        collect / floor
    );
}

fn threads_10k(d: &Data, rounds: usize) {
    let read_tree = |k: &str| drop(black_box(d.tree.crack(k).unwrap()));
    let write_tree = |k: &str| {
        black_box(d.tree.stash(k, b"w").unwrap());
    };
    let read_raw = |k: &str| drop(black_box(d.raw.read().unwrap().get(k).cloned()));
    let write_raw = |k: &str| {
        drop(black_box(
            d.raw.write().unwrap().insert(k.to_owned(), b"w".to_vec()),
        ))
    };
    let peek_tree = |k: &str| {
        black_box(d.tree.crack_with(k, |v| v.value.len()).unwrap());
    };
    let read_hash = |k: &str| {
        black_box(d.hash.get(k).map(Vec::len));
    };
    let t_ops = 400_000;
    let [e1, e2, ew, r1, r2, rw, h1, h2, p1, p2] = best(
        rounds,
        [
            &mut || -throughput(1, t_ops, false, &d.keys, &read_tree, &write_tree),
            &mut || -throughput(2, t_ops, false, &d.keys, &read_tree, &write_tree),
            &mut || -throughput(2, t_ops, true, &d.keys, &read_tree, &write_tree),
            &mut || -throughput(1, t_ops, false, &d.keys, &read_raw, &write_raw),
            &mut || -throughput(2, t_ops, false, &d.keys, &read_raw, &write_raw),
            &mut || -throughput(2, t_ops, true, &d.keys, &read_raw, &write_raw),
            // Control: reads that write nothing shared at all, to see what the machine lends.
            &mut || -throughput(1, t_ops, false, &d.keys, &read_hash, &write_raw),
            &mut || -throughput(2, t_ops, false, &d.keys, &read_hash, &write_raw),
            &mut || -throughput(1, t_ops, false, &d.keys, &peek_tree, &write_tree),
            &mut || -throughput(2, t_ops, false, &d.keys, &peek_tree, &write_tree),
        ],
    );
    let m = |x: f64| -x / 1e6;
    println!(
        "| 2 reader threads (crack, 10k keys) | {:.2}M/s = {:.2}× one thread ({:.2}M/s) | raw map {:.2}M/s = {:.2}× its one thread ({:.2}M/s) | {:.2}× the raw map |",
        m(e2), e2 / e1, m(e1), m(r2), r2 / r1, m(r1), e2 / r2
    );
    println!(
        "| 2 reader threads with a writer alongside | {:.2}M/s = {:.2}× one thread | raw map {:.2}M/s | {:.2}× the raw map |",
        m(ew), ew / e1, m(rw), ew / rw
    );
    println!(
        "| 2 reader threads, borrowed (`crack_with`) | {:.2}M/s = {:.2}× one thread ({:.2}M/s) | | |",
        m(p2), p2 / p1, m(p1)
    );
    println!(
        "| control: 2 threads of std HashMap gets (no shared writes) | {:.2}M/s = {:.2}× one thread ({:.2}M/s) | | |",
        m(h2), h2 / h1, m(h1)
    );
}

fn reads_1m(rounds: usize) {
    let data1m = data(1_000_000);
    let d = &data1m;
    let n = d.keys.len();
    let ops = 100_000;
    let [crack, hash, hash_clone, raw] = best(
        rounds,
        [
            &mut reads(ops, n, move |i| {
                drop(black_box(d.tree.crack(&d.keys[i]).unwrap()))
            }),
            &mut reads(ops, n, move |i| {
                black_box(d.hash.get(&d.keys[i]).map(Vec::len));
            }),
            &mut reads(ops, n, move |i| {
                drop(black_box(d.hash.get(&d.keys[i]).cloned()))
            }),
            &mut reads(ops, n, move |i| {
                drop(black_box(d.raw.read().unwrap().get(&d.keys[i]).cloned()));
            }),
        ],
    );
    println!(
        "| random `crack` at 1M keys vs std HashMap get | {crack:.0} ns | {hash:.0} ns (get + clone {hash_clone:.0} ns; RwLock<BTreeMap> {raw:.0} ns) | {:.2}× the HashMap's time |",
        crack / hash
    );
}

/// Commits per second of `writers` threads each stashing `per_writer` distinct keys into
/// `tree` (every call waits for its commit to be durable as the tree's policy says).
fn commit_rate(tree: &Tree, writers: usize, per_writer: usize) -> f64 {
    let val = value(3);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let val = &val;
            s.spawn(move || {
                for i in 0..per_writer {
                    tree.stash(key(w * per_writer + i), val).unwrap();
                }
            });
        }
    });
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

/// Group commit where an fsync is the cost: 8 writer threads under `Group` and under
/// `Always` (which groups too: concurrent commits share an fsync), against one `Always`
/// writer, each on its own tree in a temporary directory, alternating.
fn group_commit(rounds: usize) {
    let open = |sync: SyncPolicy| {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::builder().path(dir.path()).sync(sync).open().unwrap();
        (dir, tree)
    };
    let group = SyncPolicy::Group {
        max_delay: Duration::from_millis(1),
    };
    let (_d1, always1) = open(SyncPolicy::Always);
    let (_d2, always8) = open(SyncPolicy::Always);
    let (_d3, group8) = open(group);
    let per_writer = 100;
    let syncs = |t: &Tree| t.stats().wal_syncs;
    let (s1, s8, sg) = (syncs(&always1), syncs(&always8), syncs(&group8));
    let [one, eight, grouped] = best(
        rounds,
        [
            &mut || -commit_rate(&always1, 1, per_writer * 4),
            &mut || -commit_rate(&always8, 8, per_writer),
            &mut || -commit_rate(&group8, 8, per_writer),
        ],
    );
    let per_sync = |t: &Tree, before: u64, commits: usize| {
        (commits * rounds) as f64 / (syncs(t) - before).max(1) as f64
    };
    println!(
        "| durable commits/s, 8 writers under `Group` vs 1 writer under `Always` | {:.0}/s ({:.1} commits per fsync) | {:.0}/s ({:.1} per fsync) | {:.2}× |",
        -grouped,
        per_sync(&group8, sg, 8 * per_writer),
        -one,
        per_sync(&always1, s1, 4 * per_writer),
        grouped / one
    );
    println!(
        "| durable commits/s, 8 writers under `Always` vs 1 writer under `Always` | {:.0}/s ({:.1} commits per fsync) | {:.0}/s | {:.2}× |",
        -eight,
        per_sync(&always8, s8, 8 * per_writer),
        -one,
        eight / one
    );
}

/// Write syscalls this process made so far (`syscw` of `/proc/self/io`; Linux).
fn write_syscalls() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("syscw:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Durable `Never`, one writer overwriting 10k keys: the default log buffer against
/// `log_buffer(0, _)` (a write per commit), each on its own tree, alternating; with the
/// write syscalls per 1,000 commits (every thread of the process: the flusher included).
fn never(rounds: usize) {
    let open = |buffer: Option<usize>| {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Tree::builder().path(dir.path()).sync(SyncPolicy::Never);
        if let Some(bytes) = buffer {
            b = b.log_buffer(bytes, Duration::from_millis(10));
        }
        (dir, b.compact_factor(0).open().unwrap())
    };
    let (_d1, buffered) = open(None);
    let (_d2, unbuffered) = open(Some(0));
    let keys: Vec<String> = (0..10_000).map(key).collect();
    let val = value(3);
    let ops = 50_000;
    let calls = [std::cell::Cell::new(0u64), std::cell::Cell::new(0)];
    let run = |tree: &Tree, slot: usize| {
        let w = write_syscalls();
        let start = Instant::now();
        for i in 0..ops {
            tree.stash(&keys[i % keys.len()], &val).unwrap();
        }
        let ns = start.elapsed().as_nanos() as f64 / ops as f64;
        let made = write_syscalls().zip(w).map_or(0, |(b, a)| b - a);
        calls[slot].set(calls[slot].get() + made);
        ns
    };
    let [b, u] = best(
        rounds,
        [&mut || run(&buffered, 0), &mut || run(&unbuffered, 1)],
    );
    let per_1k = |c: u64| c as f64 * 1000.0 / (ops * rounds) as f64;
    println!(
        "| durable `Never` stash (overwrite, 10k keys), 64 KiB buffer vs a write per commit | {b:.0} ns ({:.1} write syscalls per 1k commits) | {u:.0} ns ({:.0} per 1k) | {:.2}× the speed |",
        per_1k(calls[0].get()),
        per_1k(calls[1].get()),
        u / b
    );
}
