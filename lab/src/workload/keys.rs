//! Key distributions, implemented once: uniform, zipfian (scrambled, as YCSB does), latest,
//! hotspot and sequential. They pick record numbers; `doc::key` turns those into keys.

use serde::Serialize;

use crate::doc::SplitMix;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    Uniform,
    /// Popular records chosen with a zipfian law of skew `theta`, their positions scrambled
    /// over the key space so the popular ones are not neighbours.
    Zipfian {
        theta: f64,
    },
    /// Zipfian over recency: the most recently inserted records are the most popular.
    Latest {
        theta: f64,
    },
    /// `hot_ops` of the operations go to the first `hot_fraction` of the records.
    Hotspot {
        hot_fraction: f64,
        hot_ops: f64,
    },
    /// Each thread walks the records in order, wrapping around.
    Sequential,
}

/// Zipfian ranks in `0..n`: rank `k` has probability `(k+1)^-theta / zeta(n)`; rank 0 is the
/// most popular. The first 65,536 ranks are drawn exactly, by binary search over their
/// cumulative weights; the rest by inverting the integral of the tail (accurate there, where
/// the law is smooth). Gray et al.'s closed form, which YCSB uses, is exact only for ranks 0
/// and 1 and was measured 17% off at rank 2, so it is not used.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    theta: f64,
    /// Cumulative weights of ranks `0..head.len()`.
    head: Vec<f64>,
    zetan: f64,
}

const HEAD: u64 = 1 << 16;

/// `∫ x^-theta dx` from `a` to `b`.
fn integral(a: f64, b: f64, theta: f64) -> f64 {
    if (theta - 1.0).abs() < 1e-12 {
        (b / a).ln()
    } else {
        (b.powf(1.0 - theta) - a.powf(1.0 - theta)) / (1.0 - theta)
    }
}

impl Zipf {
    pub fn new(n: u64, theta: f64) -> Zipf {
        let n = n.max(1);
        let h = n.min(HEAD);
        let mut head = Vec::with_capacity(h as usize);
        let mut sum = 0.0;
        for k in 1..=h {
            sum += (k as f64).powf(-theta);
            head.push(sum);
        }
        // Weights of ranks h.. (k = h+1 ..= n), by the midpoint integral.
        let tail = if n > h {
            integral(h as f64 + 0.5, n as f64 + 0.5, theta)
        } else {
            0.0
        };
        Zipf {
            n,
            theta,
            head,
            zetan: sum + tail,
        }
    }

    pub fn sample(&self, rng: &mut SplitMix) -> u64 {
        let x = rng.unit() * self.zetan;
        let head_sum = self.head.last().copied().unwrap_or(0.0);
        if x < head_sum {
            return self.head.partition_point(|c| *c <= x) as u64;
        }
        // Solve head_sum + ∫_{h+0.5}^{k+0.5} t^-theta dt = x for k (1-based).
        let h = self.head.len() as f64;
        let rest = x - head_sum;
        let k = if (self.theta - 1.0).abs() < 1e-12 {
            (h + 0.5) * rest.exp() - 0.5
        } else {
            let a = (h + 0.5).powf(1.0 - self.theta) + rest * (1.0 - self.theta);
            a.max(0.0).powf(1.0 / (1.0 - self.theta)) - 0.5
        };
        (k.ceil() as u64)
            .saturating_sub(1)
            .clamp(self.head.len() as u64, self.n - 1)
    }

    /// The theoretical probability of rank `k`.
    pub fn probability(&self, k: u64) -> f64 {
        ((k + 1) as f64).powf(-self.theta) / self.zetan
    }
}

/// FNV-1a of a record number: YCSB's scramble for zipfian keys.
fn fnv(x: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in x.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Picks record numbers for one thread.
#[derive(Clone, Debug)]
pub struct KeyChooser {
    dist: Distribution,
    records: u64,
    zipf: Option<Zipf>,
    next_sequential: u64,
}

impl KeyChooser {
    /// `start` offsets the sequential walk (each thread starts elsewhere).
    pub fn new(dist: Distribution, records: u64, start: u64) -> Self {
        let zipf = match dist {
            Distribution::Zipfian { theta } | Distribution::Latest { theta } => {
                Some(Zipf::new(records, theta))
            }
            _ => None,
        };
        KeyChooser {
            dist,
            records: records.max(1),
            zipf,
            next_sequential: start % records.max(1),
        }
    }

    /// A record number among the first `live` (loaded plus inserted) records.
    pub fn next(&mut self, rng: &mut SplitMix, live: u64) -> u64 {
        let live = live.max(1);
        match (self.dist, &self.zipf) {
            (Distribution::Zipfian { .. }, Some(z)) => fnv(z.sample(rng)) % self.records,
            (Distribution::Latest { .. }, Some(z)) => live - 1 - z.sample(rng).min(live - 1),
            (
                Distribution::Hotspot {
                    hot_fraction,
                    hot_ops,
                },
                _,
            ) => {
                let hot = ((live as f64 * hot_fraction) as u64).max(1);
                if rng.unit() < hot_ops {
                    rng.below(hot)
                } else {
                    hot + rng.below((live - hot).max(1))
                }
            }
            (Distribution::Sequential, _) => {
                let k = self.next_sequential % live;
                self.next_sequential = k + 1;
                k
            }
            _ => rng.below(live),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipfian_rank_frequencies_follow_the_law() {
        let z = Zipf::new(1000, 0.99);
        let mut rng = SplitMix(42);
        let samples = 400_000;
        let mut counts = vec![0u64; 1000];
        for _ in 0..samples {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        // The most popular ranks carry most of the mass; compare each with theory.
        for k in 0..10u64 {
            let expect = z.probability(k) * samples as f64;
            let got = counts[k as usize] as f64;
            assert!(
                (got - expect).abs() / expect < 0.05,
                "rank {k}: {got} vs {expect:.0}"
            );
        }
        // And the tail as a whole.
        let tail: u64 = counts[100..].iter().sum();
        let expect: f64 = (100..1000).map(|k| z.probability(k)).sum::<f64>() * samples as f64;
        assert!(
            (tail as f64 - expect).abs() / expect < 0.05,
            "tail {tail} vs {expect:.0}"
        );
    }

    #[test]
    fn zipfian_tail_beyond_the_exact_head_follows_the_law() {
        let z = Zipf::new(1_000_000, 0.99);
        let mut rng = SplitMix(7);
        let samples = 400_000;
        let mut beyond = 0u64;
        let mut far = 0u64;
        for _ in 0..samples {
            let r = z.sample(&mut rng);
            assert!(r < 1_000_000);
            beyond += u64::from(r >= HEAD);
            far += u64::from(r >= 500_000);
        }
        let p_beyond: f64 = 1.0 - (0..HEAD).map(|k| z.probability(k)).sum::<f64>();
        let expect = p_beyond * samples as f64;
        assert!(
            (beyond as f64 - expect).abs() / expect < 0.05,
            "beyond head: {beyond} vs {expect:.0}"
        );
        let p_far = integral(500_000.5, 1_000_000.5, 0.99) / z.zetan;
        let expect = p_far * samples as f64;
        assert!(
            (far as f64 - expect).abs() / expect < 0.1,
            "far tail: {far} vs {expect:.0}"
        );
    }

    #[test]
    fn scrambling_spreads_the_popular_records() {
        let mut c = KeyChooser::new(Distribution::Zipfian { theta: 0.99 }, 10_000, 0);
        let mut rng = SplitMix(1);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..50_000 {
            *counts.entry(c.next(&mut rng, 10_000)).or_insert(0u32) += 1;
        }
        let mut top: Vec<(u64, u32)> = counts.into_iter().collect();
        top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        // Skewed: the hottest record is hit far more than uniform (5 per record) would give.
        assert!(top[0].1 > 500, "{:?}", &top[..3]);
        // Scrambled: the five hottest records are not the first five.
        assert!(top[..5].iter().any(|(k, _)| *k > 100), "{:?}", &top[..5]);
    }

    #[test]
    fn hotspot_latest_and_sequential() {
        let mut rng = SplitMix(9);
        let mut hot = KeyChooser::new(
            Distribution::Hotspot {
                hot_fraction: 0.1,
                hot_ops: 0.9,
            },
            1000,
            0,
        );
        let hits = (0..20_000)
            .filter(|_| hot.next(&mut rng, 1000) < 100)
            .count();
        assert!((hits as f64 / 20_000.0 - 0.9).abs() < 0.02, "{hits}");
        let mut latest = KeyChooser::new(Distribution::Latest { theta: 0.99 }, 1000, 0);
        let recent = (0..20_000)
            .filter(|_| latest.next(&mut rng, 1500) >= 1400)
            .count();
        assert!(recent > 10_000, "latest favours new records: {recent}");
        let mut seq = KeyChooser::new(Distribution::Sequential, 5, 3);
        let walk: Vec<u64> = (0..6).map(|_| seq.next(&mut rng, 5)).collect();
        assert_eq!(walk, [3, 4, 0, 1, 2, 3]);
        let mut uni = KeyChooser::new(Distribution::Uniform, 10, 0);
        assert!((0..1000).all(|_| uni.next(&mut rng, 10) < 10));
    }
}
