//! The nodes of the B+tree: leaves of entries and internal nodes of children, each with
//! abbreviated keys so a search binary-searches one small array; how a node inserts,
//! removes, splits when full and absorbs a sibling.

use std::cmp::Ordering;
use std::sync::Arc;

/// A node behind a shared pointer. `triomphe::Arc`, not `std`'s: it has no weak count, so
/// `make_mut` on an unshared node (every write's path down the tree, when no snapshot
/// holds it) checks uniqueness with a plain load, where `std`'s takes a locked
/// compare-exchange per node.
pub(super) type NodeArc<T> = triomphe::Arc<Node<T>>;

use super::{find, same, Keyed, MAX, MAX_INNER};

/// A node split off on overflow, with the smallest key it may hold.
pub(super) type Split<T> = (Arc<[u8]>, Node<T>);

/// Abbreviated keys of a sorted run, so a search binary-searches one small contiguous
/// array and dereferences a key only on a tie.
///
/// All keys in a sorted run share the common prefix of its first and last key; `abbrs[i]`
/// holds the 8 bytes of key `i` after that prefix, big-endian, zero-padded. If
/// `abbr(a) < abbr(b)` then `a < b`; equal abbreviations fall back to a full comparison.
#[derive(Clone, Debug, Default)]
pub(super) struct Abbrevs {
    pub(super) prefix: Box<[u8]>,
    pub(super) abbrs: Vec<u64>,
}

/// The 8 bytes of `key` after `skip`, big-endian, zero-padded. A key with 8 bytes to
/// spare is read as one word: copying a variable length into a zeroed word called
/// `memcpy`, and reading the word back stalled on its byte stores (a fifth of a descent).
#[inline]
pub(super) fn abbreviate(key: &[u8], skip: usize) -> u64 {
    let tail = key.get(skip..).unwrap_or_default();
    let n = tail.len();
    match (tail.first_chunk::<8>(), key.last_chunk::<8>()) {
        (Some(word), _) => u64::from_be_bytes(*word),
        (None, _) if n == 0 => 0,
        // The tail is the key's end: its last word, the tail moved to the top.
        (None, Some(last)) => u64::from_be_bytes(*last) << (8 * (8 - n)),
        (None, None) => tail
            .iter()
            .enumerate()
            .fold(0, |w, (i, &b)| w | u64::from(b) << (56 - 8 * i)),
    }
}

/// Makes room for one more element: grows by half (never past a full node plus the one
/// extra a split needs) instead of doubling, so nodes do not carry twice their capacity.
fn grow<T>(v: &mut Vec<T>, max: usize) {
    if v.len() == v.capacity() {
        let target = (v.len() + v.len() / 2).clamp(4, max + 1).max(v.len() + 1);
        v.reserve_exact(target - v.len());
    }
}

/// How many of the sorted `abbrs` are below `x`. Not a binary search: its eight steps each
/// wait for the load before (a chain of ~50 cycles over 256 abbreviations, a tenth of a
/// stash). This counts over every 16th entry (loads that do not wait for each other), which
/// picks a block of 16; in a whole block one halving step (its 8th entry) picks the half to
/// count over: 8 compares instead of 16 for one more load in the chain. (Four halving steps
/// and no count took 46 instructions less per stash but 3% more time on a CPU: a chain of
/// four loads.)
pub(super) fn rank(abbrs: &[u64], x: u64) -> usize {
    const BLOCK: usize = 16;
    let n = abbrs.len();
    let mut blocks = 0;
    let mut last = BLOCK - 1;
    while last < n {
        // Sorted: the blocks whose last entry is below `x` are a prefix, all of it below.
        blocks += usize::from(abbrs[last] < x);
        last += BLOCK;
    }
    let start = blocks * BLOCK;
    match abbrs.get(start..).and_then(<[u64]>::first_chunk::<BLOCK>) {
        // A whole block: the entries below `x` are a prefix of it, so they fill the low
        // half when its last entry is below `x`, and lie in it otherwise.
        Some(block) => {
            let (low, high) = block.split_at(BLOCK / 2);
            let (base, half) = match low.last() {
                Some(&a) if a < x => (start + BLOCK / 2, high),
                _ => (start, low),
            };
            base + half.iter().filter(|&&a| a < x).count()
        }
        None => start + abbrs[start..].iter().filter(|&&a| a < x).count(),
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Abbrevs {
    /// Recomputes the prefix, and every abbreviation when it changed (or `all`).
    pub(super) fn refresh<'a>(
        &mut self,
        keys: impl ExactSizeIterator<Item = &'a [u8]> + Clone,
        all: bool,
    ) {
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

    /// `key`'s abbreviation after the prefix, or (`Err`) where it goes when it lies outside
    /// the prefix: before every key or after them all.
    #[inline(always)]
    fn abbreviate_under(&self, key: &[u8]) -> Result<u64, usize> {
        let p = &*self.prefix;
        let head = &key[..key.len().min(p.len())];
        // The usual case, a key under the prefix, tested inline first (no `memcmp` call).
        if !same(head, p) {
            match head.cmp(p) {
                Ordering::Less => return Err(0),
                Ordering::Greater => return Err(self.abbrs.len()),
                Ordering::Equal if key.len() < p.len() => return Err(0),
                Ordering::Equal => {}
            }
        }
        Ok(abbreviate(key, p.len()))
    }

    /// Like `binary_search_by` over the keys; `key_at(i)` reads key `i` on a tie.
    pub(super) fn search<'a>(
        &self,
        key: &[u8],
        key_at: impl Fn(usize) -> &'a [u8],
    ) -> Result<usize, usize> {
        let abbr = self.abbreviate_under(key)?;
        let mut i = rank(&self.abbrs, abbr);
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
    pub(super) fn insert(&mut self, i: usize, key: &[u8]) {
        grow(&mut self.abbrs, MAX_INNER);
        self.abbrs.insert(i, abbreviate(key, self.prefix.len()));
    }

    /// A leaf's insertion at `i`: a key outside the prefix first shortens it to what they
    /// share.
    pub(super) fn admit(&mut self, i: usize, key: &[u8]) {
        let shared = common_prefix(&self.prefix, key);
        if shared < self.prefix.len() {
            self.shorten(shared);
        }
        grow(&mut self.abbrs, MAX);
        self.abbrs.insert(i, abbreviate(key, self.prefix.len()));
    }

    /// Shortens the prefix to `len` bytes; each abbreviation then starts with the bytes
    /// cut from the prefix (no key is read).
    pub(super) fn shorten(&mut self, len: usize) {
        if len >= self.prefix.len() {
            return;
        }
        let cut = &self.prefix[len..];
        for a in &mut self.abbrs {
            *a = rebase(*a, cut);
        }
        self.prefix = self.prefix[..len].into();
    }

    /// Like [`Abbrevs::search`], for a leaf: among equal abbreviations (keys alike for 8
    /// bytes past the prefix, which a leaf's prefix, shortened by inserts, allows) a binary
    /// search by key instead of a walk.
    pub(super) fn search_ties<'a>(
        &self,
        key: &[u8],
        key_at: impl Fn(usize) -> &'a [u8],
    ) -> Result<usize, usize> {
        let abbr = self.abbreviate_under(key)?;
        let lo = rank(&self.abbrs, abbr);
        if self.abbrs.get(lo) != Some(&abbr) {
            return Err(lo);
        }
        let hi = abbr
            .checked_add(1)
            .map_or(self.abbrs.len(), |next| rank(&self.abbrs, next));
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match key_at(mid).cmp(key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
}

/// `a`, an abbreviation after some prefix, as taken `cut.len()` bytes earlier: the bytes
/// `cut` (the end of that prefix), then `a`'s first bytes.
pub(super) fn rebase(a: u64, cut: &[u8]) -> u64 {
    match cut.len() {
        0 => a,
        n if n >= 8 => abbreviate(cut, 0),
        n => abbreviate(cut, 0) | a >> (8 * n),
    }
}

/// A leaf: entries in key order, with the abbreviations of their keys (unless the entries
/// carry their own: [`Keyed::ABBREVIATED`]). A search (an insert of a new key, the start of
/// a scan) ranks the abbreviations, one contiguous array, and reads a key, in its record
/// and most likely a cache miss, only among equal ones; without them it read ~6 records of
/// a 64-entry leaf. Point reads never come here (the hash index beside the tree answers
/// them). The leaf's prefix is a prefix of every key in it, set to the longest at a split
/// and shortened, without reading a key, when a key outside it comes in.
#[derive(Clone, Debug)]
pub(super) struct Leaf<T> {
    pub(super) items: Vec<T>,
    /// Empty for entries that carry their own abbreviations.
    pub(super) keys: Abbrevs,
}

impl<T: Keyed> Leaf<T> {
    pub(super) fn from_items(items: Vec<T>) -> Self {
        let mut leaf = Leaf {
            items,
            keys: Abbrevs::default(),
        };
        leaf.refresh();
        leaf
    }

    /// The longest prefix, and every abbreviation after it (recomputed only when the
    /// prefix changed, unless there is not one per entry).
    fn refresh(&mut self) {
        if !T::ABBREVIATED {
            let all = self.keys.abbrs.len() != self.items.len();
            self.keys.refresh(self.items.iter().map(Keyed::key), all);
        }
    }

    pub(super) fn search(&self, key: &[u8]) -> Result<usize, usize> {
        if T::ABBREVIATED {
            return find(&self.items, key);
        }
        self.keys.search_ties(key, |i| self.items[i].key())
    }

    pub(super) fn insert_at(&mut self, i: usize, item: T) {
        if !T::ABBREVIATED {
            self.keys.admit(i, item.key());
        }
        grow(&mut self.items, MAX);
        self.items.insert(i, item);
    }

    pub(super) fn remove_at(&mut self, i: usize) -> T {
        if !T::ABBREVIATED {
            self.keys.abbrs.remove(i);
        }
        self.items.remove(i)
    }

    /// Splits off the entries from `at`; each half gets its own longest prefix.
    fn split_off(&mut self, at: usize) -> Leaf<T> {
        let right = Leaf::from_items(self.items.split_off(at));
        self.items.shrink_to_fit();
        self.keys.abbrs.truncate(at);
        self.keys.abbrs.shrink_to_fit();
        self.refresh();
        right
    }

    /// Appends the entries of `other`, the right sibling.
    fn absorb(&mut self, other: Leaf<T>) {
        if !T::ABBREVIATED {
            let shared = common_prefix(&self.keys.prefix, &other.keys.prefix);
            let mut theirs = other.keys;
            theirs.shorten(shared);
            self.keys.shorten(shared);
            self.keys.abbrs.extend(theirs.abbrs);
        }
        self.items.extend(other.items);
    }
}

/// Separators of an internal node with their abbreviations.
#[derive(Clone, Debug, Default)]
pub(super) struct Seps {
    pub(super) keys: Abbrevs,
    pub(super) seps: Vec<Arc<[u8]>>,
}

impl Seps {
    pub(super) fn new(seps: Vec<Arc<[u8]>>) -> Self {
        let mut s = Seps {
            keys: Abbrevs::default(),
            seps,
        };
        s.refresh(true);
        s
    }

    pub(super) fn refresh(&mut self, all: bool) {
        self.keys.refresh(self.seps.iter().map(|s| &**s), all);
    }

    /// Index of the child that may hold `key`: how many separators are `<= key`.
    pub(super) fn child_index(&self, key: &[u8]) -> usize {
        match self.keys.search(key, |i| &self.seps[i]) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    pub(super) fn insert(&mut self, i: usize, sep: Arc<[u8]>) {
        let edge = i == 0 || i == self.seps.len();
        self.keys.insert(i, &sep);
        self.seps.insert(i, sep);
        if edge {
            self.refresh(false);
        }
    }

    pub(super) fn remove(&mut self, i: usize) -> Arc<[u8]> {
        let sep = self.seps.remove(i);
        self.keys.abbrs.remove(i);
        if i == 0 || i == self.seps.len() {
            self.refresh(false);
        }
        sep
    }

    /// Splits off separators from `at`; returns (the separator at `at - 1`, the rest).
    pub(super) fn split(&mut self, at: usize) -> (Option<Arc<[u8]>>, Seps) {
        let right = Seps::new(self.seps.split_off(at));
        let promoted = self.seps.pop();
        self.refresh(true);
        (promoted, right)
    }

    pub(super) fn append(&mut self, sep: Arc<[u8]>, other: Seps) {
        self.seps.push(sep);
        self.seps.extend(other.seps);
        self.refresh(true);
    }
}

#[derive(Clone, Debug)]
pub(super) enum Node<T> {
    Leaf(Leaf<T>),
    /// `seps[i]` is the smallest key that may live in `children[i + 1]`.
    Internal {
        seps: Seps,
        children: Vec<NodeArc<T>>,
    },
}

impl<T: Keyed> Node<T> {
    pub(super) fn max(&self) -> usize {
        match self {
            Node::Leaf(_) => MAX,
            Node::Internal { .. } => MAX_INNER,
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Node::Leaf(leaf) => leaf.items.len(),
            Node::Internal { children, .. } => children.len(),
        }
    }

    /// Appends `other` (the right sibling) to `self`; `sep` separates them.
    pub(super) fn absorb(&mut self, sep: Arc<[u8]>, other: Node<T>) {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => a.absorb(b),
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
    pub(super) fn split_at(&mut self, at: usize) -> Split<T> {
        match self {
            Node::Leaf(leaf) => {
                let right = leaf.split_off(at);
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
    pub(super) fn insert(&mut self, item: T) -> (Option<T>, Option<Split<T>>) {
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
                let (old, split) = NodeArc::make_mut(&mut children[ci]).insert(item);
                if let Some((sep, right)) = split {
                    seps.insert(ci, sep);
                    children.insert(ci + 1, NodeArc::new(right));
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
    pub(super) fn remove(
        &mut self,
        key: &[u8],
        pick: &impl Fn(&[T]) -> Option<usize>,
    ) -> Option<T> {
        match self {
            Node::Leaf(leaf) => pick(&leaf.items).map(|i| leaf.remove_at(i)),
            Node::Internal { seps, children } => {
                let ci = seps.child_index(key);
                let removed = NodeArc::make_mut(&mut children[ci]).remove(key, pick)?;
                if children[ci].len() < children[ci].max() / 4 && children.len() > 1 {
                    // Rebalance with a neighbour: merge, and split again if too big.
                    let left = if ci + 1 < children.len() { ci } else { ci - 1 };
                    let sep = seps.remove(left);
                    let right = NodeArc::unwrap_or_clone(children.remove(left + 1));
                    let merged = NodeArc::make_mut(&mut children[left]);
                    merged.absorb(sep, right);
                    if merged.len() > merged.max() {
                        let at = merged.len() / 2;
                        let (sep, right) = merged.split_at(at);
                        seps.insert(left, sep);
                        children.insert(left + 1, NodeArc::new(right));
                    }
                }
                Some(removed)
            }
        }
    }
}
