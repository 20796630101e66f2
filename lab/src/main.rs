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

fn run(files: &[PathBuf], opts: &RunOptions, out: Option<&PathBuf>, quiet: bool) -> ExitCode {
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
        let results = match runner::run(plan, opts, &clock, &stop, progress) {
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
        } => {
            let opts = RunOptions {
                variants,
                quick,
                scratch_dir: None,
            };
            run(&files, &opts, out.as_ref(), quiet)
        }
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
