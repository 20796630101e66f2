//! Cursors over a snapshot of the B+tree (an `Arc` of its root): forward from a start
//! bound, backward from an end bound. They hold the path of nodes they are in, so the tree
//! may change meanwhile without them seeing it.

use std::cmp::Ordering;
use std::ops::Bound;

use super::node::{Leaf, Node, NodeArc};
use super::{Index, Keyed};

/// A path down the tree: each internal node passed and the child taken from it.
type Path<T> = Vec<(NodeArc<T>, usize)>;

impl<T: Keyed> Index<T> {
    /// A cursor positioned at the first entry at or after `start`.
    pub(crate) fn cursor(&self, start: Bound<&[u8]>) -> Cursor<T> {
        let (stack, leaf, pos) = self.descend(start, false, |leaf| match start {
            Bound::Unbounded => 0,
            Bound::Included(k) => leaf.search(k).unwrap_or_else(|i| i),
            Bound::Excluded(k) => leaf.search(k).map_or_else(|i| i, |i| i + 1),
        });
        let mut cursor = Cursor { stack, leaf, pos };
        cursor.settle();
        cursor
    }

    /// A cursor positioned at the last entry at or before `end`, walking backwards.
    pub(crate) fn cursor_back(&self, end: Bound<&[u8]>) -> CursorBack<T> {
        let (stack, leaf, pos) = self.descend(end, true, |leaf| match end {
            Bound::Unbounded => leaf.items.len(),
            Bound::Included(k) => leaf.search(k).map_or_else(|i| i, |i| i + 1),
            Bound::Excluded(k) => leaf.search(k).unwrap_or_else(|i| i),
        });
        let mut cursor = CursorBack { stack, leaf, pos };
        cursor.settle();
        cursor
    }

    /// Walks from the root to the leaf where `bound`'s key belongs (unbounded: the first
    /// leaf, or the last with `last`); returns the path, the leaf and `pos` of that leaf.
    fn descend(
        &self,
        bound: Bound<&[u8]>,
        last: bool,
        pos: impl FnOnce(&Leaf<T>) -> usize,
    ) -> (Path<T>, NodeArc<T>, usize) {
        let mut stack = Vec::new();
        let mut node = NodeArc::clone(&self.root);
        loop {
            let next = match &*node {
                Node::Leaf(leaf) => {
                    let at = pos(leaf);
                    return (stack, node, at);
                }
                Node::Internal { seps, children } => {
                    let ci = match bound {
                        Bound::Included(k) | Bound::Excluded(k) => seps.child_index(k),
                        Bound::Unbounded if last => children.len() - 1,
                        Bound::Unbounded => 0,
                    };
                    (ci, NodeArc::clone(&children[ci]))
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
    stack: Path<T>,
    leaf: NodeArc<T>,
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
                Node::Internal { children, .. } => NodeArc::clone(&children[ci]),
                Node::Leaf(_) => unreachable!("stack holds internal nodes only"),
            };
            self.stack.push((parent, ci));
            // Descend to the rightmost leaf.
            loop {
                let (last, child) = match &*node {
                    Node::Leaf(_) => break,
                    Node::Internal { children, .. } => (
                        children.len() - 1,
                        NodeArc::clone(&children[children.len() - 1]),
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
    stack: Path<T>,
    leaf: NodeArc<T>,
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
                Node::Internal { children, .. } => NodeArc::clone(&children[ci]),
                Node::Leaf(_) => unreachable!("stack holds internal nodes only"),
            };
            self.stack.push((parent, ci));
            // Descend to the leftmost leaf.
            loop {
                let child = match &*node {
                    Node::Leaf(_) => break,
                    Node::Internal { children, .. } => NodeArc::clone(&children[0]),
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
        self.advance_by(1);
    }

    /// The entries from the current one to the end of its leaf (empty once the walk is
    /// over): a run that can be read without moving leaf by leaf.
    pub(crate) fn rest(&self) -> &[T] {
        match &*self.leaf {
            Node::Leaf(leaf) => leaf.items.get(self.pos..).unwrap_or_default(),
            Node::Internal { .. } => &[],
        }
    }

    /// Moves past `n` entries of [`Cursor::rest`].
    pub(crate) fn advance_by(&mut self, n: usize) {
        self.pos += n;
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
