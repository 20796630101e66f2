//! Crash test: child processes commit batches and compact, printing each acknowledged
//! batch; the parent kills them with SIGKILL, reopens the directory strictly, and checks
//! that every acknowledged batch is there whole and no batch is partial, and that the
//! directory stays locked against a second process even after its `LOCK` file is deleted.
//!
//! Scenarios, each a series of kills on one directory:
//! - `always` (1 writer) and `group` (4 writers): killed at a random moment; the first
//!   writer compacts every 700 batches;
//! - `never` (1 writer, the log buffering commits in memory): killed at random; the writer
//!   flushes every 100 batches and prints `flushed` after each. What survives must be a
//!   prefix of the acknowledged batches (no batch missing before one present), holding
//!   every batch acknowledged before a flush that returned, and everything an earlier
//!   reopen saw;
//! - `compaction-<step>` (2 writers under `Always` or `Group`, a third thread compacting
//!   every 50 batches): the child holds one compaction at a step (`FaultyIo` blocks the
//!   call) — after the log was cut (`cut`: before the temporary snapshot), with the
//!   temporary snapshot written (`temp`: before its rename), after the rename (`renamed`:
//!   before the covered segments are removed) — while the writers keep acknowledging
//!   batches into the new segment; the parent waits for the hold, counts the segments on
//!   disk (at least two), and kills.
//!
//! Runs a few seconds by default; `ACORN_CRASH_SECS=N` runs for about N seconds (the soak,
//! `scripts/soak.sh`). Prints rounds, acknowledged batches, segments seen at the kills and
//! failures, and exits non-zero if any acknowledged batch was lost or partial.
//!
//! `harness = false`: this file is its own main, so the same binary can be the child.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acorn::faults::{Action, Call, FaultyIo};
use acorn::{Error, SyncPolicy, Tree};

const KEYS_PER_BATCH: usize = 3;

fn policy(name: &str) -> SyncPolicy {
    match name {
        "always" => SyncPolicy::Always,
        "never" => SyncPolicy::Never,
        "group" => SyncPolicy::Group {
            max_delay: Duration::from_millis(1),
        },
        other => panic!("unknown policy {other}"),
    }
}

/// Whether `call` on `path` is where a compaction is held at `step`.
fn held_at(step: &str, call: Call, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match step {
        "cut" => call == Call::Create && name == "snapshot.tmp",
        "temp" => call == Call::Rename && name == "snapshot.acorn",
        "renamed" => call == Call::Remove && name.starts_with("wal-"),
        other => panic!("unknown step {other}"),
    }
}

/// The child: writes until killed. Each line on stdout acknowledges one committed batch;
/// `held <step>` says a compaction is held at `step` (`-`: none is, and the first writer
/// compacts every 700 batches; `free`: none is, and a thread compacts every 50 batches).
fn child(dir: &Path, policy_name: &str, round: u32, threads: usize, step: &str) {
    let batches = Arc::new(AtomicU64::new(0));
    let mut builder = Tree::builder().path(dir).sync(policy(policy_name));
    if step != "-" && step != "free" {
        let step = step.to_string();
        let seen = Arc::clone(&batches);
        builder = builder.io(Arc::new(FaultyIo::new(move |c| {
            // Hold the first compaction that reaches the step once the log holds a few
            // batches, and let the writers go on.
            if seen.load(Ordering::Relaxed) >= 20 && held_at(&step, c.call, c.path) {
                writeln!(std::io::stdout().lock(), "held {step}").unwrap();
                loop {
                    std::thread::park();
                }
            }
            Action::Pass
        })));
    }
    let tree = builder.open().unwrap();
    std::thread::scope(|s| {
        if step != "-" {
            let (tree, batches) = (&tree, &batches);
            s.spawn(move || {
                let mut last = 0;
                loop {
                    let now = batches.load(Ordering::Relaxed);
                    if now >= last + 50 {
                        last = now;
                        tree.compact().unwrap();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        for t in 0..threads {
            let (tree, batches) = (&tree, &batches);
            s.spawn(move || {
                let stdout = std::io::stdout();
                for i in 0u64.. {
                    let mut b = tree.batch();
                    for k in 0..KEYS_PER_BATCH {
                        b.stash(
                            format!("r{round:03}-t{t}-{i:07}-{k}"),
                            format!("value-{round}-{t}-{i}"),
                        );
                    }
                    b.commit().unwrap();
                    writeln!(stdout.lock(), "{round} {t} {i}").unwrap();
                    batches.fetch_add(1, Ordering::Relaxed);
                    if policy_name == "never" && i % 100 == 99 {
                        tree.flush().unwrap();
                        writeln!(stdout.lock(), "flushed {round} {t} {i}").unwrap();
                    }
                    if step == "-" && t == 0 && i % 700 == 699 {
                        tree.compact().unwrap();
                    }
                }
            });
        }
    });
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

type Id = (u32, usize, u64);

/// What must be in the directory after a kill.
enum Expect<'a> {
    /// Every batch acknowledged so far.
    Acked(&'a BTreeSet<Id>),
    /// Under `Never`: each writer's batches present form a prefix of what it committed,
    /// and hold every batch acknowledged before a flush that returned (`flushed`), and
    /// every batch an earlier reopen found (`seen`).
    Prefix {
        flushed: &'a BTreeSet<Id>,
        seen: &'a BTreeSet<Id>,
    },
}

/// Checks the directory against what must be there; returns the batches found.
fn verify(dir: &Path, expect: &Expect<'_>) -> Result<BTreeSet<Id>, String> {
    let tree = Tree::open(dir).map_err(|e| format!("no strict open: {e}"))?;
    let mut batches: BTreeMap<(u32, usize, u64), Vec<Vec<u8>>> = BTreeMap::new();
    for nut in tree.iter() {
        let parts: Vec<&str> = nut.key.split('-').collect();
        let id = (
            parts[0][1..].parse().unwrap(),
            parts[1][1..].parse().unwrap(),
            parts[2].parse().unwrap(),
        );
        batches.entry(id).or_default().push(nut.value.to_vec());
    }
    for (id, values) in &batches {
        if values.len() != KEYS_PER_BATCH {
            return Err(format!("batch {id:?} is partial after a crash"));
        }
        let expect = format!("value-{}-{}-{}", id.0, id.1, id.2).into_bytes();
        if values.iter().any(|v| *v != expect) {
            return Err(format!("batch {id:?} has wrong values"));
        }
    }
    let lost: Vec<_> = match expect {
        Expect::Acked(acked) => acked.iter().collect(),
        Expect::Prefix { flushed, seen } => {
            // A writer's batches are numbered 0, 1, 2...: a gap is a lost batch before a
            // kept one.
            let mut next: BTreeMap<(u32, usize), u64> = BTreeMap::new();
            for &(r, t, i) in batches.keys() {
                let n = next.entry((r, t)).or_default();
                if i != *n {
                    return Err(format!(
                        "not a prefix: batch {:?} is there but {:?} is not",
                        (r, t, i),
                        (r, t, *n)
                    ));
                }
                *n += 1;
            }
            flushed.iter().chain(seen.iter()).collect()
        }
    };
    let lost: Vec<_> = lost
        .into_iter()
        .filter(|id| !batches.contains_key(id))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "{} batches that had to survive were lost, first {:?}",
            lost.len(),
            lost.first()
        ));
    }
    Ok(batches.into_keys().collect())
}

fn segments_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_str().unwrap();
            name.starts_with("wal-") && name.ends_with(".log")
        })
        .count()
}

/// What one scenario's kills found.
#[derive(Default)]
struct Tally {
    rounds: u32,
    acked: usize,
    /// Segments on disk at each kill: count → kills.
    segments: BTreeMap<usize, u32>,
    failures: Vec<String>,
    /// Acknowledged batches a kill took (allowed under `Never` only).
    unflushed: usize,
}

impl Tally {
    /// "segments on disk at the kills: 1 in 4, 2 in 6, 3 or more in 2 (at most 9)".
    fn segments_seen(&self) -> String {
        let count = |f: &dyn Fn(usize) -> bool| -> u32 {
            self.segments
                .iter()
                .filter(|(k, _)| f(**k))
                .map(|(_, v)| v)
                .sum()
        };
        format!(
            "segments on disk at the kills: 1 in {}, 2 in {}, 3 or more in {} (at most {})",
            count(&|k| k <= 1),
            count(&|k| k == 2),
            count(&|k| k >= 3),
            self.segments.keys().max().copied().unwrap_or(0)
        )
    }
}

/// One scenario: kills child after child on one directory until `deadline` (at least three).
fn scenario(
    exe: &Path,
    rng: &mut Rng,
    deadline: Instant,
    policy_name: &str,
    threads: usize,
    step: &str,
) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = BTreeSet::new();
    let mut flushed = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut tally = Tally::default();
    let mut round = 0u32;
    while Instant::now() < deadline || round < 3 {
        // Every fourth round of a held scenario lets its compactions finish, so the
        // segments that held ones leave behind are compacted away now and then.
        let step = if step != "-" && round % 4 == 3 {
            "free"
        } else {
            step
        };
        let mut child = Command::new(exe)
            .args([
                "--child",
                dir.path().to_str().unwrap(),
                policy_name,
                &round.to_string(),
                &threads.to_string(),
                step,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first) = mpsc::channel();
        let (held_tx, held) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("held ") {
                    let _ = held_tx.send(());
                    continue;
                }
                if lines.is_empty() {
                    let _ = first_tx.send(());
                }
                lines.push(line);
            }
            lines
        });
        // Wait for the first acknowledgement, then check the lock holds across processes.
        first
            .recv_timeout(Duration::from_secs(20))
            .expect("child acknowledged nothing");
        assert!(
            matches!(Tree::open(dir.path()), Err(Error::Locked { .. })),
            "a second process could open a locked tree"
        );
        // Deleting the LOCK file under the live writer does not unlock the directory.
        std::fs::remove_file(dir.path().join("LOCK")).unwrap();
        assert!(
            matches!(Tree::open(dir.path()), Err(Error::Locked { .. })),
            "a second process could open the tree after LOCK was deleted"
        );
        if step == "-" || step == "free" {
            std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
        } else {
            held.recv_timeout(Duration::from_secs(20))
                .expect("no compaction reached the step");
            // The writers go on into the new segment meanwhile.
            std::thread::sleep(Duration::from_millis(5 + rng.below(40)));
        }
        let segments = segments_in(dir.path());
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            // A line cut by the kill was never fully acknowledged.
            let mut p: Vec<&str> = line.split(' ').collect();
            let flush = p.first() == Some(&"flushed");
            if flush {
                p.remove(0);
            }
            if p.len() == 3 {
                if let (Ok(r), Ok(t), Ok(i)) = (p[0].parse(), p[1].parse(), p[2].parse()) {
                    if flush {
                        // Every batch of this writer up to `i` was acknowledged before it.
                        flushed.extend((0..=i).map(|i| (r, t, i)));
                    } else {
                        acked.insert((r, t, i));
                    }
                }
            }
        }
        *tally.segments.entry(segments).or_default() += 1;
        if step != "-" && step != "free" && segments < 2 {
            tally.failures.push(format!(
                "{step}: killed with {segments} segment(s) on disk, expected at least 2"
            ));
        }
        let expect = if policy_name == "never" {
            Expect::Prefix {
                flushed: &flushed,
                seen: &seen,
            }
        } else {
            Expect::Acked(&acked)
        };
        match verify(dir.path(), &expect) {
            Ok(found) => {
                tally.unflushed += acked.iter().filter(|id| !found.contains(id)).count();
                seen = found;
            }
            Err(why) => {
                tally
                    .failures
                    .push(format!("{policy_name} {step} round {round}: {why}"));
                // Go on from a clean directory: the damage is reported, not compounded.
                break;
            }
        }
        round += 1;
    }
    tally.rounds = round;
    tally.acked = acked.len();
    tally
}

fn parent() -> bool {
    let secs: u64 = std::env::var("ACORN_CRASH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let scenarios: [(&str, usize, &str); 6] = [
        ("always", 1, "-"),
        ("group", 4, "-"),
        ("never", 1, "-"),
        ("always", 2, "cut"),
        ("group", 2, "temp"),
        ("always", 2, "renamed"),
    ];
    let share = Duration::from_secs(secs) / scenarios.len() as u32;
    let mut total = Tally::default();
    for (policy_name, threads, step) in scenarios {
        let t = scenario(
            &exe,
            &mut rng,
            Instant::now() + share,
            policy_name,
            threads,
            step,
        );
        let name = if step == "-" {
            format!("{policy_name}, {threads} writer threads, killed at random")
        } else {
            format!("{policy_name}, {threads} writer threads, killed with a compaction held at `{step}`")
        };
        println!(
            "crash ({name}): {} rounds (SIGKILLs), {} acknowledged batches ({} lost unflushed), \
             {}, {} failures",
            t.rounds,
            t.acked,
            t.unflushed,
            t.segments_seen(),
            t.failures.len()
        );

        total.rounds += t.rounds;
        total.acked += t.acked;
        for (k, v) in t.segments {
            *total.segments.entry(k).or_default() += v;
        }
        total.failures.extend(t.failures);
    }
    for f in &total.failures {
        println!("FAILURE: {f}");
    }
    println!(
        "crash test: {} rounds (SIGKILLs), {} acknowledged batches, {}, {} failures, seed {seed}",
        total.rounds,
        total.acked,
        total.segments_seen(),
        total.failures.len()
    );
    total.failures.is_empty()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let a = &args[at + 1..];
        child(
            Path::new(&a[0]),
            &a[1],
            a[2].parse().unwrap(),
            a[3].parse().unwrap(),
            &a[4],
        );
        return;
    }
    // `cargo test -- --list` and filters: this binary holds one test named "crash".
    if args.iter().any(|a| a == "--list") {
        println!("crash: test");
        return;
    }
    if let Some(filter) = args.iter().skip(1).find(|a| !a.starts_with('-')) {
        if !"crash".contains(filter.as_str()) {
            return;
        }
    }
    if parent() {
        println!("1 passed, 0 failed");
    } else {
        println!("0 passed, 1 failed");
        std::process::exit(1);
    }
}
