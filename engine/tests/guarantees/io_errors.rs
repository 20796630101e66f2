//! "Disk full or an I/O error: the call that hit it returns `Error::Io` naming the file. A
//! commit that failed has an unknown outcome until reopen (it is then there whole or not at
//! all). After a failed log write or fsync the tree refuses further writes ... A failed
//! compaction only returns its error ...: its temporary file is removed, the log is kept,
//! and the tree stays writable."
//!
//! A fixed workload (three opens under `Always`, `Group` and `Never`, commits, blocking and,
//! with the `tokio` feature, as futures waiting for their fsync in the log, manual and
//! automatic compactions, flushes, a torn tail and a leftover temporary file to recover
//! from) runs once through [`FaultyIo`] to count the calls of each kind, then once more for
//! every call of every kind, failing exactly that call: `ENOSPC` with nothing written,
//! `EIO`, and (writes) a short write that takes half its bytes before `ENOSPC`. Each run
//! proves:
//! - the operation during which the call failed returned an error naming the file (an
//!   automatic compaction inside a commit cannot: the commit is durable; it is counted);
//! - after a failed log write or fsync (including the directory fsync that puts a new
//!   segment in place, and the seal of the old one) the tree refuses further writes; after
//!   any other compaction failure it stays writable, with no temporary file left and
//!   `wal_bytes` equal to the log's size on disk;
//! - reopening the directory afterwards, strictly, with the real filesystem, gives every
//!   acknowledged write, plus or minus the one commit whose call failed, whole or not at
//!   all; under `Always` a failed commit never became visible.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use acorn::faults::{Action, Call, FaultyIo, EIO, ENOSPC};
use acorn::{SyncPolicy, Tree};

use crate::support::segments;

type Model = BTreeMap<String, String>;

#[derive(Clone, Debug)]
enum Op {
    Put(String, String),
    Del(String),
}

#[derive(Clone, Debug)]
enum Step {
    /// Open with this policy; automatic compaction on or off.
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

fn batch(tree: &Tree, ops: &[Op]) -> acorn::Batch {
    let mut b = tree.batch();
    for op in ops {
        match op {
            Op::Put(k, v) => b.stash(k, v),
            Op::Del(k) => b.toss(k),
        };
    }
    b
}

fn commit(tree: &Tree, ops: &[Op]) -> acorn::Result<()> {
    batch(tree, ops).commit().map(|_| ())
}

#[cfg(feature = "tokio")]
fn commit_async(tree: &Tree, ops: &[Op]) -> acorn::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let at = tree.to_async();
    rt.block_on(at.commit(batch(tree, ops))).map(|_| ())
}

#[cfg(not(feature = "tokio"))]
fn commit_async(tree: &Tree, ops: &[Op]) -> acorn::Result<()> {
    commit(tree, ops)
}

fn log_size(dir: &Path) -> u64 {
    segments(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

fn is_segment(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_str().unwrap();
    name.starts_with("wal-") && name.ends_with(".log")
}

/// Whether the failed call is one after which the log must refuse writes: a write or fsync
/// of a log segment (a commit, or the seal of the old segment at a cut), or the directory
/// fsync right after a segment was renamed into place.
fn poisons(io: &FaultyIo) -> bool {
    let Some((at, call, path)) = io.fired() else {
        return false;
    };
    let calls = io.calls();
    match call {
        Call::Write | Call::Sync => is_segment(&path),
        Call::SyncDir => at > 0 && matches!(&calls[at - 1], (Call::Rename, to) if is_segment(to)),
        _ => false,
    }
}

fn describe(io: &FaultyIo) -> String {
    match io.fired() {
        Some((_, call, path)) => format!("{call:?} of {}", path.display()),
        None => "nothing".into(),
    }
}

/// What a `FaultyIo` reports it failed: (call number, call, path).
type Fired = (usize, Call, PathBuf);

/// Runs the workload; returns what was acknowledged and the commit whose outcome is
/// unknown, after checking the error and what the tree does next along the way.
fn run(dir: &Path, io: &Arc<FaultyIo>, what: &str) -> (Model, Option<Vec<Op>>) {
    let mut run = Workload {
        dir,
        io,
        what,
        acked: Model::new(),
        uncertain: None,
        tree: None,
        policy: SyncPolicy::Always,
        probes: 0,
    };
    for step in script() {
        if !run.step(step) {
            break;
        }
    }
    drop(run.tree);
    (run.acked, run.uncertain)
}

/// The workload under way, its faulty I/O failing one call.
struct Workload<'a> {
    dir: &'a Path,
    io: &'a Arc<FaultyIo>,
    what: &'a str,
    /// What was acknowledged.
    acked: Model,
    /// The commit whose outcome is unknown.
    uncertain: Option<Vec<Op>>,
    tree: Option<Tree>,
    policy: SyncPolicy,
    probes: u32,
}

impl Workload<'_> {
    fn fault(&self) -> String {
        format!("{}: failed {}", self.what, describe(self.io))
    }

    /// The error names the file of the failed call.
    fn names_the_file(&self, e: &acorn::Error) {
        let (_, _, path) = self.io.fired().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            e.to_string().contains(&name),
            "{}: the error does not name {name}: {e}",
            self.fault()
        );
    }

    /// `call` failed: the fault fired during it, and its error names the file.
    fn provoked(&self, call: &str, e: &acorn::Error, before: &Option<Fired>) {
        let what = self.what;
        assert!(
            self.io.fired() != *before,
            "{what}: {call} failed unprovoked: {e}"
        );
        self.names_the_file(e);
    }

    /// `call` succeeded: no fault fired during it.
    fn unprovoked(&self, call: &str, before: &Option<Fired>) {
        assert_eq!(
            self.io.fired(),
            *before,
            "{}: {call} succeeded",
            self.fault()
        );
    }

    /// After a failure: refuses writes or takes them, as the failed call demands. False
    /// when the tree refuses them (the workload stops).
    fn after_failure(&mut self) -> bool {
        let fault = self.fault();
        let tree = self.tree.as_ref().unwrap();
        if poisons(self.io) {
            assert!(
                tree.stash("probe", b"x").is_err(),
                "{fault}: took a write after a failed log write or fsync"
            );
            assert!(tree.flush().is_err(), "{fault}");
            return false;
        }
        self.probes += 1;
        let key = format!("probe-{}", self.probes);
        if let Err(e) = tree.stash(&key, b"x") {
            panic!("{fault}: refused a write after a compaction failed: {e}");
        }
        self.acked.insert(key, "x".into());
        for tmp in ["snapshot.tmp", "segment.tmp"] {
            assert!(!self.dir.join(tmp).exists(), "{fault}: left {tmp}");
        }
        assert_eq!(tree.stats().wal_bytes, log_size(self.dir), "{fault}");
        true
    }

    /// Runs one step and checks its outcome; false when the workload stops there.
    fn step(&mut self, step: Step) -> bool {
        let before = self.io.fired();
        let is_async = matches!(step, Step::AsyncCommit(_));
        match step {
            Step::Open(sync, auto) => self.open(sync, auto, before),
            Step::Commit(ops) | Step::AsyncCommit(ops) => self.commit(ops, is_async, before),
            Step::Compact => self.compact(before),
            Step::Flush => self.flush(before),
            Step::Close => {
                self.tree = None;
                true
            }
            Step::Crash => {
                let last: PathBuf = segments(self.dir).pop().unwrap();
                let mut data = std::fs::read(&last).unwrap();
                data.extend_from_slice(&[7, 0, 0, 0, 9, 9]);
                std::fs::write(&last, data).unwrap();
                std::fs::write(self.dir.join("snapshot.tmp"), b"half a snapshot").unwrap();
                true
            }
        }
    }

    fn open(&mut self, sync: SyncPolicy, auto: bool, before: Option<Fired>) -> bool {
        self.policy = sync;
        // Under `Never`, each commit handed to the OS as it is logged: the calls
        // are counted and failed one by one, and an acknowledged write must survive
        // a failure (a buffered `Never` loses what waits: `durable.rs` tests that).
        let builder = Tree::builder()
            .path(self.dir)
            .sync(sync)
            .log_buffer(0, std::time::Duration::ZERO)
            .io(Arc::clone(self.io))
            .compact_factor(u32::from(auto))
            .compact_min_bytes(512);
        match builder.open() {
            Ok(t) => {
                self.unprovoked("open", &before);
                self.tree = Some(t);
                true
            }
            Err(e) => {
                let what = self.what;
                assert!(
                    self.io.fired().is_some(),
                    "{what}: open failed unprovoked: {e}"
                );
                self.names_the_file(&e);
                false
            }
        }
    }

    fn commit(&mut self, ops: Vec<Op>, is_async: bool, before: Option<Fired>) -> bool {
        let t = self.tree.as_ref().unwrap();
        let failed_compactions = t.stats().failed_compactions;
        let result = if is_async {
            commit_async(t, &ops)
        } else {
            commit(t, &ops)
        };
        match result {
            Ok(()) => {
                apply(&mut self.acked, &ops);
                if self.io.fired() != before {
                    // Only an automatic compaction may fail inside a commit that
                    // succeeds: the commit was durable before it started.
                    assert!(
                        t.stats().failed_compactions > failed_compactions,
                        "{}: the commit succeeded and nothing was counted",
                        self.fault()
                    );
                    return self.after_failure();
                }
                true
            }
            Err(e) => {
                self.provoked("commit", &e, &before);
                // Under `Always` a commit that failed was never applied.
                if let (SyncPolicy::Always, Some(Op::Put(k, _))) = (self.policy, ops.first()) {
                    assert!(
                        self.acked.contains_key(k) || !t.contains(k),
                        "{}: a failed commit became visible",
                        self.fault()
                    );
                }
                self.uncertain = Some(ops);
                assert!(
                    t.stash("probe", b"x").is_err(),
                    "{}: took a write after a failed commit",
                    self.fault()
                );
                false
            }
        }
    }

    fn compact(&mut self, before: Option<Fired>) -> bool {
        let t = self.tree.as_ref().unwrap();
        match t.compact() {
            Ok(()) => {
                self.unprovoked("compact", &before);
                true
            }
            Err(e) => {
                self.provoked("compact", &e, &before);
                self.after_failure()
            }
        }
    }

    fn flush(&mut self, before: Option<Fired>) -> bool {
        let t = self.tree.as_ref().unwrap();
        match t.flush() {
            Ok(()) => {
                self.unprovoked("flush", &before);
                true
            }
            Err(e) => {
                self.provoked("flush", &e, &before);
                assert!(poisons(self.io), "{}", self.fault());
                assert!(t.stash("probe", b"x").is_err(), "{}", self.fault());
                false
            }
        }
    }
}

/// The directory opens strictly and holds every acknowledged write, and the uncertain
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
    let io = Arc::new(FaultyIo::counting().without_fsync());
    let (acked, _) = run(dir.path(), &io, "no fault");
    verify(dir.path(), "no fault", &acked, None);
    let counts = io.counts();
    // The workload reaches every kind of call (but hard links: only a checkpoint makes
    // them, into its own directory; `checkpoint.rs` fails each of its calls).
    for call in Call::ALL.into_iter().filter(|c| *c != Call::Link) {
        assert!(
            counts.get(&call).is_some_and(|n| *n >= 1),
            "{call:?} never called: {counts:?}"
        );
    }
    let mut runs = 0;
    for (&call, &n) in &counts {
        let mut actions = vec![Action::Fail(ENOSPC), Action::Fail(EIO)];
        if call == Call::Write {
            actions.push(Action::Short(ENOSPC));
        }
        for k in 1..=n {
            for &action in &actions {
                let dir = tempfile::tempdir().unwrap();
                let what = format!("{call:?} #{k} of {n}, {action:?}");
                let io = Arc::new(FaultyIo::on_nth(call, k, action).without_fsync());
                let (acked, uncertain) = run(dir.path(), &io, &what);
                assert!(io.fired().is_some(), "{what}: the call never came");
                verify(dir.path(), &what, &acked, uncertain.as_deref());
                runs += 1;
            }
        }
    }
    println!("{runs} runs, each failing one call: {counts:?}");
    assert!(runs > 200, "only {runs} runs: {counts:?}");
}

/// A failed fsync fails every future waiting for it (none hangs, none reports success),
/// and under `Always` none of their commits becomes visible.
#[cfg(feature = "tokio")]
#[test]
fn a_failed_fsync_fails_every_waiting_future() {
    let open = |dir: &Path, io: &Arc<FaultyIo>| {
        Tree::builder().path(dir).io(Arc::clone(io)).open().unwrap()
    };
    // The fsyncs an open does, so the next one is the first commit's.
    let counting = Arc::new(FaultyIo::counting().without_fsync());
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &counting));
    let at_open = counting.counts().get(&Call::Sync).copied().unwrap_or(0);
    for errno in [EIO, ENOSPC] {
        let dir = tempfile::tempdir().unwrap();
        let io = Arc::new(
            FaultyIo::on_nth(Call::Sync, at_open + 1, Action::Fail(errno)).without_fsync(),
        );
        let tree = open(dir.path(), &io);
        let at = tree.to_async();
        let rt = crate::runtime::multi(2);
        let results: Vec<acorn::Result<u64>> = rt.block_on(async {
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

/// A compaction that cannot rename its snapshot into place (a directory is in the way, as
/// a full disk or an I/O error would make it fail) removes its temporary file, keeps the
/// log and counts it, and leaves the tree writable without a reopen.
#[test]
fn a_failed_compaction_removes_its_temp_file_and_keeps_counting_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let tree = crate::support::open_never(dir.path());
    crate::support::stash_versions(&tree, 1..=200);
    let blocked = crate::support::block(dir.path(), "snapshot.acorn");
    assert!(tree.compact().is_err());
    assert!(
        !dir.path().join("snapshot.tmp").exists(),
        "the failed compaction left its temporary file"
    );
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    assert!(tree.stats().wal_bytes > 0);
    // Still writable, without a reopen.
    crate::support::stash_versions(&tree, 201..=250);
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    std::fs::remove_dir_all(blocked).unwrap();
    tree.compact().unwrap();
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    crate::support::stash_versions(&tree, 251..=260);
    drop(tree);
    let tree = Tree::open(dir.path()).unwrap();
    assert_eq!(crate::support::versions_held(&tree), (1..=260).collect());
}

/// "(an automatic one is counted in `stats().failed_compactions`)": and not retried on
/// every commit while it keeps failing.
#[test]
fn a_failing_automatic_compaction_backs_off_and_the_log_stays_counted() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::builder()
        .path(dir.path())
        .sync(SyncPolicy::Never)
        .compact_factor(1)
        .open()
        .unwrap();
    let blocked = crate::support::block(dir.path(), "snapshot.acorn");
    let value = vec![b'v'; 1000];
    // 12 MB of log over 100 keys: far past the 4 MiB threshold.
    for i in 0..12_000u64 {
        tree.stash(format!("k{:03}", i % 100), &value).unwrap();
    }
    let stats = tree.stats();
    assert!(stats.failed_compactions >= 1, "{stats:?}");
    assert!(
        stats.failed_compactions <= 4,
        "a failing compaction was retried on every commit: {stats:?}"
    );
    // `wal_bytes` counts what waits in the log's buffer too: written out, it is the files.
    tree.flush().unwrap();
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    assert!(!dir.path().join("snapshot.tmp").exists());
    std::fs::remove_dir_all(blocked).unwrap();
    for i in 0..6_000u64 {
        tree.stash(format!("k{:03}", i % 100), &value).unwrap();
    }
    let stats = tree.stats();
    assert!(
        stats.compactions >= 1,
        "compaction resumed once it could: {stats:?}"
    );
    tree.flush().unwrap();
    assert_eq!(tree.stats().wal_bytes, log_size(dir.path()));
    drop(tree);
    assert_eq!(Tree::open(dir.path()).unwrap().len(), 100);
}
