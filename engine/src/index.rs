//! The ordered in-memory index: a copy-on-write B+tree.
//!
//! Nodes live behind `Arc`. A writer mutates through [`Arc::make_mut`], so when no
//! snapshot shares a node the write happens in place (no copy, no allocation beyond the
//! entry itself); when a snapshot (an iterator or a query) still holds the old root, only
//! the nodes on the written path are copied, and copying a node clones `Arc`s, never entries.
//! A snapshot is therefore one `Arc` clone of the root, and a scan never holds a lock.
//!
//! Entries are generic over [`Keyed`] so the structure can be tested with plain types;
//! the engine stores [`crate::record::Record`]s.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

/// A node split off on overflow, with the smallest key it may hold.
type Split<T> = (Arc<[u8]>, Node<T>);

/// Maximum entries per leaf.
const MAX: usize = 64;
/// Maximum children per internal node: wide, so the tree is shallow (two levels above the
/// leaves hold 4M items) and a write descends through fewer nodes. A node below a quarter
/// of its maximum is merged with or refilled from a sibling.
const MAX_INNER: usize = 256;

/// An entry ordered by its key bytes.
pub(crate) trait Keyed: Clone {
    fn key(&self) -> &[u8];

    /// Whether entries carry an abbreviation of their key in the leaf slot itself, so a
    /// leaf search compares those and reaches a key (a cache miss) only on a tie.
    const ABBREVIATED: bool = false;

    /// This entry's abbreviation (with `ABBREVIATED`): if `abbr(a) < abbr(b)` then the
    /// keys compare the same way.
    fn abbr(&self) -> u64 {
        0
    }

    /// The abbreviation of any key, consistent with [`Keyed::abbr`].
    fn abbreviate_key(_key: &[u8]) -> u64 {
        0
    }
}

/// Binary search of a sorted run of entries for `key`.
fn find<T: Keyed>(items: &[T], key: &[u8]) -> Result<usize, usize> {
    if T::ABBREVIATED {
        let a = T::abbreviate_key(key);
        items.binary_search_by(|e| e.abbr().cmp(&a).then_with(|| e.key().cmp(key)))
    } else {
        items.binary_search_by(|e| e.key().cmp(key))
    }
}

/// Abbreviated keys of a sorted run, so a search binary-searches one small contiguous
/// array and dereferences a key only on a tie.
///
/// All keys in a sorted run share the common prefix of its first and last key; `abbrs[i]`
/// holds the 8 bytes of key `i` after that prefix, big-endian, zero-padded. If
/// `abbr(a) < abbr(b)` then `a < b`; equal abbreviations fall back to a full comparison.
#[derive(Clone, Debug, Default)]
struct Abbrevs {
    prefix: Box<[u8]>,
    abbrs: Vec<u64>,
}

fn abbreviate(key: &[u8], skip: usize) -> u64 {
    let mut w = [0u8; 8];
    let tail = key.get(skip..).unwrap_or_default();
    let n = tail.len().min(8);
    w[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(w)
}

/// Makes room for one more element: grows by half (never past a full node plus the one
/// extra a split needs) instead of doubling, so nodes do not carry twice their capacity.
fn grow<T>(v: &mut Vec<T>, max: usize) {
    if v.len() == v.capacity() {
        let target = (v.len() + v.len() / 2).clamp(4, max + 1).max(v.len() + 1);
        v.reserve_exact(target - v.len());
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Abbrevs {
    /// Recomputes the prefix, and every abbreviation when it changed (or `all`).
    fn refresh<'a>(&mut self, keys: impl ExactSizeIterator<Item = &'a [u8]> + Clone, all: bool) {
        let n = keys.len();
        let first = keys.clone().next();
        let last = keys.clone().last();
        let len = match (first, last) {
            (Some(a), Some(b)) => common_prefix(a, b),
            _ => 0,
        };
        if all || len != self.prefix.len() || n == 0 {
            self.prefix = first.map_or_else(Box::default, |f| f[..len].into());
            self.abbrs.clear();
            self.abbrs.extend(keys.map(|k| abbreviate(k, len)));
        }
    }

    /// Like `binary_search_by` over the keys; `key_at(i)` reads key `i` on a tie.
    fn search<'a>(&self, key: &[u8], key_at: impl Fn(usize) -> &'a [u8]) -> Result<usize, usize> {
        let p = &*self.prefix;
        let head = &key[..key.len().min(p.len())];
        match head.cmp(p) {
            Ordering::Less => return Err(0),
            Ordering::Greater => return Err(self.abbrs.len()),
            Ordering::Equal if key.len() < p.len() => return Err(0),
            Ordering::Equal => {}
        }
        let abbr = abbreviate(key, p.len());
        let mut i = self.abbrs.partition_point(|a| *a < abbr);
        // Equal abbreviations are rare (keys alike for 8 bytes past the prefix): walk them.
        while self.abbrs.get(i) == Some(&abbr) {
            match key_at(i).cmp(key) {
                Ordering::Less => i += 1,
                Ordering::Greater => return Err(i),
                Ordering::Equal => return Ok(i),
            }
        }
        Err(i)
    }

    /// Records an insertion at `i`; the caller refreshes when `i` was an edge.
    fn insert(&mut self, i: usize, key: &[u8]) {
        grow(&mut self.abbrs, MAX_INNER);
        self.abbrs.insert(i, abbreviate(key, self.prefix.len()));
    }
}

/// A leaf: entries in key order. Leaves keep no abbreviations: point reads go through the
/// hash index beside this tree ([`crate::points`]), so a leaf search (writes, the start of
/// a scan) compares keys in the records directly, and the 8 bytes per item pay for the
/// hash index instead.
#[derive(Clone, Debug)]
struct Leaf<T> {
    items: Vec<T>,
}

impl<T: Keyed> Leaf<T> {
    fn from_items(items: Vec<T>) -> Self {
        Leaf { items }
    }

    fn search(&self, key: &[u8]) -> Result<usize, usize> {
        find(&self.items, key)
    }

    fn insert_at(&mut self, i: usize, item: T) {
        grow(&mut self.items, MAX);
        self.items.insert(i, item);
    }

    fn remove_at(&mut self, i: usize) -> T {
        self.items.remove(i)
    }
}

/// Separators of an internal node with their abbreviations.
#[derive(Clone, Debug, Default)]
struct Seps {
    keys: Abbrevs,
    seps: Vec<Arc<[u8]>>,
}

impl Seps {
    fn new(seps: Vec<Arc<[u8]>>) -> Self {
        let mut s = Seps {
            keys: Abbrevs::default(),
            seps,
        };
        s.refresh(true);
        s
    }

    fn refresh(&mut self, all: bool) {
        self.keys.refresh(self.seps.iter().map(|s| &**s), all);
    }

    /// Index of the child that may hold `key`: how many separators are `<= key`.
    fn child_index(&self, key: &[u8]) -> usize {
        match self.keys.search(key, |i| &self.seps[i]) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn insert(&mut self, i: usize, sep: Arc<[u8]>) {
        let edge = i == 0 || i == self.seps.len();
        self.keys.insert(i, &sep);
        self.seps.insert(i, sep);
        if edge {
            self.refresh(false);
        }
    }

    fn remove(&mut self, i: usize) -> Arc<[u8]> {
        let sep = self.seps.remove(i);
        self.keys.abbrs.remove(i);
        if i == 0 || i == self.seps.len() {
            self.refresh(false);
        }
        sep
    }

    /// Splits off separators from `at`; returns (the separator at `at - 1`, the rest).
    fn split(&mut self, at: usize) -> (Option<Arc<[u8]>>, Seps) {
        let right = Seps::new(self.seps.split_off(at));
        let promoted = self.seps.pop();
        self.refresh(true);
        (promoted, right)
    }

    fn append(&mut self, sep: Arc<[u8]>, other: Seps) {
        self.seps.push(sep);
        self.seps.extend(other.seps);
        self.refresh(true);
    }
}

#[derive(Clone, Debug)]
enum Node<T> {
    Leaf(Leaf<T>),
    /// `seps[i]` is the smallest key that may live in `children[i + 1]`.
    Internal {
        seps: Seps,
        children: Vec<Arc<Node<T>>>,
    },
}

impl<T: Keyed> Node<T> {
    fn max(&self) -> usize {
        match self {
            Node::Leaf(_) => MAX,
            Node::Internal { .. } => MAX_INNER,
        }
    }

    fn len(&self) -> usize {
        match self {
            Node::Leaf(leaf) => leaf.items.len(),
            Node::Internal { children, .. } => children.len(),
        }
    }

    /// Appends `other` (the right sibling) to `self`; `sep` separates them.
    fn absorb(&mut self, sep: Arc<[u8]>, other: Node<T>) {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => a.items.extend(b.items),
            (
                Node::Internal { seps, children },
                Node::Internal {
                    seps: bseps,
                    children: bchildren,
                },
            ) => {
                seps.append(sep, bseps);
                children.extend(bchildren);
            }
            // Siblings always have the same height.
            _ => unreachable!("siblings of different kinds"),
        }
    }

    /// Splits off the upper part starting at position `at`; returns the separator and the
    /// new right node.
    fn split_at(&mut self, at: usize) -> Split<T> {
        match self {
            Node::Leaf(leaf) => {
                let right = Leaf::from_items(leaf.items.split_off(at));
                leaf.items.shrink_to_fit();
                let sep: Arc<[u8]> = Arc::from(right.items[0].key());
                (sep, Node::Leaf(right))
            }
            Node::Internal { seps, children } => {
                let rchildren = children.split_off(at);
                let (sep, rseps) = seps.split(at);
                let sep = sep.unwrap_or_else(|| unreachable!("internal split with one child"));
                (
                    sep,
                    Node::Internal {
                        seps: rseps,
                        children: rchildren,
                    },
                )
            }
        }
    }

    /// Inserts or replaces; returns the replaced entry and, on overflow, a split.
    fn insert(&mut self, item: T) -> (Option<T>, Option<Split<T>>) {
        match self {
            Node::Leaf(leaf) => {
                match leaf.search(item.key()) {
                    Ok(i) => (Some(std::mem::replace(&mut leaf.items[i], item)), None),
                    Err(i) => {
                        leaf.insert_at(i, item);
                        let len = leaf.items.len();
                        if len <= MAX {
                            return (None, None);
                        }
                        // Appending at the end (sequential keys) keeps the left node full,
                        // so ordered loads pack leaves instead of leaving them half empty.
                        let at = if i == len - 1 { len - 1 } else { len / 2 };
                        (None, Some(self.split_at(at)))
                    }
                }
            }
            Node::Internal { seps, children } => {
                let ci = seps.child_index(item.key());
                let (old, split) = Arc::make_mut(&mut children[ci]).insert(item);
                if let Some((sep, right)) = split {
                    seps.insert(ci, sep);
                    children.insert(ci + 1, Arc::new(right));
                    if children.len() > MAX_INNER {
                        let at = children.len() / 2;
                        return (old, Some(self.split_at(at)));
                    }
                }
                (old, None)
            }
        }
    }

    /// Removes the entry under `key` that `pick` finds in its leaf.
    fn remove(&mut self, key: &[u8], pick: &impl Fn(&[T]) -> Option<usize>) -> Option<T> {
        match self {
            Node::Leaf(leaf) => pick(&leaf.items).map(|i| leaf.remove_at(i)),
            Node::Internal { seps, children } => {
                let ci = seps.child_index(key);
                let removed = Arc::make_mut(&mut children[ci]).remove(key, pick)?;
                if children[ci].len() < children[ci].max() / 4 && children.len() > 1 {
                    // Rebalance with a neighbour: merge, and split again if too big.
                    let left = if ci + 1 < children.len() { ci } else { ci - 1 };
                    let sep = seps.remove(left);
                    let right = Arc::unwrap_or_clone(children.remove(left + 1));
                    let merged = Arc::make_mut(&mut children[left]);
                    merged.absorb(sep, right);
                    if merged.len() > merged.max() {
                        let at = merged.len() / 2;
                        let (sep, right) = merged.split_at(at);
                        seps.insert(left, sep);
                        children.insert(left + 1, Arc::new(right));
                    }
                }
                Some(removed)
            }
        }
    }
}

/// A copy-on-write B+tree map from key bytes to entries.
#[derive(Clone, Debug)]
pub(crate) struct Index<T> {
    root: Arc<Node<T>>,
    len: usize,
}

impl<T: Keyed> Default for Index<T> {
    fn default() -> Self {
        Self {
            root: Arc::new(Node::Leaf(Leaf::from_items(Vec::new()))),
            len: 0,
        }
    }
}

impl<T: Keyed> Index<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&T> {
        let mut node = &*self.root;
        loop {
            match node {
                Node::Leaf(leaf) => return leaf.search(key).ok().map(|i| &leaf.items[i]),
                Node::Internal { seps, children } => {
                    node = &children[seps.child_index(key)];
                }
            }
        }
    }

    /// Inserts or replaces the entry with the same key; returns the replaced one.
    pub(crate) fn insert(&mut self, item: T) -> Option<T> {
        let (old, split) = Arc::make_mut(&mut self.root).insert(item);
        if let Some((sep, right)) = split {
            let left = std::mem::replace(
                &mut self.root,
                Arc::new(Node::Leaf(Leaf::from_items(Vec::new()))),
            );
            self.root = Arc::new(Node::Internal {
                seps: Seps::new(vec![sep]),
                children: vec![left, Arc::new(right)],
            });
        }
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Replaces the entry under `key` that `is_old` picks out (the caller knows which one
    /// it is, e.g. by address), without comparing keys inside the leaf. Returns the
    /// replaced entry, or gives `item` back when there is no such entry (the caller knows
    /// there is one, so a miss, which would have copied shared nodes on the way down for
    /// nothing, does not happen).
    pub(crate) fn replace(&mut self, is_old: impl Fn(&T) -> bool, item: T) -> Result<T, T> {
        let key = item.key();
        let mut node = Arc::make_mut(&mut self.root);
        loop {
            match node {
                Node::Leaf(leaf) => {
                    return match leaf.items.iter().position(&is_old) {
                        Some(i) => Ok(std::mem::replace(&mut leaf.items[i], item)),
                        None => Err(item),
                    };
                }
                Node::Internal { seps, children } => {
                    node = Arc::make_mut(&mut children[seps.child_index(key)]);
                }
            }
        }
    }

    /// Removes the entry under `key` by comparing keys (the tree's write path removes
    /// through `remove_known`; salvage recovery and the model tests use this).
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<T> {
        // Look first so a miss copies no node shared with a snapshot.
        self.get(key)?;
        self.remove_picked(key, |items| find(items, key).ok())
    }

    /// Replaces the entry with `item`'s key, found by key (the caller knows it is there);
    /// gives `item` back when there is none.
    pub(crate) fn replace_keyed(&mut self, item: T) -> Result<T, T> {
        let mut node = Arc::make_mut(&mut self.root);
        loop {
            match node {
                Node::Leaf(leaf) => {
                    return match leaf.search(item.key()) {
                        Ok(i) => Ok(std::mem::replace(&mut leaf.items[i], item)),
                        Err(_) => Err(item),
                    };
                }
                Node::Internal { seps, children } => {
                    node = Arc::make_mut(&mut children[seps.child_index(item.key())]);
                }
            }
        }
    }

    /// Removes the entry under `key`, found by key, when `check` accepts it (the caller
    /// knows it is there: a miss may copy nodes shared with a snapshot for nothing).
    pub(crate) fn remove_checked(&mut self, key: &[u8], check: impl Fn(&T) -> bool) -> Option<T> {
        self.remove_picked(key, |items| {
            find(items, key).ok().filter(|&i| check(&items[i]))
        })
    }

    /// Removes the entry under `key` that `is_old` picks out (the caller knows it is
    /// there, e.g. by address), without comparing keys inside the leaf.
    pub(crate) fn remove_known(&mut self, key: &[u8], is_old: impl Fn(&T) -> bool) -> Option<T> {
        self.remove_picked(key, |items| items.iter().position(&is_old))
    }

    fn remove_picked(&mut self, key: &[u8], pick: impl Fn(&[T]) -> Option<usize>) -> Option<T> {
        let removed = Arc::make_mut(&mut self.root).remove(key, &pick);
        if removed.is_some() {
            self.len -= 1;
        }
        // Collapse a root left with a single child.
        while let Node::Internal { children, .. } = &*self.root {
            if children.len() != 1 {
                break;
            }
            let only = Arc::clone(&children[0]);
            self.root = only;
        }
        removed
    }

    /// A cursor positioned at the first entry at or after `start`.
    pub(crate) fn cursor(&self, start: Bound<&[u8]>) -> Cursor<T> {
        let mut stack = Vec::new();
        let mut node = Arc::clone(&self.root);
        loop {
            let next = match &*node {
                Node::Leaf(leaf) => {
                    let pos = match start {
                        Bound::Unbounded => 0,
                        Bound::Included(k) => leaf.search(k).unwrap_or_else(|i| i),
                        Bound::Excluded(k) => leaf.search(k).map_or_else(|i| i, |i| i + 1),
                    };
                    let mut cursor = Cursor {
                        stack,
                        leaf: Arc::clone(&node),
                        pos,
                    };
                    cursor.settle();
                    return cursor;
                }
                Node::Internal { seps, children } => {
                    let ci = match start {
                        Bound::Unbounded => 0,
                        Bound::Included(k) | Bound::Excluded(k) => seps.child_index(k),
                    };
                    (ci, Arc::clone(&children[ci]))
                }
            };
            stack.push((node, next.0));
            node = next.1;
        }
    }
}

impl<T: Keyed> Index<T> {
    /// A cursor positioned at the last entry at or before `end`, walking backwards.
    pub(crate) fn cursor_back(&self, end: Bound<&[u8]>) -> CursorBack<T> {
        let mut stack = Vec::new();
        let mut node = Arc::clone(&self.root);
        loop {
            let next = match &*node {
                Node::Leaf(leaf) => {
                    let pos = match end {
                        Bound::Unbounded => leaf.items.len(),
                        Bound::Included(k) => leaf.search(k).map_or_else(|i| i, |i| i + 1),
                        Bound::Excluded(k) => leaf.search(k).unwrap_or_else(|i| i),
                    };
                    let mut cursor = CursorBack {
                        stack,
                        leaf: Arc::clone(&node),
                        pos,
                    };
                    cursor.settle();
                    return cursor;
                }
                Node::Internal { seps, children } => {
                    let ci = match end {
                        Bound::Unbounded => children.len() - 1,
                        Bound::Included(k) | Bound::Excluded(k) => seps.child_index(k),
                    };
                    (ci, Arc::clone(&children[ci]))
                }
            };
            stack.push((node, next.0));
            node = next.1;
        }
    }
}

/// Walks entries in descending key order over a fixed version of the tree; holds no lock.
#[derive(Debug)]
pub(crate) struct CursorBack<T> {
    stack: Vec<(Arc<Node<T>>, usize)>,
    leaf: Arc<Node<T>>,
    /// One past the current entry in the leaf; 0 when the walk is over.
    pos: usize,
}

impl<T: Keyed> CursorBack<T> {
    /// Moves to the previous leaf while the current position is before the start.
    fn settle(&mut self) {
        while self.pos == 0 {
            let (parent, ci) = loop {
                match self.stack.pop() {
                    None => return,
                    Some((node, ci)) if ci > 0 => break (node, ci - 1),
                    Some(_) => {}
                }
            };
            let mut node = match &*parent {
                Node::Internal { children, .. } => Arc::clone(&children[ci]),
                Node::Leaf(_) => unreachable!("stack holds internal nodes only"),
            };
            self.stack.push((parent, ci));
            // Descend to the rightmost leaf.
            loop {
                let (last, child) = match &*node {
                    Node::Leaf(_) => break,
                    Node::Internal { children, .. } => (
                        children.len() - 1,
                        Arc::clone(&children[children.len() - 1]),
                    ),
                };
                self.stack.push((node, last));
                node = child;
            }
            self.pos = node.len();
            self.leaf = node;
        }
    }

    pub(crate) fn peek(&self) -> Option<&T> {
        match &*self.leaf {
            Node::Leaf(leaf) => self.pos.checked_sub(1).and_then(|i| leaf.items.get(i)),
            Node::Internal { .. } => None,
        }
    }

    pub(crate) fn retreat(&mut self) {
        self.pos = self.pos.saturating_sub(1);
        self.settle();
    }
}

/// Walks entries in key order over a fixed version of the tree; holds no lock.
#[derive(Debug)]
pub(crate) struct Cursor<T> {
    /// Internal nodes above the leaf, with the index of the child we are in.
    stack: Vec<(Arc<Node<T>>, usize)>,
    leaf: Arc<Node<T>>,
    pos: usize,
}

impl<T: Keyed> Cursor<T> {
    fn leaf_len(&self) -> usize {
        self.leaf.len()
    }

    /// Moves to the next leaf while the current position is past the end.
    fn settle(&mut self) {
        while self.pos >= self.leaf_len() {
            // Climb to the first ancestor with a next child.
            let (parent, ci) = loop {
                match self.stack.pop() {
                    None => return,
                    Some((node, ci)) if ci + 1 < node.len() => break (node, ci + 1),
                    Some(_) => {}
                }
            };
            let mut node = match &*parent {
                Node::Internal { children, .. } => Arc::clone(&children[ci]),
                Node::Leaf(_) => unreachable!("stack holds internal nodes only"),
            };
            self.stack.push((parent, ci));
            // Descend to the leftmost leaf.
            loop {
                let child = match &*node {
                    Node::Leaf(_) => break,
                    Node::Internal { children, .. } => Arc::clone(&children[0]),
                };
                self.stack.push((node, 0));
                node = child;
            }
            self.leaf = node;
            self.pos = 0;
        }
    }

    pub(crate) fn peek(&self) -> Option<&T> {
        match &*self.leaf {
            Node::Leaf(leaf) => leaf.items.get(self.pos),
            Node::Internal { .. } => None,
        }
    }

    pub(crate) fn advance(&mut self) {
        self.pos += 1;
        self.settle();
    }
}

/// Compares an entry's key against an end bound: is the key still inside?
pub(crate) fn before_end(key: &[u8], end: Bound<&[u8]>) -> bool {
    match end {
        Bound::Unbounded => true,
        Bound::Included(e) => key.cmp(e) != Ordering::Greater,
        Bound::Excluded(e) => key < e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

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

    fn check_invariants(node: &Node<E>, lo: Option<&[u8]>, hi: Option<&[u8]>, root: bool) -> usize {
        match node {
            Node::Leaf(leaf) => {
                let items = &leaf.items;
                assert!(items.len() <= MAX);
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
}
