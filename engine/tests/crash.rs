//! Crash test: child processes commit batches and compact, printing each acknowledged
//! batch; the parent kills them with SIGKILL, reopens the directory strictly, and checks
//! that every acknowledged batch is there whole and no batch is partial, and that the
//! directory stays locked against a second process even after its `LOCK` file is deleted.
//!
//! Scenarios, each a series of kills on one directory:
//! - `always` (1 writer) and `group` (4 writers): killed at a random moment; the first
//!   writer compacts every 700 batches;
//! - `compaction-<step>` (2 writers under `Always` or `Group`, a third thread compacting
//!   every 50 batches): the child holds one compaction at a step (`FaultyIo` blocks the
//!   call) — after the log was cut (`cut`: before the temporary snapshot), with the
//!   temporary snapshot written (`temp`: before its rename), after the rename (`renamed`:
//!   before the covered segments are removed) — while the writers keep acknowledging
//!   batches into the new segment; the parent waits for the hold, counts the segments on
//!   disk (at least two), and kills.
//! - `never` (1 writer, the log buffering commits in memory): killed at random; the writer
//!   flushes every 100 batches and prints `flushed` after each. What survives must be a
//!   prefix of the acknowledged batches (no batch missing before one present), holding
//!   every batch acknowledged before a flush that returned, and everything an earlier
//!   reopen saw; the acknowledged batches a kill took are counted (`lost unflushed`) and
//!   forgotten (their versions are committed again by the next child);
//! - `checkpoint` (2 writers under `Always`, a third thread checkpointing into
//!   `<dir>/checkpoints/` every few milliseconds, a fourth compacting): killed at random,
//!   often in the middle of a checkpoint. Every checkpoint the child reported done opens
//!   strictly at exactly its version with exactly the batches up to it; one cut short by
//!   the kill opens the same way or is refused, never as something else.
//!
//! With the `compression` feature (on in `cargo test --workspace`: the lab enables it), the
//! `group` scenario's children write compressed log frames and snapshots.
//!
//! In every scenario the parent also follows the directory with a read-only tree
//! (`Tree::open_read_only`, opened once and refreshed across the kills and restarts of its
//! writers): every view holds whole batches, exactly those up to its version, and at least
//! every batch acknowledged before it was read (under `never`: every batch that had to
//! survive a kill, since a reader sees only what the buffer wrote out). After each kill, the reopened tree's change
//! feed holds every acknowledged batch the log still holds, at its version.
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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acorn::faults::{Action, Call, FaultyIo};
use acorn::{Error, SyncPolicy, Tree};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const KEYS_PER_BATCH: usize = 3;

fn policy(name: &str) -> SyncPolicy {
    match name {
        "always" => SyncPolicy::Always,
        "group" => SyncPolicy::Group {
            max_delay: Duration::from_millis(1),
        },
        "never" => SyncPolicy::Never,
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

/// The child: writes until killed. Each line on stdout acknowledges one committed batch
/// (`round thread i version`); under `never` the writer flushes every 100 batches and
/// prints `flushed round thread i` after each; `held <step>` says a compaction is held at `step` (`-`:
/// none is, and the first writer compacts every 700 batches; `free`: none is, and a thread
/// compacts every 50 batches; `checkpoint`: as `free`, and a thread checkpoints,
/// reporting each one done as `checkpoint <dir> <version>`).
fn child(dir: &Path, policy_name: &str, round: u32, threads: usize, step: &str) {
    let batches = Arc::new(AtomicU64::new(0));
    let mut builder = Tree::builder().path(dir).sync(policy(policy_name));
    if step != "-" && step != "free" && step != "checkpoint" {
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
    // With the `compression` feature, the `group` writers compress their log frames and
    // snapshots: the same kills and checks, on compressed files.
    #[cfg(feature = "compression")]
    if policy_name == "group" && step == "-" {
        builder = builder.compression(acorn::Compression::Lz4);
    }
    let tree = builder.open().unwrap();
    std::thread::scope(|s| {
        if step == "checkpoint" {
            let tree = &tree;
            s.spawn(move || {
                for n in 0u64.. {
                    let to = dir.join("checkpoints").join(format!("{round}-{n}"));
                    let version = tree.checkpoint(&to).unwrap();
                    writeln!(
                        std::io::stdout().lock(),
                        "checkpoint {} {version}",
                        to.display()
                    )
                    .unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }
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
                    let version = b.commit().unwrap();
                    writeln!(stdout.lock(), "{round} {t} {i} {version}").unwrap();
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

/// A batch: (round, thread, i).
type Id = (u32, usize, u64);

/// The batch a key belongs to.
fn id_of(key: &str) -> Id {
    let parts: Vec<&str> = key.split('-').collect();
    (
        parts[0][1..].parse().unwrap(),
        parts[1][1..].parse().unwrap(),
        parts[2].parse().unwrap(),
    )
}

/// The batches a tree holds, each checked whole and right: batch → its version.
fn batches_in(tree: &Tree) -> Result<BTreeMap<Id, u64>, String> {
    let mut batches: BTreeMap<Id, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
    for nut in tree.iter() {
        batches
            .entry(id_of(&nut.key))
            .or_default()
            .push((nut.value.to_vec(), nut.version));
    }
    let mut versions = BTreeMap::new();
    for (id, parts) in batches {
        if parts.len() != KEYS_PER_BATCH {
            return Err(format!("batch {id:?} is partial"));
        }
        let expect = format!("value-{}-{}-{}", id.0, id.1, id.2).into_bytes();
        if parts
            .iter()
            .any(|(v, version)| *v != expect || *version != parts[0].1)
        {
            return Err(format!("batch {id:?} has wrong values or versions"));
        }
        versions.insert(id, parts[0].1);
    }
    Ok(versions)
}

/// Checks a tree against the batches acknowledged so far (batch → version): it holds
/// every one up to its version (at that version), and nothing after its version.
fn holds_prefix(tree: &Tree, acked: &BTreeMap<Id, u64>, what: &str) -> Result<u64, String> {
    let version = tree.stats().version;
    let held = batches_in(tree).map_err(|e| format!("{what}: {e}"))?;
    if let Some((id, v)) = held.iter().find(|(_, v)| **v > version) {
        return Err(format!(
            "{what}: batch {id:?} at {v}, after the view's {version}"
        ));
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|(id, v)| **v <= version && held.get(id) != Some(v))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "{what} (at version {version}): {} acknowledged batches missing, first {:?}",
            lost.len(),
            lost.first()
        ));
    }
    Ok(version)
}

/// A writer's batches are numbered 0, 1, 2...: a gap is a lost batch before a kept one.
fn no_gaps(held: &BTreeMap<Id, u64>) -> Result<(), String> {
    let mut next: BTreeMap<(u32, usize), u64> = BTreeMap::new();
    for &(r, t, i) in held.keys() {
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
    Ok(())
}

/// Checks the directory after a kill: a strict open holds every batch acknowledged so
/// far, whole, and no batch of a writer without the ones it committed before; its change
/// feed holds each one the log still holds, at its version. Under `never` (`never`):
/// instead of every acknowledged batch, those acknowledged before a flush that returned
/// and those an earlier reopen found; the acknowledged ones the kill took are removed
/// from `acked` (the next child commits their versions again) and counted (returned).
fn verify(dir: &Path, acked: &mut Acked, never: bool) -> Result<usize, String> {
    let tree = Tree::open(dir).map_err(|e| format!("no strict open: {e}"))?;
    let held = batches_in(&tree).map_err(|e| format!("reopened: {e}"))?;
    no_gaps(&held)?;
    let mut unflushed = 0;
    if never {
        let lost: Vec<_> = (acked.flushed.iter())
            .chain(&acked.seen)
            .filter(|id| !held.contains_key(id))
            .collect();
        if !lost.is_empty() {
            return Err(format!(
                "{} batches that had to survive were lost, first {:?}",
                lost.len(),
                lost.first()
            ));
        }
        let before = acked.batches.len();
        acked.batches.retain(|id, _| held.contains_key(id));
        unflushed = before - acked.batches.len();
        acked.seen = held.keys().copied().collect();
    }
    let acked = &acked.batches;
    let version = holds_prefix(&tree, acked, "reopened")?;
    if let Some((id, v)) = acked.iter().find(|(_, v)| **v > version) {
        return Err(format!(
            "acknowledged batch {id:?} at {v} lost: the tree ends at {version}"
        ));
    }
    let since = match tree.changes_since(0) {
        Ok(_) => 0,
        Err(Error::Compacted { oldest }) => oldest - 1,
        Err(e) => return Err(format!("the change feed: {e}")),
    };
    let mut feed: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for change in tree
        .changes_since(since)
        .map_err(|e| format!("the change feed: {e}"))?
    {
        feed.entry(change.version())
            .or_default()
            .push(change.key().to_string());
    }
    if !feed.keys().copied().eq(since + 1..=version) {
        return Err(format!(
            "the feed after {since} skips versions up to {version}"
        ));
    }
    for (id, v) in acked.range(..).filter(|(_, v)| **v > since) {
        let keys = feed
            .get(v)
            .map(|k| k.iter().map(|k| id_of(k)).collect::<Vec<_>>());
        if keys != Some(vec![*id; KEYS_PER_BATCH]) {
            return Err(format!(
                "the feed lacks batch {id:?} at {v}: {:?}",
                feed.get(v)
            ));
        }
    }
    Ok(unflushed)
}

/// Checks the checkpoints under `dir/checkpoints`: each one the child reported done
/// opens strictly at exactly its version with exactly the batches up to it; one cut short
/// by the kill opens the same way, or is refused.
fn verify_checkpoints(
    dir: &Path,
    done: &BTreeMap<String, u64>,
    acked: &BTreeMap<Id, u64>,
) -> Result<usize, String> {
    let Ok(entries) = std::fs::read_dir(dir.join("checkpoints")) else {
        return Ok(0);
    };
    let mut checked = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let what = format!("checkpoint {}", path.display());
        match (Tree::open(&path), done.get(&path.display().to_string())) {
            (Ok(copy), reported) => {
                let version = holds_prefix(&copy, acked, &what)?;
                if reported.is_some_and(|v| *v != version) {
                    return Err(format!(
                        "{what}: opened at {version}, reported {reported:?}"
                    ));
                }
            }
            (Err(e), Some(v)) => return Err(format!("{what} at {v}, reported done: {e}")),
            (Err(_), None) => {}
        }
        std::fs::remove_dir_all(&path).unwrap();
        checked += 1;
    }
    Ok(checked)
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
    /// Read-only views checked.
    views: u64,
    /// Checkpoints opened and checked (done or cut short by a kill).
    checkpoints: usize,
    failures: Vec<String>,
    /// Acknowledged batches a kill took (allowed under `never` only).
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

/// What the child acknowledged so far, read from its output as it comes.
#[derive(Default)]
struct Acked {
    /// Batch → version.
    batches: BTreeMap<Id, u64>,
    /// Checkpoints reported done: directory → version.
    checkpoints: BTreeMap<String, u64>,
    /// Under `never`: the batches acknowledged before a flush that returned.
    flushed: BTreeSet<Id>,
    /// Under `never`: the batches the last reopen after a kill found.
    seen: BTreeSet<Id>,
}

impl Acked {
    /// The highest version a reader must see now: that of the last batch acknowledged,
    /// under `never` of the last one that had to reach the file (flushed, or found by a
    /// reopen).
    fn must_see(&self, never: bool) -> u64 {
        (self.batches.iter())
            .filter(|(id, _)| !never || self.flushed.contains(id) || self.seen.contains(id))
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    }
}

/// Checks a read-only view of the directory the child writes (opened once, refreshed
/// since): whole batches, exactly those up to its version, at least every batch
/// acknowledged before it was read (under `never`, every one that had to reach the file).
fn follow(
    reader: &mut Option<Tree>,
    dir: &Path,
    acked: &Mutex<Acked>,
    never: bool,
) -> Result<(), String> {
    let (before, at_least) = {
        let a = acked.lock().unwrap();
        (a.batches.clone(), a.must_see(never))
    };
    let tree = match reader {
        Some(t) => {
            t.refresh().map_err(|e| format!("read-only refresh: {e}"))?;
            t
        }
        None => {
            reader.insert(Tree::open_read_only(dir).map_err(|e| format!("read-only open: {e}"))?)
        }
    };
    let version = holds_prefix(tree, &before, "read-only view")?;
    if version < at_least {
        return Err(format!(
            "read-only view at {version}, but {at_least} was acknowledged before it was read"
        ));
    }
    // Whatever was acknowledged meanwhile and is in the view must be there whole.
    holds_prefix(tree, &acked.lock().unwrap().batches, "read-only view")?;
    Ok(())
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
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut reader_view: Option<Tree> = None;
    let never = policy_name == "never";
    let mut tally = Tally::default();
    let mut round = 0u32;
    while Instant::now() < deadline || round < 3 {
        // Every fourth round of a held scenario lets its compactions finish, so the
        // segments that held ones leave behind are compacted away now and then.
        let step = if step != "-" && step != "checkpoint" && round % 4 == 3 {
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
        let seen = Arc::clone(&acked);
        let reader = std::thread::spawn(move || {
            let mut any = false;
            for line in BufReader::new(stdout).lines() {
                // A line cut by the kill was never fully acknowledged (it fails to parse).
                let Ok(line) = line else { break };
                let p: Vec<&str> = line.split(' ').collect();
                match p[..] {
                    ["held", _] => {
                        let _ = held_tx.send(());
                    }
                    ["flushed", r, t, i] => {
                        if let (Ok(r), Ok(t), Ok(i)) = (r.parse(), t.parse(), i.parse()) {
                            // Every batch of this writer up to `i` was acknowledged before.
                            let flushed = &mut seen.lock().unwrap().flushed;
                            flushed.extend((0..=i).map(|i| (r, t, i)));
                        }
                    }
                    ["checkpoint", path, version] => {
                        if let Ok(v) = version.parse() {
                            seen.lock().unwrap().checkpoints.insert(path.to_string(), v);
                        }
                    }
                    [r, t, i, v] => {
                        if let (Ok(r), Ok(t), Ok(i), Ok(v)) =
                            (r.parse(), t.parse(), i.parse(), v.parse())
                        {
                            seen.lock().unwrap().batches.insert((r, t, i), v);
                            if !any {
                                any = true;
                                let _ = first_tx.send(());
                            }
                        }
                    }
                    _ => {}
                }
            }
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
        let wait = if step == "-" || step == "free" || step == "checkpoint" {
            Duration::from_millis(5 + rng.below(120))
        } else {
            held.recv_timeout(Duration::from_secs(20))
                .expect("no compaction reached the step");
            // The writers go on into the new segment meanwhile.
            Duration::from_millis(5 + rng.below(40))
        };
        let kill_at = Instant::now() + wait;
        // A reader in this process follows the writer meanwhile.
        if let Err(why) = follow(&mut reader_view, dir.path(), &acked, never) {
            tally
                .failures
                .push(format!("{policy_name} {step} round {round}: {why}"));
        }
        tally.views += 1;
        std::thread::sleep(kill_at.saturating_duration_since(Instant::now()));
        let segments = segments_in(dir.path());
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        *tally.segments.entry(segments).or_default() += 1;
        if step != "-" && step != "free" && step != "checkpoint" && segments < 2 {
            tally.failures.push(format!(
                "{step}: killed with {segments} segment(s) on disk, expected at least 2"
            ));
        }
        let mut acked_now = acked.lock().unwrap();
        let checked = verify(dir.path(), &mut acked_now, never).and_then(|unflushed| {
            tally.unflushed += unflushed;
            verify_checkpoints(dir.path(), &acked_now.checkpoints, &acked_now.batches)
        });
        match checked {
            Ok(n) => tally.checkpoints += n,
            Err(why) => {
                tally
                    .failures
                    .push(format!("{policy_name} {step} round {round}: {why}"));
                // Go on from a clean directory: the damage is reported, not compounded.
                break;
            }
        }
        drop(acked_now);
        // The reader follows the writer across its kill, and the next one's open.
        if let Err(why) = follow(&mut reader_view, dir.path(), &acked, never) {
            tally.failures.push(format!(
                "{policy_name} {step} round {round}, after the kill: {why}"
            ));
        }
        tally.views += 1;
        round += 1;
    }
    tally.rounds = round;
    tally.acked = acked.lock().unwrap().batches.len() + tally.unflushed;
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
    let scenarios: [(&str, usize, &str); 7] = [
        ("always", 1, "-"),
        ("group", 4, "-"),
        ("never", 1, "-"),
        ("always", 2, "cut"),
        ("group", 2, "temp"),
        ("always", 2, "renamed"),
        ("always", 2, "checkpoint"),
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
        } else if step == "checkpoint" {
            format!("{policy_name}, {threads} writer threads, checkpointing and compacting, killed at random")
        } else {
            format!("{policy_name}, {threads} writer threads, killed with a compaction held at `{step}`")
        };
        println!(
            "crash ({name}): {} rounds (SIGKILLs), {} acknowledged batches ({} lost unflushed), {}, {} read-only views, {} checkpoints, {} failures",
            t.rounds,
            t.acked,
            t.unflushed,
            t.segments_seen(),
            t.views,
            t.checkpoints,
            t.failures.len()
        );
        total.rounds += t.rounds;
        total.acked += t.acked;
        total.unflushed += t.unflushed;
        total.views += t.views;
        total.checkpoints += t.checkpoints;
        for (k, v) in t.segments {
            *total.segments.entry(k).or_default() += v;
        }
        total.failures.extend(t.failures);
    }
    for f in &total.failures {
        println!("FAILURE: {f}");
    }
    println!(
        "crash test: {} rounds (SIGKILLs), {} acknowledged batches ({} lost unflushed), {}, {} read-only views, {} checkpoints, {} failures, seed {seed}",
        total.rounds,
        total.acked,
        total.unflushed,
        total.segments_seen(),
        total.views,
        total.checkpoints,
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
