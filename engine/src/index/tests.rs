//! The B+tree against a `BTreeMap` model, and its invariants after every change.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Clone, Debug, PartialEq)]
struct E(Vec<u8>, u32);
impl Keyed for E {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

fn collect_back(idx: &Index<E>, end: Bound<&[u8]>) -> Vec<(Vec<u8>, u32)> {
    let mut c = idx.cursor_back(end);
    let mut out = Vec::new();
    while let Some(e) = c.peek() {
        out.push((e.0.clone(), e.1));
        c.retreat();
    }
    out
}

fn collect(idx: &Index<E>, start: Bound<&[u8]>) -> Vec<(Vec<u8>, u32)> {
    let mut c = idx.cursor(start);
    let mut out = Vec::new();
    while let Some(e) = c.peek() {
        out.push((e.0.clone(), e.1));
        c.advance();
    }
    out
}

fn check_invariants<T: Keyed>(
    node: &Node<T>,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    root: bool,
) -> usize {
    match node {
        Node::Leaf(leaf) => {
            let items = &leaf.items;
            assert!(items.len() <= MAX);
            if !T::ABBREVIATED {
                let (prefix, abbrs) = (&*leaf.keys.prefix, &leaf.keys.abbrs);
                assert_eq!(abbrs.len(), items.len(), "an abbreviation per entry");
                for (e, a) in items.iter().zip(abbrs) {
                    assert!(
                        e.key().starts_with(prefix),
                        "a key outside the leaf's prefix"
                    );
                    assert_eq!(
                        *a,
                        node::abbreviate(e.key(), prefix.len()),
                        "stale abbreviation"
                    );
                }
            }
            for w in items.windows(2) {
                assert!(w[0].key() < w[1].key(), "leaf not sorted");
            }
            for e in items {
                if let Some(lo) = lo {
                    assert!(e.key() >= lo);
                }
                if let Some(hi) = hi {
                    assert!(e.key() < hi);
                }
            }
            0
        }
        Node::Internal { seps, children } => {
            let fresh = Seps::new(seps.seps.clone());
            assert_eq!(
                seps.keys.prefix, fresh.keys.prefix,
                "stale separator prefix"
            );
            assert_eq!(
                seps.keys.abbrs, fresh.keys.abbrs,
                "stale separator abbreviations"
            );
            let seps = &seps.seps;
            assert_eq!(seps.len() + 1, children.len());
            assert!(children.len() <= MAX_INNER);
            assert!(root || children.len() >= 2);
            let mut depth = None;
            for (i, c) in children.iter().enumerate() {
                let clo = if i == 0 { lo } else { Some(&*seps[i - 1]) };
                let chi = if i == seps.len() { hi } else { Some(&*seps[i]) };
                let d = check_invariants(c, clo, chi, false);
                assert!(depth.is_none_or(|x| x == d), "unbalanced");
                depth = Some(d);
            }
            depth.unwrap_or(0) + 1
        }
    }
}

proptest! {
    /// The inline comparison of short keys agrees with `==`, equal or not, at every length
    /// and wherever the one differing byte falls.
    #[test]
    fn same_agrees_with_slice_equality(
        a in proptest::collection::vec(any::<u8>(), 0..40),
        cut in 0usize..3,
        flip in proptest::option::of((any::<usize>(), 1u8..=255)),
    ) {
        let mut b = a.clone();
        b.truncate(a.len().saturating_sub(cut));
        if let Some((at, bits)) = flip.filter(|_| !b.is_empty()) {
            let at = at % b.len();
            b[at] ^= bits;
        }
        prop_assert_eq!(super::same(&a, &b), a == b);
        prop_assert_eq!(super::same(&b, &a), a == b);
        prop_assert!(super::same(&a, &a));
    }

    /// Distinct abbreviations, every length up to four blocks and every place between
    /// them (the halving steps inside a whole block, the count over a partial last one).
    #[test]
    fn rank_finds_every_place_among_distinct_abbreviations(n in 0usize..70) {
        let abbrs: Vec<u64> = (0..n as u64).map(|i| 2 * i + 1).collect();
        for x in 0..=2 * n as u64 + 2 {
            prop_assert_eq!(node::rank(&abbrs, x), abbrs.partition_point(|a| *a < x));
        }
    }

    #[test]
    fn rank_counts_what_a_binary_search_finds(
        mut abbrs in proptest::collection::vec(0u64..40, 0..300),
        x in 0u64..42,
    ) {
        abbrs.sort_unstable();
        prop_assert_eq!(node::rank(&abbrs, x), abbrs.partition_point(|a| *a < x));
    }

    /// The word-at-a-time abbreviation is the 8 bytes after `skip`, zero-padded, for every
    /// length of key and of tail (shorter than 8, exactly 8, none, a key under 8 bytes).
    #[test]
    fn an_abbreviation_is_the_next_eight_bytes_zero_padded(
        key in proptest::collection::vec(any::<u8>(), 0..24),
        skip in 0usize..26,
    ) {
        let mut w = [0u8; 8];
        let tail = key.get(skip..).unwrap_or_default();
        let n = tail.len().min(8);
        w[..n].copy_from_slice(&tail[..n]);
        prop_assert_eq!(node::abbreviate(&key, skip), u64::from_be_bytes(w));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_btreemap(ops in proptest::collection::vec((any::<bool>(), 0u16..600, any::<u32>()), 1..3000)) {
        let mut idx = Index::<E>::default();
        let mut model = BTreeMap::new();
        type Snapshot = (Index<E>, BTreeMap<Vec<u8>, u32>);
        let mut snapshot: Option<Snapshot> = None;
        for (n, (put, k, v)) in ops.into_iter().enumerate() {
            let key = format!("k{k:05}").into_bytes();
            if put {
                let old = idx.insert(E(key.clone(), v)).map(|e| e.1);
                prop_assert_eq!(old, model.insert(key, v));
            } else {
                let old = idx.remove(&key).map(|e| e.1);
                prop_assert_eq!(old, model.remove(&key));
            }
            prop_assert_eq!(idx.len(), model.len());
            if n % 500 == 0 {
                snapshot = Some((idx.clone(), model.clone()));
            }
        }
        check_invariants(&idx.root, None, None, true);
        let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(collect(&idx, Bound::Unbounded), all.clone());
        let mid = b"k00300".as_slice();
        let from: Vec<_> = model.range(mid.to_vec()..).map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(collect(&idx, Bound::Included(mid)), from);
        let after: Vec<_> = model.range((Bound::Excluded(mid.to_vec()), Bound::Unbounded)).map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(collect(&idx, Bound::Excluded(mid)), after);
        // Backwards from every kind of end bound.
        let rev = |it: Vec<(Vec<u8>, u32)>| it.into_iter().rev().collect::<Vec<_>>();
        prop_assert_eq!(collect_back(&idx, Bound::Unbounded), rev(all.clone()));
        let upto: Vec<_> = model.range(..=mid.to_vec()).map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(collect_back(&idx, Bound::Included(mid)), rev(upto));
        let below: Vec<_> = model.range(..mid.to_vec()).map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(collect_back(&idx, Bound::Excluded(mid)), rev(below));
        // A snapshot taken earlier is unaffected by later writes.
        if let Some((snap, snap_model)) = snapshot {
            let expect: Vec<_> = snap_model.iter().map(|(k, v)| (k.clone(), *v)).collect();
            prop_assert_eq!(collect(&snap, Bound::Unbounded), expect);
        }
    }
}

/// Keys alike for long runs, keys that are prefixes of others, zero bytes (an abbreviation
/// pads with zeros), all lengths up to 24: a leaf's prefix is shortened by inserts and
/// merges (its abbreviations rebased without reading keys) and set again at splits.
fn tricky_key(shape: u8, n: u16) -> Vec<u8> {
    let digits = format!("{n:04}").into_bytes();
    match shape % 5 {
        0 => digits,
        1 => [b"tenant/a/users/0000".as_slice(), &digits].concat(),
        2 => [b"tenant/a/".as_slice(), &digits[..(n % 5) as usize]].concat(),
        3 => [
            &[0u8; 3][..(n % 4) as usize],
            &digits[2..],
            &[0u8][..(n % 2) as usize],
        ]
        .concat(),
        _ => digits
            .iter()
            .map(|d| d % 3)
            .take((n % 24) as usize)
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn leaf_abbreviations_follow_every_change_of_keys_alike(
        ops in proptest::collection::vec((0u8..3, any::<u8>(), 0u16..400, any::<u32>()), 1..3000)
    ) {
        let mut idx = Index::<E>::default();
        let mut model = BTreeMap::new();
        for (op, shape, n, v) in ops {
            let key = tricky_key(shape, n);
            if op < 2 {
                let old = idx.insert(E(key.clone(), v)).map(|e| e.1);
                prop_assert_eq!(old, model.insert(key.clone(), v));
            } else {
                let old = idx.remove(&key).map(|e| e.1);
                prop_assert_eq!(old, model.remove(&key));
            }
            prop_assert_eq!(idx.get(&key).map(|e| e.1), model.get(&key).copied());
        }
        check_invariants(&idx.root, None, None, true);
        let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(collect(&idx, Bound::Unbounded), all);
        for (k, v) in &model {
            prop_assert_eq!(idx.get(k).map(|e| e.1), Some(*v));
            let from: Vec<_> = model.range(k.clone()..).map(|(k, v)| (k.clone(), *v)).collect();
            prop_assert_eq!(collect(&idx, Bound::Included(k)), from);
        }
    }

    #[test]
    fn rebasing_an_abbreviation_is_abbreviating_earlier(
        key in proptest::collection::vec(0u8..3, 0..24),
        skip in 0usize..24,
        back in 0usize..24,
    ) {
        let skip = skip.min(key.len());
        let to = skip.saturating_sub(back);
        let a = node::abbreviate(&key, skip);
        prop_assert_eq!(node::rebase(a, &key[to..skip]), node::abbreviate(&key, to));
    }
}

#[test]
fn wide_internal_nodes_split_and_merge() {
    // Enough keys for internal nodes to overflow (40k / 64 per leaf > 256 children),
    // inserted and removed in scrambled order, checked against a BTreeMap throughout.
    let mut idx = Index::<E>::default();
    let mut model = BTreeMap::new();
    let n = 40_000u32;
    let scrambled = |i: u32| ((u64::from(i) * 7_919 % u64::from(n)) as u32, i);
    for i in 0..n {
        let (k, v) = scrambled(i);
        let key = format!("k{k:06}").into_bytes();
        assert_eq!(
            idx.insert(E(key.clone(), v)).map(|e| e.1),
            model.insert(key, v)
        );
    }
    check_invariants(&idx.root, None, None, true);
    assert!(
        matches!(&*idx.root, Node::Internal { children, .. } if children.iter().all(|c| matches!(&**c, Node::Internal { .. })))
    );
    let snapshot = idx.clone();
    for i in 0..n * 3 / 4 {
        let key = format!("k{:06}", scrambled(i).0).into_bytes();
        assert_eq!(idx.remove(&key).map(|e| e.1), model.remove(&key));
        if i % 10_000 == 0 {
            check_invariants(&idx.root, None, None, true);
        }
    }
    check_invariants(&idx.root, None, None, true);
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(collect(&idx, Bound::Unbounded), all);
    assert_eq!(collect(&snapshot, Bound::Unbounded).len(), n as usize);
}

#[test]
fn sequential_load_packs_leaves() {
    let mut idx = Index::<E>::default();
    for i in 0..10_000u32 {
        idx.insert(E(format!("key-{i:08}").into_bytes(), i));
    }
    let leaves = count_leaves(&idx.root);
    // Full leaves hold MAX entries; allow the last one per level to be partial.
    assert!(
        leaves <= 10_000 / MAX + 2,
        "{leaves} leaves for 10k sequential keys"
    );
}

fn count_leaves(n: &Node<E>) -> usize {
    match n {
        Node::Leaf(_) => 1,
        Node::Internal { children, .. } => children.iter().map(|c| count_leaves(c)).sum(),
    }
}

#[test]
fn deleting_everything_collapses_to_empty_leaf() {
    let mut idx = Index::<E>::default();
    for i in 0..5000u32 {
        idx.insert(E(format!("{i:06}").into_bytes(), i));
    }
    for i in (0..5000u32).rev() {
        assert!(idx.remove(format!("{i:06}").as_bytes()).is_some());
    }
    assert_eq!(idx.len(), 0);
    assert!(matches!(&*idx.root, Node::Leaf(v) if v.items.is_empty()));
}

/// An entry abbreviated by its key's first 8 bytes, as index entries are.
#[derive(Clone, Debug, PartialEq)]
struct A(Vec<u8>, u32);
impl Keyed for A {
    fn key(&self) -> &[u8] {
        &self.0
    }
    const ABBREVIATED: bool = true;
    fn abbr(&self) -> u64 {
        Self::abbreviate_key(&self.0)
    }
    fn abbreviate_key(key: &[u8]) -> u64 {
        node::abbreviate(key, 0)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// `upsert` against a `BTreeMap`: it changes in place the entry it is told is the old
    /// one, puts the new one in otherwise (over another entry under the key, if any), in
    /// leaves whose entries all tie on their abbreviations (half the keys share their first
    /// 8 bytes) as in the others, through splits, removals and snapshots.
    #[test]
    fn upsert_matches_btreemap(ops in proptest::collection::vec((0u8..3, 0u16..600, any::<u32>()), 1..3000)) {
        let mut idx = Index::<A>::default();
        let mut model = BTreeMap::new();
        let mut snapshot = None;
        for (n, (op, k, v)) in ops.into_iter().enumerate() {
            let key = if k % 2 == 0 { format!("tiedtied{k:05}") } else { format!("k{k:05}") };
            let key = key.into_bytes();
            if op == 0 {
                let old = idx.remove(&key).map(|e| e.1);
                prop_assert_eq!(old, model.remove(&key));
                continue;
            }
            // op 1: the caller knows the current entry (by its value); op 2: it does not.
            let current = model.get(&key).copied();
            let is_old = (op == 1).then_some(move |e: &A| Some(e.1) == current);
            let put = idx.upsert(&key, is_old, |e| std::mem::replace(&mut e.1, v), || A(key.clone(), v));
            match (put, current) {
                (Upserted::Found(was), Some(c)) => prop_assert!(op == 1 && was == c),
                (Upserted::Replaced(e), Some(c)) => prop_assert!(op == 2 && e == A(key.clone(), c)),
                (Upserted::Inserted, None) => {}
                (put, current) => prop_assert!(false, "{put:?} over {current:?}"),
            }
            model.insert(key, v);
            prop_assert_eq!(idx.len(), model.len());
            if n % 500 == 0 {
                snapshot = Some((idx.clone(), model.clone()));
            }
        }
        check_invariants(&idx.root, None, None, true);
        let all: Vec<_> = model.iter().map(|(k, v)| A(k.clone(), *v)).collect();
        let mut c = idx.cursor(Bound::Unbounded);
        let mut got = Vec::new();
        while let Some(e) = c.peek() {
            got.push(e.clone());
            c.advance();
        }
        prop_assert_eq!(got, all);
        if let Some((snap, snap_model)) = snapshot {
            let mut c = snap.cursor(Bound::Unbounded);
            let mut got = Vec::new();
            while let Some(e) = c.peek() {
                got.push((e.0.clone(), e.1));
                c.advance();
            }
            prop_assert_eq!(got, snap_model.into_iter().collect::<Vec<_>>());
        }
    }
}
