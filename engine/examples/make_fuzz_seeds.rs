//! Writes a small durable tree and copies its log segment and snapshot into the fuzz
//! corpus directory given as the first argument (seeds for `cargo fuzz run recovery`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: make_fuzz_seeds CORPUS_DIR")?,
    );
    let dir = tempfile::tempdir()?;
    let tree = acorn::Tree::builder()
        .path(dir.path())
        .sync(acorn::SyncPolicy::Never)
        .open()?;
    for i in 0..8 {
        tree.stash(format!("k{i}"), format!("v{i}"))?;
    }
    tree.compact()?;
    let mut b = tree.batch();
    b.stash("x", b"1")
        .toss("k1")
        .stash_with_ttl("t", b"2", std::time::Duration::from_secs(9));
    b.commit()?;
    drop(tree);
    std::fs::create_dir_all(&out)?;
    for entry in std::fs::read_dir(dir.path())? {
        let p = entry?.path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.starts_with("wal-") || name == "snapshot.acorn" {
            std::fs::copy(&p, out.join(format!("seed-{name}")))?;
        }
    }
    Ok(())
}
