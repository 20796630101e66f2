//! `lab`: parses arguments and calls the library. Exit codes: 0 ok, 1 a target missed,
//! 2 bad input (workload files, arguments, results files).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use acorn_lab::backend;
use acorn_lab::measure::alloc::CountingAlloc;
use acorn_lab::runner::{self, clock::RealClock, Progress, RunOptions, Silent};
use acorn_lab::workload::Plan;
use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// AcornLab: run declarative workloads across acorn variants and peer stores.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run workload files across the variants they name; print a table, write results.json.
    Run {
        /// Workload TOML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only these variants (comma separated), instead of the file's list.
        #[arg(long, value_delimiter = ',')]
        variants: Option<Vec<String>>,
        /// A short smoke run: 300 ms phases, one repeat, at most 10k records, at most 2 thread counts.
        #[arg(long)]
        quick: bool,
        /// Directory for results (default: target/lab/<workload>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bars.
        #[arg(long, short)]
        quiet: bool,
        /// Rewrite the Current and Status columns of the targets table in this Markdown file.
        #[arg(long, value_name = "FILE")]
        update_targets: Option<PathBuf>,
        /// A previous results.json: the report gets a comparison section against it.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Sample each variant's measured phase and write a flamegraph SVG per variant beside
        /// the report (sequential and interleaved modes).
        #[arg(long)]
        flamegraph: bool,
    },
    /// Compare two results files; exit 1 on a significant regression (a CI gate).
    Compare {
        base: PathBuf,
        new: PathBuf,
        /// Smallest change that counts, when also outside the noise of the repeats.
        #[arg(long, default_value = "5%")]
        threshold: String,
    },
    /// Render the HTML report (index.html) from a saved results.json.
    Report {
        results: PathBuf,
        /// Directory for index.html (default: beside the results file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// A previous results.json to compare against in the report.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
    },
    /// Merge results of one workload run from several processes or machines at once.
    Merge {
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check workload files without running them.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the registered backends and the workloads in workloads/.
    List,
}

struct Bars(Option<indicatif::ProgressBar>);

impl Progress for Bars {
    fn phase(&self, label: &str, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(label.to_owned());
        }
    }
}

fn bars(quiet: bool) -> Bars {
    if quiet || !std::io::stderr().is_terminal() {
        return Bars(None);
    }
    let bar = indicatif::ProgressBar::new(1);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Bars(Some(bar))
}

fn load_results(path: &std::path::Path) -> Result<acorn_reports::Results, ExitCode> {
    acorn_reports::Results::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn compare(base: &std::path::Path, new: &std::path::Path, threshold: &str) -> ExitCode {
    let threshold = match acorn_reports::compare::parse_threshold(threshold) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --threshold: {e}");
            return ExitCode::from(2);
        }
    };
    let (base, new) = match (load_results(base), load_results(new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let changes = acorn_reports::compare::compare(&base, &new, threshold);
    if changes.is_empty() {
        eprintln!("error: the two files share no variant and thread count to compare");
        return ExitCode::from(2);
    }
    print!("{}", acorn_reports::compare::render(&changes, threshold));
    if acorn_reports::compare::regressed(&changes) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn merge(files: &[PathBuf], output: &std::path::Path) -> ExitCode {
    let mut parts = Vec::new();
    for f in files {
        match load_results(f) {
            Ok(r) => parts.push(r),
            Err(c) => return c,
        }
    }
    match acorn_reports::merge::merge(&parts) {
        Ok(m) => match std::fs::write(output, m.to_json()) {
            Ok(()) => {
                print!("{}", acorn_reports::table::render(&m));
                println!("merged {} files into {}", files.len(), output.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", output.display());
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes `index.html` for `results` into `dir`.
fn write_report(
    results: &acorn_reports::Results,
    baseline: Option<&acorn_reports::Results>,
    dir: &std::path::Path,
) -> Result<PathBuf, String> {
    let html = acorn_reports::html::render_with(results, baseline).map_err(|e| e.to_string())?;
    let path = dir.join("index.html");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, html))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn update_targets(file: &std::path::Path, results: &acorn_reports::Results) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let updated = acorn_reports::targets::update_markdown(&text, results)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    std::fs::write(file, updated).map_err(|e| format!("{}: {e}", file.display()))
}

fn run(
    files: &[PathBuf],
    opts: &RunOptions,
    out: Option<&PathBuf>,
    quiet: bool,
    targets_file: Option<&PathBuf>,
    baseline: Option<&acorn_reports::Results>,
) -> ExitCode {
    if let Some(f) = targets_file {
        match std::fs::read_to_string(f) {
            Ok(t) if t.contains("<!-- targets:begin -->") => {}
            Ok(_) => {
                eprintln!(
                    "error: {}: no `<!-- targets:begin -->` marker for --update-targets",
                    f.display()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: --update-targets {}: {e}", f.display());
                return ExitCode::from(2);
            }
        }
    }
    // Validate everything before running anything.
    let mut plans = Vec::new();
    for f in files {
        match Plan::load(f) {
            Ok(p) => plans.push(p),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current phase and writing partial results (Ctrl-C again to quit now)");
        });
    }
    let mut missed = false;
    for plan in &plans {
        let bars = bars(quiet);
        let clock = RealClock::default();
        let progress: &dyn Progress = if bars.0.is_some() { &bars } else { &Silent };
        let dir = out
            .cloned()
            .unwrap_or_else(|| PathBuf::from("target/lab").join(&plan.name));
        let mut opts = opts.clone();
        if opts.flamegraph.is_some() {
            opts.flamegraph = Some(dir.clone());
        }
        let results = match runner::run(plan, &opts, &clock, &stop, progress) {
            Ok(r) => r,
            Err(e @ backend::BackendError::Unknown { .. }) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: {}: {e}", plan.file.display());
                return ExitCode::from(1);
            }
        };
        if let Some(b) = &bars.0 {
            b.finish_and_clear();
        }
        print!("{}", acorn_reports::table::render(&results));
        let dir = out
            .cloned()
            .unwrap_or_else(|| PathBuf::from("target/lab").join(&plan.name));
        let path = dir.join("results.json");
        if let Err(e) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, results.to_json()))
        {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("results: {}", path.display());
        match write_report(&results, baseline, &dir) {
            Ok(p) => println!("report: {}", p.display()),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
        if let Some(f) = targets_file {
            match update_targets(f, &results) {
                Ok(()) => println!("targets table updated: {}", f.display()),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        missed |= results.targets.iter().any(|t| !t.pass);
        if results.partial {
            break;
        }
    }
    if missed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Run {
            files,
            variants,
            quick,
            out,
            quiet,
            update_targets,
            baseline,
            flamegraph,
        } => {
            let baseline = match baseline.as_deref().map(load_results).transpose() {
                Ok(b) => b,
                Err(code) => return code,
            };
            let opts = RunOptions {
                variants,
                quick,
                scratch_dir: None,
                // The directory is set per workload, beside its results.
                flamegraph: flamegraph.then(PathBuf::new),
            };
            run(
                &files,
                &opts,
                out.as_ref(),
                quiet,
                update_targets.as_ref(),
                baseline.as_ref(),
            )
        }
        Command::Compare {
            base,
            new,
            threshold,
        } => compare(&base, &new, &threshold),
        Command::Report {
            results,
            out,
            baseline,
        } => {
            let r = match load_results(&results) {
                Ok(r) => r,
                Err(c) => return c,
            };
            let baseline = match baseline.as_deref().map(load_results).transpose() {
                Ok(b) => b,
                Err(code) => return code,
            };
            let dir = out.unwrap_or_else(|| {
                results
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_default()
            });
            match write_report(&r, baseline.as_ref(), &dir) {
                Ok(p) => {
                    println!("report: {}", p.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Merge { files, output } => merge(&files, &output),
        Command::Validate { files } => {
            let mut bad = false;
            for f in &files {
                match Plan::load(f) {
                    Ok(p) => println!(
                        "{}: ok ({}, {} variants, {} records)",
                        f.display(),
                        p.name,
                        p.variants.len(),
                        p.records
                    ),
                    Err(e) => {
                        eprintln!("error: {e}");
                        bad = true;
                    }
                }
            }
            if bad {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::List => {
            println!("backends:");
            let options = backend::Options::default();
            for r in backend::registry() {
                let info = backend::open(r.name, &options).map(|b| b.describe());
                match info {
                    Ok(i) => println!("  {:<16} {}; {}", r.name, i.durability, i.serialization),
                    Err(e) => println!("  {:<16} (cannot open here: {e})", r.name),
                }
            }
            println!("workloads:");
            let mut files: Vec<PathBuf> = std::fs::read_dir("workloads")
                .map(|d| {
                    d.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            for f in files {
                match Plan::load(&f) {
                    Ok(p) => println!("  {:<28} {}", f.display(), p.description),
                    Err(e) => println!("  {:<28} INVALID: {e}", f.display()),
                }
            }
            ExitCode::SUCCESS
        }
    }
}
