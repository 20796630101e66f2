//! The ordered in-memory index: a copy-on-write B+tree.
//!
//! Nodes live behind `Arc` (`triomphe`'s: see `node::NodeArc`). A writer mutates through
//! `Arc::make_mut`, so when no snapshot shares a node the write happens in place (no copy,
//! no allocation beyond the entry itself); when a snapshot (an iterator or a query) still
//! holds the old root, only the nodes on the written path are copied, and copying a node
//! clones `Arc`s, never entries.
//! A snapshot is therefore one `Arc` clone of the root, and a scan never holds a lock.
//!
//! Entries are generic over [`Keyed`] so the structure can be tested with plain types;
//! the engine stores [`crate::record::Record`]s.
//!
//! Files: `mod.rs` (the map: [`Index`] and its operations), `node.rs` (leaves, internal
//! nodes and their abbreviated keys: how a node searches, splits and merges), `cursor.rs`
//! (forward and backward cursors over a snapshot).

mod cursor;
mod node;
#[cfg(test)]
mod tests;

pub(crate) use cursor::{before_end, Cursor, CursorBack};
use node::{Leaf, Node, NodeArc, Seps};

/// Maximum entries per leaf.
pub(crate) const MAX: usize = 64;
/// Maximum children per internal node: wide, so the tree is shallow (two levels above the
/// leaves hold 4M items) and a write descends through fewer nodes. A node below a quarter
/// of its maximum is merged with or refilled from a sibling.
pub(crate) const MAX_INNER: usize = 256;

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

/// Whether `a` and `b` are equal; keys of 4 to 16 bytes compared as two overlapping words
/// each, inline (`==` on slices calls `bcmp`: ~20 instructions more for a short key).
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if let (Some(ah), Some(at), Some(bh), Some(bt), true) = (
        a.first_chunk::<8>(),
        a.last_chunk::<8>(),
        b.first_chunk::<8>(),
        b.last_chunk::<8>(),
        n <= 16,
    ) {
        let word = |w: &[u8; 8]| u64::from_ne_bytes(*w);
        return (word(ah) ^ word(bh)) | (word(at) ^ word(bt)) == 0;
    }
    if let (Some(ah), Some(at), Some(bh), Some(bt), true) = (
        a.first_chunk::<4>(),
        a.last_chunk::<4>(),
        b.first_chunk::<4>(),
        b.last_chunk::<4>(),
        n < 8,
    ) {
        let word = |w: &[u8; 4]| u32::from_ne_bytes(*w);
        return (word(ah) ^ word(bh)) | (word(at) ^ word(bt)) == 0;
    }
    a == b
}

/// Binary search of a sorted run of entries for `key`.
fn find<T: Keyed>(items: &[T], key: &[u8]) -> Result<usize, usize> {
    find_abbreviated(items, key, T::abbreviate_key(key))
}

/// [`find`] with `key`'s abbreviation `a` already taken.
#[inline]
fn find_abbreviated<T: Keyed>(items: &[T], key: &[u8], a: u64) -> Result<usize, usize> {
    if T::ABBREVIATED {
        items.binary_search_by(|e| e.abbr().cmp(&a).then_with(|| e.key().cmp(key)))
    } else {
        items.binary_search_by(|e| e.key().cmp(key))
    }
}

/// The first of `items` that `is` picks, four tested at a time (one branch for four).
#[inline]
fn find_by<T>(items: &[T], is: impl Fn(&T) -> bool) -> Option<usize> {
    let mut chunks = items.chunks_exact(4);
    let mut base = 0;
    for c in &mut chunks {
        if is(&c[0]) | is(&c[1]) | is(&c[2]) | is(&c[3]) {
            return c.iter().position(&is).map(|i| base + i);
        }
        base += 4;
    }
    chunks.remainder().iter().position(is).map(|i| base + i)
}

/// The first of `items` that `is` picks, tested eight at a time with no branch per item
/// (a leaf holds up to 64: an item-by-item loop spends a cycle and two branches on each).
#[inline]
fn position<T>(items: &[T], is: impl Fn(&T) -> bool) -> Option<usize> {
    let mut chunks = items.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let hits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |m, (j, x)| m | u32::from(is(x)) << j);
        if hits != 0 {
            return Some(base + hits.trailing_zeros() as usize);
        }
        base += 8;
    }
    chunks.remainder().iter().position(is).map(|i| base + i)
}

/// What [`Index::upsert`] did.
#[derive(Debug)]
pub(crate) enum Upserted<R, T> {
    /// The old entry was under the key: changed in place, with what the change returned.
    Found(R),
    /// The new entry went in.
    Inserted,
    /// The new entry went in over this other entry under the same key.
    Replaced(T),
}

/// Whether every entry of a (non-empty) sorted leaf has the abbreviation `a`: then the
/// first and the last do.
#[inline]
fn all_tied<T: Keyed>(items: &[T], a: u64) -> bool {
    matches!((items.first(), items.last()), (Some(f), Some(l)) if f.abbr() == a && l.abbr() == a)
}

/// `Arc::make_mut` for a node on a write's path down the tree, always inlined: the check
/// that the node is unshared is one load, and whether the compiler inlines `make_mut`
/// itself changes with unrelated code (a call costs ~35 instructions per write).
#[inline(always)]
fn node_mut<T: Keyed>(node: &mut NodeArc<T>) -> &mut Node<T> {
    if !node.is_unique() {
        *node = NodeArc::new(Node::clone(node));
    }
    match NodeArc::get_mut(node) {
        Some(node) => node,
        // Proven invariant: it is unshared now (just checked, or just made).
        None => unreachable!("a node just made unique is shared"),
    }
}

/// A copy-on-write B+tree map from key bytes to entries.
#[derive(Clone, Debug)]
pub(crate) struct Index<T> {
    root: NodeArc<T>,
    len: usize,
}

impl<T: Keyed> Default for Index<T> {
    fn default() -> Self {
        Self {
            root: NodeArc::new(Node::Leaf(Leaf::from_items(Vec::new()))),
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
        let (old, split) = node_mut(&mut self.root).insert(item);
        if let Some((sep, right)) = split {
            let left = std::mem::replace(
                &mut self.root,
                NodeArc::new(Node::Leaf(Leaf::from_items(Vec::new()))),
            );
            self.root = NodeArc::new(Node::Internal {
                seps: Seps::new(vec![sep]),
                children: vec![left, NodeArc::new(right)],
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
        let mut node = node_mut(&mut self.root);
        loop {
            match node {
                Node::Leaf(leaf) => {
                    return match position(&leaf.items, &is_old) {
                        Some(i) => Ok(std::mem::replace(&mut leaf.items[i], item)),
                        None => Err(item),
                    };
                }
                Node::Internal { seps, children } => {
                    node = node_mut(&mut children[seps.child_index(key)]);
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

    /// Puts an entry under `key` in one descent: when the entry there is the one `is_old`
    /// picks out (the caller's old entry, e.g. by address), `found` changes it in place
    /// (without changing its key); otherwise `make`'s entry (whose key is `key`) goes in,
    /// replacing another entry under `key` if there is one.
    ///
    /// A leaf whose entries all tie with `key` on their abbreviations (many entries under
    /// one index key) is searched for the old entry by address first: a search by key
    /// there compares whole keys at every step.
    // Always inlined into its one caller (the index's write): out of line it is a call and
    // six register saves per write, and whether the compiler inlines it changes with
    // unrelated code.
    #[inline(always)]
    pub(crate) fn upsert<R>(
        &mut self,
        key: &[u8],
        is_old: Option<impl Fn(&T) -> bool>,
        found: impl FnOnce(&mut T) -> R,
        make: impl FnOnce() -> T,
    ) -> Upserted<R, T> {
        let mut node = node_mut(&mut self.root);
        let leaf = loop {
            match node {
                Node::Leaf(leaf) => break leaf,
                Node::Internal { seps, children } => {
                    node = node_mut(&mut children[seps.child_index(key)]);
                }
            }
        };
        let items = &mut leaf.items;
        let a = T::abbreviate_key(key);
        if let Some(is_old) = &is_old {
            if T::ABBREVIATED && all_tied(items, a) {
                if let Some(i) = find_by(items, is_old).filter(|&i| same(items[i].key(), key)) {
                    return Upserted::Found(found(&mut items[i]));
                }
            }
        }
        match find_abbreviated(items, key, a) {
            Ok(i) if is_old.as_ref().is_some_and(|is_old| is_old(&items[i])) => {
                Upserted::Found(found(&mut items[i]))
            }
            Ok(i) => Upserted::Replaced(std::mem::replace(&mut items[i], make())),
            // Room in the leaf: no split, so the insertion ends here.
            Err(i) if items.len() < MAX => {
                leaf.insert_at(i, make());
                self.len += 1;
                Upserted::Inserted
            }
            // A full leaf: the insertion that splits it, down the same (now unshared) path.
            Err(_) => {
                self.insert(make());
                Upserted::Inserted
            }
        }
    }

    /// Removes the entry under `key` that `is_old` picks out (the caller knows it is
    /// there, e.g. by address), without comparing keys inside the leaf.
    pub(crate) fn remove_known(&mut self, key: &[u8], is_old: impl Fn(&T) -> bool) -> Option<T> {
        self.remove_picked(key, |items| items.iter().position(&is_old))
    }

    fn remove_picked(&mut self, key: &[u8], pick: impl Fn(&[T]) -> Option<usize>) -> Option<T> {
        let removed = node_mut(&mut self.root).remove(key, &pick);
        if removed.is_some() {
            self.len -= 1;
        }
        // Collapse a root left with a single child.
        while let Node::Internal { children, .. } = &*self.root {
            if children.len() != 1 {
                break;
            }
            let only = NodeArc::clone(&children[0]);
            self.root = only;
        }
        removed
    }
}
