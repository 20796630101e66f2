//! `lab ab FILE --baseline BIN`: is this build faster or slower than another, variant by
//! variant? Each side runs as a worker process per variant (`lab worker`, this build's and
//! `BIN`'s), which loads the dataset once and then runs slices on command. The parent
//! alternates the two, one slice at a time (the idle one waits on its stdin), in the order
//! `paired::forward` gives (candidate first in rounds 0 and 3 of every four: A B B A B A A
//! B), so that each round's two slices, tens of milliseconds apart, share the machine's
//! state; every round runs the same seeded operations on both sides, on the same CPUs
//! (`runner::pin`), timed as wall clock less the threads' waits for a CPU
//! (`measure::sched`). Several fresh pairs of processes take the rounds in turn, since two
//! processes of one build can differ for their whole lives. The ratio of each round's
//! rates is judged by `acorn_reports::paired` (Hodges–Lehmann with a bootstrap interval
//! over the pairs of processes); docs/ab.md explains the choices and the measurements
//! behind them.

pub mod protocol;
pub mod worker;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use acorn_reports::ab::{AbResults, Build, Comparison, Pair, Side, AB_SCHEMA_VERSION, KIND};
use acorn_reports::{paired, stats};
use hdrhistogram::Histogram as Hdr;

use crate::error::LabError;
use crate::machine;
use crate::measure::recorder::histogram;
use crate::runner::pin;
use crate::workload::Plan;
use protocol::{Ran, Reply, Request, PROTOCOL};

/// How `lab ab` runs, beyond the workload file.
#[derive(Clone, Debug)]
pub struct AbOptions {
    /// The candidate's lab executables (this one, unless told otherwise) and the
    /// baseline's: pair of processes `k` runs `candidate[k % len]` and `baseline[k % len]`
    /// (several builds of one revision: see docs/ab.md, "Code layout"). Never empty.
    pub candidate: Vec<PathBuf>,
    pub baseline: Vec<PathBuf>,
    /// A verdict needs the whole interval past 1 ± this fraction.
    pub threshold: f64,
    /// Rounds (one slice per side each) per variant and thread count.
    pub slices: usize,
    /// Fresh pairs of worker processes per variant, taking the rounds in turn.
    pub processes: usize,
    /// The CPUs the workers may run on; each pair of processes runs both sides on the
    /// same ones (`pin`). Empty: anywhere.
    pub cpus: Vec<usize>,
    /// How long a slice should last (its operation count is set from the warm-up).
    pub slice: Duration,
}

/// Bytes of a worker's stderr kept for an error message.
const STDERR_KEPT: usize = 16 << 10;

/// Warm-up per side and thread count: the workload's, within these bounds (a warm-up also
/// sets the slices' size, so it is never skipped).
const WARM_MIN: Duration = Duration::from_millis(200);
const WARM_MAX: Duration = Duration::from_secs(2);

/// One side's worker process for one variant.
struct Worker {
    role: &'static str,
    command: PathBuf,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    drain: Option<JoinHandle<()>>,
    store: String,
    revision: String,
}

/// Keeps the last [`STDERR_KEPT`] bytes a worker writes to stderr.
fn drain_stderr(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut kept = into.lock().unwrap_or_else(PoisonError::into_inner);
            kept.extend_from_slice(&buf[..n]);
            let excess = kept.len().saturating_sub(STDERR_KEPT);
            kept.drain(..excess);
        }
    })
}

impl Worker {
    /// Starts `command worker FILE --variant V` and waits until it has loaded.
    fn start(
        role: &'static str,
        command: &Path,
        plan: &Plan,
        variant: &str,
    ) -> Result<Worker, LabError> {
        let mut child = Command::new(command)
            .arg("worker")
            .arg(&plan.file)
            .args(["--variant", variant])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                LabError::BadInput(format!("cannot run the {role} {}: {e}", command.display()))
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(LabError::BadInput(format!(
                "{role} {}: no pipes",
                command.display()
            )));
        };
        let kept = Arc::new(Mutex::new(Vec::new()));
        let mut w = Worker {
            role,
            command: command.to_path_buf(),
            child,
            stdin,
            stdout: BufReader::new(stdout),
            drain: Some(drain_stderr(stderr, Arc::clone(&kept))),
            stderr: kept,
            store: String::new(),
            revision: String::new(),
        };
        match w.reply()? {
            Reply::Ready {
                protocol,
                revision,
                store,
                ..
            } if protocol == PROTOCOL => {
                w.store = store;
                w.revision = revision;
                Ok(w)
            }
            Reply::Ready { protocol, .. } => Err(LabError::BadInput(format!(
                "the {role} {} speaks worker protocol {protocol}, this lab {PROTOCOL}: build \
                 both from revisions whose `lab ab` agree",
                command.display()
            ))),
            Reply::Ran(_) => Err(w.failed("answered before it was asked")),
        }
    }

    /// The next reply, or the reason there is none.
    fn reply(&mut self) -> Result<Reply, LabError> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) | Err(_) => Err(self.failed("exited")),
            Ok(_) => serde_json::from_str(&line).map_err(|_| {
                self.failed(&format!(
                    "answered something that is not a lab worker's reply: {:?}",
                    line.trim_end()
                ))
            }),
        }
    }

    /// Asks for a warm-up or a slice and waits for it.
    fn ask(&mut self, request: &Request) -> Result<Ran, LabError> {
        let line = serde_json::to_string(request)
            .map_err(|e| LabError::BadInput(format!("cannot encode a request: {e}")))?;
        if writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .is_err()
        {
            return Err(self.failed("stopped reading its requests"));
        }
        match self.reply()? {
            Reply::Ran(ran) => Ok(ran),
            Reply::Ready { .. } => Err(self.failed("said it was ready twice")),
        }
    }

    /// Why the worker cannot go on: its exit status and the end of its stderr. A lab
    /// without the `worker` command (from before `lab ab`) and a worker that found bad
    /// input (exit 2) are bad input; anything else is a failed store (exit 3).
    fn failed(&mut self, what: &str) -> LabError {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        let stderr =
            String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(PoisonError::into_inner))
                .trim()
                .to_owned();
        let command = self.command.display();
        if stderr.contains("unrecognized subcommand") {
            return LabError::BadInput(format!(
                "the {} {command} has no `worker` command: it is a lab from before `lab ab`; \
                 build the baseline from a revision that has `lab ab` (or compare two \
                 results files with `lab compare`)",
                self.role
            ));
        }
        let message = format!(
            "the {} worker ({command}) {what}{}{}",
            self.role,
            status.map_or(String::new(), |s| format!(" ({s})")),
            if stderr.is_empty() {
                String::new()
            } else {
                format!(":\n{stderr}")
            }
        );
        if status.and_then(|s| s.code()) == Some(2) {
            LabError::BadInput(message)
        } else {
            LabError::AbWorker(message)
        }
    }

    /// Asks the worker to exit and waits for it.
    fn quit(&mut self) {
        if let Ok(line) = serde_json::to_string(&Request::Quit) {
            let _ = writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush());
        }
        let _ = self.child.wait();
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// A worker left behind (an error on the other side) is ended, not left waiting.
impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Operations per second of a warm-up, to size slices by (`paired::sizing_rate`).
fn rate(r: &Ran) -> f64 {
    crate::runner::paired::sizing_rate(r.ops, r.busy_ns, r.elapsed_ns)
}

/// One side's numbers over its slices.
fn side(store: &str, rates: &[f64], latency: &Hdr<u64>, errors: u64) -> Side {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    Side {
        store: store.to_owned(),
        rate_median: sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
        p50_ns: latency.value_at_quantile(0.5),
        p99_ns: latency.value_at_quantile(0.99),
        errors,
    }
}

/// Both sides of one variant, taking turns.
struct Sides {
    candidate: Worker,
    baseline: Worker,
}

impl Sides {
    /// Starts a fresh pair of workers, one after the other (so the loads do not compete),
    /// the candidate first or not.
    fn start(
        plan: &Plan,
        variant: &str,
        opts: &AbOptions,
        process: usize,
    ) -> Result<Sides, LabError> {
        let start = |role, builds: &[PathBuf]| {
            let command = &builds[process % builds.len()];
            Worker::start(role, command, plan, variant)
        };
        Ok(if process.is_multiple_of(2) {
            let candidate = start("candidate", &opts.candidate)?;
            Sides {
                candidate,
                baseline: start("baseline", &opts.baseline)?,
            }
        } else {
            let baseline = start("baseline", &opts.baseline)?;
            Sides {
                candidate: start("candidate", &opts.candidate)?,
                baseline,
            }
        })
    }

    /// Runs `request` on both, candidate first or not; returns (candidate's, baseline's).
    fn both(&mut self, request: &Request, candidate_first: bool) -> Result<(Ran, Ran), LabError> {
        if candidate_first {
            let c = self.candidate.ask(request)?;
            Ok((c, self.baseline.ask(request)?))
        } else {
            let b = self.baseline.ask(request)?;
            Ok((self.candidate.ask(request)?, b))
        }
    }

    fn quit(mut self) {
        self.candidate.quit();
        self.baseline.quit();
    }
}

/// One variant at one thread count, while its rounds are being taken.
struct Taking {
    threads: usize,
    /// Operations per thread per slice, set by the first pair of processes' warm-up.
    ops: Option<u64>,
    pairs: Vec<Pair>,
    latency: [Hdr<u64>; 2],
    errors: [u64; 2],
}

impl Taking {
    fn new(threads: usize) -> Self {
        Taking {
            threads,
            ops: None,
            pairs: Vec::new(),
            latency: [histogram(), histogram()],
            errors: [0, 0],
        }
    }

    /// Warms `sides` up, sizes the slices (the first time), and takes `rounds`.
    fn take(
        &mut self,
        sides: &mut Sides,
        plan: &Plan,
        opts: &AbOptions,
        (process, rounds): (usize, std::ops::Range<usize>),
        stop: &AtomicBool,
    ) -> Result<(), LabError> {
        let threads = self.threads;
        let cpus = pin::for_pair(&opts.cpus, process, threads);
        let warm = Request::Warm {
            threads,
            millis: plan.run.warmup.clamp(WARM_MIN, WARM_MAX).as_millis() as u64,
            cpus: cpus.clone(),
        };
        let (wc, wb) = sides.both(&warm, process % 2 == 0)?;
        // Both sides run the same operations: as many as the geometric mean of their
        // rates does in one slice.
        let ops = *self.ops.get_or_insert_with(|| {
            let per_slice =
                (rate(&wc) * rate(&wb)).sqrt() * opts.slice.as_secs_f64() / threads as f64;
            if per_slice.is_finite() {
                per_slice.round().max(1.0) as u64
            } else {
                1
            }
        });
        for round in rounds {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let first = paired::forward(round);
            let request = Request::Slice {
                threads,
                ops,
                index: round as u64,
                cpus: cpus.clone(),
            };
            let (c, b) = sides.both(&request, first)?;
            for (i, ran) in [&c, &b].into_iter().enumerate() {
                let _ = self.latency[i].add(stats::decode(&ran.latency));
                self.errors[i] += ran.errors;
            }
            self.pairs.push(Pair {
                round,
                process,
                candidate_first: first,
                candidate_ops: c.ops,
                candidate_ns: c.elapsed_ns,
                baseline_ops: b.ops,
                baseline_ns: b.elapsed_ns,
                candidate_busy_ns: c.busy_ns,
                baseline_busy_ns: b.busy_ns,
            });
        }
        Ok(())
    }

    /// The judged comparison.
    fn finish(self, variant: &str, stores: [&str; 2], threshold: f64) -> Comparison {
        let mut c = Comparison {
            variant: variant.to_owned(),
            threads: self.threads,
            ops_per_slice: self.ops.unwrap_or(0),
            pairs: self.pairs,
            ..Comparison::default()
        };
        c.judge(threshold);
        let (rc, rb) = c.rates(c.timing);
        c.candidate = side(stores[0], &rc, &self.latency[0], self.errors[0]);
        c.baseline = side(stores[1], &rb, &self.latency[1], self.errors[1]);
        c
    }
}

/// One variant's comparisons, and the candidate's and baseline's revisions.
type Compared = (Vec<Comparison>, [String; 2]);

/// Every thread count of one variant: `opts.processes` fresh pairs of workers in turn,
/// each taking its share of every thread count's rounds. `None` when stopped.
fn compare_variant(
    plan: &Plan,
    variant: &str,
    opts: &AbOptions,
    stop: &AtomicBool,
) -> Result<Option<Compared>, LabError> {
    let mut taking: Vec<Taking> = plan.run.threads.iter().map(|&t| Taking::new(t)).collect();
    let processes = opts.processes.clamp(1, opts.slices);
    let share = opts.slices.div_ceil(processes);
    let mut stores = [String::new(), String::new()];
    let mut revisions: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for process in 0..processes {
        let rounds = process * share..((process + 1) * share).min(opts.slices);
        let mut sides = Sides::start(plan, variant, opts, process)?;
        stores = [sides.candidate.store.clone(), sides.baseline.store.clone()];
        for (seen, side) in revisions
            .iter_mut()
            .zip([&sides.candidate, &sides.baseline])
        {
            if !seen.contains(&side.revision) {
                seen.push(side.revision.clone());
            }
        }
        for t in &mut taking {
            t.take(&mut sides, plan, opts, (process, rounds.clone()), stop)?;
        }
        sides.quit();
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
    }
    let [c, b] = &stores;
    let comparisons = taking
        .into_iter()
        .map(|t| t.finish(variant, [c, b], opts.threshold))
        .collect();
    Ok(Some((comparisons, revisions.map(|r| r.join(", ")))))
}

/// One side's executables, as ab.json records them.
fn commands(builds: &[PathBuf]) -> String {
    let paths: Vec<String> = builds.iter().map(|b| b.display().to_string()).collect();
    paths.join(", ")
}

/// Runs every variant of `plan` (at each of its thread counts) on both builds; `report`
/// gets each comparison as it finishes. Stopped (`stop`): the comparisons that finished,
/// marked partial.
pub fn run(
    plan: &Plan,
    opts: &AbOptions,
    stop: &AtomicBool,
    report: &mut dyn FnMut(&Comparison, bool),
) -> Result<AbResults, LabError> {
    let mut results = AbResults {
        schema_version: AB_SCHEMA_VERSION,
        kind: KIND.into(),
        workload: plan.name.clone(),
        description: plan.description.clone(),
        candidate: Build {
            command: commands(&opts.candidate),
            revision: String::new(),
        },
        baseline: Build {
            command: commands(&opts.baseline),
            revision: String::new(),
        },
        threshold: opts.threshold,
        slice_s: opts.slice.as_secs_f64(),
        started_at: machine::now_rfc3339(),
        machine: machine::fingerprint(),
        ..AbResults::default()
    };
    let several = plan.run.threads.len() > 1;
    for variant in &plan.variants {
        match compare_variant(plan, variant, opts, stop) {
            Ok(Some((comparisons, [c, b]))) => {
                results.candidate.revision = c;
                results.baseline.revision = b;
                for comparison in comparisons {
                    report(&comparison, several);
                    results.comparisons.push(comparison);
                }
            }
            // A worker killed by Ctrl-C fails its request: that is the stop, not a failure.
            Ok(None) => {
                results.partial = true;
                break;
            }
            Err(_) if stop.load(Ordering::Relaxed) => {
                results.partial = true;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    results.finished_at = machine::now_rfc3339();
    Ok(results)
}
