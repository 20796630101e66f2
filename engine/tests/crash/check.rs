//! The checks after a kill and beside a live writer: whole batches, a prefix of what was
//! acknowledged, the change feed, the checkpoints.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use acorn::{Error, Tree};

use crate::acked::Acked;
use crate::{Id, KEYS_PER_BATCH};

/// The batch a key belongs to.
fn id_of(key: &str) -> Id {
    let parts: Vec<&str> = key.split('-').collect();
    (
        parts[0][1..].parse().unwrap(),
        parts[1][1..].parse().unwrap(),
        parts[2].parse().unwrap(),
    )
}

/// The batches a tree holds, each checked whole and right: batch → its version. The
/// ephemeral nuts (`e-…`, a TTL of a millisecond) belong to no batch.
fn batches_in(tree: &Tree) -> Result<BTreeMap<Id, u64>, String> {
    let mut batches: BTreeMap<Id, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
    for nut in tree.iter().filter(|n| !n.key.starts_with("e-")) {
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
pub fn verify(dir: &Path, acked: &mut Acked, never: bool) -> Result<usize, String> {
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
pub fn verify_checkpoints(
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

pub fn segments_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_str().unwrap();
            name.starts_with("wal-") && name.ends_with(".log")
        })
        .count()
}

/// Checks a read-only view of the directory the child writes (opened once, refreshed
/// since): whole batches, exactly those up to its version, at least every batch
/// acknowledged before it was read (under `never`, every one that had to reach the file).
pub fn follow(
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
