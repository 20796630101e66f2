//! Shared fixtures: keys, 100-byte values, prefilled trees and the raw-map baseline.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::RwLock;

use acorn::Tree;

pub const SIZES: [usize; 3] = [100, 1_000, 10_000];
pub const VALUE_BYTES: usize = 100;

pub fn key(i: usize) -> String {
    format!("user-{i:012}")
}

pub fn keys(n: usize) -> Vec<String> {
    (0..n).map(key).collect()
}

/// A 100-byte JSON-ish document whose "value" field varies with `i`.
pub fn value(i: usize) -> Vec<u8> {
    let mut v = format!("{{\"id\":{i},\"value\":{},\"pad\":\"", i % 1000).into_bytes();
    v.resize(VALUE_BYTES - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

pub fn filled(n: usize) -> Tree {
    let tree = Tree::open_memory();
    let mut b = tree.batch();
    for i in 0..n {
        b.stash(key(i), value(i));
    }
    b.commit().unwrap();
    tree
}

/// What people write by hand: the baseline every ratio is against.
pub type RawMap = RwLock<BTreeMap<String, Vec<u8>>>;

pub fn raw_filled(n: usize) -> RawMap {
    RwLock::new((0..n).map(|i| (key(i), value(i))).collect())
}

/// A cheap, seeded xorshift so benches pick "random" keys without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `n` under `cargo bench`; 10k when the bench runs once as a test (`cargo test` runs every
/// bench without `--bench`), so the suite does not build million-key maps.
pub fn bench_or_test(n: usize) -> usize {
    if std::env::args().any(|a| a == "--bench") {
        n
    } else {
        n.min(10_000)
    }
}

/// The hash-probe reference: std `HashMap` with its default hasher.
pub fn hash_filled(n: usize) -> std::collections::HashMap<String, Vec<u8>> {
    (0..n).map(|i| (key(i), value(i))).collect()
}
