//! The issue-18 goals (async commits, secondary indexes, the query cache), each measured
//! side by side with its reference in one process, alternating, best of several rounds:
//!
//! - async durable commits under `Always`: 1,000 tasks on a 2-thread tokio runtime vs one
//!   task (commits/s, and fsyncs per commit);
//! - async in-memory `stash` vs the blocking call (ns/op);
//! - indexed equality on 100k docs vs a full scan with the same test as a filter;
//! - a repeated identical query on an unchanged tree (answered by the query cache);
//! - `stash` into a tree with one index vs a tree without.
//!
//! `cargo run --release -p acorn --features tokio --example goals_async_index [rounds]`
//! (default 5). Durable trees are made in the system temp dir (set TMPDIR to move them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use acorn::{IndexKey, NutRef, SyncPolicy, Tree};

fn json(i: u64) -> Vec<u8> {
    let mut v = format!("{{\"id\":{i},\"age\":{},\"pad\":\"", i % 1000).into_bytes();
    v.resize(98, b'x');
    v.extend_from_slice(b"\"}");
    v
}

/// The test both the index and the scan use: the `age` field of a JSON doc.
fn age_of(value: &[u8]) -> Option<u64> {
    let at = value.windows(6).position(|w| w == b"\"age\":")? + 6;
    let digits = value[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&value[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

fn json_age(n: &NutRef<'_>) -> Option<[u8; 8]> {
    age_of(n.value).map(IndexKey::u64)
}

/// A value whose first 8 bytes are the index key (a cheap extractor: the engine's own
/// maintenance cost, not the user's parsing).
fn binary(i: u64) -> Vec<u8> {
    let mut v = IndexKey::u64(i % 1000).to_vec();
    v.resize(100, b'x');
    v
}

fn prefix_age(n: &NutRef<'_>) -> Option<[u8; 8]> {
    n.value.get(..8).map(|b| b.try_into().unwrap())
}

fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Commits/s of `tasks` tasks each stashing `per_task` keys durably under `Always`, and
/// fsyncs per commit.
fn durable_rate(rt: &tokio::runtime::Runtime, tasks: usize, per_task: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Always)
        .open()
        .unwrap();
    let at = tree.to_async();
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let at = at.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        at.stash(format!("t{t:05}-{i:05}"), b"0123456789abcdef")
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let elapsed = secs(start);
    let commits = (tasks * per_task) as f64;
    (commits / elapsed, tree.stats().wal_syncs as f64 / commits)
}

fn async_goals(rounds: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut one, mut many) = ((0.0f64, 0.0), (0.0f64, 0.0));
    for _ in 0..rounds {
        let a = durable_rate(&rt, 1, 400);
        let b = durable_rate(&rt, 1000, 20);
        if a.0 > one.0 {
            one = a;
        }
        if b.0 > many.0 {
            many = b;
        }
    }
    println!(
        "async durable commits (Always, 2-thread runtime): 1 task {:.0}/s ({:.2} fsyncs/commit), \
         1,000 tasks {:.0}/s ({:.3} fsyncs/commit): {:.1}x (goal >= 10x)",
        one.0,
        one.1,
        many.0,
        many.1,
        many.0 / one.0
    );

    // In memory: the same stash loop, blocking and awaited, on a current-thread runtime.
    let single = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let keys: Vec<String> = (0..10_000).map(|i| format!("user-{i:012}")).collect();
    let value = json(7);
    let (tree, at) = {
        let t = Tree::open_memory();
        let a = t.to_async();
        (t, a)
    };
    for k in &keys {
        tree.stash(k, &value).unwrap();
    }
    let n = 50_000;
    let (mut sync_ns, mut async_ns) = (f64::INFINITY, f64::INFINITY);
    let blocking = || {
        let start = Instant::now();
        for i in 0..n {
            tree.stash(&keys[i % keys.len()], &value).unwrap();
        }
        secs(start) * 1e9 / n as f64
    };
    let awaited = || {
        let start = Instant::now();
        single.block_on(async {
            for i in 0..n {
                at.stash(&keys[i % keys.len()], &value).await.unwrap();
            }
        });
        secs(start) * 1e9 / n as f64
    };
    // Alternating which goes first, best of 4 × rounds.
    for round in 0..rounds * 4 {
        if round % 2 == 0 {
            sync_ns = sync_ns.min(blocking());
            async_ns = async_ns.min(awaited());
        } else {
            async_ns = async_ns.min(awaited());
            sync_ns = sync_ns.min(blocking());
        }
    }
    println!(
        "in-memory stash (10k keys, overwrite): blocking {sync_ns:.0} ns, awaited {async_ns:.0} ns: \
         overhead {:.0} ns/op (goal < 100 ns)",
        async_ns - sync_ns
    );
}

fn index_goals(rounds: usize) {
    let n = 100_000u64;
    equality_goal(rounds, n);
    query_cache_goal(rounds, n);
}

/// Commits the JSON docs `doc-0`.. `doc-{n-1}` in one batch.
fn fill_docs(tree: &Tree, n: u64) {
    let mut b = tree.batch();
    for i in 0..n {
        b.stash(format!("doc-{i:08}"), json(i));
    }
    b.commit().unwrap();
}

/// Indexed equality on `n` docs vs a full scan with the same test as a filter.
fn equality_goal(rounds: usize, n: u64) {
    let tree = Tree::builder()
        .index("by_age", json_age)
        .query_cache(0)
        .open()
        .unwrap();
    fill_docs(&tree, n);
    let (mut scan, mut indexed) = (f64::INFINITY, f64::INFINITY);
    let mut found = (0, 0);
    for _ in 0..rounds {
        let start = Instant::now();
        found.0 = tree
            .query()
            .filter(|n| age_of(n.value) == Some(42))
            .collect()
            .unwrap()
            .len();
        scan = scan.min(secs(start));
        let start = Instant::now();
        for _ in 0..100 {
            found.1 = black_box(
                tree.query()
                    .index("by_age")
                    .eq(IndexKey::u64(42))
                    .collect()
                    .unwrap(),
            )
            .len();
        }
        indexed = indexed.min(secs(start) / 100.0);
    }
    assert_eq!(found.0, found.1);
    println!(
        "equality on 100k docs ({} hits): full scan with filter {:.2} ms, index {:.2} us: {:.0}x \
         (goal >= 100x)",
        found.0,
        scan * 1e3,
        indexed * 1e6,
        scan / indexed
    );
}

/// The query cache: the same query again on an unchanged tree of `n` docs.
fn query_cache_goal(rounds: usize, n: u64) {
    let cached = Tree::builder().index("by_age", json_age).open().unwrap();
    fill_docs(&cached, n);
    let q = || cached.query().index("by_age").eq(IndexKey::u64(42));
    let first = Instant::now();
    let want = q().collect().unwrap().len();
    let first = secs(first);
    let reps = 100_000;
    let mut count_ns = f64::INFINITY;
    let mut take10_ns = f64::INFINITY;
    let mut all_ns = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..reps {
            assert_eq!(black_box(q().count().unwrap()), want);
        }
        count_ns = count_ns.min(secs(start) * 1e9 / f64::from(reps));
        let start = Instant::now();
        for _ in 0..reps {
            black_box(q().take(10).collect().unwrap());
        }
        take10_ns = take10_ns.min(secs(start) * 1e9 / f64::from(reps));
        let start = Instant::now();
        for _ in 0..reps / 10 {
            black_box(q().collect().unwrap());
        }
        all_ns = all_ns.min(secs(start) * 1e9 / f64::from(reps / 10));
    }
    let stats = cached.stats();
    println!(
        "repeated identical query (index eq, {want} hits; first run {:.1} us): count {count_ns:.0} \
         ns, collect take(10) {take10_ns:.0} ns, collect all {want} {all_ns:.0} ns (goal < 1 us); \
         cache hits {} misses {}",
        first * 1e6,
        stats.query_cache_hits,
        stats.query_cache_misses
    );
}

fn maintenance_goals(rounds: usize) {
    // Index maintenance: overwrite stashes into trees with and without one index.
    let keys: Vec<String> = (0..10_000).map(|i| format!("user-{i:012}")).collect();
    let bins: Vec<Vec<u8>> = (0..64).map(binary).collect();
    let [p, c, pj, j, ps, cs] = in_memory_maintenance(rounds, &keys, &bins);
    durable_maintenance(rounds, &keys, &bins);
    println!(
        "stash with one index vs none, index key unchanged by the overwrite: {cs:.0} ns vs \
         {ps:.0} ns = {:.2}x",
        cs / ps
    );
    println!(
        "stash with one index vs none, index key changed by every overwrite: byte-prefix extractor {c:.0} ns vs \
         {p:.0} ns = {:.2}x; JSON-parsing extractor {j:.0} ns vs {pj:.0} ns = {:.2}x (goal <= 1.3x)",
        c / p,
        j / pj
    );
}

/// Overwrite stashes (ns/op, best of 4 × rounds) into in-memory trees: without an index and
/// with a byte-prefix one (binary values), without and with a JSON-parsing one (JSON
/// values), and without and with the byte-prefix one when the overwrite keeps the index
/// key: `[plain, cheap, plain json, parsed, plain same, cheap same]`.
fn in_memory_maintenance(rounds: usize, keys: &[String], bins: &[Vec<u8>]) -> [f64; 6] {
    let plain = Tree::open_memory();
    let cheap = Tree::builder().index("by_age", prefix_age).open().unwrap();
    let parsed = Tree::builder().index("by_age", json_age).open().unwrap();
    for (i, k) in keys.iter().enumerate() {
        plain.stash(k, binary(i as u64)).unwrap();
        cheap.stash(k, binary(i as u64)).unwrap();
        parsed.stash(k, json(i as u64)).unwrap();
    }
    let jsons: Vec<Vec<u8>> = (0..64).map(json).collect();
    let ops = 50_000;
    let time = |t: &Tree, vals: &[Vec<u8>]| {
        let start = Instant::now();
        for i in 0..ops {
            t.stash(&keys[(i * 7919) % keys.len()], &vals[i % vals.len()])
                .unwrap();
        }
        secs(start) * 1e9 / ops as f64
    };
    // An overwrite that keeps each key's index key (the document changed elsewhere):
    // key i always gets age i % 1000.
    let same = |t: &Tree| {
        let start = Instant::now();
        for i in 0..ops {
            let k = (i * 7919) % keys.len();
            let mut v = binary(k as u64);
            v[20] = i as u8;
            t.stash(&keys[k], &v).unwrap();
        }
        secs(start) * 1e9 / ops as f64
    };
    // Alternating, best of 4 × rounds: a busy moment hurts each side alike.
    let inf = f64::INFINITY;
    let (mut p, mut c, mut pj, mut j, mut ps, mut cs) = (inf, inf, inf, inf, inf, inf);
    for _ in 0..rounds * 4 {
        p = p.min(time(&plain, bins));
        c = c.min(time(&cheap, bins));
        pj = pj.min(time(&plain, &jsons));
        j = j.min(time(&parsed, &jsons));
        ps = ps.min(same(&plain));
        cs = cs.min(same(&cheap));
    }
    [p, c, pj, j, ps, cs]
}

/// Durable: the same overwrites to trees on disk, with and without the index.
fn durable_maintenance(rounds: usize, keys: &[String], bins: &[Vec<u8>]) {
    let inf = f64::INFINITY;
    for policy in [SyncPolicy::Always, SyncPolicy::Never] {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let open = |d: &tempfile::TempDir, indexed: bool| {
            let b = Tree::builder().path(d.path()).sync(policy);
            let b = if indexed {
                b.index("by_age", prefix_age)
            } else {
                b
            };
            b.open().unwrap()
        };
        let (bare, with) = (open(&d1, false), open(&d2, true));
        let n = if policy == SyncPolicy::Always {
            300
        } else {
            20_000
        };
        let time = |t: &Tree| {
            let start = Instant::now();
            for i in 0..n {
                t.stash(&keys[(i * 7919) % keys.len()], &bins[i % bins.len()])
                    .unwrap();
            }
            secs(start) * 1e9 / n as f64
        };
        let (mut b, mut w) = (inf, inf);
        for _ in 0..rounds {
            b = b.min(time(&bare));
            w = w.min(time(&with));
        }
        println!(
            "durable stash ({policy:?}) with one index vs none: {w:.0} ns vs {b:.0} ns = {:.2}x",
            w / b
        );
    }
}

/// Opening a durable tree of 100k docs with and without an index: the index is rebuilt
/// from the recovered items at open.
fn rebuild_cost(rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = Tree::open(dir.path()).unwrap();
        fill_docs(&tree, 100_000);
        tree.compact().unwrap();
    }
    let (mut bare, mut with, mut cheap) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds {
        let start = Instant::now();
        drop(Tree::open(dir.path()).unwrap());
        bare = bare.min(secs(start));
        let start = Instant::now();
        drop(
            Tree::builder()
                .path(dir.path())
                .index("by_age", json_age)
                .open()
                .unwrap(),
        );
        with = with.min(secs(start));
        let start = Instant::now();
        drop(
            Tree::builder()
                .path(dir.path())
                .index("by_id", |n: &NutRef<'_>| Some(n.key.as_bytes().to_vec()))
                .open()
                .unwrap(),
        );
        cheap = cheap.min(secs(start));
    }
    println!(
        "open 100k docs from a snapshot: {:.0} ms; with a JSON-parsing index {:.0} ms (+{:.0} ms, \
         {:.2} us per item); with a key-copy index {:.0} ms (+{:.2} us per item)",
        bare * 1e3,
        with * 1e3,
        (with - bare) * 1e3,
        (with - bare) * 1e6 / 100_000.0,
        cheap * 1e3,
        (cheap - bare) * 1e6 / 100_000.0
    );
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("GOALS").unwrap_or_default();
    if only.is_empty() || only == "async" {
        async_goals(rounds);
    }
    if only.is_empty() || only == "index" {
        index_goals(rounds);
    }
    if only.is_empty() || only == "rebuild" {
        rebuild_cost(rounds);
    }
    if only.is_empty() || only == "maintenance" {
        maintenance_goals(rounds);
    }
}
