//! The command line, as clap parses it. `main.rs` dispatches each command to
//! [`crate::commands`].

use std::path::PathBuf;

use acorn_reports::Measure;
use clap::{Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES;

/// Where every workload key is described.
pub const WORKLOAD_REFERENCE: &str = "\
Every key of a workload file (type, default, unit) and an example of each feature are in
docs/workloads.md.";

/// AcornLab: run declarative workloads across acorn variants and peer stores.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run workload files across the variants they name; print a table, write results.json.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Compare two results files; exit 1 on a regression (a CI gate). Wall-clock rows are
    /// a regression, an improvement, no difference, or undecided (with why); the last line
    /// counts them.
    Compare {
        base: PathBuf,
        new: PathBuf,
        /// Smallest change that counts. Wall-clock results (default 5%): the whole 95%
        /// interval of the change must lie past it. Instruction counts (default 1%): no
        /// noise model, since two runs of one build count the same.
        #[arg(long)]
        threshold: Option<String>,
        /// Wall-clock: judge each variant by its ratio to this variant in the same repeat
        /// (it shared the machine's fast or slow spell), or `none` for raw values. Default:
        /// btreemap when both files ran it.
        #[arg(long, value_name = "VARIANT|none")]
        reference: Option<String>,
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
        /// Results of the same workload in the other measure, shown side by side (default:
        /// `instructions/results.json` beside wall-clock results, `../results.json` beside
        /// instruction counts, when there).
        #[arg(long, value_name = "FILE")]
        beside: Option<PathBuf>,
    },
    /// Merge results of one workload run from several processes or machines at once.
    Merge {
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check workload files without running them.
    #[command(after_help = WORKLOAD_REFERENCE)]
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the registered backends (with the measures each supports) and the workloads in
    /// workloads/.
    List,
    /// Print the operations the first thread of the first repeat would run, one per line:
    /// `<op> <key>` (scans and batches add the length).
    Sample {
        /// A workload TOML file or a YCSB property file.
        file: PathBuf,
        /// How many operations to print.
        #[arg(long, default_value_t = 1000)]
        ops: u64,
        /// Seed instead of the workload's own.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Internal: one variant's counted run, started under callgrind by
    /// `lab run --measure instructions`.
    #[command(name = "__count", hide = true)]
    Count(CountArgs),
}

/// What `lab run` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MeasureArg {
    /// Throughput and latency over timed repeats.
    WallClock,
    /// Instructions and simulated cache misses per operation, counted under valgrind's
    /// callgrind: one thread, a fixed number of operations, numbers that repeat exactly.
    Instructions,
}

impl From<MeasureArg> for Measure {
    fn from(m: MeasureArg) -> Measure {
        match m {
            MeasureArg::WallClock => Measure::WallClock,
            MeasureArg::Instructions => Measure::Instructions,
        }
    }
}

/// `lab __count`'s arguments (set by `lab run`, not by people).
#[derive(Debug, clap::Args)]
pub struct CountArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub variant: String,
    #[arg(long)]
    pub ops: u64,
    #[arg(long)]
    pub warmup_ops: u64,
    #[arg(long)]
    pub quick: bool,
}

/// `lab run`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Workload files: TOML, or YCSB property files (e.g. workloads/ycsb/workloada).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only these variants (comma separated), instead of the file's list.
    #[arg(long, value_delimiter = ',')]
    pub variants: Option<Vec<String>>,
    /// A short smoke run: 300 ms phases, one repeat, at most 10k records, at most 2 thread counts.
    #[arg(long)]
    pub quick: bool,
    /// Directory for results (default: target/lab/<workload>/). With several workloads,
    /// each gets its own subdirectory: <DIR>/<workload>/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress (bars on a terminal, one line per finished phase elsewhere).
    #[arg(long, short)]
    pub quiet: bool,
    /// Run even when the memory estimate exceeds the memory available.
    #[arg(long)]
    pub no_memory_check: bool,
    /// Rewrite the Current and Status columns of the targets table in this Markdown file.
    #[arg(long, value_name = "FILE")]
    pub update_targets: Option<PathBuf>,
    /// A previous results.json: the report gets a comparison section against it.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Sample each variant's first measured phase and write a flamegraph SVG per variant
    /// and thread count beside the report (sequential and interleaved modes only).
    #[arg(long)]
    pub flamegraph: bool,
    /// What to measure, instead of the file's `[run] measure` (default wall-clock).
    /// `instructions` writes to target/lab/<workload>/instructions/ unless --out.
    #[arg(long, value_enum)]
    pub measure: Option<MeasureArg>,
    /// Measured operations per thread, instead of the file's `duration` or `ops` (with
    /// `--measure instructions`: per variant; default the file's `ops`, else 10000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
}
