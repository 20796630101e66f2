//! The report's first lines: per thread count, who is fastest, by how much, and whether the
//! lead is beyond the noise or a tie. Where the run paired the variants (`Results::paired`:
//! they took turns in short slices), each ratio is judged from its rounds
//! (`paired::Rounds::ranking`: a lead counts when the 95% interval of the ratio excludes
//! 1); otherwise from the repeats (a lead counts when the 95% intervals over repeats do not
//! overlap), which were taken at different times.

use crate::format::{human, human_ns, threads_text, times, Unit};
use crate::paired::{Ranked, Rounds};
use crate::results::Results;
use crate::stats;

/// One contender at one thread count: a variant's median throughput and its interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Contender {
    pub variant: String,
    pub median: f64,
    pub ci: [f64; 2],
    pub repeats: usize,
}

impl Contender {
    fn overlaps(&self, other: &Contender) -> bool {
        self.ci[0] <= other.ci[1] && other.ci[0] <= self.ci[1]
    }
}

/// The contenders at `threads`, fastest first. Harness fixtures (`noop`, `synthetic`) are
/// not ranked against stores ([`Results::ranked`]); they contend only when nothing else
/// ran.
pub fn contenders(r: &Results, threads: usize) -> Vec<Contender> {
    let mut list: Vec<Contender> = r
        .summaries
        .iter()
        .filter(|s| s.threads == threads && r.ranked(&s.variant, threads))
        .map(|s| Contender {
            variant: s.variant.clone(),
            median: s.throughput_median,
            ci: s.throughput_ci95,
            repeats: stats::repeats(r, s),
        })
        .collect();
    list.sort_by(|a, b| b.median.total_cmp(&a.median));
    list
}

/// Every thread count of the results, ascending.
pub fn thread_counts(r: &Results) -> Vec<usize> {
    let mut t: Vec<usize> = r.summaries.iter().map(|s| s.threads).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// "a", "a and b", "a, b and c".
pub fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The sentence for one thread count.
pub fn sentence(threads: usize, c: &[Contender]) -> Option<String> {
    let at = threads_text(threads);
    let (lead, rest) = c.split_first()?;
    let Some(last) = rest.last() else {
        return Some(format!(
            "At {at}, only {} ran: {}.",
            lead.variant,
            human(Unit::Rate, lead.median)
        ));
    };
    let ratio = |other: &Contender| times(lead.median / other.median);
    if c.iter().any(|x| x.repeats < 2) {
        return Some(format!(
            "At {at}, {} is fastest, {} {}; with one repeat the intervals are those of one \
             run, so the lead is not shown to be beyond the noise.",
            lead.variant,
            ratio(last),
            last.variant,
        ));
    }
    let tied: Vec<&str> = c
        .iter()
        .filter(|x| x.overlaps(lead))
        .map(|x| x.variant.as_str())
        .collect();
    Some(if tied.len() == c.len() {
        format!(
            "At {at}, {} are tied: {} is ahead of {} by {}, but their 95% intervals overlap.",
            if c.len() <= 4 {
                and_list(&tied)
            } else {
                format!("all {} variants", c.len())
            },
            lead.variant,
            last.variant,
            ratio(last),
        )
    } else if tied.len() > 1 {
        format!(
            "At {at}, {} are tied for the lead (95% intervals overlap), {} {}, outside the \
             95% intervals.",
            and_list(&tied),
            ratio(last),
            last.variant,
        )
    } else {
        let next = &rest[0];
        let slowest = if rest.len() > 1 {
            format!(" and {} {} (slowest)", ratio(last), last.variant)
        } else {
            String::new()
        };
        format!(
            "At {at}, {} is fastest: {} {} (next){slowest}, outside the 95% intervals.",
            lead.variant,
            ratio(next),
            next.variant,
        )
    })
}

/// "1.31× [1.27, 1.35] pooled", or "? pooled" when too few rounds were usable.
fn behind_text(v: &Ranked) -> String {
    match v.behind {
        Some(r) => format!("{} {}", r.text(), v.variant),
        None => format!("? {}", v.variant),
    }
}

/// Whether `v` is tied with the leader: the interval of the leader's ratio to it holds 1
/// (or there were too few rounds to say).
pub fn tied_with_lead(v: &Ranked) -> bool {
    v.behind.is_none_or(|r| r.lo <= 1.0)
}

/// The sentence for one thread count from its paired rounds (of the variants `r` ranks:
/// no harness fixture against stores); `None` with fewer than two variants.
pub fn paired_sentence(r: &Results, rounds: &Rounds) -> Option<String> {
    let ranked = rounds.ranking(None, |v| r.ranked(v, rounds.threads));
    let (lead, rest) = ranked.split_first()?;
    let last = rest.last()?;
    let at = threads_text(rounds.threads);
    let how = format!(
        "paired over {} rounds of {} slices",
        rounds.rounds(),
        human_ns(rounds.slice_s * 1e9)
    );
    let tied: Vec<&str> = std::iter::once(lead)
        .chain(rest.iter().filter(|v| tied_with_lead(v)))
        .map(|v| v.variant.as_str())
        .collect();
    Some(if tied.len() == ranked.len() {
        format!(
            "At {at}, {} are tied: {} is ahead of {} by {}, and the 95% interval reaches 1 \
             ({how}).",
            if ranked.len() <= 4 {
                and_list(&tied)
            } else {
                format!("all {} variants", ranked.len())
            },
            lead.variant,
            last.variant,
            last.behind.map_or("?".into(), |r| r.text()),
        )
    } else if tied.len() > 1 {
        format!(
            "At {at}, {} are tied for the lead (the 95% intervals of their ratios reach 1); \
             {} is ahead of {} by {} ({how}).",
            and_list(&tied),
            lead.variant,
            last.variant,
            last.behind.map_or("?".into(), |r| r.text()),
        )
    } else {
        let next = &rest[0];
        let slowest = if rest.len() > 1 {
            format!(" and {} (slowest)", behind_text(last))
        } else {
            String::new()
        };
        format!(
            "At {at}, {} is fastest: {} (next){slowest}; {how}.",
            lead.variant,
            behind_text(next),
        )
    })
}

/// One sentence per thread count, in thread order: from the paired rounds where the run
/// took them, else from the repeats; each followed, when the variants declare different
/// durability tiers, by [`tier_note`].
pub fn verdicts(r: &Results) -> Vec<String> {
    thread_counts(r)
        .into_iter()
        .flat_map(|t| {
            let ranking = r
                .paired
                .iter()
                .find(|p| p.threads == t)
                .and_then(|p| paired_sentence(r, p))
                .or_else(|| sentence(t, &contenders(r, t)));
            ranking.into_iter().chain(tier_note(r, t))
        })
        .collect()
}

/// The variant's declared durability tier (`info.tier`, schema 4), if recorded.
fn tier_of<'a>(r: &'a Results, variant: &str, threads: usize) -> Option<&'a str> {
    r.summaries
        .iter()
        .find(|s| s.variant == variant && s.threads == threads)
        .and_then(|s| s.info.get("tier"))
        .map(String::as_str)
}

/// What a tier promises, as a verb phrase.
fn promise(tier: &str) -> &'static str {
    match tier {
        "fsync-per-commit" => "fsyncs every commit",
        "group-commit" => "shares fsyncs between commits",
        "os-buffered" => "does not fsync per write",
        "memory" => "keeps nothing on disk",
        _ => "declares no tier",
    }
}

/// When the variants at `threads` declare different durability tiers, the sentence that
/// says the ranking crosses them ("fjall is faster than sqlite:durable, but fjall does not
/// fsync per write"), and the ranking within each tier (by median throughput); `None` when
/// they share one tier or none is recorded (older files).
pub fn tier_note(r: &Results, threads: usize) -> Option<String> {
    let c = contenders(r, threads);
    let tiers: Vec<(&Contender, &str)> = c
        .iter()
        .map(|x| (x, tier_of(r, &x.variant, threads).unwrap_or("unknown")))
        .collect();
    let mut distinct: Vec<&str> = tiers.iter().map(|(_, t)| *t).collect();
    distinct.sort_by_key(|t| crate::storage::tier_rank(t));
    distinct.dedup();
    if distinct.len() < 2 || tiers.iter().all(|(_, t)| *t == "unknown") {
        return None;
    }
    let at = threads_text(threads);
    // The fastest variant that promises less than some slower one.
    let crossing = tiers.iter().enumerate().find_map(|(i, (fast, ft))| {
        let stronger: Vec<&str> = tiers[i + 1..]
            .iter()
            .filter(|(_, st)| crate::storage::tier_rank(st) < crate::storage::tier_rank(ft))
            .map(|(s, _)| s.variant.as_str())
            .collect();
        (!stronger.is_empty()).then(|| {
            format!(
                "{} is faster than {}, but {} {} ({ft})",
                fast.variant,
                and_list(&stronger),
                fast.variant,
                promise(ft)
            )
        })
    });
    let groups: Vec<String> = distinct
        .iter()
        .map(|t| {
            let names: Vec<String> = tiers
                .iter()
                .filter(|(_, x)| x == t)
                .map(|(v, _)| format!("{} {}", v.variant, human(Unit::Rate, v.median)))
                .collect();
            format!("{t}: {}", names.join(" > "))
        })
        .collect();
    Some(format!(
        "At {at}, the ranking crosses durability tiers{}: compare within a tier ({}).",
        crossing.map_or(String::new(), |c| format!("; {c}")),
        groups.join("; ")
    ))
}

/// How the numbers were made, in a sentence for under the verdict.
pub fn method(r: &Results) -> String {
    let repeats = r
        .summaries
        .iter()
        .map(|s| stats::repeats(r, s))
        .max()
        .unwrap_or(0);
    let plural = if repeats == 1 { "" } else { "s" };
    if let Some(p) = r.paired.first() {
        return format!(
            "The ranking is paired: at each thread count the variants took turns in short \
             slices ({} rounds of about {} each, on the same CPUs, the same operations in \
             every round), and a ratio such as “1.31× [1.27, 1.35]” is the Hodges–Lehmann \
             estimate of the rounds' ratios over {} with its 95% bootstrap interval; a lead \
             counts when that interval excludes 1. Throughput in the tables is each \
             variant's ops/s on the whole mix: the median over blocks (tenths of each \
             measured phase, {repeats} repeat{plural}) with its 95% interval. The harness \
             fixtures noop and synthetic are not ranked. “plain ×2” means the variant plain \
             on 2 threads.",
            p.rounds(),
            human_ns(p.slice_s * 1e9),
            p.timing.label()
        );
    }
    format!(
        "Throughput is each variant's ops/s on the whole mix: the median over blocks (tenths \
         of each measured phase, {repeats} repeat{plural}) with its 95% interval (a bootstrap \
         resampling repeats, then blocks); a lead counts when the intervals do not overlap. \
         The harness fixtures noop and synthetic are not ranked. “plain ×2” means the \
         variant plain on 2 threads."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paired::RoundRates;

    #[test]
    fn a_ranking_across_durability_tiers_is_marked_and_each_tier_ranked_alone() {
        let mut r = Results::default();
        for (v, rate, tier) in [
            ("fjall", 90_000.0, "os-buffered"),
            ("plain:durable", 300.0, "fsync-per-commit"),
            ("sqlite:durable", 200.0, "fsync-per-commit"),
        ] {
            r.summaries.push(crate::results::VariantSummary {
                variant: v.into(),
                threads: 1,
                throughput_median: rate,
                throughput_ci95: [rate * 0.9, rate * 1.1],
                info: [("tier".to_owned(), tier.to_owned())].into_iter().collect(),
                ..Default::default()
            });
        }
        let v = verdicts(&r);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].starts_with("At 1 thread, fjall is fastest"), "{v:?}");
        assert!(
            v[1].contains(
                "fjall is faster than plain:durable and sqlite:durable, but fjall does not \
                 fsync per write (os-buffered)"
            ),
            "{v:?}"
        );
        assert!(
            v[1].contains("fsync-per-commit: plain:durable 300 ops/s > sqlite:durable 200 ops/s"),
            "{v:?}"
        );
        // One tier: no note.
        r.summaries.remove(0);
        assert_eq!(verdicts(&r).len(), 1);
        // Older files record no tier: no note either.
        for s in &mut r.summaries {
            s.info.clear();
        }
        assert_eq!(tier_note(&r, 1), None);
    }

    /// Rounds where each variant's rate is `rate` times a wobble shared by all of them in
    /// a round (the machine's regime) and one of its own of ±`own`.
    fn rounds(variants: &[(&str, f64)], own: f64) -> Rounds {
        Rounds {
            threads: 1,
            slice_s: 0.05,
            variants: variants
                .iter()
                .enumerate()
                .map(|(v, (name, rate))| RoundRates {
                    variant: (*name).into(),
                    rates: (0..40)
                        .map(|i| {
                            let regime = if (i / 7) % 2 == 0 { 1.0 } else { 0.6 };
                            let mine = own * (((i * 7 + v * 3) % 5) as f64 - 2.0) / 2.0;
                            rate * regime * (1.0 + mine)
                        })
                        .collect(),
                    ..RoundRates::default()
                })
                .collect(),
            ..Rounds::default()
        }
    }

    #[test]
    fn paired_rounds_rank_by_their_ratios_and_intervals() {
        let clear = rounds(
            &[("plain", 100.0), ("binary", 180.0), ("pooled", 150.0)],
            0.01,
        );
        let s = paired_sentence(&Results::default(), &clear).unwrap();
        assert!(s.starts_with("At 1 thread, binary is fastest: 1.19"), "{s}");
        assert!(s.contains("] pooled (next) and 1.80"), "{s}");
        assert!(
            s.ends_with("] plain (slowest); paired over 40 rounds of 50.00 ms slices."),
            "{s}"
        );
        let tie = rounds(&[("a", 100.0), ("b", 100.5), ("z", 50.0)], 0.05);
        let s = paired_sentence(&Results::default(), &tie).unwrap();
        assert!(
            s.starts_with(
                "At 1 thread, b and a are tied for the lead (the 95% intervals of their \
                 ratios reach 1); b is ahead of z by 1.9"
            ),
            "{s}"
        );
        let all = rounds(&[("a", 100.0), ("b", 100.5)], 0.05);
        assert!(paired_sentence(&Results::default(), &all)
            .unwrap()
            .contains("are tied: b is ahead of a by"));
        assert!(paired_sentence(&Results::default(), &rounds(&[("a", 1.0)], 0.0)).is_none());
    }

    #[test]
    fn a_run_with_paired_rounds_is_judged_by_them_and_says_so() {
        let mut r = Results::default();
        for (v, rate) in [("plain", 100.0), ("binary", 200.0)] {
            r.summaries.push(crate::results::VariantSummary {
                variant: v.into(),
                threads: 1,
                // The repeats say the opposite: they were taken at different times.
                throughput_median: 300.0 - rate,
                throughput_ci95: [290.0 - rate, 310.0 - rate],
                ..Default::default()
            });
        }
        assert!(verdicts(&r)[0].starts_with("At 1 thread, plain is fastest"));
        assert!(method(&r).starts_with(
            "Throughput is each variant's ops/s on the whole mix: the median over blocks"
        ));
        r.paired
            .push(rounds(&[("plain", 100.0), ("binary", 200.0)], 0.01));
        let v = &verdicts(&r)[0];
        assert!(v.starts_with("At 1 thread, binary is fastest: 2.0"), "{v}");
        assert!(v.ends_with("] plain (next); paired over 40 rounds of 50.00 ms slices."));
        assert!(
            method(&r).starts_with("The ranking is paired"),
            "{}",
            method(&r)
        );
    }

    fn c(variant: &str, median: f64, half: f64) -> Contender {
        Contender {
            variant: variant.into(),
            median,
            ci: [median - half, median + half],
            repeats: 3,
        }
    }

    #[test]
    fn a_clear_lead_a_tie_and_one_repeat() {
        let clear = [
            c("binary", 180.0, 5.0),
            c("pooled", 150.0, 5.0),
            c("plain", 100.0, 5.0),
        ];
        assert_eq!(
            sentence(1, &clear).unwrap(),
            "At 1 thread, binary is fastest: 1.2× pooled (next) and 1.8× plain (slowest), \
             outside the 95% intervals."
        );
        let tie = [c("pooled", 105.0, 10.0), c("binary", 100.0, 10.0)];
        assert!(sentence(2, &tie)
            .unwrap()
            .starts_with("At 2 threads, pooled and binary are tied"));
        let lead_tie = [c("a", 105.0, 10.0), c("b", 100.0, 10.0), c("z", 50.0, 1.0)];
        assert!(sentence(1, &lead_tie)
            .unwrap()
            .contains("a and b are tied for the lead (95% intervals overlap), 2.1× z"));
        let mut once = clear.to_vec();
        once[0].repeats = 1;
        assert!(sentence(1, &once)
            .unwrap()
            .contains("not shown to be beyond the noise"));
        assert_eq!(
            sentence(4, &clear[..1]).unwrap(),
            "At 4 threads, only binary ran: 180 ops/s."
        );
    }
}
