//! A small deterministic generator for tests' random choices (xorshift64; no dependency,
//! and a seed printed by a failing test replays it exactly).

/// Seeded with any non-zero value.
pub struct Rng(pub u64);

impl Rng {
    /// The next value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
