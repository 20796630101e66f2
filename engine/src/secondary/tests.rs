//! Composite keys order by index key, then primary key (escaping included); `IndexKey`'s
//! encodings keep numeric order. (Indexes through the tree: tests/indexes.rs.)

use super::key::{abbreviation, has_zero};
use super::*;

#[test]
fn composite_keys_sort_by_index_key_then_primary_key() {
    let ikeys: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"\0a", b"a", b"a\0", b"ab"];
    let pkeys: [&[u8]; 3] = [b"a", b"b", b"\xff"];
    let mut pairs = Vec::new();
    for i in ikeys {
        for p in pkeys {
            let mut c = Vec::new();
            composite(&mut c, i, p);
            pairs.push(((i, p), c));
        }
    }
    let mut by_pair = pairs.clone();
    by_pair.sort_by(|a, b| a.0.cmp(&b.0));
    let mut by_composite = pairs.clone();
    by_composite.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(by_pair, by_composite);
    for (_, a) in &pairs {
        for (_, b) in &pairs {
            let (x, y) = (abbreviation(a), abbreviation(b));
            assert!(x == y || (x < y) == (a < b), "{a:?} {b:?}");
        }
    }
    // Bounds select exactly the entries whose index key is in range.
    for lo in ikeys {
        for hi in ikeys {
            for (s, e) in [
                (Bound::Included(lo), Bound::Included(hi)),
                (Bound::Excluded(lo), Bound::Excluded(hi)),
                (Bound::Included(lo), Bound::Excluded(hi)),
                (Bound::Excluded(lo), Bound::Included(hi)),
            ] {
                let (cs, ce) = bounds(s, e);
                for ((i, _), c) in &pairs {
                    let want = after_start(i, s) && before_end(i, e);
                    let got = after_start(c, cs.as_ref().map(|b| &**b))
                        && before_end(c, ce.as_ref().map(|b| &**b));
                    assert_eq!(got, want, "{i:?} in {s:?}..{e:?}");
                }
            }
        }
    }
}

proptest::proptest! {
    /// The composite key, however it is built (short keys by fixed-size copies), is the
    /// escaped index key, the terminator and the primary key, appended to what `out` held.
    #[test]
    fn a_composite_key_is_the_escaped_index_key_a_terminator_and_the_primary_key(
        ikey in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), proptest::prelude::any::<u8>()], 0..36),
        pkey in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        held in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3),
    ) {
        let mut want = held.clone();
        for &b in &ikey {
            want.push(b);
            if b == 0 {
                want.push(0xFF);
            }
        }
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&pkey);
        let mut got = held;
        composite(&mut got, &ikey, &pkey);
        proptest::prop_assert_eq!(got, want);
    }

    /// The word-at-a-time zero test agrees with a byte scan, at every length and place.
    #[test]
    fn has_zero_finds_any_zero_byte(
        bytes in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), proptest::strategy::Just(1u8), proptest::strategy::Just(0x80u8), proptest::prelude::any::<u8>()], 0..40),
    ) {
        proptest::prop_assert_eq!(has_zero(&bytes), bytes.contains(&0));
    }

    /// The word-at-a-time abbreviation is the index key's first 8 bytes (unescaped),
    /// zero-padded, whatever zero bytes the index key holds and wherever they fall.
    #[test]
    fn an_abbreviation_is_the_index_keys_first_eight_bytes(
        ikey in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), proptest::prelude::any::<u8>()], 0..12),
        pkey in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
    ) {
        let mut c = Vec::new();
        composite(&mut c, &ikey, &pkey);
        let mut w = [0u8; 8];
        let n = ikey.len().min(8);
        w[..n].copy_from_slice(&ikey[..n]);
        proptest::prop_assert_eq!(abbreviation(&c), u64::from_be_bytes(w));
    }
}

#[test]
fn index_key_encodings_keep_numeric_order() {
    let ints = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
    assert!(ints
        .windows(2)
        .all(|w| IndexKey::i64(w[0]) < IndexKey::i64(w[1])));
    let floats = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-9, 3.0, f64::INFINITY];
    assert!(floats
        .windows(2)
        .all(|w| IndexKey::f64(w[0]) < IndexKey::f64(w[1])));
    assert!(IndexKey::u64(9) < IndexKey::u64(10));
}

/// One index, on the first byte of the value.
fn on_first_byte() -> Indexes {
    let first_byte: Extract = Arc::new(|n: &NutRef<'_>, out: &mut Vec<u8>| {
        out.extend_from_slice(n.value.get(..1).unwrap_or_default());
        true
    });
    let mut ix = Indexes::default();
    ix.add("i", first_byte, std::iter::empty()).unwrap();
    ix
}

/// The record of nut `k` with `value` at `version`.
fn nut(value: &[u8], version: u64) -> Record {
    Record::new(b"k", value, version, 0, 0)
}

/// The one entry of `entries` (the tests below index a single nut), cloned: drop it
/// before the next write, or the entry is shared.
fn only_entry(entries: &Index<Entry>) -> Entry {
    let mut cursor = entries.cursor(Bound::Unbounded);
    let entry = cursor.peek().expect("one entry").clone();
    cursor.advance();
    assert!(cursor.peek().is_none(), "exactly one entry");
    entry
}

#[test]
fn an_unchanged_index_key_repoints_its_entry_in_place_and_a_snapshot_keeps_its_record() {
    let mut ix = on_first_byte();
    let (r1, r2, r3) = (nut(b"a1", 1), nut(b"a2", 2), nut(b"a3", 3));
    ix.put(None, &r1, None);
    let key_at = |ix: &Indexes| only_entry(&ix.list[0].entries).key().as_ptr();
    let before = key_at(&ix);

    // Unshared: the same entry (same allocation) now holds the new record.
    ix.put(Some(&r1), &r2, None);
    assert!(only_entry(&ix.list[0].entries).record().is_at(r2.as_ptr()));
    assert_eq!(key_at(&ix), before, "repointed in place, not rebuilt");

    // A snapshot (what a query holds) keeps seeing the record it was taken with.
    let snapshot = ix.list[0].entries.clone();
    ix.put(Some(&r2), &r3, None);
    assert!(only_entry(&ix.list[0].entries).record().is_at(r3.as_ptr()));
    let seen = only_entry(&snapshot);
    assert!(
        seen.record().is_at(r2.as_ptr()),
        "a snapshot saw a later write"
    );
    assert_eq!(seen.record().value(), b"a2");
}

#[test]
fn a_moved_index_key_reuses_the_last_entry_removed_unless_a_snapshot_shares_it() {
    let mut ix = on_first_byte();
    let (r1, r2, r3, r4) = (nut(b"a1", 1), nut(b"b2", 2), nut(b"c3", 3), nut(b"d4", 4));
    let composite_of = |ikey: &[u8]| {
        let mut c = Vec::new();
        composite(&mut c, ikey, b"k");
        c
    };
    let key_at = |ix: &Indexes| only_entry(&ix.list[0].entries).key().as_ptr();
    ix.put(None, &r1, None);
    let first = key_at(&ix);

    // Unshared: the old entry, taken out after the new one went in, is kept for the next
    // moved key, which gets it back under its own key.
    ix.put(Some(&r1), &r2, None);
    let entry = only_entry(&ix.list[0].entries);
    assert!(entry.record().is_at(r2.as_ptr()));
    assert_eq!(entry.key(), composite_of(b"b"));
    drop(entry);
    ix.put(Some(&r2), &r3, None);
    let entry = only_entry(&ix.list[0].entries);
    assert!(entry.record().is_at(r3.as_ptr()));
    assert_eq!(entry.key(), composite_of(b"c"));
    assert_eq!(entry.abbr(), abbreviation(&composite_of(b"c")));
    assert_eq!(entry.key().as_ptr(), first, "the removed allocation reused");
    drop(entry);

    // Shared with a snapshot: the removed entry stays the snapshot's, unchanged.
    let snapshot = ix.list[0].entries.clone();
    ix.put(Some(&r3), &r4, None);
    let entry = only_entry(&ix.list[0].entries);
    assert!(entry.record().is_at(r4.as_ptr()));
    assert_eq!(entry.key(), composite_of(b"d"));
    let seen = only_entry(&snapshot);
    assert!(
        seen.record().is_at(r3.as_ptr()),
        "a snapshot saw a later write"
    );
    assert_eq!(seen.key(), composite_of(b"c"));
    assert_eq!(
        seen.key().as_ptr(),
        first,
        "the snapshot's entry was not reused"
    );
}

/// One index whose key is whatever `cell` holds when the extractor runs: an extractor that
/// is not a pure function of the nut, for the paths that must not trust it.
fn on_cell(cell: &Arc<std::sync::Mutex<Vec<u8>>>) -> Indexes {
    let cell = Arc::clone(cell);
    let impure: Extract = Arc::new(move |_: &NutRef<'_>, out: &mut Vec<u8>| {
        out.extend_from_slice(&cell.lock().unwrap());
        true
    });
    let mut ix = Indexes::default();
    ix.add("i", impure, std::iter::empty()).unwrap();
    ix
}

/// Every entry of `entries`: (composite key, the record's value, the key's address).
fn all_entries(entries: &Index<Entry>) -> Vec<(Vec<u8>, Vec<u8>, usize)> {
    let mut cursor = entries.cursor(Bound::Unbounded);
    let mut out = Vec::new();
    while let Some(e) = cursor.peek() {
        out.push((
            e.key().to_vec(),
            e.record().value().to_vec(),
            e.key().as_ptr() as usize,
        ));
        cursor.advance();
    }
    out
}

fn composite_of(ikey: &[u8], pkey: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    composite(&mut c, ikey, pkey);
    c
}

#[test]
fn a_kept_index_key_repoints_the_overwritten_nuts_entry_among_many_tied_ones() {
    // Five nuts under one index key share a leaf and tie on their abbreviations: the
    // overwritten nut's entry is the one found (by the old record's address), repointed in
    // place, and no other entry changes.
    let mut ix = on_first_byte();
    let recs: Vec<Record> = (0..5u8)
        .map(|i| Record::new(&[b'k', b'0' + i], b"a0", 1, 0, 0))
        .collect();
    for r in &recs {
        ix.put(None, r, None);
    }
    let before = all_entries(&ix.list[0].entries);
    let new = Record::new(b"k3", b"a9", 2, 0, 0);
    ix.put(Some(&recs[3]), &new, None);
    let after = all_entries(&ix.list[0].entries);
    assert_eq!(after.len(), 5);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(a.0, b.0, "entry {i} keeps its key");
        assert_eq!(a.2, b.2, "entry {i} keeps its allocation");
        let want: &[u8] = if i == 3 { b"a9" } else { b"a0" };
        assert_eq!(a.1, want, "entry {i}");
    }
}

#[test]
fn an_impure_extractor_that_reports_the_new_key_for_the_old_nut_still_moves_its_entry() {
    // Nut `k` is indexed under "a"; then the extractor says "b" for both the old record and
    // the new one. The kept-key path finds no entry of the old record under "b" (it is
    // under "a"), so the entry must move: not be repointed where it stands, under "a".
    let cell = Arc::new(std::sync::Mutex::new(b"a".to_vec()));
    let mut ix = on_cell(&cell);
    let (r1, r2) = (nut(b"v1", 1), nut(b"v2", 2));
    ix.put(None, &r1, None);
    *cell.lock().unwrap() = b"b".to_vec();
    ix.put(Some(&r1), &r2, None);
    let entries = all_entries(&ix.list[0].entries);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].0, composite_of(b"b", b"k"));
    assert_eq!(entries[0].1, b"v2");
}

#[test]
fn a_removed_entry_is_noted_under_the_key_it_was_indexed_under() {
    // The query cache drops results by the composite keys a commit touched: an entry taken
    // out is noted under its own key, even when the extractor now says another.
    let cell = Arc::new(std::sync::Mutex::new(b"a".to_vec()));
    let mut ix = on_cell(&cell);
    let r1 = nut(b"v1", 1);
    ix.put(None, &r1, None);
    ix.touched = Some(vec![Touched::default()]);
    *cell.lock().unwrap() = b"b".to_vec();
    ix.delete(&r1);
    assert_eq!(ix.list[0].entries.len(), 0, "the entry is gone");
    let t = &ix.touched.as_ref().unwrap()[0];
    assert_eq!(t.min.as_deref(), Some(&*composite_of(b"a", b"k")));
    assert_eq!(t.max.as_deref(), Some(&*composite_of(b"a", b"k")));
}

#[test]
fn a_panic_in_a_commits_extraction_names_the_index_and_the_nut_it_ran_on() {
    // Two indexes, three changes (a delete among them): the second index panics on the
    // third change's nut only, and the error names that index and that nut.
    let fine: Extract = Arc::new(|n: &NutRef<'_>, out: &mut Vec<u8>| {
        out.extend_from_slice(n.value);
        true
    });
    let picky: Extract = Arc::new(|n: &NutRef<'_>, out: &mut Vec<u8>| {
        assert!(n.value != b"boom", "no boom");
        out.extend_from_slice(n.value);
        true
    });
    let mut ix = Indexes::default();
    ix.add("fine", fine, std::iter::empty()).unwrap();
    ix.add("picky", picky, std::iter::empty()).unwrap();
    let changes = [
        Change::Put(Record::new(b"a", b"1", 1, 0, 0)),
        Change::Delete(Box::from(&b"b"[..])),
        Change::Put(Record::new(b"c", b"boom", 1, 0, 0)),
    ];
    let mut spare = None;
    match ix.extract(&changes, &mut spare) {
        Err(Error::ExtractorPanicked {
            index,
            key,
            message,
        }) => {
            assert_eq!((index.as_str(), key.as_str()), ("picky", "c"));
            assert!(message.contains("no boom"), "{message}");
        }
        other => panic!("expected ExtractorPanicked, got {other:?}"),
    }
    // The failed extraction's buffers are kept for the next, which starts them afresh.
    assert!(spare.is_some(), "buffers kept");
    // Without the panic, each change's keys are found by index place.
    let out = ix.extract(&changes[..2], &mut spare).unwrap();
    let generation = ix.generation;
    assert_eq!(out.change(0).new_key(generation, 1), Some(Some(&b"1"[..])));
    assert_eq!(out.change(1).new_key(generation, 0), Some(None));
    assert_eq!(
        out.change(0).new_key(generation + 1, 0),
        None,
        "another list"
    );
}

#[test]
fn the_held_keys_follow_every_entry_in_and_out_even_for_an_impure_extractor() {
    // The extractor gives whatever `cell` holds, or no key. After each put or delete the
    // index must hold an entry of a nut exactly when `Held` may hold its key (a miss would
    // skip the walk that removes an entry an impure extractor no longer admits to), and a
    // nut the extractor gives no key keeps no entry once overwritten or deleted.
    let cell: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Arc::new(std::sync::Mutex::new(None));
    let shared = Arc::clone(&cell);
    let impure: Extract =
        Arc::new(
            move |_: &NutRef<'_>, out: &mut Vec<u8>| match &*shared.lock().unwrap() {
                Some(k) => {
                    out.extend_from_slice(k);
                    true
                }
                None => false,
            },
        );
    let mut ix = Indexes::default();
    ix.add("i", impure, std::iter::empty()).unwrap();
    let check = |ix: &Indexes, step: &str| {
        for pkey in [&b"k1"[..], b"k2"] {
            let has = all_entries(&ix.list[0].entries)
                .iter()
                .any(|(c, _, _)| c.ends_with(pkey));
            assert_eq!(ix.list[0].held.may_hold(pkey), has, "{step}: {pkey:?}");
        }
    };
    let set = |k: Option<&[u8]>| *cell.lock().unwrap() = k.map(<[u8]>::to_vec);
    let rec = |k: &[u8], v: u64| Record::new(k, &v.to_le_bytes(), v, 0, 0);
    let (a1, a2, a3, a4) = (rec(b"k1", 1), rec(b"k1", 2), rec(b"k1", 3), rec(b"k1", 4));
    let (b1, b2) = (rec(b"k2", 1), rec(b"k2", 2));
    set(Some(b"x"));
    ix.put(None, &a1, None);
    ix.put(None, &b1, None);
    check(&ix, "both indexed");
    set(None);
    ix.put(Some(&a1), &a2, None);
    check(
        &ix,
        "k1 overwritten, no key now: its old entry found by the walk",
    );
    assert_eq!(ix.list[0].entries.len(), 1);
    ix.put(Some(&a2), &a3, None);
    check(&ix, "k1 overwritten again, never indexed since: no walk");
    set(Some(b"y"));
    ix.put(Some(&a3), &a4, None);
    check(&ix, "k1 indexed again");
    set(Some(b"z"));
    ix.put(Some(&b1), &b2, None);
    check(&ix, "k2's key moved");
    set(None);
    ix.delete(&b2);
    ix.delete(&a4);
    check(&ix, "both deleted while the extractor gives no key");
    assert_eq!(ix.list[0].entries.len(), 0, "no entry outlives its nut");
}
