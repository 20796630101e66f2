//! The point index (readers' and the writer's look-ups) against a `HashMap` model; the switch to untagged slots; a writer that
//! refuses a foreign index; records a pinned reader borrows outliving the writer; the
//! overlay that shows a whole commit at once. (Concurrent readers: tests/point_reads.rs.)

use super::*;
use crate::record::Change;
use proptest::prelude::*;
use std::collections::HashMap;

fn rec(k: &str, v: u32) -> Record {
    Record::new(k.as_bytes(), &v.to_le_bytes(), u64::from(v), 0, 0)
}

/// The tree's side of `Writer::put`'s contract, as `State` keeps it: it owns the records
/// the slots point at, and hands every one it gives up to `Writer::retire`.
#[derive(Default)]
struct Owner(HashMap<Vec<u8>, Record>);

impl Owner {
    /// Stores `rec`; whether it replaced a record, as the index says.
    fn put(&mut self, p: &Points, w: &mut Writer, rec: Record) -> bool {
        // SAFETY: `rec` goes into `self.0`, which gives records up only through `retire`.
        let replaced = unsafe { w.put(p, &rec) }.is_some();
        if let Some(old) = self.0.insert(rec.key().to_vec(), rec) {
            w.retire(old);
        }
        replaced
    }

    /// Removes `key`; whether a record was there, as the index says.
    fn remove(&mut self, p: &Points, w: &mut Writer, key: &[u8]) -> bool {
        let removed = w.remove(p, key).is_some();
        if let Some(old) = self.0.remove(key) {
            w.retire(old);
        }
        removed
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn matches_a_hashmap(
        tagged in any::<bool>(),
        ops in proptest::collection::vec((0u8..3, 0u16..400, any::<u32>()), 1..2000),
    ) {
        let (p, mut w) = new();
        let mut owner = Owner::default();
        if !tagged {
            // The fallback for addresses past 48 bits: slots without tags.
            w.rebuild(&p, MIN_CAP, false);
        }
        let mut model = HashMap::new();
        for (op, k, v) in ops {
            let key = format!("k{k}");
            let guard = crossbeam_epoch::pin();
            match op {
                0 | 1 => {
                    let replaced = owner.put(&p, &mut w, rec(&key, v));
                    prop_assert_eq!(replaced, model.insert(key.clone(), v).is_some());
                }
                _ => {
                    let removed = owner.remove(&p, &mut w, key.as_bytes());
                    prop_assert_eq!(removed, model.remove(&key).is_some());
                }
            }
            prop_assert_eq!(w.len(), model.len());
            let got = p.get(key.as_bytes(), &guard).map(|r| r.version());
            prop_assert_eq!(got, model.get(&key).map(|v| u64::from(*v)));
            // The writer's own look-up (a toss settling) agrees with the readers'.
            let hash = p.hash_of(key.as_bytes());
            let by_writer = w.get_hashed(&p, key.as_bytes(), hash).map(|r| r.version());
            prop_assert_eq!(by_writer, got);
        }
        let guard = crossbeam_epoch::pin();
        for k in 0..400u16 {
            let key = format!("k{k}");
            let got = p.get(key.as_bytes(), &guard).map(|r| r.version());
            prop_assert_eq!(got, model.get(&key).map(|v| u64::from(*v)));
            let hash = p.hash_of(key.as_bytes());
            let by_writer = w.get_hashed(&p, key.as_bytes(), hash).map(|r| r.version());
            prop_assert_eq!(by_writer, got);
        }
    }
}

proptest! {
    /// The inline key comparison agrees with `==` for every length, and for a difference
    /// at any position (first or last word, the overlap, past 32 bytes).
    #[test]
    fn same_bytes_is_equality(
        a in proptest::collection::vec(any::<u8>(), 0..40),
        at in any::<proptest::sample::Index>(),
        flip in 1u8..,
        shorter in any::<bool>(),
    ) {
        prop_assert!(same_bytes(&a, &a.clone()));
        if !a.is_empty() {
            let mut b = a.clone();
            if shorter {
                b.pop();
            } else {
                b[at.index(a.len())] ^= flip;
            }
            prop_assert!(!same_bytes(&a, &b));
        }
    }
}

#[test]
fn a_record_past_the_tag_bits_switches_the_index_to_untagged_slots_for_good() {
    let (p, mut w) = new();
    let mut owner = Owner::default();
    let guard = crossbeam_epoch::pin();
    let key = |i: u32| format!("k{i}");
    for i in 0..100 {
        owner.put(&p, &mut w, rec(&key(i), i));
    }
    assert!(p.table(&guard).tagged);
    // As if the allocator handed out an address past 48 bits (5-level paging, or an
    // allocator that tags the top byte): no room for tags.
    w.addr_bits = 12;
    owner.put(&p, &mut w, rec(&key(100), 100));
    assert!(!p.table(&guard).tagged, "switched to untagged slots");
    w.addr_bits = TAG_SHIFT;
    // Growth, tombstones and shrinking keep it untagged.
    for i in 101..3000 {
        owner.put(&p, &mut w, rec(&key(i), i));
    }
    for i in (0..3000).filter(|i| i % 10 != 0) {
        assert!(owner.remove(&p, &mut w, key(i).as_bytes()));
    }
    assert!(!p.table(&guard).tagged, "untagged for good");
    for i in 0..3000 {
        let got = p.get(key(i).as_bytes(), &guard).map(|r| r.version());
        assert_eq!(got, (i % 10 == 0).then_some(u64::from(i)), "{}", key(i));
    }
}

/// A writer's counts and its right to change slots hold for its own index only: two
/// writers on one index would race on its slots (and release a record twice).
#[test]
#[should_panic(expected = "another index's writer")]
fn a_writer_refuses_an_index_it_was_not_made_with() {
    let (p1, _w1) = new();
    let (_p2, mut w2) = new();
    Owner::default().put(&p1, &mut w2, rec("a", 1));
}

#[test]
fn dropping_the_writer_does_not_free_records_a_pinned_reader_still_borrows() {
    let guard = crossbeam_epoch::pin();
    let (p, mut w) = new();
    let mut owner = Owner::default();
    owner.put(&p, &mut w, rec("a", 1));
    let a = p.get(b"a", &guard).unwrap();
    // The overwrite parks the old record in the writer's pending batch.
    owner.put(&p, &mut w, rec("a", 2));
    drop(w);
    // Records of the same size reuse any block the drop freed.
    let others: Vec<Record> = (0..64).map(|i| rec("b", i)).collect();
    assert_eq!((a.key(), a.version()), (&b"a"[..], 1));
    drop(others);
}

#[test]
fn an_overlay_shows_a_whole_commit_before_its_slots_change() {
    let (p, mut w) = new();
    let mut owner = Owner::default();
    let guard = crossbeam_epoch::pin();
    owner.put(&p, &mut w, rec("a", 1));
    owner.put(&p, &mut w, rec("b", 1));
    let changes = vec![
        Change::Put(rec("a", 2)),
        Change::Delete(Box::from(&b"b"[..])),
        Change::Put(rec("c", 2)),
        Change::Put(rec("c", 3)),
    ];
    // SAFETY: `changes` outlives the overlay (ended below).
    unsafe { w.begin_overlay(&p, &changes) };
    // No slot has changed yet, but readers already see the whole commit.
    assert_eq!(p.get(b"a", &guard).map(|r| r.version()), Some(2));
    assert!(p.get(b"b", &guard).is_none());
    assert_eq!(
        p.get(b"c", &guard).map(|r| r.version()),
        Some(3),
        "last change wins"
    );
    w.end_overlay(&p);
    assert_eq!(p.get(b"a", &guard).map(|r| r.version()), Some(1));
    assert!(p.get(b"b", &guard).is_some());
}

/// A record a pinned reader borrowed is not handed out again (`record::recycle` reuses
/// retired records) however many records of its length are retired and collected
/// meanwhile: every new record lives elsewhere, and the borrowed one keeps its bytes.
#[test]
fn a_record_a_pinned_reader_borrows_is_not_reused() {
    let (p, mut w) = new();
    let mut owner = Owner::default();
    owner.put(&p, &mut w, rec("k", 0));
    let guard = crossbeam_epoch::pin();
    let seen = p.get(b"k", &guard).unwrap();
    let at = seen.as_ptr();
    for v in 1..2_000u32 {
        let new = rec("k", v);
        assert!(!new.is_at(at), "the borrowed record was reused at {v}");
        owner.put(&p, &mut w, new);
        // Other pins of this thread try collections (this guard holds them back).
        drop(crossbeam_epoch::pin());
    }
    assert_eq!(
        (seen.key(), seen.version(), seen.value()),
        (b"k".as_slice(), 0, 0u32.to_le_bytes().as_slice())
    );
}
