//! Which records the operations touch, implemented once: uniform, the exact `zipfian`,
//! YCSB's `scrambled_zipfian` and `latest`, hotspot and sequential; and how long scans are.
//! They pick record *indexes* in the phase's [`super::keyspace::KeySpace`]; the key space
//! turns those into ids and `names` into key names.

use std::sync::Arc;

use serde::Serialize;

use super::zipf::{fnvhash64, ExactZipf, Gray, YCSB_ITEM_COUNT, YCSB_THETA, YCSB_ZETAN};
use crate::doc::SplitMix;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    Uniform,
    /// The exact zipfian law of skew `theta` over the key space: record 0 is the most
    /// popular, record 1 the next, and so on (unscrambled).
    Zipfian {
        theta: f64,
    },
    /// YCSB's `requestdistribution=zipfian`: a rank drawn (with YCSB's approximation) from a
    /// zipfian over 10^10 items, then mapped to record `fnvhash64(rank) % item count`.
    ScrambledZipfian {
        theta: f64,
    },
    /// YCSB's `latest`: a zipfian over recency, relative to the newest acknowledged insert
    /// of any thread.
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

/// How many records a scan reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScanLength {
    Fixed {
        length: u64,
    },
    /// Uniform in `min..=max` (YCSB's default, with `min` 1).
    Uniform {
        min: u64,
        max: u64,
    },
    /// YCSB's zipfian over `min..=max`: `min` the most likely.
    Zipfian {
        min: u64,
        max: u64,
    },
}

impl ScanLength {
    /// The longest scan this can draw.
    pub fn max(self) -> u64 {
        match self {
            ScanLength::Fixed { length } => length,
            ScanLength::Uniform { max, .. } | ScanLength::Zipfian { max, .. } => max,
        }
    }
}

/// What every thread's chooser shares, built once per phase: the exact zipfian's alias
/// table is the only part worth sharing.
#[derive(Clone, Debug)]
pub struct KeyLaw {
    dist: Distribution,
    /// The key space the distribution is drawn over (records + expected inserts).
    item_count: u64,
    exact: Option<Arc<ExactZipf>>,
}

impl KeyLaw {
    pub fn new(dist: Distribution, item_count: u64) -> KeyLaw {
        let item_count = item_count.max(1);
        let exact = match dist {
            Distribution::Zipfian { theta } => Some(Arc::new(ExactZipf::new(item_count, theta))),
            _ => None,
        };
        KeyLaw {
            dist,
            item_count,
            exact,
        }
    }
}

/// Per-thread state of the distribution.
#[derive(Clone, Debug)]
enum State {
    Plain,
    Exact(Arc<ExactZipf>),
    /// YCSB's scrambled zipfian: its generator over 10^10 + 1 items, and the item count
    /// `fnvhash64(rank)` is reduced modulo (YCSB's inclusive `max`: records + expected
    /// inserts + 1).
    Scrambled {
        gray: Gray,
        modulo: u64,
    },
    Latest(Gray),
    Sequential(u64),
}

/// Picks record indexes for one thread.
#[derive(Clone, Debug)]
pub struct KeyChooser {
    dist: Distribution,
    item_count: u64,
    state: State,
}

/// Redraws before a zipfian that keeps drawing not-yet-inserted records gives up and
/// wraps (only reachable with an item count far above the records that exist).
const MAX_REDRAWS: u32 = 64;

impl KeyChooser {
    /// `start` offsets the sequential walk (each thread starts elsewhere); `records` is
    /// what was loaded (YCSB's `latest` starts from the newest of them).
    pub fn new(law: &KeyLaw, records: u64, start: u64) -> Self {
        let state = match law.dist {
            Distribution::Zipfian { .. } => law.exact.clone().map_or(State::Plain, State::Exact),
            Distribution::ScrambledZipfian { theta } => State::Scrambled {
                gray: if theta == YCSB_THETA {
                    Gray::with_zetan(YCSB_ITEM_COUNT + 1, theta, YCSB_ZETAN)
                } else {
                    Gray::new(YCSB_ITEM_COUNT + 1, theta)
                },
                modulo: law.item_count + 1,
            },
            // new SkewedLatestGenerator(counter): a ZipfianGenerator over lastValue() items.
            Distribution::Latest { theta } => State::Latest(Gray::new(records.max(2) - 1, theta)),
            Distribution::Sequential => State::Sequential(start % records.max(1)),
            Distribution::Uniform | Distribution::Hotspot { .. } => State::Plain,
        };
        KeyChooser {
            dist: law.dist,
            item_count: law.item_count,
            state,
        }
    }

    /// A record index among the first `live` (loaded plus acknowledged inserts).
    #[inline]
    pub fn next(&mut self, rng: &mut SplitMix, live: u64) -> u64 {
        let live = live.max(1);
        match &mut self.state {
            State::Exact(z) => {
                for _ in 0..MAX_REDRAWS {
                    let r = rng.next_u64();
                    let k = z.sample(r, || rng.unit());
                    if k < live {
                        return k;
                    }
                }
                rng.below(live)
            }
            State::Scrambled { gray, modulo } => {
                for _ in 0..MAX_REDRAWS {
                    let rank = gray.rank(rng.unit(), YCSB_ITEM_COUNT + 1);
                    let k = fnvhash64(rank) % *modulo;
                    if k < live {
                        return k;
                    }
                }
                rng.below(live)
            }
            State::Latest(gray) => {
                // SkewedLatestGenerator: max = the newest acknowledged record; YCSB never
                // draws record 0 here (max - rank with rank < max), and neither do we.
                let max = live - 1;
                if max == 0 {
                    return 0;
                }
                max - gray.next(rng.unit(), max).min(max - 1)
            }
            State::Sequential(next) => {
                let k = *next % live;
                *next = k + 1;
                k
            }
            State::Plain => self.plain(rng, live),
        }
    }

    fn plain(&self, rng: &mut SplitMix, live: u64) -> u64 {
        match self.dist {
            Distribution::Hotspot {
                hot_fraction,
                hot_ops,
            } => {
                let hot = ((live as f64 * hot_fraction) as u64).max(1);
                if rng.unit() < hot_ops {
                    rng.below(hot)
                } else {
                    hot + rng.below((live - hot).max(1))
                }
            }
            _ => rng.below(live),
        }
    }

    /// The key space the distribution is drawn over.
    pub fn item_count(&self) -> u64 {
        self.item_count
    }
}

/// Draws scan lengths for one thread.
#[derive(Clone, Debug)]
pub struct ScanChooser {
    law: ScanLength,
    gray: Option<Gray>,
}

impl ScanChooser {
    pub fn new(law: ScanLength) -> Self {
        let gray = match law {
            // new ZipfianGenerator(min, max): items = max - min + 1.
            ScanLength::Zipfian { min, max } => Some(Gray::new(max - min + 1, YCSB_THETA)),
            _ => None,
        };
        ScanChooser { law, gray }
    }

    #[inline]
    pub fn next(&self, rng: &mut SplitMix) -> u64 {
        match (self.law, &self.gray) {
            (ScanLength::Uniform { min, max }, _) => min + rng.below(max - min + 1),
            (ScanLength::Zipfian { min, max }, Some(g)) => {
                (min + g.rank(rng.unit(), max - min + 1)).min(max)
            }
            (law, _) => law.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chooser(dist: Distribution, records: u64) -> KeyChooser {
        KeyChooser::new(&KeyLaw::new(dist, records), records, 0)
    }

    #[test]
    fn scrambling_spreads_the_popular_records() {
        let mut c = chooser(Distribution::ScrambledZipfian { theta: 0.99 }, 10_000);
        let mut rng = SplitMix(1);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..50_000 {
            *counts.entry(c.next(&mut rng, 10_000)).or_insert(0u32) += 1;
        }
        let mut top: Vec<(u64, u32)> = counts.into_iter().collect();
        top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        // Skewed: the hottest record is hit far more than uniform (5 per record) would give.
        assert!(top[0].1 > 500, "{:?}", &top[..3]);
        // Scrambled: the hottest record is YCSB's, fnvhash64(0) % (10,000 + 1).
        assert_eq!(top[0].0, fnvhash64(0) % 10_001);
        assert!(top[..5].iter().any(|(k, _)| *k > 100), "{:?}", &top[..5]);
    }

    #[test]
    fn not_yet_inserted_records_are_redrawn() {
        // Item count 2,000 but only 1,000 records exist: every draw is below 1,000.
        let law = KeyLaw::new(Distribution::ScrambledZipfian { theta: 0.99 }, 2_000);
        let mut c = KeyChooser::new(&law, 1_000, 0);
        let exact = KeyLaw::new(Distribution::Zipfian { theta: 0.99 }, 2_000);
        let mut e = KeyChooser::new(&exact, 1_000, 0);
        let mut rng = SplitMix(3);
        assert!((0..20_000).all(|_| c.next(&mut rng, 1_000) < 1_000));
        assert!((0..20_000).all(|_| e.next(&mut rng, 1_000) < 1_000));
    }

    #[test]
    fn hotspot_latest_and_sequential() {
        let mut rng = SplitMix(9);
        let mut hot = chooser(
            Distribution::Hotspot {
                hot_fraction: 0.1,
                hot_ops: 0.9,
            },
            1000,
        );
        let hits = (0..20_000)
            .filter(|_| hot.next(&mut rng, 1000) < 100)
            .count();
        assert!((hits as f64 / 20_000.0 - 0.9).abs() < 0.02, "{hits}");
        let mut latest = chooser(Distribution::Latest { theta: 0.99 }, 1000);
        let drawn: Vec<u64> = (0..20_000).map(|_| latest.next(&mut rng, 1500)).collect();
        assert!(drawn.iter().all(|k| (1..1500).contains(k)));
        let recent = drawn.iter().filter(|k| **k >= 1400).count();
        assert!(recent > 10_000, "latest favours new records: {recent}");
        // The newest acknowledged record is the most popular.
        let newest = drawn.iter().filter(|k| **k == 1499).count();
        assert!(newest > 500, "{newest}");
        let mut seq = KeyChooser::new(&KeyLaw::new(Distribution::Sequential, 5), 5, 3);
        let walk: Vec<u64> = (0..6).map(|_| seq.next(&mut rng, 5)).collect();
        assert_eq!(walk, [3, 4, 0, 1, 2, 3]);
        let mut uni = chooser(Distribution::Uniform, 10);
        assert!((0..1000).all(|_| uni.next(&mut rng, 10) < 10));
    }

    #[test]
    fn scan_lengths_fixed_uniform_and_zipfian() {
        let mut rng = SplitMix(5);
        let fixed = ScanChooser::new(ScanLength::Fixed { length: 7 });
        assert!((0..100).all(|_| fixed.next(&mut rng) == 7));
        let uni = ScanChooser::new(ScanLength::Uniform { min: 1, max: 100 });
        let mut seen = [0u32; 101];
        for _ in 0..100_000 {
            seen[uni.next(&mut rng) as usize] += 1;
        }
        assert_eq!(seen[0], 0);
        assert!(
            seen[1..].iter().all(|n| (800..1200).contains(n)),
            "{seen:?}"
        );
        let zipf = ScanChooser::new(ScanLength::Zipfian { min: 5, max: 100 });
        let draws: Vec<u64> = (0..20_000).map(|_| zipf.next(&mut rng)).collect();
        assert!(draws.iter().all(|n| (5..=100).contains(n)));
        let fives = draws.iter().filter(|n| **n == 5).count();
        assert!(fives > draws.len() / 10, "{fives}");
    }
}
