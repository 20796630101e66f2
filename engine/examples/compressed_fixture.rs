//! Writes `tests/fixtures/compressed-lz4`, the tree `tests/compression.rs` opens with the
//! `compression` feature and expects refused without it: 40 items compacted into a
//! compressed snapshot, then 20 more in the compressed log (versions 1 to 60).
//!
//! `cargo run -p acorn --features compression --example compressed_fixture`

use std::path::Path;

use acorn::{Compression, SyncPolicy, Tree};

fn main() -> acorn::Result<()> {
    let to = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compressed-lz4");
    let _ = std::fs::remove_dir_all(&to);
    let tree = Tree::builder()
        .path(&to)
        .sync(SyncPolicy::Never)
        .compression(Compression::Lz4)
        .compact_factor(0)
        .open()?;
    let value = |i: u64| {
        format!(
            r#"{{"id":{i},"round":0,"name":"user-{i:06}","email":"user-{i:06}@example.com","tags":["alpha","beta","gamma"],"bio":"{}"}}"#,
            "lorem ipsum dolor sit amet ".repeat((i % 5) as usize + 1)
        )
    };
    for i in 0..40u64 {
        tree.stash(format!("k{i:03}"), value(i))?;
    }
    tree.compact()?;
    for i in 40..60u64 {
        tree.stash(format!("k{i:03}"), value(i))?;
    }
    drop(tree);
    let _ = std::fs::remove_file(to.join("LOCK"));
    println!("wrote {}", to.display());
    Ok(())
}
