//! Zipfian laws, implemented twice on purpose:
//!
//! - [`ExactZipf`]: rank `k` (0-based) of `n` has probability `(k+1)^-θ / ζ(n)`. The first
//!   [`HEAD`] ranks and one "tail" outcome sit in an alias table (O(1): one random number,
//!   one lookup); a tail draw inverts the integral of `x^-θ`, which is accurate to ~1e-9
//!   relative there, where the law is smooth.
//! - [`Gray`]: YCSB's `ZipfianGenerator` exactly as it computes (Gray et al., SIGMOD 1994),
//!   including its incremental ζ when the item count grows. Its closed form is exact for
//!   ranks 0 and 1 only, which is why the lab's own `zipfian` does not use it; the YCSB
//!   distributions (`scrambled_zipfian`, `latest`, zipfian scan lengths) do, so they match
//!   YCSB's generators rank for rank.
//!
//! Also YCSB's `Utils.fnvhash64` and ζ itself (exact sums up to 65,536 terms, then
//! Euler–Maclaurin, which is exact to double precision past that point).

/// The item count YCSB's `ScrambledZipfianGenerator` draws ranks from.
pub const YCSB_ITEM_COUNT: u64 = 10_000_000_000;
/// ζ(10^10, 0.99) as YCSB hard-codes it (`ScrambledZipfianGenerator.ZETAN`).
pub const YCSB_ZETAN: f64 = 26.469_028_201_783_02;
/// The zipfian constant YCSB uses everywhere.
pub const YCSB_THETA: f64 = 0.99;

/// Ranks kept in the exact sampler's alias table: 16,384 entries of 8 bytes (128 KiB)
/// stay in the second-level cache; past them, a draw inverts the tail's integral.
pub const HEAD: u64 = 1 << 14;

/// YCSB's `Utils.fnvhash64`: 64-bit FNV-1a over the eight little-endian bytes of `x`, then
/// Java's `Math.abs` of the signed result.
pub fn fnvhash64(x: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut v = x;
    for _ in 0..8 {
        h ^= v & 0xff;
        h = h.wrapping_mul(0x100_0000_01b3);
        v >>= 8;
    }
    // Java's Math.abs(Long.MIN_VALUE) stays negative; its magnitude is what we keep.
    (h as i64).unsigned_abs()
}

/// `∫ x^-θ dx` from `a` to `b`.
fn integral(a: f64, b: f64, theta: f64) -> f64 {
    if (theta - 1.0).abs() < 1e-12 {
        (b / a).ln()
    } else {
        (b.powf(1.0 - theta) - a.powf(1.0 - theta)) / (1.0 - theta)
    }
}

/// `Σ (i+1)^-θ` for `i` in `st..n` (YCSB's `zetastatic(st, n, θ, 0)`): exact term by term
/// over the first 65,536 terms, Euler–Maclaurin beyond.
pub fn zeta_range(st: u64, n: u64, theta: f64) -> f64 {
    const EXACT: u64 = 1 << 16;
    if n <= st {
        return 0.0;
    }
    let split = n.min(st.saturating_add(EXACT));
    let mut sum = 0.0;
    for i in st..split {
        sum += ((i + 1) as f64).powf(-theta);
    }
    if split < n {
        // Σ_{k=a}^{b} f(k), f(x) = x^-θ, with a = split + 1 ≥ 65,537, b = n.
        let (a, b) = ((split + 1) as f64, n as f64);
        let f = |x: f64| x.powf(-theta);
        let d1 = |x: f64| -theta * x.powf(-theta - 1.0);
        let d3 = |x: f64| -theta * (theta + 1.0) * (theta + 2.0) * x.powf(-theta - 3.0);
        sum += integral(a, b, theta) + (f(a) + f(b)) / 2.0 + (d1(b) - d1(a)) / 12.0
            - (d3(b) - d3(a)) / 720.0;
    }
    sum
}

/// `x` as an `i32` when it is a whole number (to within 1e-9).
fn whole(x: f64) -> Option<i32> {
    let r = x.round();
    ((x - r).abs() < 1e-9 && r.abs() < 1e6).then_some(r as i32)
}

/// ζ(n, θ) = `Σ_{k=1}^{n} k^-θ`.
pub fn zeta(n: u64, theta: f64) -> f64 {
    zeta_range(0, n, theta)
}

/// YCSB's `ZipfianGenerator` (Gray et al.), state and all.
#[derive(Clone, Debug)]
pub struct Gray {
    /// `items` as constructed: YCSB's `eta` keeps using it even after the count grows.
    items: u64,
    theta: f64,
    alpha: f64,
    /// `alpha` when it is a whole number (θ = 0.99 gives 100.00000000000009): the power
    /// is then taken by squaring, 3× faster than `powf` and equal to it to ~1e-13.
    whole_alpha: Option<i32>,
    zetan: f64,
    eta: f64,
    zeta2theta: f64,
    /// `1 + 0.5^θ`: below it (times ζ), rank 1.
    one_plus_half_pow: f64,
    count_for_zeta: u64,
}

impl Gray {
    /// `new ZipfianGenerator(0, items - 1, θ, zetan)`.
    pub fn with_zetan(items: u64, theta: f64, zetan: f64) -> Gray {
        let items = items.max(1);
        let zeta2theta = zeta(2, theta);
        let alpha = 1.0 / (1.0 - theta);
        let mut g = Gray {
            items,
            theta,
            alpha,
            whole_alpha: whole(alpha),
            zetan,
            eta: 0.0,
            zeta2theta,
            one_plus_half_pow: 1.0 + 0.5f64.powf(theta),
            count_for_zeta: items,
        };
        g.eta = g.eta_for(zetan);
        g
    }

    /// `new ZipfianGenerator(items, θ)`: ζ computed for `items`.
    pub fn new(items: u64, theta: f64) -> Gray {
        Self::with_zetan(items, theta, zeta(items.max(1), theta))
    }

    fn eta_for(&self, zetan: f64) -> f64 {
        (1.0 - (2.0 / self.items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2theta / zetan)
    }

    /// `nextLong(itemcount)` for the `u` YCSB would have drawn: a rank in `0..itemcount`
    /// (rank 0 the most popular). A larger `itemcount` than before extends ζ incrementally,
    /// as YCSB does; a smaller one keeps the old ζ (YCSB's `allowitemcountdecrease = false`).
    pub fn next(&mut self, u: f64, itemcount: u64) -> u64 {
        if itemcount > self.count_for_zeta {
            self.zetan += zeta_range(self.count_for_zeta, itemcount, self.theta);
            self.count_for_zeta = itemcount;
            self.eta = self.eta_for(self.zetan);
        }
        self.rank(u, itemcount)
    }

    /// The rank for `u` at a fixed item count (no ζ update).
    #[inline]
    pub fn rank(&self, u: f64, itemcount: u64) -> u64 {
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < self.one_plus_half_pow {
            return 1;
        }
        let base = self.eta * u - self.eta + 1.0;
        let power = match self.whole_alpha {
            Some(a) => base.powi(a),
            None => base.powf(self.alpha),
        };
        (itemcount as f64 * power) as u64
    }
}

/// One alias-table slot: keep `index` when the low 32 random bits fall below `keep`, else
/// take `alias`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    keep: u32,
    alias: u32,
}

/// The exact zipfian over `n` ranks (see the module documentation).
#[derive(Clone, Debug)]
pub struct ExactZipf {
    n: u64,
    theta: f64,
    /// `HEAD.min(n)` head ranks, then (when `n` is larger) one slot meaning "the tail".
    slots: Vec<Slot>,
    head: u64,
    zetan: f64,
    /// The tail's mass and `(head + 0.5)^(1-θ)`, for inverting it.
    tail_mass: f64,
    tail_base: f64,
    /// `1 / (1-θ)` when it is a whole number (see [`Gray`]).
    whole_power: Option<i32>,
}

/// Vose's alias method over `weights`, with probabilities in 32-bit fixed point.
fn alias_table(weights: &[f64]) -> Vec<Slot> {
    let n = weights.len();
    let total: f64 = weights.iter().sum();
    let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
    let mut slots = vec![
        Slot {
            keep: u32::MAX,
            alias: 0
        };
        n
    ];
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
    while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
        slots[s] = Slot {
            keep: (scaled[s] * 4_294_967_296.0).min(4_294_967_295.0) as u32,
            alias: l as u32,
        };
        scaled[l] -= 1.0 - scaled[s];
        if scaled[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    // Whatever is left holds probability 1 (up to rounding): it always keeps itself.
    for i in small.into_iter().chain(large) {
        slots[i] = Slot {
            keep: u32::MAX,
            alias: i as u32,
        };
    }
    slots
}

impl ExactZipf {
    pub fn new(n: u64, theta: f64) -> ExactZipf {
        let n = n.max(1);
        let head = n.min(HEAD);
        let mut weights: Vec<f64> = (1..=head).map(|k| (k as f64).powf(-theta)).collect();
        let head_sum: f64 = weights.iter().sum();
        // Ranks head.. (1-based head+1 ..= n), by the midpoint integral.
        let tail = if n > head {
            integral(head as f64 + 0.5, n as f64 + 0.5, theta)
        } else {
            0.0
        };
        if n > head {
            weights.push(tail);
        }
        ExactZipf {
            n,
            theta,
            slots: alias_table(&weights),
            head,
            zetan: head_sum + tail,
            tail_mass: tail,
            tail_base: (head as f64 + 0.5).powf(1.0 - theta),
            whole_power: whole(1.0 / (1.0 - theta)),
        }
    }

    /// A rank in `0..n` from one 64-bit random number, plus a second when the draw lands in
    /// the tail (`more` supplies it).
    #[inline]
    pub fn sample(&self, r: u64, more: impl FnOnce() -> f64) -> u64 {
        let len = self.slots.len() as u64;
        let i = (((r >> 32) * len) >> 32) as usize;
        let slot = self.slots[i];
        let pick = if (r as u32) < slot.keep {
            i as u64
        } else {
            u64::from(slot.alias)
        };
        if pick < self.head {
            pick
        } else {
            self.tail(more())
        }
    }

    /// A tail rank for `u` uniform in `[0, 1)`: solves `∫_{h+0.5}^{k+0.5} x^-θ dx = u·tail`.
    fn tail(&self, u: f64) -> u64 {
        let h = self.head as f64;
        let rest = u * self.tail_mass;
        let k = if (self.theta - 1.0).abs() < 1e-12 {
            (h + 0.5) * rest.exp() - 0.5
        } else {
            let a = (self.tail_base + rest * (1.0 - self.theta)).max(0.0);
            match self.whole_power {
                Some(p) => a.powi(p) - 0.5,
                None => a.powf(1.0 / (1.0 - self.theta)) - 0.5,
            }
        };
        (k.ceil() as u64)
            .saturating_sub(1)
            .clamp(self.head, self.n - 1)
    }

    /// The theoretical probability of rank `k`.
    pub fn probability(&self, k: u64) -> f64 {
        ((k + 1) as f64).powf(-self.theta) / self.zetan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SplitMix;

    #[test]
    fn zeta_matches_ycsbs_precomputed_constant() {
        let z = zeta(YCSB_ITEM_COUNT, YCSB_THETA);
        assert!((z - YCSB_ZETAN).abs() < 1e-9, "{z} vs {YCSB_ZETAN}");
        // Exact and Euler–Maclaurin agree where both apply.
        let exact: f64 = (1..=200_000u64).map(|k| (k as f64).powf(-0.8)).sum();
        assert!((zeta(200_000, 0.8) - exact).abs() < 1e-9);
        assert!((zeta_range(10, 200_000, 0.8) + zeta(10, 0.8) - exact).abs() < 1e-9);
    }

    #[test]
    fn fnvhash64_is_ycsbs() {
        // Utils.fnvhash64 of 0, 1, 2 and 12345, as YCSB's Java loop computes them (checked
        // with an independent big-integer implementation of the same loop).
        assert_eq!(fnvhash64(0), 6_284_781_860_667_377_211);
        assert_eq!(fnvhash64(1), 8_517_097_267_634_966_620);
        assert_eq!(fnvhash64(2), 1_820_151_046_732_198_393);
        assert_eq!(fnvhash64(12345), 1_792_800_413_050_876_852);
    }

    #[test]
    fn exact_zipfian_rank_frequencies_follow_the_law() {
        for n in [1000u64, 1_000_000] {
            let z = ExactZipf::new(n, 0.99);
            let mut rng = SplitMix(42);
            let samples = 400_000;
            let mut head = [0u64; 10];
            let (mut mid, mut far) = (0u64, 0u64);
            for _ in 0..samples {
                let r = rng.next_u64();
                let k = z.sample(r, || rng.unit());
                assert!(k < n);
                if k < 10 {
                    head[k as usize] += 1;
                }
                mid += u64::from((100..HEAD).contains(&k));
                far += u64::from(k >= n / 2);
            }
            for (k, got) in head.iter().enumerate() {
                let expect = z.probability(k as u64) * samples as f64;
                let got = *got as f64;
                assert!(
                    (got - expect).abs() / expect < 0.05,
                    "n {n} rank {k}: {got} vs {expect:.0}"
                );
            }
            let p_mid: f64 = (100..HEAD.min(n)).map(|k| z.probability(k)).sum();
            let expect = p_mid * samples as f64;
            assert!(
                (mid as f64 - expect).abs() / expect < 0.05,
                "{mid} vs {expect}"
            );
            let p_far: f64 = integral(n as f64 / 2.0 + 0.5, n as f64 + 0.5, 0.99) / z.zetan;
            let expect = p_far * samples as f64;
            assert!(
                (far as f64 - expect).abs() / expect < 0.1,
                "{far} vs {expect}"
            );
        }
    }

    #[test]
    fn gray_matches_ycsbs_closed_form_for_ranks_0_and_1() {
        let g = Gray::with_zetan(YCSB_ITEM_COUNT + 1, YCSB_THETA, YCSB_ZETAN);
        assert_eq!(g.rank(0.5 / YCSB_ZETAN, YCSB_ITEM_COUNT + 1), 0);
        assert_eq!(g.rank(1.2 / YCSB_ZETAN, YCSB_ITEM_COUNT + 1), 1);
        // Monotone in u, and inside the item count.
        let mut last = 0;
        for i in 1..1000 {
            let r = g.rank(f64::from(i) / 1000.0, YCSB_ITEM_COUNT + 1);
            assert!(r >= last && r <= YCSB_ITEM_COUNT + 1);
            last = r;
        }
        // Squaring for the whole exponent agrees with powf (the rank moves by at most one,
        // and only where N·x^α sits within ~1e-3 of a whole number).
        let mut exact = g.clone();
        exact.whole_alpha = None;
        let mut rng = SplitMix(3);
        for _ in 0..100_000 {
            let u = rng.unit();
            let (a, b) = (
                g.rank(u, YCSB_ITEM_COUNT + 1),
                exact.rank(u, YCSB_ITEM_COUNT + 1),
            );
            assert!(a.abs_diff(b) <= 1, "{u}: {a} vs {b}");
        }
        // Growing the item count extends ζ as a fresh generator would have it.
        let mut grown = Gray::new(1000, 0.99);
        grown.next(0.5, 1500);
        let fresh = zeta(1500, 0.99);
        assert!((grown.zetan - fresh).abs() < 1e-9);
    }
}
