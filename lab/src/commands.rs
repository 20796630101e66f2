//! What each `lab` command does. Each returns how it turned out ([`Exit`]) or why it could
//! not do its job ([`LabError`]); `main` turns either into the exit code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use acorn_reports::export::Sides;
use acorn_reports::{format, Measure, Results, TargetVerdict};

use crate::backend;
use crate::budget;
use crate::cli::{AbArgs, CountArgs, FormatArgs, RunArgs, WorkerArgs};
use crate::error::{Exit, LabError};
use crate::formats::{self, Outputs};
use crate::output::{self, OutputDir, OutputLock, TargetsTable};
use crate::progress::Bars;
use crate::runner::{self, RunOptions};
use crate::workload::sections::variants_from_cli;
use crate::workload::{Plan, WorkloadError};

fn load_results(path: &Path) -> Result<Results, LabError> {
    Results::load(path).map_err(|e| LabError::BadInput(e.to_string()))
}

/// Loads a workload file (TOML or YCSB properties) and prints its warnings.
fn load_plan(path: &Path) -> Result<Plan, LabError> {
    let plan = Plan::load(path)?;
    for w in &plan.warnings {
        eprintln!("{w}");
    }
    Ok(plan)
}

/// Sets a handler so the first Ctrl-C stops the run (within a second, loading included)
/// and writes the phases that finished; the second quits at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(Exit::Interrupted.code()));
        }
        eprintln!(
            "\ninterrupted: stopping, and writing the phases that finished as partial results \
             (Ctrl-C again to quit now)"
        );
    });
    stop
}

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

/// The same workload's results in the other measure, if `path` holds them.
fn other_view(path: &Path, results: &Results) -> Option<Results> {
    let other = Results::load(path).ok()?;
    (other.workload == results.workload && other.measure != results.measure).then_some(other)
}

/// `--variants` checked (trimmed, no duplicates, known names).
fn variants_arg(given: Option<&[String]>) -> Result<Option<Vec<String>>, LabError> {
    given
        .map(variants_from_cli)
        .transpose()
        .map_err(LabError::BadInput)
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

/// `lab __count`: one variant's counted run, inside callgrind; prints its report as JSON.
pub fn count(args: &CountArgs) -> Result<Exit, LabError> {
    let plan = load_plan(&args.file)?;
    let opts = RunOptions {
        quick: args.quick,
        ops: Some(args.ops),
        ..RunOptions::default()
    };
    let store = |source| LabError::Store {
        file: args.file.clone(),
        source,
    };
    let plan = runner::adjust(&plan, &opts).map_err(store)?;
    let report =
        runner::counted::run(&plan, &args.variant, args.ops, args.warmup_ops).map_err(store)?;
    let json = serde_json::to_string(&report)
        .map_err(|e| LabError::BadInput(format!("cannot encode the report: {e}")))?;
    println!("{json}");
    Ok(Exit::Success)
}

/// `lab compare`: exit 1 on a significant regression; bad input when the files are not
/// comparable (different measures, workloads or measured settings) or nothing could be
/// judged. Instruction counts and wall-clock times are never compared with each other.
pub fn compare(
    base: &Path,
    new: &Path,
    threshold: Option<&str>,
    reference: Option<&str>,
    formats: &FormatArgs,
) -> Result<Exit, LabError> {
    use acorn_reports::compare as cmp;
    let outputs = Outputs::new(&formats.formats, &formats.exports, true)?;
    let (b, n) = (load_results(base)?, load_results(new)?);
    if b.measure != n.measure {
        return Err(LabError::BadInput(format!(
            "cannot compare {} ({}) with {} ({}): instruction counts and wall-clock times are \
             different measures; compare two results of the same measure",
            base.display(),
            b.measure.name(),
            new.display(),
            n.measure.name()
        )));
    }
    let kind = crate::per_measure::kind(b.measure);
    let threshold = match threshold {
        Some(t) => {
            cmp::parse_threshold(t).map_err(|e| LabError::BadInput(format!("--threshold: {e}")))?
        }
        None => kind.default_threshold(),
    };
    match (&b.sweep, &n.sweep) {
        (Some(bs), Some(ns)) => {
            let (lines, regression) =
                acorn_reports::sweep::compare(bs, ns, threshold).map_err(|e| {
                    LabError::BadInput(format!("{} and {}: {e}", base.display(), new.display()))
                })?;
            println!(
                "sweeps compared by their knees (threshold {:.1}%):",
                threshold * 100.0
            );
            for l in lines {
                println!("  {l}");
            }
            return Ok(if regression {
                Exit::Failed
            } else {
                Exit::Success
            });
        }
        (None, None) => {}
        _ => {
            return Err(LabError::BadInput(format!(
                "cannot compare {} with {}: one is a sweep (lab sweep) and the other is not",
                base.display(),
                new.display()
            )))
        }
    }
    let m = cmp::mismatches(&b, &n);
    if !m.refuse.is_empty() {
        return Err(LabError::BadInput(format!(
            "{} and {} are not comparable:\n  {}",
            base.display(),
            new.display(),
            m.refuse.join("\n  ")
        )));
    }
    for w in &m.warn {
        if !outputs.machine_stdout() {
            println!("WARNING: {w}");
        }
        eprintln!("WARNING: {w}");
    }
    let sides = Sides {
        base: base.display().to_string(),
        new: new.display().to_string(),
        workload: n.workload.clone(),
        warnings: m.warn.clone(),
    };
    let reference = reference.map_or(cmp::Reference::Auto, cmp::Reference::parse);
    let regressed = kind.compare(&b, &n, threshold, &reference, (&outputs, &sides))?;
    Ok(if regressed {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// `lab merge`: several load generators' results as one file.
pub fn merge(files: &[PathBuf], output: &Path) -> Result<Exit, LabError> {
    for (i, f) in files.iter().enumerate() {
        let same = |g: &PathBuf| match (f.canonicalize(), g.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => f == g,
        };
        if let Some(g) = files[..i].iter().find(|g| same(g)) {
            return Err(LabError::BadInput(format!(
                "{} is given twice ({}): each generator's results merge once",
                f.display(),
                g.display()
            )));
        }
    }
    let parts = files
        .iter()
        .map(|f| load_results(f))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = acorn_reports::merge::merge(&parts).map_err(LabError::BadInput)?;
    output::write_merged(output, &merged)?;
    print!("{}", acorn_reports::table::render(&merged));
    println!("merged {} files into {}", files.len(), output.display());
    // As `run` does: a merged result whose target failed is a failed run.
    Ok(if merged.targets.iter().any(TargetVerdict::failed) {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// `lab report`: re-renders `index.html` from a results file, with the other measure of
/// the same workload side by side when there is one.
pub fn report(
    results: &Path,
    out: Option<&Path>,
    baseline: Option<&Path>,
    beside: Option<&Path>,
) -> Result<Exit, LabError> {
    let r = load_results(results)?;
    let baseline = baseline.map(load_results).transpose()?;
    let home = results.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = out.map_or_else(|| home.clone(), Path::to_path_buf);
    let beside = match beside {
        Some(path) => {
            let other = load_results(path)?;
            if other.workload != r.workload || other.measure == r.measure {
                return Err(LabError::BadInput(format!(
                    "--beside {}: holds {} results of {:?}; it must hold the other measure of \
                     {:?} than {}",
                    path.display(),
                    other.measure.name(),
                    other.workload,
                    r.workload,
                    r.measure.name()
                )));
            }
            Some(other)
        }
        None => other_view(&OutputDir::at(home).other_view(r.measure), &r),
    };
    let path = OutputDir::at(dir).write_report_beside(&r, baseline.as_ref(), beside.as_ref())?;
    println!("report: {}", path.display());
    Ok(Exit::Success)
}

/// `lab validate`: checks every file, reporting each error; bad input if any failed.
pub fn validate(files: &[PathBuf]) -> Result<Exit, LabError> {
    let mut bad = false;
    for f in files {
        match load_plan(f) {
            Ok(p) => println!(
                "{}: ok ({}, {}, {})",
                f.display(),
                p.name,
                format::count(p.variants.len() as u64, "variant"),
                format::count(p.dataset.records, "record")
            ),
            Err(LabError::Workload(e)) => {
                eprintln!("error: {e}");
                if e.count() > 1 {
                    eprintln!("{}: {} problems", f.display(), e.count());
                }
                bad = true;
            }
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
            }
        }
    }
    Ok(if bad { Exit::BadInput } else { Exit::Success })
}

/// `lab sample`: the first stream of a workload, one operation per line, on stdout.
pub fn sample(file: &Path, ops: u64, seed: Option<u64>) -> Result<Exit, LabError> {
    let plan = load_plan(file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match crate::workload::sample::write(&plan, ops, seed, &mut out) {
        // `lab sample ... | head` closes the pipe early: not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(LabError::output(Path::new("<stdout>"), e))
        }
        _ => Ok(Exit::Success),
    }
}

/// `lab list`: the backends, and the workloads in `./workloads/` (saying where it looked).
pub fn list() -> Result<Exit, LabError> {
    println!("backends:");
    for line in backend_list() {
        println!("{line}");
    }
    let dir = Path::new("workloads");
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!(
            "workloads: no workloads directory at {} (list looks in ./workloads; run it from \
             the repository root)",
            shown.display()
        );
        return Ok(Exit::Success);
    };
    println!("workloads in {}:", shown.display());
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let w = files
        .iter()
        .map(|f| f.display().to_string().chars().count())
        .max()
        .unwrap_or(0);
    for f in files {
        let name = f.display().to_string();
        match Plan::load(&f) {
            Ok(p) => println!("  {name:<w$}  {}", p.description),
            Err(e) => println!("  {name:<w$}  INVALID: {e}"),
        }
    }
    Ok(Exit::Success)
}

/// `lab ab`'s workload: the file with `--variants` applied, closed loop.
fn ab_plan(args: &AbArgs) -> Result<Plan, LabError> {
    let plan = load_plan(&args.file)?;
    let opts = RunOptions {
        variants: variants_arg(args.variants.as_deref())?,
        ..RunOptions::default()
    };
    let plan = runner::adjust(&plan, &opts).map_err(|e| LabError::BadInput(e.to_string()))?;
    if plan.run.rate.is_some() {
        return Err(LabError::BadInput(format!(
            "{}: sets `rate` (open loop); lab ab compares closed-loop throughput: remove \
             `rate` or compare two runs with `lab compare`",
            plan.file.display()
        )));
    }
    Ok(plan)
}

/// `lab sweep`: per variant, the workload's phase at each offered rate, and the knee;
/// prints the steps, writes results.json (its `sweep`) and the report with the chart.
pub fn sweep(args: &crate::cli::SweepArgs) -> Result<Exit, LabError> {
    use runner::sweep::{self as sw, SweepOptions};
    let rates =
        sw::parse_rates(&args.rates).map_err(|e| LabError::BadInput(format!("--rates: {e}")))?;
    let plan = load_plan(&args.file)?;
    let run_opts = RunOptions {
        variants: variants_arg(args.variants.as_deref())?,
        ..RunOptions::default()
    };
    let plan = runner::adjust(&plan, &run_opts).map_err(|e| LabError::BadInput(e.to_string()))?;
    if plan.run.in_flight > 1 {
        return Err(LabError::BadInput(format!(
            "{}: sets in_flight > 1 (closed loop); a sweep offers rates (open loop): set \
             in_flight = 1",
            plan.file.display()
        )));
    }
    let out = OutputDir::at(args.out.clone().unwrap_or_else(|| {
        OutputDir::for_workload(None, &plan.name, false)
            .path()
            .join("sweep")
    }));
    let _lock = out.prepare()?;
    let opts = SweepOptions {
        rates,
        slo: args.slo,
        step: args.step,
    };
    let stop = interrupt_flag();
    let bars = Bars::new(args.quiet);
    let started_at = crate::machine::now_rfc3339();
    let sweep = runner::sweep::run(
        &plan,
        &RunOptions::default(),
        &opts,
        &crate::runner::clock::RealClock::default(),
        &stop,
        &bars,
    )
    .map_err(|source| LabError::Store {
        file: args.file.clone(),
        source,
    })?;
    bars.finish();
    let Some(sweep) = sweep else {
        return Ok(Exit::Interrupted);
    };
    print!("{}", acorn_reports::sweep::render(&sweep));
    let results = Results {
        schema_version: acorn_reports::SCHEMA_VERSION,
        workload: plan.name.clone(),
        description: plan.description.clone(),
        plan: plan.record(),
        mode: "sequential".into(),
        generators: 1,
        started_at,
        finished_at: crate::machine::now_rfc3339(),
        machine: crate::machine::fingerprint(),
        sweep: Some(sweep),
        ..Results::default()
    };
    println!("results: {}", out.write_results(&results)?.display());
    println!(
        "report: {}",
        out.write_report_beside(&results, None, None)?.display()
    );
    Ok(Exit::Success)
}

/// `lab ab`: the workload's variants on this build (candidate) and on `--baseline`, paired
/// slice by slice; one line per variant (and thread count); exit 1 on a regression.
pub fn ab(args: &AbArgs) -> Result<Exit, LabError> {
    use crate::ab::{self, AbOptions};
    let threshold = acorn_reports::compare::parse_threshold(&args.threshold)
        .map_err(|e| LabError::BadInput(format!("--threshold: {e}")))?;
    if !args.baseline.is_file() {
        return Err(LabError::BadInput(format!(
            "--baseline {}: no such file (give the path of another build's lab executable, \
             e.g. ../main/target/release/lab)",
            args.baseline.display()
        )));
    }
    let plan = ab_plan(args)?;
    let out = OutputDir::at(args.out.clone().unwrap_or_else(|| {
        OutputDir::for_workload(None, &plan.name, false)
            .path()
            .join("ab")
    }));
    out.prepare()?;
    let candidate = std::env::current_exe()
        .map_err(|e| LabError::BadInput(format!("cannot find this lab's executable: {e}")))?;
    let opts = AbOptions {
        candidate,
        baseline: args.baseline.clone(),
        threshold,
        slices: usize::try_from(args.slices).unwrap_or(usize::MAX),
        processes: usize::try_from(args.processes).unwrap_or(usize::MAX),
        cpus: runner::pin::cpus(),
        slice: args.slice_duration,
    };
    if !args.quiet {
        eprintln!(
            "ab: {} — {} variant(s) x {} thread count(s), {} rounds of ~{} slices each in {} \
             pairs of processes",
            plan.name,
            plan.variants.len(),
            plan.run.threads.len(),
            opts.slices,
            humantime::format_duration(opts.slice),
            opts.processes
        );
    }
    let stop = interrupt_flag();
    let results = ab::run(&plan, &opts, &stop, &mut |c, several| {
        println!("{}", c.line(several));
        println!("  {}", c.details(opts.slice.as_secs_f64()));
    })?;
    println!("{}", results.summary());
    write_ab(&out, args.json.as_deref(), &results)?;
    Ok(if results.partial {
        Exit::Interrupted
    } else if results.regressed() {
        Exit::Failed
    } else {
        Exit::Success
    })
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

/// Three lines per registered backend: its name, phrase and serialization; its durability
/// tier and version; the measures it supports (and why not the others). Columns as wide
/// as the longest name, so every description starts in one column.
pub(crate) fn backend_list() -> Vec<String> {
    let options = backend::Options::default();
    let w = backend::registry()
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for r in backend::registry() {
        lines.push(match (r.open)(r, &options).map(|b| b.describe()) {
            Ok(i) => format!("  {:<w$}  {}; {}", r.name, r.about, i.serialization),
            Err(e) => format!("  {:<w$}  {} (cannot open here: {e})", r.name, r.about),
        });
        lines.push(format!(
            "  {:<w$}  tier: {}; version: {}",
            "",
            r.tier.name(),
            r.version.label()
        ));
        let measures = match r.supports(Measure::Instructions) {
            Ok(()) => "wall-clock, instructions".to_owned(),
            Err(why) => format!("wall-clock (not instructions: {why})"),
        };
        lines.push(format!("  {:<w$}  measures: {measures}", ""));
    }
    lines
}
