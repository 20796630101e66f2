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
        // Each commit handed to the OS as it is logged: the plan fails calls by count.
        .log_buffer(0, std::time::Duration::ZERO)
        .compact_factor(0)
        .io(Arc::new(io))
        .open()
        .unwrap()
}

/// What building a state does, in order.
#[derive(Clone)]
enum Step {
    /// Stash the next `PHASE` versions.
    Phase,
    Compact,
    /// A compaction that fails with these faults (each must come), after which the tree
    /// goes on (unless a fault poisoned it).
    Fail(Vec<(Call, Hit, u32, Action)>),
}

/// Which segment ends the log.
#[derive(Clone, Copy)]
enum End {
    Newest,
    /// The one before the newest (an unfinished cut: the newest is empty).
    BeforeNewest,
}

fn build(name: &'static str, steps: &[Step], end: End) -> State {
    let dir = tempfile::tempdir().unwrap();
    let faults: Faults = Arc::default();
    let tree = open(dir.path(), &faults);
    let mut acked = BTreeSet::new();
    for step in steps {
        match step {
            Step::Phase => {
                let next = acked.len() as u64 + 1;
                stash_versions(&tree, next..=next + PHASE - 1);
                acked.extend(next..next + PHASE);
            }
            Step::Compact => tree.compact().unwrap(),
            Step::Fail(planned) => {
                faults.lock().unwrap().extend_from_slice(planned);
                assert!(tree.compact().is_err(), "{name}: the compaction succeeded");
                assert!(
                    faults.lock().unwrap().is_empty(),
                    "{name}: a planned fault never came"
                );
            }
        }
    }
    drop(tree);
    let mut segments = segments(dir.path());
    if let End::BeforeNewest = end {
        segments.pop();
    }
    State {
        name,
        end: segments.pop().unwrap(),
        dir,
        acked,
    }
}

/// Every state, each built fresh.
pub fn all() -> Vec<State> {
    use Hit::*;
    use Step::{Compact, Fail, Phase};
    let tmp = Named("snapshot.tmp");
    let eio = Action::Fail(EIO);
    let no_temp_file = Fail(vec![(Call::Create, tmp, 0, Action::Fail(ENOSPC))]);
    let table: Vec<(&'static str, Vec<Step>, End)> = vec![
        ("never compacted", vec![Phase, Phase], End::Newest),
        ("compacted", vec![Phase, Compact, Phase], End::Newest),
        (
            "compaction failed before its temporary file (log cut)",
            vec![Phase, Compact, Phase, no_temp_file.clone(), Phase],
            End::Newest,
        ),
        (
            "compaction failed after its temporary file was written (fsync)",
            vec![Phase, Fail(vec![(Call::Sync, tmp, 0, eio)]), Phase],
            End::Newest,
        ),
        (
            "compaction failed at its rename, temporary file left",
            vec![
                Phase,
                Compact,
                Phase,
                Fail(vec![
                    (Call::Rename, Named("snapshot.acorn"), 0, eio),
                    (Call::Remove, tmp, 0, eio),
                ]),
                Phase,
            ],
            End::Newest,
        ),
        (
            // The first directory fsync puts the new segment in place (and would poison
            // the log); the second follows the snapshot's rename.
            "compaction failed after its rename (directory fsync), covered segment left",
            vec![Phase, Fail(vec![(Call::SyncDir, Dir, 1, eio)]), Phase],
            End::Newest,
        ),
        (
            "compaction failed removing the covered segment",
            vec![
                Phase,
                Compact,
                Phase,
                Fail(vec![(Call::Remove, Segment, 0, eio)]),
                Phase,
            ],
            End::Newest,
        ),
        (
            "two compactions failed after cutting the log",
            vec![Phase, no_temp_file.clone(), Phase, no_temp_file, Phase],
            End::Newest,
        ),
        (
            "cut stopped before the seal (new segment in place, old one unsealed)",
            vec![
                Phase,
                Compact,
                Phase,
                Fail(vec![(Call::Write, Segment, 0, eio)]),
            ],
            End::BeforeNewest,
        ),
        (
            "machine halted while writing the seal (half a seal)",
            vec![
                Phase,
                Phase,
                Fail(vec![(Call::Write, Segment, 0, Action::Halt)]),
            ],
            End::BeforeNewest,
        ),
    ];
    table
        .into_iter()
        .map(|(name, steps, end)| build(name, &steps, end))
        .collect()
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
