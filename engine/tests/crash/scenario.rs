//! One scenario: child after child killed on one directory, each checked.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acorn::{Error, Tree};

use crate::acked::{self, Acked};
use crate::check::{follow, segments_in, verify, verify_checkpoints};
use crate::rng::Rng;

/// What one scenario's kills found.
#[derive(Default)]
pub struct Tally {
    pub rounds: u32,
    pub acked: usize,
    /// Segments on disk at each kill: count → kills.
    pub segments: BTreeMap<usize, u32>,
    /// Read-only views checked.
    pub views: u64,
    /// Checkpoints opened and checked (done or cut short by a kill).
    pub checkpoints: usize,
    pub failures: Vec<String>,
    /// Acknowledged batches a kill took (allowed under `never` only).
    pub unflushed: usize,
}

impl Tally {
    /// "segments on disk at the kills: 1 in 4, 2 in 6, 3 or more in 2 (at most 9)".
    pub fn segments_seen(&self) -> String {
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

/// Whether `step` holds a compaction (rather than `-`, `free` or `checkpoint`).
fn holds(step: &str) -> bool {
    step != "-" && step != "free" && step != "checkpoint"
}

/// One scenario: kills child after child on one directory until `deadline` (at least three).
pub fn scenario(
    exe: &Path,
    rng: &mut Rng,
    deadline: Instant,
    policy_name: &str,
    threads: usize,
    step: &str,
) -> Tally {
    let mut run = Kills {
        exe,
        dir: tempfile::tempdir().unwrap(),
        policy_name,
        threads,
        never: policy_name == "never",
        acked: Arc::new(Mutex::new(Acked::default())),
        reader_view: None,
        tally: Tally::default(),
    };
    let mut round = 0u32;
    while Instant::now() < deadline || round < 3 {
        // Every fourth round of a held scenario lets its compactions finish, so the
        // segments that held ones leave behind are compacted away now and then.
        let step = if step != "-" && step != "checkpoint" && round % 4 == 3 {
            "free"
        } else {
            step
        };
        if !run.round(rng, round, step) {
            break;
        }
        round += 1;
    }
    run.tally.rounds = round;
    run.tally.acked = run.acked.lock().unwrap().batches.len() + run.tally.unflushed;
    run.tally
}

/// A scenario under way: its directory, what its children acknowledged, its reader.
struct Kills<'a> {
    exe: &'a Path,
    dir: tempfile::TempDir,
    policy_name: &'a str,
    threads: usize,
    never: bool,
    acked: Arc<Mutex<Acked>>,
    /// The read-only tree following the directory across the kills.
    reader_view: Option<Tree>,
    tally: Tally,
}

impl Kills<'_> {
    /// One round: starts a child, checks the lock and a read-only view while it writes,
    /// kills it and checks the directory. False when the directory failed its check (the
    /// damage is reported, not compounded: the scenario stops).
    fn round(&mut self, rng: &mut Rng, round: u32, step: &str) -> bool {
        let mut child = self.spawn(round, step);
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first) = mpsc::channel();
        let (held_tx, held) = mpsc::channel();
        let seen = Arc::clone(&self.acked);
        let reader = std::thread::spawn(move || acked::read(stdout, &seen, first_tx, held_tx));
        // Wait for the first acknowledgement, then check the lock holds across processes.
        first
            .recv_timeout(Duration::from_secs(20))
            .expect("child acknowledged nothing");
        locked_across_processes(self.dir.path());
        let wait = kill_delay(rng, step, &held);
        let kill_at = Instant::now() + wait;
        // A reader in this process follows the writer meanwhile.
        self.follow(format!("{} {step} round {round}", self.policy_name));
        std::thread::sleep(kill_at.saturating_duration_since(Instant::now()));
        let segments = segments_in(self.dir.path());
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        *self.tally.segments.entry(segments).or_default() += 1;
        if holds(step) && segments < 2 {
            self.tally.failures.push(format!(
                "{step}: killed with {segments} segment(s) on disk, expected at least 2"
            ));
        }
        if !self.verify(round, step) {
            return false;
        }
        // The reader follows the writer across its kill, and the next one's open.
        self.follow(format!(
            "{} {step} round {round}, after the kill",
            self.policy_name
        ));
        true
    }

    /// Starts the child of `round` at `step`, its stdout piped.
    fn spawn(&self, round: u32, step: &str) -> Child {
        Command::new(self.exe)
            .args([
                "--child",
                self.dir.path().to_str().unwrap(),
                self.policy_name,
                &round.to_string(),
                &self.threads.to_string(),
                step,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    /// Checks the read-only view (see [`follow`]), a failure recorded under `label`.
    fn follow(&mut self, label: String) {
        if let Err(why) = follow(
            &mut self.reader_view,
            self.dir.path(),
            &self.acked,
            self.never,
        ) {
            self.tally.failures.push(format!("{label}: {why}"));
        }
        self.tally.views += 1;
    }

    /// Checks the directory and its checkpoints after the kill; false (recorded) if not.
    fn verify(&mut self, round: u32, step: &str) -> bool {
        let dir = self.dir.path();
        let mut acked_now = self.acked.lock().unwrap();
        let tally = &mut self.tally;
        let checked = verify(dir, &mut acked_now, self.never).and_then(|unflushed| {
            tally.unflushed += unflushed;
            verify_checkpoints(dir, &acked_now.checkpoints, &acked_now.batches)
        });
        match checked {
            Ok(n) => {
                tally.checkpoints += n;
                true
            }
            Err(why) => {
                tally
                    .failures
                    .push(format!("{} {step} round {round}: {why}", self.policy_name));
                false
            }
        }
    }
}

/// The live child's lock holds against this process, even after its `LOCK` file is
/// deleted.
fn locked_across_processes(dir: &Path) {
    assert!(
        matches!(Tree::open(dir), Err(Error::Locked { .. })),
        "a second process could open a locked tree"
    );
    // Deleting the LOCK file under the live writer does not unlock the directory.
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    assert!(
        matches!(Tree::open(dir), Err(Error::Locked { .. })),
        "a second process could open the tree after LOCK was deleted"
    );
}

/// How long the child writes before its kill: at random, and at a held step only once
/// a compaction is held there (the writers go on into the new segment meanwhile).
fn kill_delay(rng: &mut Rng, step: &str, held: &Receiver<()>) -> Duration {
    if holds(step) {
        held.recv_timeout(Duration::from_secs(20))
            .expect("no compaction reached the step");
        // The writers go on into the new segment meanwhile.
        Duration::from_millis(5 + rng.below(40))
    } else {
        Duration::from_millis(5 + rng.below(120))
    }
}
