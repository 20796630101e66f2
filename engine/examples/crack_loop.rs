//! A tight loop of random cracks over 10k keys, for profilers (`perf record`, callgrind).
//! `cargo run --release -p acorn --example crack_loop [iterations]`
fn main() -> acorn::Result<()> {
    let n = 10_000;
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let tree = acorn::Tree::open_memory();
    let keys: Vec<String> = (0..n).map(|i| format!("user-{i:012}")).collect();
    for k in &keys {
        tree.stash(k, [b'x'; 100])?;
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = 0;
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if let Some(nut) = tree.crack(&keys[(x % n as u64) as usize])? {
            bytes += nut.value.len();
        }
    }
    let el = start.elapsed();
    println!(
        "{iterations} cracks in {el:?}: {:.0} ns/op ({bytes} bytes)",
        el.as_nanos() as f64 / iterations as f64
    );
    Ok(())
}
