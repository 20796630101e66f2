//! Secondary index extractors that panic: on a commit, on items already stored when the
//! index is created or the tree reopened, and only on a nut a commit replaces (an impure
//! extractor).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use acorn::{NutRef, Tree};

use super::{
    assert_extractor_panicked, assert_holds, picky, quiet_deliberate_panics, runtime, within,
    Place, DELIBERATE, MODES,
};

#[test]
fn a_panicking_extractor_fails_its_commit_and_leaves_the_tree_whole() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let model = within("commits with a panicking extractor", move || {
            let mut model = BTreeMap::new();
            for (k, v) in [("a", "1"), ("b", "2"), ("gone", "3")] {
                tree.stash(k, v).unwrap();
                model.insert(k.to_string(), v.to_string());
            }
            // A stash, an overwrite, a batch and a transaction with a nut the extractor
            // panics on: each fails whole, before anything is logged or applied.
            assert_extractor_panicked(tree.stash("c", "boom"), "c");
            assert_extractor_panicked(tree.stash("a", "boom"), "a");
            let mut batch = tree.batch();
            batch.stash("d", "4").toss("b").stash("e", "boom");
            assert_extractor_panicked(batch.commit(), "e");
            let txn = tree.transaction(|tx| {
                tx.stash("f", "5")?;
                tx.stash("g", "boom")
            });
            assert_extractor_panicked(txn, "g");
            assert_holds(&tree, &model, mode);
            // The tree goes on as if nothing happened.
            assert!(tree.toss("gone").unwrap());
            model.remove("gone");
            let mut batch = tree.batch();
            batch.stash("d", "4").stash("a", "11");
            batch.commit().unwrap();
            model.insert("d".into(), "4".into());
            model.insert("a".into(), "11".into());
            tree.transaction(|tx| tx.stash("f", "5")).unwrap();
            model.insert("f".into(), "5".into());
            tree.flush().unwrap();
            assert_holds(&tree, &model, mode);
            (tree, model)
        });
        let (tree, model) = model;
        place.reopen_holds(tree, &model);
    }
}

#[test]
fn an_index_whose_extractor_panics_on_stored_items_is_refused_whole() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.builder().open().unwrap();
        tree.stash("a", "1").unwrap();
        tree.stash("bad", "boom").unwrap();
        assert_extractor_panicked(tree.index("by_value", picky), "bad");
        assert!(tree.index_names().is_empty(), "{mode:?}");
        // Replacing a working index with a panicking one keeps the working one.
        tree.index("by_value", |n: &NutRef<'_>| Some(n.value.to_vec()))
            .unwrap();
        assert_extractor_panicked(tree.index("by_value", picky), "bad");
        let hits = tree.query().index("by_value").eq("boom").count().unwrap();
        assert_eq!(hits, 1, "{mode:?}: the working index is still there");
        tree.stash("c", "3").unwrap();
        assert_eq!(tree.query().index("by_value").all().count().unwrap(), 3);
        drop(tree);
        let Some(dir) = &place.dir else { continue };
        // Rebuilding the index at open fails the open with the same error, not a panic,
        // and leaves the directory as it was: it opens without that index.
        assert_extractor_panicked(place.open_result(), "bad");
        let tree = Tree::builder().path(dir.path()).open().unwrap();
        assert_eq!(tree.len(), 3, "{mode:?}");
    }
}

/// Indexes a nut by its value the first time it sees it, and panics when asked again (an
/// impure extractor): it panics only when a commit looks up the entry of a nut it replaces.
/// It counts its panics in `panics`.
fn once_only(panics: &Arc<AtomicUsize>) -> impl Fn(&NutRef<'_>) -> Option<Vec<u8>> + Send + Sync {
    let seen = Mutex::new(HashSet::new());
    let panics = Arc::clone(panics);
    move |n: &NutRef<'_>| {
        if !seen.lock().unwrap().insert((n.key.to_string(), n.version)) {
            panics.fetch_add(1, Ordering::SeqCst);
            panic!("{DELIBERATE}: impure extractor");
        }
        Some(n.value.to_vec())
    }
}

#[test]
fn an_extractor_that_panics_on_a_replaced_nut_still_leaves_no_entry_behind() {
    // Overwrites and tosses ask the extractor again for the key of the nut they replace,
    // to find its entry; this one panics then. The commit goes ahead (it was logged, and
    // under `Always` fsynced, before it is applied), the entry is found by the record's
    // address, and no thread that applies commits (a writer, the log's sync thread) dies.
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let panics = Arc::new(AtomicUsize::new(0));
        let tree = place.open_with(once_only(&panics));
        let at = tree.to_async();
        let (tree, model) = within("replacing nuts", move || {
            let rt = runtime();
            let mut model = BTreeMap::new();
            for i in 0..20 {
                tree.stash(format!("k{i:02}"), format!("a{i}")).unwrap();
            }
            for i in 0..20 {
                let (k, v) = (format!("k{i:02}"), format!("b{i}"));
                match i % 4 {
                    0 => assert!(tree.toss(&k).unwrap()),
                    1 => {
                        let mut batch = tree.batch();
                        batch.stash(&k, &v);
                        batch.commit().unwrap();
                        model.insert(k, v);
                    }
                    2 => {
                        rt.block_on(at.stash(&k, &v)).unwrap();
                        model.insert(k, v);
                    }
                    _ => {
                        tree.stash(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                }
            }
            (tree, model)
        });
        // Each of the 20 replaced nuts was asked for again once.
        assert_eq!(panics.load(Ordering::SeqCst), 20, "{mode:?}");
        assert_holds(&tree, &model, mode);
        drop(tree);
        if place.dir.is_some() {
            let tree = place.open_with(once_only(&panics));
            assert_holds(&tree, &model, mode);
        }
    }
}

/// A panic payload whose own drop panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("{DELIBERATE}: a panic payload whose drop panics");
    }
}

/// An extractor that panics with a payload whose drop panics too, on the nut a batch
/// replaces: the second panic must not unwind out of the commit half applied (point
/// readers would follow records the unapplied changes dropped), and the tree goes on:
/// every write visible, every value the one written.
#[test]
fn a_panic_payload_that_panics_when_dropped_does_not_break_the_tree() {
    quiet_deliberate_panics();
    let armed = Arc::new(AtomicUsize::new(0));
    let tree = Tree::open_memory();
    tree.stash("a", "old").unwrap();
    let arm = Arc::clone(&armed);
    tree.index("v", move |n: &NutRef<'_>| {
        if arm.load(Ordering::Relaxed) == 1 && n.value == b"old" {
            std::panic::panic_any(Bomb);
        }
        Some(n.value.to_vec())
    })
    .unwrap();
    armed.store(1, Ordering::Relaxed);
    let mut batch = tree.batch();
    batch.stash("a", "new").stash("b", vec![7u8; 200]);
    let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| batch.commit()));
    armed.store(0, Ordering::Relaxed);
    assert!(
        matches!(committed, Ok(Ok(_))),
        "the commit unwound or failed"
    );
    // Records of the same size made elsewhere would take a freed one's place.
    let other = Tree::open_memory();
    other.stash("b", vec![9u8; 200]).unwrap();
    assert_eq!(
        tree.crack("b").unwrap().unwrap().value.as_ref(),
        &[7u8; 200][..]
    );
    tree.stash("a", "v3").unwrap();
    assert_eq!(tree.crack("a").unwrap().unwrap().value.as_ref(), b"v3");
    assert_eq!(tree.query().index("v").all().collect().unwrap().len(), 2);
}
