//! The command line, as clap parses it. `main.rs` dispatches each command to
//! [`crate::commands`].

use std::path::PathBuf;

use acorn_reports::export::Format;
use acorn_reports::Measure;
use clap::{Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES;
use crate::formats::{parse_export, Export};

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
    /// Paired A/B of this build against another lab executable (e.g. a build of main):
    /// both run the workload's variants in alternating short slices; one line per variant
    /// `VARIANT: candidate/baseline R× [LO, HI] regression|improvement|no difference`;
    /// exit 1 on a regression.
    #[command(after_help = EXIT_CODES)]
    Ab(AbArgs),
    /// Latency against offered rate: the workload's phase at each rate (open loop, latency
    /// from each operation's intended start), per variant, and its knee: the highest rate
    /// whose p99 stays within --slo while at least 99% of it is achieved.
    #[command(after_help = EXIT_CODES)]
    Sweep(SweepArgs),
    /// Compare two results files; exit 1 on a regression (a CI gate). Wall-clock rows are
    /// a regression, an improvement, no difference, or undecided (with why); the last line
    /// counts them. With $GITHUB_STEP_SUMMARY set, the comparison is appended there as
    /// Markdown.
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
        #[command(flatten)]
        formats: FormatArgs,
    },
    /// Write a saved results.json in another format: bencher (Bencher Metric Format),
    /// markdown, json, junit, csv, table, or hdr-log (HdrHistogram interval logs, one per
    /// variant and thread count, into -o DIR).
    Export {
        /// bencher (or bmf), markdown, json, junit, csv, table, hdr-log.
        format: String,
        results: PathBuf,
        /// Where to write (default: stdout); a directory for hdr-log.
        #[arg(short, long)]
        output: Option<PathBuf>,
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
    /// Internal: one side of `lab ab` (loads a variant, then runs slices on command: JSON
    /// lines on stdin and stdout).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// `lab ab`'s arguments.
#[derive(Debug, clap::Args)]
pub struct AbArgs {
    /// A workload TOML file or a YCSB property file.
    pub file: PathBuf,
    /// The lab executable to compare against (a build of main, say); it must have the
    /// `worker` command, i.e. be a lab from `lab ab` on. Give it several times for several
    /// builds of one revision (scripts/layouts.sh links them with their code in different
    /// orders): the pairs of processes take them in turn, so the interval covers how much
    /// code layout alone moves the rates (docs/ab.md, "Code layout").
    #[arg(long, value_name = "BIN", required = true)]
    pub baseline: Vec<PathBuf>,
    /// The candidate's lab executable(s), taken in turn like `--baseline`'s (default: this
    /// lab).
    #[arg(long, value_name = "BIN")]
    pub candidate: Vec<PathBuf>,
    /// Only these variants (comma separated), instead of the file's list.
    #[arg(long, value_delimiter = ',')]
    pub variants: Option<Vec<String>>,
    /// Smallest change that is a verdict: the whole 95% interval of candidate/baseline
    /// must lie below 1 − P (regression) or above 1 + P (improvement). `2%`, `2` and
    /// `0.02` are the same.
    #[arg(long, value_name = "P", default_value = "2%")]
    pub threshold: String,
    /// Rounds per variant and thread count: each side runs one slice per round.
    #[arg(long, value_name = "N", default_value_t = 150,
          value_parser = clap::value_parser!(u64).range(10..=100_000))]
    pub slices: u64,
    /// Fresh pairs of worker processes per variant, taking the rounds in turn: two
    /// processes of one build can differ by a few percent for their whole lives (where
    /// their memory landed), and only several pairs show by how much.
    #[arg(long, value_name = "K", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub processes: u64,
    /// How long a slice lasts, about (its operation count is set from a warm-up); e.g.
    /// `50ms`.
    #[arg(long, value_name = "D", default_value = "50ms", value_parser = slice_duration)]
    pub slice_duration: std::time::Duration,
    /// Also write the pairs and verdicts (ab.json) here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Directory for ab.json and index.html (default: target/lab/<workload>/ab/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `lab sweep`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// A workload TOML file or a YCSB property file (its first thread count is swept).
    pub file: PathBuf,
    /// Only these variants (comma separated), instead of the file's list.
    #[arg(long, value_delimiter = ',')]
    pub variants: Option<Vec<String>>,
    /// Offered rates in ops/s across all threads (`1k,2k,5k`), or `auto`: a short closed
    /// loop finds the store's top speed, then rates double from a hundredth of it until
    /// two steps in a row miss the SLO (three when none held yet).
    #[arg(long, default_value = "auto")]
    pub rates: String,
    /// The latency objective for the 99th percentile (`1ms`, `250us`).
    #[arg(long, default_value = "1ms", value_parser = slo_duration)]
    pub slo: std::time::Duration,
    /// How long each rate runs.
    #[arg(long, default_value = "1s", value_parser = slo_duration)]
    pub step: std::time::Duration,
    /// Directory for results.json and index.html (default: target/lab/<workload>/sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A duration from 1 µs to 1 h.
fn slo_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))?;
    if d < std::time::Duration::from_micros(1) || d > std::time::Duration::from_secs(3600) {
        return Err(format!("{s:?}: from 1us to 1h"));
    }
    Ok(d)
}

/// A slice length from 1 ms to 10 s.
fn slice_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))?;
    if d < std::time::Duration::from_millis(1) || d > std::time::Duration::from_secs(10) {
        return Err(format!("{s:?}: a slice lasts from 1ms to 10s"));
    }
    Ok(d)
}

/// `--format` and `--export` of `lab run` and `lab compare` (docs/outputs.md describes
/// each format).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct FormatArgs {
    /// What to print on stdout: table (default), markdown, json, junit, csv, or bmf (Bencher
    /// Metric Format; `lab run` only). Repeat to print several; with any but table, the
    /// lab's own lines ("results: ...") go to stderr.
    #[arg(long = "format", value_name = "FORMAT", value_parser = Format::parse)]
    pub formats: Vec<Format>,
    /// Also write FORMAT to PATH, e.g. `--export junit=lab.xml --export markdown=lab.md`
    /// (repeatable; same formats as --format).
    #[arg(long = "export", value_name = "FORMAT=PATH", value_parser = parse_export)]
    pub exports: Vec<Export>,
}

/// `lab worker`'s arguments (set by `lab ab`, not by people).
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub variant: String,
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
    /// Rounds of paired slices per thread count that the verdicts rank the variants by
    /// (interleaved and parallel mode: the variants take turns in ~50 ms slices, 20 ms
    /// with --quick); default 40, 10 with --quick; 0: rank by the repeats alone.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub pairs: Option<u64>,
    #[command(flatten)]
    pub formats: FormatArgs,
    /// Also write one HdrHistogram interval log per variant and thread count into DIR
    /// (with several workloads, DIR/<workload>/): HistogramLogAnalyzer reads them.
    #[arg(long, value_name = "DIR")]
    pub hdr_log: Option<PathBuf>,
    /// Write results.json indented (default: compact, histograms in HdrHistogram's
    /// compressed encoding).
    #[arg(long)]
    pub pretty: bool,
}
