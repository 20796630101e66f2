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
//! from the index; the extractor copies 4 bytes of the value (a few dozen instructions a call, two
//! calls per overwrite: the new record's key and the old one's), so nearly all of the
//! difference is the engine's own maintenance.
//!
//! Arguments: indexes (0..), stashes (over 10k keys), and a third argument:
//! - `moving`: every overwrite changes the nut's index key (the index is on the value's
//!   last 4 bytes, 1,000 keys; a nut's value moves on with each pass over the keys), so an
//!   indexed overwrite removes the old entry and inserts a new one elsewhere;
//! - anything else: the default writes (each overwrite keeps the value, so the index key
//!   stays: the index is on the value's first 4 bytes, the same for every nut), then
//!   commits that many items again in batches of 100.

use acorn::Tree;

fn main() -> acorn::Result<()> {
    let mut args = std::env::args().skip(1);
    let indexes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let third = args.next();
    let moving = third.as_deref() == Some("moving");
    let batches = third.is_some() && !moving;
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
    let tree = builder.open()?;
    // Keys and values are made before the writes (a fixed cost the two sizes of run share),
    // so a write's count is the engine's alone, not the example's formatting.
    let keys: Vec<String> = (0..10_000).map(|k| format!("key-{k:06}")).collect();
    let values: Vec<String> = (0..1000).map(|v| format!("{v:08}")).collect();
    let key = |j: u64| keys.get((j % 10_000) as usize).map_or("", String::as_str);
    for j in 0..n {
        // The same value for a key on every pass (10,000 is a multiple of 1,000), unless
        // `moving`: then 7 further on each pass.
        let pass = if moving { j / 10_000 * 7 } else { 0 };
        let value = values.get(((j.wrapping_mul(2_654_435_761) + pass) % 1000) as usize);
        tree.stash(key(j), value.map_or("", String::as_str))?;
    }
    if batches {
        for r in 0..n / 100 {
            let mut batch = tree.batch();
            for j in 0..100 {
                batch.stash(key(r * 100 + j), b"12345678");
            }
            batch.commit()?;
        }
    }
    Ok(())
}
