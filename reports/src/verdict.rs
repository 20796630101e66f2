//! The report's first lines: per thread count, who is fastest, by how much, and whether the
//! lead is beyond the noise (the 95% intervals over repeats do not overlap) or a tie.

use crate::format::{human, threads_text, times, Unit};
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
/// not ranked against stores; they contend only when nothing else ran.
pub fn contenders(r: &Results, threads: usize) -> Vec<Contender> {
    let here = r.summaries.iter().filter(|s| s.threads == threads);
    let stores = here
        .clone()
        .any(|s| !crate::results::is_fixture(&s.variant));
    let mut list: Vec<Contender> = here
        .filter(|s| !stores || !crate::results::is_fixture(&s.variant))
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

/// One sentence per thread count, in thread order.
pub fn verdicts(r: &Results) -> Vec<String> {
    thread_counts(r)
        .into_iter()
        .filter_map(|t| sentence(t, &contenders(r, t)))
        .collect()
}

/// How the numbers were made, in a sentence for under the verdict.
pub fn method(r: &Results) -> String {
    let repeats = r
        .summaries
        .iter()
        .map(|s| stats::repeats(r, s))
        .max()
        .unwrap_or(0);
    format!(
        "Throughput is each variant's ops/s on the whole mix: the median over blocks (tenths \
         of each measured phase, {repeats} repeat{}) with its 95% interval (a bootstrap \
         resampling repeats, then blocks); a lead counts when the intervals do not overlap. \
         The harness fixtures noop and synthetic are not ranked. “plain ×2” means the \
         variant plain on 2 threads.",
        if repeats == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
