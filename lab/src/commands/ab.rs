//! `lab ab` (this build against another, paired slice by slice in worker processes) and
//! `lab worker`, one side of it.

use std::path::{Path, PathBuf};

use super::{interrupt_flag, load_plan, load_plan_for};
use crate::cli::{AbArgs, WorkerArgs};
use crate::error::{Exit, LabError};
use crate::output::OutputDir;
use crate::runner;
use crate::workload::Plan;

/// `lab ab`'s workload: the file with `--variants` applied, closed loop.
fn ab_plan(args: &AbArgs) -> Result<Plan, LabError> {
    let plan = load_plan_for(&args.file, args.variants.as_deref())?;
    if plan.run.rate.is_some() {
        return Err(LabError::BadInput(format!(
            "{}: sets `rate` (open loop); lab ab compares closed-loop throughput: remove \
             `rate` or compare two runs with `lab compare`",
            plan.file.display()
        )));
    }
    Ok(plan)
}

/// `lab ab`: the workload's variants on this build (candidate) and on `--baseline`, paired
/// slice by slice; one line per variant (and thread count); exit 1 on a regression.
pub fn ab(args: &AbArgs) -> Result<Exit, LabError> {
    use crate::ab::{self, AbOptions};
    let threshold = acorn_reports::compare::parse_threshold(&args.threshold)
        .map_err(|e| LabError::BadInput(format!("--threshold: {e}")))?;
    // Pairs of processes as `ab::run` takes them (never more than the rounds).
    let processes = args.processes.min(args.slices);
    let baseline = builds("--baseline", &args.baseline, processes)?;
    let candidate = builds("--candidate", &args.candidate, processes)?;
    let plan = ab_plan(args)?;
    let out = OutputDir::at(args.out.clone().unwrap_or_else(|| {
        OutputDir::for_workload(None, &plan.name, false)
            .path()
            .join("ab")
    }));
    // Held until the results are written: a second lab is refused meanwhile.
    let _lock = out.prepare()?;
    let candidate = if candidate.is_empty() {
        vec![std::env::current_exe()
            .map_err(|e| LabError::BadInput(format!("cannot find this lab's executable: {e}")))?]
    } else {
        candidate
    };
    let opts = AbOptions {
        candidate,
        baseline,
        threshold,
        slices: usize::try_from(args.slices).unwrap_or(usize::MAX),
        processes: usize::try_from(args.processes).unwrap_or(usize::MAX),
        cpus: runner::pin::cpus(),
        slice: args.slice_duration,
    };
    if !args.quiet {
        eprintln!(
            "ab: {} — {} variant(s) x {} thread count(s), {} rounds of ~{} slices each in {} \
             pairs of processes{}",
            plan.name,
            plan.variants.len(),
            plan.run.threads.len(),
            opts.slices,
            humantime::format_duration(opts.slice),
            opts.processes,
            match (opts.candidate.len(), opts.baseline.len()) {
                (1, 1) => String::new(),
                (c, b) => format!(", taking {c} candidate and {b} baseline build(s) in turn"),
            }
        );
    }
    let stop = interrupt_flag();
    let results = ab::run(&plan, &opts, &stop, &mut |c, several| {
        println!("{}", c.line(several));
        println!("  {}", c.details(opts.slice.as_secs_f64()));
    })?;
    println!("{}", results.summary());
    if !args.quiet && opts.candidate.len() == 1 && opts.baseline.len() == 1 {
        eprintln!(
            "note: one build per side, so the intervals leave out code layout, which alone \
             moved rates by up to 9% (15% at 2 threads) between builds here; to judge a \
             change of a few percent, give ten of each (scripts/layouts.sh; docs/ab.md, \
             \"Code layout\")"
        );
    }
    write_ab(&out, args.json.as_deref(), &results)?;
    Ok(if results.partial {
        Exit::Interrupted
    } else if results.regressed() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// One side's executables, as absolute paths (a bare name is a file here, not a command
/// on `PATH`). Pair of processes `k` runs the `k`-th, so more than `processes` of them is
/// refused: some would never run.
fn builds(flag: &str, given: &[PathBuf], processes: u64) -> Result<Vec<PathBuf>, LabError> {
    if given.len() as u64 > processes {
        return Err(LabError::BadInput(format!(
            "{flag} given {} times, but only {processes} pair(s) of processes run \
             (--processes, at most --slices): each runs one build of each side, so {} would \
             never run",
            given.len(),
            given.len() as u64 - processes
        )));
    }
    given
        .iter()
        .map(|b| match std::fs::canonicalize(b) {
            Ok(path) if path.is_file() => Ok(path),
            _ => Err(LabError::BadInput(format!(
                "{flag} {}: no such file (give the path of another build's lab executable, \
                 e.g. ../main/target/release/lab)",
                b.display()
            ))),
        })
        .collect()
}

/// Writes ab.json and index.html into `out`, and ab.json to `json` too when given.
fn write_ab(
    out: &OutputDir,
    json: Option<&Path>,
    results: &acorn_reports::ab::AbResults,
) -> Result<(), LabError> {
    let text = results.to_json();
    println!(
        "results: {}",
        out.write_named("ab.json", text.as_bytes())?.display()
    );
    if let Some(path) = json {
        std::fs::write(path, &text).map_err(|e| LabError::output(path, e))?;
    }
    let html = acorn_reports::ab::html(results).map_err(|e| LabError::output(out.path(), e))?;
    println!(
        "report: {}",
        out.write_named("index.html", html.as_bytes())?.display()
    );
    Ok(())
}

/// `lab worker`: one side of `lab ab` (JSON lines on stdin and stdout).
pub fn worker(args: &WorkerArgs) -> Result<Exit, LabError> {
    let plan = load_plan(&args.file)?;
    let stdin = std::io::stdin();
    crate::ab::worker::serve(&plan, &args.variant, stdin.lock(), std::io::stdout().lock())?;
    Ok(Exit::Success)
}
