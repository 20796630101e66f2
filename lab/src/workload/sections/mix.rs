//! `[mix]` (which operations, by weight) and `[distribution]` (which keys they pick).

use serde::Serialize;
use toml::Spanned;

use crate::workload::context::{closest, Ctx, Problems, WorkloadError};
use crate::workload::keys::Distribution;
use crate::workload::spec::DistributionSpec;
use acorn_reports::OpKind;

/// `[mix]`: operation weights summing to 100 (zero weights left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Mix(pub Vec<(OpKind, u32)>);

impl Mix {
    /// The sum of the weights (100 for a TOML mix; YCSB's proportions are scaled).
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, w)| u64::from(*w)).sum()
    }

    /// Whether any operation of the mix changes the data (a read-only mix leaves the
    /// loaded records as they were, so repeats need not restore them).
    pub fn writes(&self) -> bool {
        self.0.iter().any(|(k, w)| *w > 0 && k.writes())
    }

    /// Records one operation inserts, on average (inserts, and batches of `batch_size`).
    pub fn inserts_per_op(&self, batch_size: usize) -> f64 {
        let inserted: f64 = self
            .0
            .iter()
            .map(|(k, w)| match k {
                OpKind::Insert => f64::from(*w),
                OpKind::Batch => f64::from(*w) * batch_size as f64,
                _ => 0.0,
            })
            .sum();
        inserted / self.total().max(1) as f64
    }

    pub(crate) fn from_spec(
        cx: Ctx<'_>,
        mix: &Spanned<std::collections::BTreeMap<String, Spanned<i64>>>,
    ) -> Result<Mix, WorkloadError> {
        let mut p = Problems::default();
        let mut out = Vec::new();
        let mut total = 0i64;
        for (op, w) in mix.get_ref() {
            let weight = *w.get_ref();
            if !(0..=100).contains(&weight) {
                p.note(cx.err(
                    w.span(),
                    &format!("mix.{op}"),
                    format!("weights are percentages from 0 to 100; got {weight}"),
                ));
            }
            total += weight;
            let Some(kind) = OpKind::parse(op) else {
                let names = OpKind::ALL.map(OpKind::name);
                let hint = closest(op, names)
                    .map(|b| format!(" Did you mean `{b}`?"))
                    .unwrap_or_default();
                p.note(cx.err(
                    w.span(),
                    &format!("mix.{op}"),
                    format!("unknown operation.{hint} Operations: {}", names.join(", ")),
                ));
                continue;
            };
            if weight > 0 {
                out.push((kind, weight.unsigned_abs() as u32));
            }
        }
        if total != 100 {
            p.note(cx.err(
                mix.span(),
                "mix",
                format!("weights must sum to 100; they sum to {total}"),
            ));
        }
        p.finish(|| Mix(out))
    }
}

impl Distribution {
    pub(crate) fn from_spec(
        cx: Ctx<'_>,
        d: Option<&DistributionSpec>,
    ) -> Result<Distribution, WorkloadError> {
        let Some(d) = d else {
            return Ok(Distribution::Uniform);
        };
        let theta = || cx.fraction(d.theta.as_ref(), "distribution.theta", 0.99);
        #[derive(Clone, Copy)]
        enum Kind {
            Uniform,
            Sequential,
            Zipfian,
            Scrambled,
            Latest,
            Hotspot,
        }
        let kind = cx.choice(
            &d.kind,
            "distribution.kind",
            "distribution",
            &[
                ("uniform", Kind::Uniform),
                ("zipfian", Kind::Zipfian),
                ("scrambled_zipfian", Kind::Scrambled),
                ("latest", Kind::Latest),
                ("hotspot", Kind::Hotspot),
                ("sequential", Kind::Sequential),
            ],
        )?;
        Ok(match kind {
            Kind::Uniform => Distribution::Uniform,
            Kind::Sequential => Distribution::Sequential,
            Kind::Zipfian => Distribution::Zipfian { theta: theta()? },
            Kind::Scrambled => Distribution::ScrambledZipfian { theta: theta()? },
            Kind::Latest => Distribution::Latest { theta: theta()? },
            Kind::Hotspot => Distribution::Hotspot {
                hot_fraction: cx.fraction(
                    d.hot_fraction.as_ref(),
                    "distribution.hot_fraction",
                    0.2,
                )?,
                hot_ops: cx.fraction(d.hot_ops.as_ref(), "distribution.hot_ops", 0.8)?,
            },
        })
    }
}
