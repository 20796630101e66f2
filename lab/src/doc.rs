//! The workload document: YCSB-shaped (N string fields of M bytes) plus the fields the
//! seed guide's queries filter and sort on. Generated deterministically from a seed.

use serde::{Deserialize, Serialize};

/// One stored document. Every backend stores it serialized; reads return it fully decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    pub id: u64,
    /// 0..1000; queries filter and sort on it.
    pub value: i64,
    /// Milliseconds since the epoch; "newest" queries sort on it.
    pub timestamp: u64,
    pub tags: Vec<String>,
    /// YCSB's field0..fieldN.
    pub fields: Vec<String>,
}

/// The size of generated documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocShape {
    pub fields: usize,
    pub field_bytes: usize,
    pub tags: usize,
}

impl Default for DocShape {
    fn default() -> Self {
        Self {
            fields: 10,
            field_bytes: 100,
            tags: 3,
        }
    }
}

/// SplitMix64: tiny, seedable, and the same on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Doc {
    /// The document for record `id` under `seed`; `version` changes the content (updates).
    pub fn generate(id: u64, version: u64, seed: u64, shape: &DocShape) -> Doc {
        let mut rng =
            SplitMix(seed ^ id.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ version.rotate_left(32));
        let mut field = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'a' + (rng.below(26) as u8)))
                .collect()
        };
        let fields = (0..shape.fields)
            .map(|_| field(shape.field_bytes))
            .collect();
        let tags = (0..shape.tags).map(|_| field(6)).collect();
        let mut rng = SplitMix(seed ^ id ^ version);
        Doc {
            id,
            value: rng.below(1000) as i64,
            timestamp: 1_700_000_000_000 + id * 10 + version,
            tags,
            fields,
        }
    }
}

/// The key of record `id`: `prefix` then `id` zero-padded to `width` digits.
pub fn key(prefix: &str, width: usize, id: u64) -> Vec<u8> {
    format!("{prefix}{id:0width$}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_shaped() {
        let shape = DocShape {
            fields: 4,
            field_bytes: 20,
            tags: 2,
        };
        let a = Doc::generate(7, 0, 42, &shape);
        assert_eq!(a, Doc::generate(7, 0, 42, &shape));
        assert_ne!(a, Doc::generate(7, 1, 42, &shape));
        assert_ne!(a, Doc::generate(8, 0, 42, &shape));
        assert_eq!(a.fields.len(), 4);
        assert!(a.fields.iter().all(|f| f.len() == 20));
        assert_eq!(a.tags.len(), 2);
        assert!((0..1000).contains(&a.value));
        assert_eq!(key("user-", 6, 42), b"user-000042");
    }
}
