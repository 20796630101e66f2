//! Transactions under `SyncPolicy::Always` on one hot key and on a key per thread: how
//! many commit per second and how many fsyncs each needs. A transaction reads only durable
//! commits, so increments of one key serialize on its fsyncs (one per transaction), while
//! transactions on their own keys share fsyncs.
//!
//! `cargo run --release -p acorn --example hot_transactions -- [threads] [per thread]`

use std::time::Instant;

use acorn::Tree;

fn main() -> acorn::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let threads = args.next().and_then(Result::ok).unwrap_or(4);
    let per = args.next().and_then(Result::ok).unwrap_or(200);
    for hot in [true, false] {
        let dir = tempfile::tempdir()?;
        let tree = Tree::open(dir.path())?;
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let tree = &tree;
                s.spawn(move || {
                    let key = if hot {
                        "counter".into()
                    } else {
                        format!("c{t}")
                    };
                    for _ in 0..per {
                        let done = tree.transaction(|tx| {
                            let n = tx.crack(&key)?.map_or(0, |n| {
                                String::from_utf8_lossy(&n.value).parse().unwrap_or(0u64)
                            });
                            tx.stash(&key, (n + 1).to_string())
                        });
                        if let Err(e) = done {
                            eprintln!("transaction failed: {e}");
                            std::process::exit(1);
                        }
                    }
                });
            }
        });
        let took = start.elapsed().as_secs_f64();
        let st = tree.stats();
        let n = st.ops.transactions as f64;
        println!(
            "{:9} {threads} threads: {:.0} transactions/s, {:.2} fsyncs per transaction, {} retries",
            if hot { "hot key" } else { "own keys" },
            n / took,
            st.wal_syncs as f64 / n,
            st.ops.transaction_retries
        );
    }
    Ok(())
}
