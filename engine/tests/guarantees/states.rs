//! Directories in every state a durable tree can leave behind, built through the public
//! API: compactions that fail at each of their steps (through `FaultyIo`), and cuts of the
//! log that stop half way. Each state says which versions were acknowledged and which file
//! ends the log.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use acorn::faults::{Action, Call, CallInfo, FaultyIo, EIO, ENOSPC};
use acorn::{SyncPolicy, Tree};

use crate::support::*;

/// Versions each phase of a state writes.
const PHASE: u64 = 20;

/// A directory a tree left behind.
pub struct State {
    pub name: &'static str,
    pub dir: tempfile::TempDir,
    /// Every acknowledged version (version `v` wrote `key(v)`).
    pub acked: BTreeSet<u64>,
    /// The segment holding the end of the log: cutting its end short looks like a crash.
    pub end: PathBuf,
}

/// Which file a planned fault hits.
#[derive(Clone, Copy)]
enum Hit {
    /// A file of this name.
    Named(&'static str),
    /// Any log segment.
    Segment,
    /// The directory.
    Dir,
}

/// Faults to inject, each once: the `skip + 1`-th call of this kind on this target gets the
/// action. Armed only around the compaction that must fail.
type Faults = Arc<Mutex<Vec<(Call, Hit, u32, Action)>>>;

fn hits(hit: Hit, info: &CallInfo<'_>) -> bool {
    let name = info.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match hit {
        Hit::Named(n) => name == n,
        Hit::Segment => name.starts_with("wal-") && name.ends_with(".log"),
        Hit::Dir => info.call == Call::SyncDir,
    }
}

fn open(dir: &Path, faults: &Faults) -> Tree {
    let faults = Arc::clone(faults);
    let io = FaultyIo::new(move |info| {
        let mut f = faults.lock().unwrap();
        let Some(at) = f
            .iter()
            .position(|(call, hit, _, _)| *call == info.call && hits(*hit, info))
        else {
            return Action::Pass;
        };
        if f[at].2 > 0 {
            f[at].2 -= 1;
            return Action::Pass;
        }
        f.remove(at).3
    })
    .without_fsync();
    Tree::builder()
        .path(dir)
        .sync(SyncPolicy::Never)
        .compact_factor(0)
        .io(Arc::new(io))
        .open()
        .unwrap()
}

/// Builds a state: `phase` runs with the tree, the phase number and the fault list.
fn build(
    name: &'static str,
    body: impl FnOnce(&Tree, &Faults, &mut dyn FnMut(&Tree)),
    end: impl FnOnce(&Path) -> PathBuf,
) -> State {
    let dir = tempfile::tempdir().unwrap();
    let faults: Faults = Arc::default();
    let tree = open(dir.path(), &faults);
    let mut next = 1;
    let mut acked = BTreeSet::new();
    let mut phase = |tree: &Tree| {
        stash_versions(tree, next..=next + PHASE - 1);
        acked.extend(next..next + PHASE);
        next += PHASE;
    };
    body(&tree, &faults, &mut phase);
    drop(tree);
    assert!(
        faults.lock().unwrap().is_empty(),
        "{name}: a planned fault never came"
    );
    let end = end(dir.path());
    State {
        name,
        dir,
        acked,
        end,
    }
}

fn newest(dir: &Path) -> PathBuf {
    segments(dir).pop().unwrap()
}

/// A compaction that fails with these faults, after which the tree goes on.
fn failing_compaction(tree: &Tree, faults: &Faults, planned: &[(Call, Hit, u32, Action)]) {
    faults.lock().unwrap().extend_from_slice(planned);
    assert!(tree.compact().is_err());
    assert!(
        faults.lock().unwrap().is_empty(),
        "a planned fault never came"
    );
}

/// Every state, each built fresh.
pub fn all() -> Vec<State> {
    use Hit::*;
    let snapshot_tmp = Named("snapshot.tmp");
    let fail = Action::Fail(EIO);
    vec![
        build(
            "never compacted",
            |t, _, phase| {
                phase(t);
                phase(t)
            },
            newest,
        ),
        build(
            "compacted",
            |t, _, phase| {
                phase(t);
                t.compact().unwrap();
                phase(t);
            },
            newest,
        ),
        build(
            "compaction failed before its temporary file (log cut)",
            |t, f, phase| {
                phase(t);
                t.compact().unwrap();
                phase(t);
                failing_compaction(
                    t,
                    f,
                    &[(Call::Create, snapshot_tmp, 0, Action::Fail(ENOSPC))],
                );
                phase(t);
            },
            newest,
        ),
        build(
            "compaction failed after its temporary file was written (fsync)",
            |t, f, phase| {
                phase(t);
                failing_compaction(t, f, &[(Call::Sync, snapshot_tmp, 0, fail)]);
                phase(t);
            },
            newest,
        ),
        build(
            "compaction failed at its rename, temporary file left",
            |t, f, phase| {
                phase(t);
                t.compact().unwrap();
                phase(t);
                failing_compaction(
                    t,
                    f,
                    &[
                        (Call::Rename, Named("snapshot.acorn"), 0, fail),
                        (Call::Remove, snapshot_tmp, 0, fail),
                    ],
                );
                assert!(t.stats().wal_bytes > 0);
                phase(t);
            },
            newest,
        ),
        build(
            "compaction failed after its rename (directory fsync), covered segment left",
            |t, f, phase| {
                phase(t);
                // The first directory fsync puts the new segment in place (and would
                // poison the log); the second follows the snapshot's rename.
                failing_compaction(t, f, &[(Call::SyncDir, Dir, 1, fail)]);
                phase(t);
            },
            newest,
        ),
        build(
            "compaction failed removing the covered segment",
            |t, f, phase| {
                phase(t);
                t.compact().unwrap();
                phase(t);
                failing_compaction(t, f, &[(Call::Remove, Segment, 0, fail)]);
                phase(t);
            },
            newest,
        ),
        build(
            "two compactions failed after cutting the log",
            |t, f, phase| {
                phase(t);
                failing_compaction(
                    t,
                    f,
                    &[(Call::Create, snapshot_tmp, 0, Action::Fail(ENOSPC))],
                );
                phase(t);
                failing_compaction(
                    t,
                    f,
                    &[(Call::Create, snapshot_tmp, 0, Action::Fail(ENOSPC))],
                );
                phase(t);
            },
            newest,
        ),
        build(
            "cut stopped before the seal (new segment in place, old one unsealed)",
            |t, f, phase| {
                phase(t);
                t.compact().unwrap();
                phase(t);
                failing_compaction(t, f, &[(Call::Write, Segment, 0, fail)]);
            },
            |dir| segments(dir).iter().rev().nth(1).unwrap().clone(),
        ),
        build(
            "machine halted while writing the seal (half a seal)",
            |t, f, phase| {
                phase(t);
                phase(t);
                failing_compaction(t, f, &[(Call::Write, Segment, 0, Action::Halt)]);
            },
            |dir| segments(dir).iter().rev().nth(1).unwrap().clone(),
        ),
    ]
}

/// Checks the states are what their names say, and open strictly with every write.
#[test]
fn every_state_opens_strictly_with_every_acknowledged_write() {
    for state in all() {
        let copy = copy_dir(state.dir.path());
        let files: Vec<String> = fs::read_dir(copy.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let tree = Tree::open(copy.path())
            .unwrap_or_else(|e| panic!("{}: {e} (files {files:?})", state.name));
        assert_eq!(versions_held(&tree), state.acked, "{}", state.name);
        // The log goes on where it ended, and a reopen finds it all.
        let last = *state.acked.last().unwrap();
        stash_versions(&tree, last + 1..=last + 3);
        tree.compact().unwrap();
        stash_versions(&tree, last + 4..=last + 6);
        drop(tree);
        let tree = Tree::open(copy.path()).unwrap();
        assert_eq!(
            versions_held(&tree).len(),
            state.acked.len() + 6,
            "{}",
            state.name
        );
        let segments_before = files.iter().filter(|f| f.starts_with("wal-")).count();
        if state.name.contains("failed")
            || state.name.contains("cut")
            || state.name.contains("halted")
        {
            assert!(segments_before >= 2, "{}: {files:?}", state.name);
        }
    }
}
