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
    /// Whether the run [`Scan::next_run`] last found ends at the span's end.
    run_ends_span: bool,
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
            run_ends_span: false,
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
        let n = self.next_run()?;
        let out = f(&self.cursor.rest()[..n]);
        self.past_run(n);
        Some(out)
    }

    /// The length of the next run of visible records at the cursor (never 0), stepping
    /// over expired ones; `None` when the span is over. [`Scan::past_run`] moves past it.
    #[inline]
    fn next_run(&mut self) -> Option<usize> {
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
            self.run_ends_span = past_end;
            return Some(n);
        }
        None
    }

    /// Moves past the `n` records of a run [`Scan::next_run`] found.
    #[inline]
    fn past_run(&mut self, n: usize) {
        if self.run_ends_span {
            self.done = true;
        } else {
            self.cursor.advance_by(n);
        }
    }
}

/// An iterator of [`Nut`]s in key order over a snapshot taken when it was created.
#[derive(Debug)]
pub struct Iter {
    scan: Scan,
    /// How many nuts are still certain to come (a lower bound: a whole-tree scan's
    /// records less those with a TTL, which may have expired; 0 for a part of the tree),
    /// so that `collect` sizes its list once.
    sure: usize,
    /// Visible records left in the run the cursor stands in ([`Scan::next_run`]).
    run: usize,
}

impl Iterator for Iter {
    type Item = Nut;

    fn next(&mut self) -> Option<Nut> {
        self.step(Record::to_nut)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.sure, None)
    }
}

impl Iter {
    /// Like `next`, but lends a borrowed view instead of copying key and value.
    pub fn next_ref<R>(&mut self, f: impl FnOnce(NutRef<'_>) -> R) -> Option<R> {
        self.step(|r| f(r.view()))
    }

    /// Calls `f` on the next visible record and moves past it. A run of visible records
    /// is found once per leaf (or expired record); each record of it is then one step of
    /// the cursor, with no bound or expiry check of its own.
    #[inline]
    fn step<R>(&mut self, f: impl FnOnce(&Record) -> R) -> Option<R> {
        if self.run == 0 {
            self.run = self.scan.next_run()?;
        }
        let out = f(&self.scan.cursor.rest()[0]);
        self.run -= 1;
        if self.run == 0 {
            self.scan.past_run(1);
        } else {
            self.scan.cursor.advance();
        }
        self.sure = self.sure.saturating_sub(1);
        Some(out)
    }
}

impl Tree {
    fn scan_iter(&self, span: Span) -> Iter {
        self.tally(Op::Iter, 1);
        Iter {
            scan: Scan::new(self, span),
            sure: 0,
            run: 0,
        }
    }

    /// Every visible nut, in key order.
    pub fn iter(&self) -> Iter {
        self.tally(Op::Iter, 1);
        let (index, now, sure) = self.snapshot_counted();
        Iter {
            scan: Scan::over(&index, Span::default(), now),
            sure,
            run: 0,
        }
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
