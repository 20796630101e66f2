//! `lab run`: every file checked before anything runs ([`prepare`]), then each workload
//! run, its table printed and its results, report and extra outputs written.

use std::sync::atomic::AtomicBool;

use acorn_reports::{Measure, Results, TargetVerdict};

use super::{interrupt_flag, load_results, other_view, variants_arg};
use crate::budget;
use crate::cli::RunArgs;
use crate::error::{Exit, LabError};
use crate::formats::{self, Outputs};
use crate::output::{self, OutputDir, OutputLock, TargetsTable};
use crate::progress::Bars;
use crate::runner::{self, RunOptions};
use crate::workload::{Plan, WorkloadError};

/// A workload checked and ready to run: the plan as it will run, what it measures, and
/// where it writes.
struct Job {
    plan: Plan,
    measure: Measure,
    out: OutputDir,
    /// Held until the job is dropped: no other lab writes into `out` meanwhile.
    _lock: OutputLock,
}

/// Everything that can be checked before running, for every file: the files, the
/// variants, that the options fit what each plan measures, that no two workloads share a
/// name (and so a directory), that each output directory is writable, and that each run
/// fits in memory.
fn prepare(
    args: &RunArgs,
    opts: &RunOptions,
    baseline: Option<&Results>,
) -> Result<Vec<Job>, LabError> {
    // Every file is read, so one run names the problems of all of them.
    let mut plans = Vec::new();
    let mut problems: Option<WorkloadError> = None;
    for f in &args.files {
        match Plan::load(f) {
            Ok(plan) => {
                for w in &plan.warnings {
                    eprintln!("{w}");
                }
                plans.push(plan);
            }
            Err(e) => match &mut problems {
                Some(first) => first.absorb(e),
                None => problems = Some(e),
            },
        }
    }
    if let Some(e) = problems {
        return Err(e.into());
    }
    check_measures(args, &plans, baseline)?;
    for (i, a) in plans.iter().enumerate() {
        if let Some(b) = plans[..i].iter().find(|b| b.name == a.name) {
            return Err(LabError::BadInput(format!(
                "{} and {} are both named {:?}: their results would overwrite each other; \
                 rename one (`name = ...`)",
                b.file.display(),
                a.file.display(),
                a.name
            )));
        }
    }
    let several = plans.len() > 1;
    let mut jobs = Vec::new();
    for plan in plans {
        let measure = measure_of(args, &plan);
        let plan = runner::adjust(&plan, opts).map_err(|e| LabError::BadInput(e.to_string()))?;
        let out = OutputDir::for_run(args.out.as_deref(), &plan.name, measure, several)
            .pretty(args.pretty);
        let lock = out.prepare()?;
        if !args.no_memory_check {
            budget::check(&plan)?;
        }
        jobs.push(Job {
            plan,
            measure,
            out,
            _lock: lock,
        });
    }
    Ok(jobs)
}

/// What `lab run` measures for `plan`: `--measure`, else the file's `[run] measure`.
fn measure_of(args: &RunArgs, plan: &Plan) -> Measure {
    args.measure.map_or(plan.run.measure, Measure::from)
}

/// Checks, before anything runs, that the options fit what each plan measures.
fn check_measures(
    args: &RunArgs,
    plans: &[Plan],
    baseline: Option<&Results>,
) -> Result<(), LabError> {
    for plan in plans {
        let m = measure_of(args, plan);
        let file = plan.file.display();
        crate::per_measure::kind(m).check(args, &file.to_string())?;
        if let Some(b) = baseline.filter(|b| b.measure != m) {
            return Err(LabError::BadInput(format!(
                "--baseline holds {} results and {file} measures {}; compare like with like",
                b.measure.name(),
                m.name()
            )));
        }
    }
    Ok(())
}

/// `lab run`: validates every file, then runs each, writes its results and report.
pub fn run(args: &RunArgs) -> Result<Exit, LabError> {
    let targets_table = args
        .update_targets
        .as_deref()
        .map(TargetsTable::open)
        .transpose()?;
    let baseline = args.baseline.as_deref().map(load_results).transpose()?;
    let outputs = Outputs::new(&args.formats.formats, &args.formats.exports, false)?;
    if let Some(dir) = &args.hdr_log {
        output::writable_dir(dir)?;
    }
    let base = RunOptions {
        variants: variants_arg(args.variants.as_deref())?,
        quick: args.quick,
        ops: args.ops,
        pairs: args.pairs.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        ..RunOptions::default()
    };
    let jobs = prepare(args, &base, baseline.as_ref())?;
    for job in &jobs {
        if let Some(w) = args
            .flamegraph
            .then(|| runner::flamegraph_note(&job.plan))
            .flatten()
        {
            eprintln!("warning: {w}");
        }
    }
    // The profiler's temporary file lives in here until the command ends.
    let _scratch = args.flamegraph.then(runner::profile::Scratch::new);
    let stop = interrupt_flag();
    let mut exit = Exit::Success;
    let mut finished = Vec::new();
    for job in &jobs {
        let opts = RunOptions {
            flamegraph: args.flamegraph.then(|| job.out.path().to_path_buf()),
            ..base.clone()
        };
        let results = run_one(job, &opts, &stop, args.quiet, &outputs)?;
        write_outputs(
            job,
            &results,
            baseline.as_ref(),
            targets_table.as_ref(),
            &outputs,
        )?;
        if let Some(dir) = &args.hdr_log {
            let dir = if jobs.len() > 1 {
                dir.join(&job.plan.name)
            } else {
                dir.clone()
            };
            let n = formats::write_hdr_logs(&dir, &results)?;
            outputs.note(format_args!(
                "hdr logs: {} ({n} interval log(s))",
                dir.display()
            ));
        }
        if results.targets.iter().any(TargetVerdict::failed) {
            exit = Exit::Failed;
        }
        let partial = results.partial;
        finished.push(results);
        if partial {
            exit = Exit::Interrupted;
            break;
        }
    }
    outputs.run(&finished, args.pretty)?;
    Ok(exit)
}

/// Runs one checked workload and prints its table.
fn run_one(
    job: &Job,
    opts: &RunOptions,
    stop: &AtomicBool,
    quiet: bool,
    outputs: &Outputs,
) -> Result<Results, LabError> {
    let bars = Bars::new(quiet);
    let results = crate::per_measure::kind(job.measure).run(&job.plan, opts, stop, &bars)?;
    bars.finish();
    let note = runner::flamegraph_note(&job.plan);
    for w in results
        .warnings
        .iter()
        .filter(|w| Some(*w) != note.as_ref())
    {
        eprintln!("warning: {w}");
    }
    if outputs.table() {
        print!("{}", acorn_reports::table::render(&results));
    }
    let dropped: u64 = results.runs.iter().map(|r| r.dropped).sum();
    if dropped > 0 {
        outputs.note(format_args!(
            "WARNING: open loop: {dropped} operations fell due but were never run (the \
             backlog outlasted the phase: the store cannot keep up with `rate`); see \
             runs[].dropped"
        ));
    }
    Ok(results)
}

/// Writes results.json and index.html, and the targets table from complete results.
fn write_outputs(
    job: &Job,
    results: &Results,
    baseline: Option<&Results>,
    targets_table: Option<&TargetsTable>,
    outputs: &Outputs,
) -> Result<(), LabError> {
    outputs.note(format_args!(
        "results: {}",
        job.out.write_results(results)?.display()
    ));
    let beside = other_view(&job.out.other_view(job.measure), results);
    let report = job
        .out
        .write_report_beside(results, baseline, beside.as_ref())?;
    outputs.note(format_args!("report: {}", report.display()));
    if let Some(t) = targets_table {
        if let Some(why) = acorn_reports::targets::not_judged(results) {
            outputs.note(format_args!(
                "targets table not updated: targets {why} ({})",
                t.path().display()
            ));
        } else {
            t.update(results)?;
            outputs.note(format_args!(
                "targets table updated: {}",
                t.path().display()
            ));
        }
    }
    Ok(())
}
