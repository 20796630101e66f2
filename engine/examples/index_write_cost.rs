//! Writes into an in-memory tree with 0, 1 or 2 secondary indexes, for counting
//! instructions per write under callgrind (the difference between two sizes of run is the
//! cost of the extra writes, without the setup):
//!
//! ```sh
//! cargo build --release -p acorn --example index_write_cost
//! for n in 20000 40000; do ACORN_CLOCK=os valgrind --tool=callgrind \
//!     --callgrind-out-file=/dev/null target/release/examples/index_write_cost 1 $n 2>&1 \
//!     | grep Collected; done
//! ```
//!
//! Under callgrind the default clock (the CPU's time-stamp counter, re-anchored to the OS
//! clock every millisecond of wall time: often, at valgrind's speed) makes counts vary by
//! ~100 per write from run to run; `ACORN_CLOCK=os` reads the OS clock on every commit
//! instead, and counts repeat to the instruction. Every stash overwrites (the 10k keys are
//! written once in both sizes of run) and costs the same with or without an index apart
//! from the index; the extractor copies 4 bytes of the value (a few dozen instructions a
//! call, two calls per overwrite: the new record's key and the old one's), so nearly all of
//! the difference is the engine's own maintenance.
//!
//! Arguments: indexes (0..), stashes (over 10k keys), and a third argument:
//! - `moving`: every overwrite changes the nut's index key (the index is on the value's
//!   last 4 bytes, 1,000 keys; a nut's value moves on with each pass over the keys), so an
//!   indexed overwrite removes the old entry and inserts a new one elsewhere;
//! - anything else: the default writes (each overwrite keeps the value, so the index key
//!   stays: the index is on the value's first 4 bytes, the same for every nut), then
//!   commits that many items again in batches of 100.
//!
//! `index_write_cost clock [blocks]` measures wall time instead, side by side in one
//! process: blocks of 1,000 of the same overwrites alternate between a tree without an index
//! and one with (which goes first alternates too), for both kinds of write; it prints the
//! median and quartiles over the pairs of adjacent blocks of their time ratio, which a
//! busy machine disturbs far less than whole runs timed apart.

use std::time::Instant;

use acorn::Tree;

/// The keys and values every write picks from, made before the writes (a fixed cost the
/// two sizes of run share), so a write's count is the engine's alone.
struct Data {
    keys: Vec<String>,
    values: Vec<String>,
}

impl Data {
    fn new() -> Data {
        Data {
            keys: (0..10_000).map(|k| format!("key-{k:06}")).collect(),
            values: (0..1000).map(|v| format!("{v:08}")).collect(),
        }
    }

    fn key(&self, j: u64) -> &str {
        self.keys
            .get((j % 10_000) as usize)
            .map_or("", String::as_str)
    }

    /// Write `j`: the same value for a key on every pass (10,000 is a multiple of 1,000),
    /// unless `moving`: then 7 further on each pass.
    fn stash(&self, tree: &Tree, j: u64, moving: bool) -> acorn::Result<u64> {
        let pass = if moving { j / 10_000 * 7 } else { 0 };
        let value = self
            .values
            .get(((j.wrapping_mul(2_654_435_761) + pass) % 1000) as usize);
        tree.stash(self.key(j), value.map_or("", String::as_str))
    }
}

fn open(indexes: usize, moving: bool) -> acorn::Result<Tree> {
    let mut builder = Tree::builder();
    for i in 0..indexes {
        // A 4-byte array: no allocation (a `Vec` here costs a malloc and a free per call
        // unless the compiler happens to remove them).
        let at = if moving { 4 } else { 0 };
        builder = builder.index(format!("i{i}"), move |nut| {
            let key = nut.value.get(at..at + 4)?;
            <[u8; 4]>::try_from(key).ok()
        });
    }
    builder.open()
}

fn main() -> acorn::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    let data = Data::new();
    if first.as_deref() == Some("clock") {
        let blocks = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
        for moving in [false, true] {
            clock(&data, blocks, moving)?;
        }
        return Ok(());
    }
    let indexes: usize = first.and_then(|a| a.parse().ok()).unwrap_or(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let third = args.next();
    let moving = third.as_deref() == Some("moving");
    let batches = third.is_some() && !moving;
    let tree = open(indexes, moving)?;
    for j in 0..n {
        data.stash(&tree, j, moving)?;
    }
    if batches {
        for r in 0..n / 100 {
            let mut batch = tree.batch();
            for j in 0..100 {
                batch.stash(data.key(r * 100 + j), b"12345678");
            }
            batch.commit()?;
        }
    }
    Ok(())
}

/// Wall time of overwrites with one index against none, in adjacent blocks (see the
/// module docs).
fn clock(data: &Data, blocks: u64, moving: bool) -> acorn::Result<()> {
    const BLOCK: u64 = 1000;
    let trees = [open(0, moving)?, open(1, moving)?];
    for tree in &trees {
        for j in 0..10_000 {
            data.stash(tree, j, moving)?;
        }
    }
    let (mut ratios, mut ns) = (Vec::new(), [0.0; 2]);
    for b in 0..blocks {
        let from = 10_000 + b * BLOCK;
        let mut took = [0.0; 2];
        // Which tree goes first alternates: neither always follows the other's work.
        for side in [b % 2, 1 - b % 2] {
            let (tree, took) = (&trees[side as usize], &mut took[side as usize]);
            let start = Instant::now();
            for j in from..from + BLOCK {
                data.stash(tree, j, moving)?;
            }
            *took = start.elapsed().as_secs_f64();
        }
        ratios.push(took[1] / took[0]);
        for (sum, t) in ns.iter_mut().zip(took) {
            *sum += t * 1e9 / (blocks * BLOCK) as f64;
        }
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: usize| {
        ratios
            .get(ratios.len() * q / 4)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "index key {}: one index vs none, median of {blocks} block pairs {:.2}x \
         (quartiles {:.2}-{:.2}); mean {:.0} vs {:.0} ns per overwrite",
        if moving { "moving" } else { "kept" },
        at(2),
        at(1),
        at(3),
        ns[1],
        ns[0],
    );
    Ok(())
}
