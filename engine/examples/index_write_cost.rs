//! Writes into an in-memory tree with 0, 1 or 2 secondary indexes, for counting
//! instructions per write under callgrind (the difference between two sizes of run is the
//! cost of the extra writes, without the setup):
//!
//! ```sh
//! cargo build --release -p acorn --example index_write_cost
//! for n in 20000 40000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/index_write_cost 1 $n 2>&1 | grep Collected; done
//! ```
//!
//! Arguments: indexes (0..), stashes (over 10k keys), and anything as a third argument to
//! also commit that many items again in batches of 100.

use acorn::Tree;

fn main() -> acorn::Result<()> {
    let mut args = std::env::args().skip(1);
    let indexes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let batches = args.next().is_some();
    let mut builder = Tree::builder();
    for i in 0..indexes {
        builder = builder.index(format!("i{i}"), |nut| {
            nut.value.get(..4).map(<[u8]>::to_vec)
        });
    }
    let tree = builder.open()?;
    // Keys and values are made before the writes (a fixed cost the two sizes of run share),
    // so a write's count is the engine's alone, not the example's formatting.
    let keys: Vec<String> = (0..10_000).map(|k| format!("key-{k:06}")).collect();
    let values: Vec<String> = (0..1000).map(|v| format!("{v:08}")).collect();
    let key = |j: u64| keys.get((j % 10_000) as usize).map_or("", String::as_str);
    for j in 0..n {
        let value = values.get((j.wrapping_mul(2_654_435_761) % 1000) as usize);
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
