//! What makes two results files not comparable (refused: different workloads, quick
//! against full, a measured setting that differs) or comparable with care (warned).

use serde_json::Value;

use crate::results::Results;

/// Why two results files are not comparable (`refuse`), or comparable with care (`warn`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mismatches {
    pub refuse: Vec<String>,
    pub warn: Vec<String>,
}

fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "(not recorded)".to_owned(), Value::to_string)
}

/// What differs between two files beyond the code under test (see [`Mismatches`]).
pub fn mismatches(base: &Results, new: &Results) -> Mismatches {
    let mut m = Mismatches::default();
    if base.workload != new.workload {
        m.refuse.push(format!(
            "different workloads: {:?} and {:?}",
            base.workload, new.workload
        ));
    }
    if base.quick != new.quick {
        let q = |r: &Results| if r.quick { "--quick" } else { "full" };
        m.refuse.push(format!(
            "a {} run against a {} run: quick runs are smoke tests, not measurements",
            q(base),
            q(new)
        ));
    }
    // The plan's entries, from its typed fields: what is measured (refused when both
    // files record it and it differs; a warning when only one does: an older lab wrote
    // the other), how it is measured, and entries only a newer lab knows (warnings).
    let (bp, np) = (&base.plan, &new.plan);
    let workload = bp.workload().into_iter().zip(np.workload());
    let settings_ = bp.settings().into_iter().zip(np.settings());
    for (refusing, ((key, b), (_, n))) in workload
        .map(|e| (true, e))
        .chain(settings_.map(|e| (false, e)))
    {
        if b == n {
            continue;
        }
        let text = format!(
            "`{key}` differs: {} vs {}",
            shown(b.as_ref()),
            shown(n.as_ref())
        );
        if refusing && b.is_some() && n.is_some() {
            m.refuse.push(text);
        } else {
            m.warn.push(text);
        }
    }
    let keys: std::collections::BTreeSet<&String> =
        bp.other.keys().chain(np.other.keys()).collect();
    for key in keys {
        let (b, n) = (bp.other.get(key), np.other.get(key));
        if b != n {
            m.warn
                .push(format!("`{key}` differs: {} vs {}", shown(b), shown(n)));
        }
    }
    settings(base, new, &mut m.warn);
    m
}

/// Differences in machine, generators, state and variant descriptions: warnings.
fn settings(base: &Results, new: &Results, warn: &mut Vec<String>) {
    let (bm, nm) = (&base.machine, &new.machine);
    if (bm.cpu.as_str(), bm.cores) != (nm.cpu.as_str(), nm.cores) {
        warn.push(format!(
            "different machines: {} ({} cores) vs {} ({} cores)",
            bm.cpu, bm.cores, nm.cpu, nm.cores
        ));
    }
    if base.generators != new.generators {
        warn.push(format!(
            "{} load generator(s) vs {}: merged throughputs add up across generators",
            base.generators, new.generators
        ));
    }
    for (r, side) in [(base, "base"), (new, "new")] {
        if r.partial {
            warn.push(format!("{side} is partial (interrupted)"));
        }
        if r.contended {
            warn.push(format!(
                "{side} ran contended (parallel mode on too few cores)"
            ));
        }
    }
    for s in &new.summaries {
        let same = base.summaries.iter().find(|b| b.variant == s.variant);
        if let Some(b) = same.filter(|b| b.info != s.info) {
            for (k, v) in &s.info {
                let old = b.info.get(k).map_or("(none)", String::as_str);
                if old != v {
                    warn.push(format!(
                        "variant {}: {k} differs: {old:?} vs {v:?}",
                        s.variant
                    ));
                }
            }
        }
    }
    warn.dedup();
}
