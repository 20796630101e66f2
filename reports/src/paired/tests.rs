//! The estimator on synthetic rounds: A/A, planted slowdowns, regime switches.

#![allow(clippy::unwrap_used)]

use super::*;

/// Seeded normal noise (Box–Muller over SplitMix).
struct Noise(SplitMix);

impl Noise {
    fn new(seed: u64) -> Self {
        Noise(SplitMix(seed))
    }
    fn uniform(&mut self) -> f64 {
        (self.0.below(1 << 53) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `rounds` paired rates: the machine's regime (1 or 1.7× slower, switching now and
/// then), noise of `noise` per slice, side A `slowdown` slower. `switch_every`: a
/// regime change lands between the two slices of a round that often.
fn rounds(seed: u64, n: usize, slowdown: f64, noise: f64, switch_every: usize) -> [Vec<f64>; 2] {
    let mut rng = Noise::new(seed);
    let mut slow = false;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..n {
        let regime = |slow: bool| if slow { 1.0 / 1.7 } else { 1.0 };
        let first = regime(slow);
        if switch_every > 0 && i % switch_every == switch_every / 2 {
            slow = !slow;
        }
        let second = regime(slow);
        let (ra, rb) = if forward(i) {
            (first, second)
        } else {
            (second, first)
        };
        a.push(1e6 * ra * (1.0 - slowdown) * (1.0 + noise * rng.normal()));
        b.push(1e6 * rb * (1.0 + noise * rng.normal()));
    }
    [a, b]
}

#[test]
fn the_order_alternates_every_round_and_every_second_round() {
    let order: String = (0..8)
        .flat_map(|r| if forward(r) { ['A', 'B'] } else { ['B', 'A'] })
        .collect();
    assert_eq!(order, "ABBABAABABBABAAB");
    for block in 0..16 {
        assert_ne!(forward(2 * block), forward(2 * block + 1));
    }
}

#[test]
fn a_against_itself_holds_one_and_is_no_difference() {
    for seed in 0..6 {
        let [a, b] = rounds(seed, 150, 0.0, 0.02, 0);
        let r = ratio(&a, &b).unwrap();
        assert!(r.lo < r.estimate && r.estimate < r.hi, "{r:?}");
        assert!(r.hi - r.lo < 0.015, "interval too wide for 2% noise: {r:?}");
        assert_eq!(r.verdict(DEFAULT_THRESHOLD), Verdict::NoDifference, "{r:?}");
        assert_eq!((r.pairs, r.switches), (150, 0));
    }
}

#[test]
fn a_three_percent_slowdown_is_a_regression_and_the_reverse_an_improvement() {
    for seed in 0..6 {
        let [a, b] = rounds(seed, 150, 0.03, 0.02, 0);
        let r = ratio(&a, &b).unwrap();
        assert!((r.estimate - 0.97).abs() < 0.008, "{r:?}");
        assert_eq!(r.verdict(DEFAULT_THRESHOLD), Verdict::Regression, "{r:?}");
        let back = ratio(&b, &a).unwrap();
        assert_eq!(back.verdict(DEFAULT_THRESHOLD), Verdict::Improvement);
        assert!((back.estimate * r.estimate - 1.0).abs() < 1e-9);
    }
}

#[test]
fn rounds_that_straddle_a_regime_switch_are_counted_and_do_not_decide() {
    // A switch every 10 rounds, landing between the two slices of a round: 15 of 150
    // rounds have one side 1.7x slower than the other.
    for seed in 0..6 {
        let [a, b] = rounds(seed, 150, 0.0, 0.02, 10);
        let r = ratio(&a, &b).unwrap();
        assert_eq!(r.switches, 15, "{r:?}");
        assert_eq!(r.verdict(DEFAULT_THRESHOLD), Verdict::NoDifference, "{r:?}");
        assert!((r.estimate - 1.0).abs() < 0.01, "{r:?}");
        let [a, b] = rounds(seed, 150, 0.03, 0.02, 10);
        let r = ratio(&a, &b).unwrap();
        assert_eq!(r.verdict(DEFAULT_THRESHOLD), Verdict::Regression, "{r:?}");
    }
}

#[test]
fn one_sided_switches_would_fool_a_mean_but_not_the_estimate() {
    // Every switch lands on side A's slice (A ran slow, B fast): 10 of 150 rounds.
    let [mut a, b] = rounds(7, 150, 0.0, 0.01, 0);
    for i in (0..150).step_by(15) {
        a[i] /= 1.7;
    }
    let logs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| (x / y).ln()).collect();
    let mean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
    assert!(mean < 0.97, "the mean is fooled: {mean}");
    let r = ratio(&a, &b).unwrap();
    assert_eq!(r.switches, 10);
    assert!((r.estimate - 1.0).abs() < 0.01, "{r:?}");
    assert_eq!(r.verdict(DEFAULT_THRESHOLD), Verdict::NoDifference, "{r:?}");
}

#[test]
fn going_first_favours_neither_side() {
    // Whoever runs second in a round is 1% faster (a warm cache, a clock ramping up).
    let mut rng = Noise::new(3);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..150 {
        let (fa, fb) = if forward(i) { (1.0, 1.01) } else { (1.01, 1.0) };
        a.push(fa * (1.0 + 0.001 * rng.normal()));
        b.push(fb * (1.0 + 0.001 * rng.normal()));
    }
    let r = ratio(&a, &b).unwrap();
    assert!((r.estimate - 1.0).abs() < 0.001, "{r:?}");
    assert!(r.holds_one(), "{r:?}");
}

#[test]
fn the_interval_holds_the_truth_about_as_often_as_it_says() {
    let mut held = 0;
    for seed in 100..160 {
        let [a, b] = rounds(seed, 60, 0.05, 0.03, 0);
        let r = ratio(&a, &b).unwrap();
        held += usize::from(r.lo <= 0.95 && 0.95 <= r.hi);
    }
    // 95% of 60 is 57; the percentile bootstrap runs a little narrow at 60 rounds.
    assert!(
        (50..=60).contains(&held),
        "{held} of 60 intervals held 0.95"
    );
}

#[test]
fn process_pairs_that_disagree_widen_the_interval_to_hold_the_truth() {
    // Six pairs of processes of one build, 15 rounds each; each pair is off by its own
    // few percent for its whole life (where its memory landed), rounds by 3% more.
    let (mut held_grouped, mut held_pooled) = (0, 0);
    for seed in 0..30 {
        let mut rng = Noise::new(1000 + seed);
        let (mut a, mut b, mut process) = (Vec::new(), Vec::new(), Vec::new());
        for p in 0..6 {
            let offset = 0.02 * rng.normal();
            for _ in 0..15 {
                a.push((offset + 0.03 * rng.normal()).exp());
                b.push(1.0);
                process.push(p);
            }
        }
        let grouped = ratio_grouped(&a, &b, &process).unwrap();
        assert_eq!((grouped.pairs, grouped.processes), (90, 6));
        held_grouped += usize::from(grouped.holds_one());
        held_pooled += usize::from(ratio(&a, &b).unwrap().holds_one());
    }
    assert!(
        held_grouped >= 25,
        "grouped intervals held 1 in {held_grouped} of 30"
    );
    assert!(
        held_pooled < held_grouped,
        "{held_pooled} vs {held_grouped}"
    );
}

#[test]
fn a_ranking_orders_by_rounds_and_says_how_far_ahead_the_leader_is() {
    let [fast, slow] = rounds(21, 40, 0.3, 0.02, 0);
    // A twin of `slow`'s rounds, a few tenths of a percent either way.
    let twin: Vec<f64> = slow
        .iter()
        .enumerate()
        .map(|(i, x)| x * (1.0 + 0.002 * ((i * 7 % 5) as f64 - 2.0)))
        .collect();
    let v = |name: &str, rates: &[f64]| RoundRates {
        variant: name.into(),
        rates: rates.to_vec(),
        per_op: BTreeMap::from([("read".to_owned(), rates.to_vec())]),
        ..RoundRates::default()
    };
    // `fast` is side B of a 30% slowdown: 1/0.7 = 1.43x ahead of `slow`.
    let r = Rounds {
        variants: vec![v("slow", &fast), v("fast", &slow), v("twin", &twin)],
        ..Rounds::default()
    };
    let ranked = r.ranking(None, |_| true);
    let names: Vec<&str> = ranked.iter().map(|x| x.variant.as_str()).collect();
    assert_eq!(names[2], "slow", "{ranked:?}");
    assert!(ranked[0].behind.is_none());
    let gap = ranked[2].behind.unwrap();
    assert!(
        (gap.estimate - 1.0 / 0.7).abs() < 0.03 && gap.lo > 1.3,
        "{gap:?}"
    );
    // fast and twin are alike: the interval holds 1.
    assert!(ranked[1].behind.unwrap().holds_one(), "{ranked:?}");
    assert_eq!(r.ranking(Some("read"), |_| true).len(), 3);
    assert!(r.ranking(Some("scan"), |_| true).is_empty());
    assert_eq!(r.rounds(), 40);
}

#[test]
fn the_same_pairs_give_the_same_interval() {
    let [a, b] = rounds(11, 100, 0.01, 0.03, 7);
    assert_eq!(ratio(&a, &b), ratio(&a, &b));
}

#[test]
fn unusable_rounds_are_left_out_and_too_few_give_nothing() {
    let [mut a, b] = rounds(5, 40, 0.0, 0.01, 0);
    a[3] = 0.0;
    a[10] = f64::NAN;
    let r = ratio(&a, &b).unwrap();
    assert_eq!(r.pairs, 38);
    assert!(ratio(&a[..11], &b[..11]).is_none());
    assert!(ratio(&a[..12], &b[..12]).is_some());
    assert!(ratio(&[], &[]).is_none());
}

#[test]
fn the_estimator_is_the_median_of_pairwise_means() {
    assert_eq!(hodges_lehmann(&[1.0]), 1.0);
    // Walsh means of 0, 1, 10: 0, 0.5, 5, 1, 5.5, 10 -> median (1 + 5) / 2.
    assert_eq!(hodges_lehmann(&[0.0, 1.0, 10.0]), 3.0);
    assert_eq!(hodges_lehmann(&[10.0, 0.0, 1.0]), 3.0);
    assert!(median_of(&mut []).is_nan());
}

#[test]
fn verdicts_need_the_whole_interval_past_the_threshold() {
    let r = |lo, hi| Ratio {
        estimate: (lo + hi) / 2.0,
        lo,
        hi,
        pairs: 10,
        processes: 1,
        switches: 0,
    };
    assert_eq!(r(0.95, 0.979).verdict(0.02), Verdict::Regression);
    assert_eq!(r(0.95, 0.981).verdict(0.02), Verdict::NoDifference);
    assert_eq!(r(1.021, 1.05).verdict(0.02), Verdict::Improvement);
    assert_eq!(r(1.019, 1.05).verdict(0.02), Verdict::NoDifference);
    assert_eq!(r(0.9, 1.1).verdict(0.0), Verdict::NoDifference);
    assert_eq!(r(0.958, 0.976).text(), "0.967× [0.958, 0.976]");
}
