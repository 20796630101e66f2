//! Key-ordered iteration over a snapshot. Creating an iterator clones one `Arc` under the
//! state lock; the scan itself holds no lock, so writers never wait for it, and writes
//! made after creation are not seen. Each item is a [`Nut`] sharing the stored record.

use std::ops::{Bound, RangeBounds};

use crate::index::{before_end, Cursor, Keyed};
use crate::nut::{Nut, NutRef};
use crate::record::Record;
use crate::stats::Op;
use crate::Tree;

/// The key window a scan covers.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub(crate) start: Bound<Box<[u8]>>,
    pub(crate) end: Bound<Box<[u8]>>,
    pub(crate) prefix: Option<Box<[u8]>>,
}

impl Default for Span {
    fn default() -> Self {
        Self {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            prefix: None,
        }
    }
}

fn owned(b: Bound<&[u8]>) -> Bound<Box<[u8]>> {
    b.map(Box::from)
}

impl Span {
    pub(crate) fn prefix(p: &str) -> Self {
        Self {
            start: Bound::Included(p.as_bytes().into()),
            end: Bound::Unbounded,
            prefix: Some(p.as_bytes().into()),
        }
    }

    pub(crate) fn range<K: AsRef<str>, R: RangeBounds<K>>(r: &R) -> Self {
        let map = |b: Bound<&K>| owned(b.map(|k| k.as_ref().as_bytes()));
        Self {
            start: map(r.start_bound()),
            end: map(r.end_bound()),
            prefix: None,
        }
    }

    pub(crate) fn from(k: &str) -> Self {
        Self {
            start: Bound::Included(k.as_bytes().into()),
            ..Self::default()
        }
    }
}

/// A positioned scan: yields visible records in key order within a [`Span`].
#[derive(Debug)]
pub(crate) struct Scan {
    cursor: Cursor<Record>,
    span: Span,
    now: u64,
    done: bool,
}

impl Scan {
    pub(crate) fn new(tree: &Tree, span: Span) -> Self {
        let (index, now) = tree.snapshot();
        Self::over(&index, span, now)
    }

    /// A scan of `index` (a snapshot already taken), judging expiry at `now`.
    pub(crate) fn over(index: &crate::index::Index<Record>, span: Span, now: u64) -> Self {
        let cursor = index.cursor(span.start.as_ref().map(|b| &**b));
        Self {
            cursor,
            span,
            now,
            done: false,
        }
    }

    /// Whether `key` (at or after the span's start) is still inside the span.
    #[inline]
    fn inside(&self, key: &[u8]) -> bool {
        before_end(key, self.span.end.as_ref().map(|b| &**b))
            && self.span.prefix.as_ref().is_none_or(|p| key.starts_with(p))
    }

    /// Calls `f` on the next visible record (borrowed from the snapshot) and moves past it.
    // Inlined into the query's walk (once per record): out of line it costs ~1% of a scan.
    #[inline]
    pub(crate) fn next_with<R>(&mut self, f: impl FnOnce(&Record) -> R) -> Option<R> {
        while !self.done {
            let Some(rec) = self.cursor.peek() else {
                self.done = true;
                break;
            };
            if !self.inside(rec.key()) {
                self.done = true;
                break;
            }
            if rec.is_expired(self.now) {
                self.cursor.advance();
                continue;
            }
            let out = f(rec);
            self.cursor.advance();
            return Some(out);
        }
        None
    }

    /// Calls `f` on the next run of visible records (consecutive in one leaf, never empty)
    /// and moves past it: what [`Scan::next_with`] would yield one by one, without moving
    /// the cursor per record.
    #[inline]
    pub(crate) fn next_run_with<R>(&mut self, f: impl FnOnce(&[Record]) -> R) -> Option<R> {
        while !self.done {
            let rest = self.cursor.rest();
            // The cursor stands on an entry until the walk is over.
            if rest.is_empty() {
                self.done = true;
                break;
            }
            let (mut n, mut past_end) = (0, false);
            for rec in rest {
                if !self.inside(rec.key()) {
                    past_end = true;
                    break;
                }
                if rec.is_expired(self.now) {
                    break;
                }
                n += 1;
            }
            if n == 0 {
                if past_end {
                    self.done = true;
                    break;
                }
                // An expired record: step over it.
                self.cursor.advance();
                continue;
            }
            let out = f(&rest[..n]);
            if past_end {
                self.done = true;
            } else {
                self.cursor.advance_by(n);
            }
            return Some(out);
        }
        None
    }
}

/// An iterator of [`Nut`]s in key order over a snapshot taken when it was created.
#[derive(Debug)]
pub struct Iter {
    scan: Scan,
}

impl Iterator for Iter {
    type Item = Nut;

    fn next(&mut self) -> Option<Nut> {
        self.scan.next_with(Record::to_nut)
    }
}

impl Iter {
    /// Like `next`, but lends a borrowed view instead of copying key and value.
    pub fn next_ref<R>(&mut self, f: impl FnOnce(NutRef<'_>) -> R) -> Option<R> {
        self.scan.next_with(|r| f(r.view()))
    }
}

impl Tree {
    fn scan_iter(&self, span: Span) -> Iter {
        self.tally(Op::Iter, 1);
        Iter {
            scan: Scan::new(self, span),
        }
    }

    /// Every visible nut, in key order.
    pub fn iter(&self) -> Iter {
        self.scan_iter(Span::default())
    }

    /// Nuts whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: impl AsRef<str>) -> Iter {
        self.scan_iter(Span::prefix(prefix.as_ref()))
    }

    /// Nuts whose key lies in `range` (e.g. `"a".."m"`), in key order.
    pub fn range<K: AsRef<str>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        self.scan_iter(Span::range(&range))
    }

    /// Nuts from `key` (inclusive) to the end, in key order.
    pub fn iter_from(&self, key: impl AsRef<str>) -> Iter {
        self.scan_iter(Span::from(key.as_ref()))
    }
}
