//! Memory, checked before anything runs: what a plan holds at once (records × document
//! size × variants resident at once, plus the documents its phases insert) against what
//! the machine has available, with what to change when it does not fit.

use std::fmt;

use acorn_reports::format::{human, Unit};

use crate::backend::{self, Options};
use crate::error::LabError;
use crate::runner;
use crate::workload::{Bound, OpKind, Plan};

/// Bytes a stored record costs beyond its document and key: the store's index entry and
/// bookkeeping (measured about 80 B for the engine; rounded up).
const OVERHEAD: u64 = 128;

/// What a plan needs in memory, and how that figure was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub records: u64,
    /// Bytes per stored record: serialized document, key and overhead.
    pub per_record: u64,
    /// Variants that store data and are in memory at once.
    pub resident: usize,
    /// Documents the phases insert per variant: counted when the plan bounds them, else
    /// what the file declares (`expected_inserts`, a YCSB operation count), else 0: a
    /// timed closed-loop phase inserts what it can, which is unknown before it runs (and
    /// removed again before the next repeat).
    pub inserts: u64,
    /// Whether `inserts` was counted (bounded phases) rather than declared or unknown.
    pub counted: bool,
    /// Whether the phases insert an amount nobody can know before running.
    pub unknown: bool,
    pub mode: &'static str,
}

impl Estimate {
    pub fn of(plan: &Plan, storing: usize) -> Estimate {
        let d = &plan.dataset;
        let document = d.value.approx_bytes();
        // A key name is the prefix and a number of up to 20 digits (or its hash).
        let key = (d.key_prefix.len() + d.key_width.max(20)) as u64;
        let counted = inserts(plan);
        let declared = plan
            .inserts_declared
            .then(|| plan.item_count.saturating_sub(d.records));
        Estimate {
            records: d.records,
            per_record: document + key + OVERHEAD,
            resident: runner::resident(plan).min(storing),
            inserts: counted.or(declared).unwrap_or(0),
            counted: counted.is_some(),
            unknown: counted.is_none() && declared.is_none(),
            mode: plan.run.mode.label(),
        }
    }

    pub fn bytes(&self) -> u64 {
        let per_variant = self.records.saturating_add(self.inserts);
        per_variant
            .saturating_mul(self.per_record)
            .saturating_mul(self.resident as u64)
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.resident == 1 { "" } else { "s" };
        write!(
            f,
            "about {} ({} records × {} per record × {} variant{plural} resident at once in {} \
             mode",
            human(Unit::Bytes, self.bytes() as f64),
            self.records,
            human(Unit::Bytes, self.per_record as f64),
            self.resident,
            self.mode,
        )?;
        match (self.inserts, self.counted) {
            _ if self.unknown => write!(
                f,
                ", plus what its timed phases insert, unknown before running: set \
                 distribution.expected_inserts to count it)"
            ),
            (0, _) => write!(f, ")"),
            (n, true) => write!(f, ", plus {n} inserted documents per variant)"),
            (n, false) => write!(
                f,
                ", plus about {n} inserted documents per variant, as the file expects)"
            ),
        }
    }
}

/// Documents one variant's phases insert at the thread count that inserts most (each
/// thread count starts from a fresh load; repeats replay the same keys), or `None` when a
/// timed closed-loop phase inserts as many as it can.
fn inserts(plan: &Plan) -> Option<u64> {
    let per_op: f64 = plan
        .mix
        .0
        .iter()
        .map(|(kind, w)| match kind {
            OpKind::Insert => f64::from(*w) / 100.0,
            OpKind::Batch => f64::from(*w) / 100.0 * plan.run.batch_size as f64,
            _ => 0.0,
        })
        .sum();
    if per_op == 0.0 {
        return Some(0);
    }
    let mut most = 0u64;
    for &threads in &plan.run.threads {
        let ops = match (plan.run.bound, plan.run.rate) {
            (Bound::Ops(n), _) => n.saturating_mul(threads as u64) as f64,
            (Bound::Duration(d), Some(rate)) => rate * d.as_secs_f64(),
            (Bound::Duration(_), None) => return None,
        };
        // The warmup's streams insert other keys than the measured phase's.
        let warmup = plan
            .run
            .rate
            .map_or(0.0, |r| r * plan.run.warmup.as_secs_f64());
        most = most.max(((ops + warmup) * per_op).ceil() as u64);
    }
    Some(most)
}

/// Refuses `plan` (as it will run, after `--quick` and `--variants`) when its estimate
/// exceeds the memory available; variants that store nothing (`noop`) need none.
pub fn check(plan: &Plan) -> Result<(), LabError> {
    let Some((available, source)) = crate::machine::available_memory() else {
        return Ok(());
    };
    let mut storing = 0;
    for v in &plan.variants {
        let b = backend::open(v, &Options::default()).map_err(|e| LabError::Store {
            file: plan.file.clone(),
            source: e,
        })?;
        storing += usize::from(b.describe().stores_data);
    }
    let estimate = Estimate::of(plan, storing);
    if estimate.bytes() <= available {
        return Ok(());
    }
    let mut fixes = vec!["reduce dataset.records or the document size (dataset.doc)"];
    if estimate.resident > 1 {
        fixes.push("set mode = \"sequential\" in [run] to hold one variant at a time");
        fixes.push("run fewer variants (--variants)");
    }
    if estimate.inserts > 0 {
        fixes.push("insert less (run.ops, run.rate or the mix)");
    }
    Err(LabError::BadInput(format!(
        "{}: this run needs {estimate}, but {} is available ({source}). To make it fit: {}; \
         or pass --no-memory-check to run it anyway",
        plan.file.display(),
        human(Unit::Bytes, available as f64),
        fixes.join(", or "),
    )))
}
