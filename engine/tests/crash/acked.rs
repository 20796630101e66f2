//! What the child acknowledged, read from its stdout as it comes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::ChildStdout;
use std::sync::mpsc::Sender;
use std::sync::Mutex;

use crate::Id;

/// What the child acknowledged so far, read from its output as it comes.
#[derive(Default)]
pub struct Acked {
    /// Batch → version.
    pub batches: BTreeMap<Id, u64>,
    /// Checkpoints reported done: directory → version.
    pub checkpoints: BTreeMap<String, u64>,
    /// Under `never`: the batches acknowledged before a flush that returned.
    pub flushed: BTreeSet<Id>,
    /// Under `never`: the batches the last reopen after a kill found.
    pub seen: BTreeSet<Id>,
}

impl Acked {
    /// The highest version a reader must see now: that of the last batch acknowledged,
    /// under `never` of the last one that had to reach the file (flushed, or found by a
    /// reopen).
    pub fn must_see(&self, never: bool) -> u64 {
        (self.batches.iter())
            .filter(|(id, _)| !never || self.flushed.contains(id) || self.seen.contains(id))
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    }
}

/// Reads the child's stdout until the kill closes it, recording in `acked` each batch and
/// checkpoint it acknowledges and each flush that returned; sends once on `first` at the
/// first batch, and on `held` when a compaction is held.
pub fn read(stdout: ChildStdout, acked: &Mutex<Acked>, first: Sender<()>, held: Sender<()>) {
    let mut any = false;
    for line in BufReader::new(stdout).lines() {
        // A line cut by the kill was never fully acknowledged (it fails to parse).
        let Ok(line) = line else { break };
        let p: Vec<&str> = line.split(' ').collect();
        match p[..] {
            ["held", _] => {
                let _ = held.send(());
            }
            ["flushed", r, t, i] => {
                if let (Ok(r), Ok(t), Ok(i)) = (r.parse(), t.parse(), i.parse()) {
                    // Every batch of this writer up to `i` was acknowledged before.
                    let flushed = &mut acked.lock().unwrap().flushed;
                    flushed.extend((0..=i).map(|i| (r, t, i)));
                }
            }
            ["checkpoint", path, version] => {
                if let Ok(v) = version.parse() {
                    acked
                        .lock()
                        .unwrap()
                        .checkpoints
                        .insert(path.to_string(), v);
                }
            }
            [r, t, i, v] => {
                if let (Ok(r), Ok(t), Ok(i), Ok(v)) = (r.parse(), t.parse(), i.parse(), v.parse()) {
                    acked.lock().unwrap().batches.insert((r, t, i), v);
                    if !any {
                        any = true;
                        let _ = first.send(());
                    }
                }
            }
            _ => {}
        }
    }
}
