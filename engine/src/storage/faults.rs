//! Fault injection through the [`Io`] seam (the model is redb's `FailingBackend`).
//!
//! A fixed, single-threaded workload (three opens under `Always`, `Group` and `Never`,
//! commits, blocking and, with the `tokio` feature, as futures waiting for their fsync in
//! the log, manual and automatic compactions, flushes, a torn tail and a leftover temporary
//! file to recover from) is run once to count the calls of each kind, then once more for
//! every call of every kind, failing exactly that call with ENOSPC (after writing half of a
//! write) or EIO. Each run proves:
//! - (b) the operation during which the call failed returned an error (an automatic
//!   compaction inside a commit cannot: the commit is durable; it is counted instead);
//! - (c) after a failed log write or fsync (including the directory fsync that puts a new
//!   segment in place) the tree refuses further writes; after any other compaction failure
//!   it stays writable, with no temporary file left and `wal_bytes` equal to the log's
//!   size on disk;
//! - (a) reopening the directory afterwards, strictly, with the real filesystem, gives
//!   every acknowledged write, plus or minus the one commit whose call failed (its outcome
//!   is unknown until reopen, as in every fsync-based store).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::io::{Call, Io, StdIo};
use super::{segment, snapshot, SyncPolicy};
use crate::Tree;

const ENOSPC: i32 = 28;
const EIO: i32 = 5;

#[derive(Debug, Default)]
struct State {
    counts: BTreeMap<Call, u64>,
    /// Every call so far, in order, with the path it named.
    log: Vec<(Call, PathBuf)>,
    /// The call that was failed, as an index into `log`.
    fired: Option<usize>,
}

/// The real filesystem, except that the `k`-th call of one kind fails. fsyncs do not reach
/// the disk (durability against power loss is not what this tests, and it keeps the test
/// fast); everything else does.
#[derive(Debug)]
struct Failing {
    target: Option<(Call, u64)>,
    errno: i32,
    state: Mutex<State>,
}

impl Failing {
    fn new(target: Option<(Call, u64)>, errno: i32) -> Arc<Failing> {
        Arc::new(Failing {
            target,
            errno,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the call; true when it is the one to fail.
    fn hit(&self, call: Call, path: &Path) -> bool {
        let mut s = self.state();
        let n = s.counts.entry(call).or_insert(0);
        *n += 1;
        let n = *n;
        s.log.push((call, path.to_path_buf()));
        if self.target == Some((call, n)) {
            s.fired = Some(s.log.len() - 1);
            return true;
        }
        false
    }

    fn error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }

    fn check(&self, call: Call, path: &Path) -> io::Result<()> {
        if self.hit(call, path) {
            Err(self.error())
        } else {
            Ok(())
        }
    }

    fn fired(&self) -> Option<usize> {
        self.state().fired
    }

    /// Whether the failed call is one after which the log must refuse writes: a write or
    /// fsync of a log segment, or the directory fsync right after a segment was renamed
    /// into place.
    fn poisons(&self) -> bool {
        let s = self.state();
        let Some(at) = s.fired else { return false };
        let is_segment = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(segment::parse_segment)
                .is_some()
        };
        let (call, path) = &s.log[at];
        match call {
            Call::Write | Call::Sync => is_segment(path),
            Call::SyncDir => {
                at > 0 && matches!(&s.log[at - 1], (Call::Rename, to) if is_segment(to))
            }
            _ => false,
        }
    }

    fn describe(&self) -> String {
        let s = self.state();
        match s.fired {
            Some(at) => format!("{:?} of {}", s.log[at].0, s.log[at].1.display()),
            None => "nothing".into(),
        }
    }
}

impl Io for Failing {
    fn create(&self, path: &Path) -> io::Result<File> {
        self.check(Call::Create, path)?;
        StdIo.create(path)
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        self.check(Call::OpenAppend, path)?;
        StdIo.open_append(path)
    }

    fn write(&self, file: &File, path: &Path, buf: &[u8]) -> io::Result<()> {
        if self.hit(Call::Write, path) {
            if self.errno == ENOSPC {
                // A full disk takes part of the write before refusing the rest.
                StdIo.write(file, path, &buf[..buf.len() / 2])?;
            }
            return Err(self.error());
        }
        StdIo.write(file, path, buf)
    }

    fn sync(&self, _file: &File, path: &Path) -> io::Result<()> {
        self.check(Call::Sync, path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.check(Call::Truncate, path)?;
        StdIo.truncate(path, len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(Call::Rename, to)?;
        StdIo.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check(Call::Remove, path)?;
        StdIo.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(Call::SyncDir, dir)
    }
}

type Model = BTreeMap<String, String>;

#[derive(Clone, Debug)]
enum Op {
    Put(String, String),
    Del(String),
}

#[derive(Clone, Debug)]
enum Step {
    Open(SyncPolicy, bool),
    Commit(Vec<Op>),
    /// The same through `AsyncTree` on a current-thread runtime (without the `tokio`
    /// feature: blocking).
    AsyncCommit(Vec<Op>),
    Compact,
    Flush,
    Close,
    /// Leaves what a crash would: half a frame at the end of the log, a `snapshot.tmp`.
    Crash,
}

fn put(k: &str, v: &str) -> Op {
    Op::Put(k.into(), v.into())
}

fn script() -> Vec<Step> {
    use Step::*;
    let big = "v".repeat(100);
    let group = SyncPolicy::Group {
        max_delay: Duration::from_millis(1),
    };
    let mut steps = vec![
        Open(SyncPolicy::Always, false),
        Commit(vec![put("a", "1")]),
        Commit(vec![put("b", "2")]),
        Commit(vec![put("c", "3"), put("d", "4"), Op::Del("a".into())]),
        AsyncCommit(vec![put("x", "8"), Op::Del("c".into())]),
        Compact,
        Commit(vec![put("e", "5")]),
        Close,
        Crash,
        Open(group, false),
        Commit(vec![put("f", "6")]),
        Commit(vec![Op::Del("b".into())]),
        AsyncCommit(vec![put("y", "9")]),
        Compact,
        Compact,
        Commit(vec![put("g", "7")]),
        Close,
        Open(SyncPolicy::Never, true),
    ];
    // Rewrites of one key: the log outgrows the live data and compacts itself.
    for i in 0..10 {
        steps.push(Commit(vec![put("h", &format!("{i}{big}"))]));
        if i == 4 {
            steps.push(Flush);
        }
    }
    steps.extend([Commit(vec![Op::Del("c".into())]), Flush, Close]);
    steps
}

fn apply(model: &mut Model, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put(k, v) => {
                model.insert(k.clone(), v.clone());
            }
            Op::Del(k) => {
                model.remove(k);
            }
        }
    }
}

fn batch(tree: &Tree, ops: &[Op]) -> crate::Batch {
    let mut b = tree.batch();
    for op in ops {
        match op {
            Op::Put(k, v) => b.stash(k, v),
            Op::Del(k) => b.toss(k),
        };
    }
    b
}

fn commit(tree: &Tree, ops: &[Op]) -> crate::Result<()> {
    batch(tree, ops).commit().map(|_| ())
}

#[cfg(feature = "tokio")]
fn commit_async(tree: &Tree, ops: &[Op]) -> crate::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let at = tree.to_async();
    rt.block_on(at.commit(batch(tree, ops))).map(|_| ())
}

#[cfg(not(feature = "tokio"))]
fn commit_async(tree: &Tree, ops: &[Op]) -> crate::Result<()> {
    commit(tree, ops)
}

fn log_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(segment::parse_segment)
                .is_some()
        })
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

/// Runs the workload; returns what was acknowledged and the commit whose outcome is
/// unknown, after checking (b) and (c) along the way.
fn run(dir: &Path, io: &Arc<Failing>, what: &str) -> (Model, Option<Vec<Op>>) {
    let mut acked = Model::new();
    let mut uncertain = None;
    let mut tree: Option<Tree> = None;
    let mut probes = 0;
    let fault = || format!("{what}: failed {}", io.describe());
    // After a failure: refuses writes or takes them, as the failed call demands.
    let mut after_failure = |tree: &Tree, acked: &mut Model| -> bool {
        if io.poisons() {
            assert!(
                tree.stash("probe", b"x").is_err(),
                "{}: took a write after a failed log write or fsync",
                fault()
            );
            assert!(tree.flush().is_err(), "{}", fault());
            return false;
        }
        probes += 1;
        let key = format!("probe-{probes}");
        if let Err(e) = tree.stash(&key, b"x") {
            panic!(
                "{}: refused a write after a compaction failed: {e}",
                fault()
            );
        }
        acked.insert(key, "x".into());
        for tmp in [snapshot::TMP, segment::SEGMENT_TMP] {
            assert!(!dir.join(tmp).exists(), "{}: left {tmp}", fault());
        }
        assert_eq!(tree.stats().wal_bytes, log_size(dir), "{}", fault());
        true
    };
    for step in script() {
        let before = io.fired();
        let is_async = matches!(step, Step::AsyncCommit(_));
        match step {
            Step::Open(sync, auto) => {
                let builder = Tree::builder()
                    .path(dir)
                    .sync(sync)
                    .io(Arc::clone(io) as Arc<dyn Io>)
                    .compact_factor(u32::from(auto))
                    .compact_min_bytes(512);
                match builder.open() {
                    Ok(t) => {
                        assert_eq!(io.fired(), before, "{}: open succeeded", fault());
                        tree = Some(t);
                    }
                    Err(e) => {
                        assert!(io.fired().is_some(), "{what}: open failed unprovoked: {e}");
                        break;
                    }
                }
            }
            Step::Commit(ops) | Step::AsyncCommit(ops) => {
                let t = tree.as_ref().unwrap();
                let failed_compactions = t.stats().failed_compactions;
                let result = if is_async {
                    commit_async(t, &ops)
                } else {
                    commit(t, &ops)
                };
                match result {
                    Ok(()) => {
                        apply(&mut acked, &ops);
                        if io.fired() != before {
                            // Only an automatic compaction may fail inside a commit that
                            // succeeds: the commit was durable before it started.
                            assert!(
                                t.stats().failed_compactions > failed_compactions,
                                "{}: the commit succeeded and nothing was counted",
                                fault()
                            );
                            if !after_failure(t, &mut acked) {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        assert!(
                            io.fired() != before,
                            "{what}: commit failed unprovoked: {e}"
                        );
                        // Under `Always` a commit that failed was never applied.
                        if let Some(Op::Put(k, _)) = ops.first() {
                            if t.inner
                                .durable
                                .as_ref()
                                .is_some_and(super::Durable::applies_after_sync)
                            {
                                assert!(
                                    acked.contains_key(k) || !t.contains(k),
                                    "{}: a failed commit became visible",
                                    fault()
                                );
                            }
                        }
                        uncertain = Some(ops);
                        assert!(
                            t.stash("probe", b"x").is_err(),
                            "{}: took a write after a failed commit",
                            fault()
                        );
                        break;
                    }
                }
            }
            Step::Compact => {
                let t = tree.as_ref().unwrap();
                match t.compact() {
                    Ok(()) => assert_eq!(io.fired(), before, "{}: compact succeeded", fault()),
                    Err(e) => {
                        assert!(
                            io.fired() != before,
                            "{what}: compact failed unprovoked: {e}"
                        );
                        if !after_failure(t, &mut acked) {
                            break;
                        }
                    }
                }
            }
            Step::Flush => {
                let t = tree.as_ref().unwrap();
                match t.flush() {
                    Ok(()) => assert_eq!(io.fired(), before, "{}: flush succeeded", fault()),
                    Err(e) => {
                        assert!(io.fired() != before, "{what}: flush failed unprovoked: {e}");
                        assert!(io.poisons(), "{}", fault());
                        assert!(t.stash("probe", b"x").is_err(), "{}", fault());
                        break;
                    }
                }
            }
            Step::Close => tree = None,
            Step::Crash => {
                let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.to_str().unwrap().ends_with(".log"))
                    .collect();
                segments.sort();
                let last = segments.last().unwrap();
                let mut data = std::fs::read(last).unwrap();
                data.extend_from_slice(&[7, 0, 0, 0, 9, 9]);
                std::fs::write(last, data).unwrap();
                std::fs::write(dir.join(snapshot::TMP), b"half a snapshot").unwrap();
            }
        }
    }
    drop(tree);
    (acked, uncertain)
}

/// (a): the directory opens strictly and holds every acknowledged write, and the uncertain
/// commit wholly or not at all.
fn verify(dir: &Path, what: &str, acked: &Model, uncertain: Option<&[Op]>) {
    let tree = match Tree::open(dir) {
        Ok(t) => t,
        Err(e) => panic!("{what}: the directory no longer opens: {e}"),
    };
    let found: Model = tree
        .iter()
        .map(|n| {
            (
                n.key.to_string(),
                String::from_utf8(n.value.to_vec()).unwrap(),
            )
        })
        .collect();
    if &found == acked {
        return;
    }
    let mut with = acked.clone();
    if let Some(ops) = uncertain {
        apply(&mut with, ops);
    }
    assert_eq!(found, with, "{what}: lost or invented writes");
}

#[test]
fn every_failed_call_is_reported_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let io = Failing::new(None, EIO);
    let (acked, _) = run(dir.path(), &io, "no fault");
    verify(dir.path(), "no fault", &acked, None);
    let counts = io.state().counts.clone();
    // The workload reaches every kind of call, each more than once.
    for call in Call::ALL {
        assert!(
            counts.get(&call).is_some_and(|n| *n >= 1),
            "{call:?} never called: {counts:?}"
        );
    }
    let mut runs = 0;
    for (&call, &n) in &counts {
        for k in 1..=n {
            for errno in [ENOSPC, EIO] {
                let dir = tempfile::tempdir().unwrap();
                let what = format!("{call:?} #{k} of {n}, errno {errno}");
                let io = Failing::new(Some((call, k)), errno);
                let (acked, uncertain) = run(dir.path(), &io, &what);
                assert!(io.fired().is_some(), "{what}: the call never came");
                verify(dir.path(), &what, &acked, uncertain.as_deref());
                runs += 1;
            }
        }
    }
    assert!(runs > 100, "only {runs} runs: {counts:?}");
}

/// A failed fsync fails every future waiting for it (none hangs, none reports success),
/// and under `Always` none of their commits becomes visible.
#[cfg(feature = "tokio")]
#[test]
fn a_failed_fsync_fails_every_waiting_future() {
    let open = |dir: &Path, io: &Arc<Failing>| {
        Tree::builder()
            .path(dir)
            .io(Arc::clone(io) as Arc<dyn Io>)
            .open()
            .unwrap()
    };
    // The fsyncs an open does, so the next one is the first commit's.
    let counting = Failing::new(None, EIO);
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &counting));
    let at_open = counting
        .state()
        .counts
        .get(&Call::Sync)
        .copied()
        .unwrap_or(0);
    for errno in [EIO, ENOSPC] {
        let dir = tempfile::tempdir().unwrap();
        let io = Failing::new(Some((Call::Sync, at_open + 1)), errno);
        let tree = open(dir.path(), &io);
        let at = tree.to_async();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let results: Vec<crate::Result<u64>> = rt.block_on(async {
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let at = at.clone();
                    tokio::spawn(async move { at.stash(format!("k{i}"), b"v").await })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(
                    tokio::time::timeout(Duration::from_secs(20), t)
                        .await
                        .expect("a future waiting for a failed fsync hung")
                        .unwrap(),
                );
            }
            out
        });
        assert!(io.fired().is_some());
        assert!(
            results.iter().all(Result::is_err),
            "errno {errno}: a commit was acknowledged though the fsync failed"
        );
        assert_eq!(tree.len(), 0, "a commit whose fsync failed became visible");
        assert!(tree.stash("later", b"x").is_err());
        assert!(rt.block_on(at.flush()).is_err());
    }
}
