//! What differs per measure in the commands (issue 28, finding 11): one struct per
//! [`Measure`] behind the [`MeasureKind`] trait, found by [`kind`], the one `match` on the
//! enum. `lab run` asks it which options fit and how to run a plan; `lab compare` its
//! default threshold, whether `--reference` applies and how to compare two files. Adding
//! a measure: a variant of `Measure` (reports), its struct here and its arm in [`kind`].

use std::sync::atomic::AtomicBool;

use acorn_reports::compare::Reference;
use acorn_reports::export::{Comparison, Sides};
use acorn_reports::{instructions, Measure, Results};

use crate::backend::BackendError;
use crate::cli::RunArgs;
use crate::error::LabError;
use crate::formats::Outputs;
use crate::progress::Bars;
use crate::runner::instructions::CountError;
use crate::runner::{self, clock::RealClock, RunOptions};
use crate::workload::Plan;

/// One measure's part in the commands.
pub trait MeasureKind {
    /// Why `args` do not fit a run of `file` in this measure (checked before anything
    /// runs, so a later file cannot fail after earlier ones ran).
    fn check(&self, args: &RunArgs, file: &str) -> Result<(), LabError>;
    /// Runs `plan` in this measure.
    fn run(
        &self,
        plan: &Plan,
        opts: &RunOptions,
        stop: &AtomicBool,
        bars: &Bars,
    ) -> Result<Results, LabError>;
    /// `lab compare`'s threshold when none is given.
    fn default_threshold(&self) -> f64;
    /// `lab compare` of two files of this measure, written to `outputs` (the table, and
    /// the formats asked for, from [`Comparison`]); whether anything regressed. Bad input
    /// when they share nothing to compare or `reference` does not apply.
    fn compare(
        &self,
        base: &Results,
        new: &Results,
        threshold: f64,
        reference: &Reference,
        to: (&Outputs, &Sides),
    ) -> Result<bool, LabError>;
}

/// Wall-clock time: `runner::run`, judged by `acorn_reports::compare`.
struct WallClock;

/// Instruction counts under callgrind: `runner::instructions::run`, judged by
/// `acorn_reports::instructions`.
struct Instructions;

/// The part `measure` plays in the commands.
pub fn kind(measure: Measure) -> &'static dyn MeasureKind {
    match measure {
        Measure::WallClock => &WallClock,
        Measure::Instructions => &Instructions,
    }
}

/// A store's failure while running `plan`: bad input for an unknown variant.
fn store(plan: &Plan, source: BackendError) -> LabError {
    match source {
        e @ BackendError::Unknown { .. } => LabError::BadInput(e.to_string()),
        source => LabError::Store {
            file: plan.file.clone(),
            source,
        },
    }
}

fn no_overlap() -> LabError {
    LabError::BadInput("the two files share no variant and thread count to compare".into())
}

impl MeasureKind for WallClock {
    fn check(&self, _: &RunArgs, _: &str) -> Result<(), LabError> {
        Ok(())
    }

    fn run(
        &self,
        plan: &Plan,
        opts: &RunOptions,
        stop: &AtomicBool,
        bars: &Bars,
    ) -> Result<Results, LabError> {
        runner::run(plan, opts, &RealClock::default(), stop, bars).map_err(|e| store(plan, e))
    }

    fn default_threshold(&self) -> f64 {
        0.05
    }

    fn compare(
        &self,
        b: &Results,
        n: &Results,
        threshold: f64,
        reference: &Reference,
        (outputs, sides): (&Outputs, &Sides),
    ) -> Result<bool, LabError> {
        use acorn_reports::compare as cmp;
        let c = cmp::compare(b, n, threshold, reference).map_err(LabError::BadInput)?;
        if c.changes.is_empty() {
            return Err(no_overlap());
        }
        outputs.compare(&cmp::render(&c), &Comparison::times(sides, &c))?;
        Ok(c.regressed())
    }
}

impl MeasureKind for Instructions {
    fn check(&self, args: &RunArgs, file: &str) -> Result<(), LabError> {
        if args.update_targets.is_some() {
            return Err(LabError::BadInput(format!(
                "{file}: --update-targets needs wall-clock numbers, and this run counts instructions"
            )));
        }
        if args.flamegraph {
            return Err(LabError::BadInput(format!(
                "{file}: --flamegraph samples timed phases, and this run counts instructions"
            )));
        }
        crate::measure::callgrind::Valgrind::find()
            .map(|_| ())
            .map_err(|e| LabError::BadInput(format!("{file}: {e}")))
    }

    fn run(
        &self,
        plan: &Plan,
        opts: &RunOptions,
        stop: &AtomicBool,
        bars: &Bars,
    ) -> Result<Results, LabError> {
        runner::instructions::run(plan, opts, stop, bars).map_err(|e| match e {
            CountError::Backend(e) => store(plan, e),
            e @ CountError::Failed { .. } => LabError::Counted {
                file: plan.file.clone(),
                message: e.to_string(),
            },
            e => LabError::BadInput(format!("{}: {e}", plan.file.display())),
        })
    }

    fn default_threshold(&self) -> f64 {
        instructions::DEFAULT_THRESHOLD
    }

    fn compare(
        &self,
        b: &Results,
        n: &Results,
        threshold: f64,
        reference: &Reference,
        (outputs, sides): (&Outputs, &Sides),
    ) -> Result<bool, LabError> {
        if *reference != Reference::Auto {
            return Err(LabError::BadInput(
                "--reference applies to wall-clock results; instruction counts need no \
                 reference (they repeat exactly)"
                    .into(),
            ));
        }
        let c = instructions::compare(b, n, threshold);
        if c.changes.is_empty() {
            return Err(no_overlap());
        }
        outputs.compare(
            &instructions::render_compare(&c, threshold),
            &Comparison::counts(sides, &c, threshold),
        )?;
        Ok(c.regressed())
    }
}
