//! Queries over a snapshot: filter (on a borrowed view, or on raw bytes before any decode),
//! order, time window, skip and take.

use std::cmp::Reverse;
use std::ops::RangeBounds;
use std::time::SystemTime;

use smallvec::SmallVec;

use crate::iter::{Scan, Span};
use crate::nut::{to_nanos, Nut, NutRef};
use crate::record::Record;
use crate::stats::Op;
use crate::{Result, Tree};

/// Records whose references `collect` takes before writing their nuts.
const RUN: usize = 32;

type RawPred<'q> = Box<dyn Fn(&[u8]) -> bool + 'q>;
type ViewPred<'q> = Box<dyn for<'a> Fn(&NutRef<'a>) -> bool + 'q>;
type Sorter<'q> = Box<dyn FnOnce(&mut Vec<Record>) + 'q>;

/// A query under construction; nothing runs until `collect`, `count`, `first` or `any`.
#[must_use = "a query does nothing until collect, count, first or any runs it"]
pub struct Query<'q> {
    tree: &'q Tree,
    span: Span,
    raw: Vec<RawPred<'q>>,
    filters: Vec<ViewPred<'q>>,
    window: Option<(u64, u64)>,
    order: Option<Sorter<'q>>,
    skip: usize,
    take: Option<usize>,
}

impl std::fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("span", &self.span)
            .field("raw_filters", &self.raw.len())
            .field("filters", &self.filters.len())
            .field("window", &self.window)
            .field("ordered", &self.order.is_some())
            .field("skip", &self.skip)
            .field("take", &self.take)
            .finish()
    }
}

impl Tree {
    /// Starts a query over every visible nut.
    pub fn query(&self) -> Query<'_> {
        Query {
            tree: self,
            span: Span::default(),
            raw: Vec::new(),
            filters: Vec::new(),
            window: None,
            order: None,
            skip: 0,
            take: None,
        }
    }
}

impl<'q> Query<'q> {
    /// Only keys starting with `prefix` (narrows the scan itself).
    pub fn prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.span = Span::prefix(prefix.as_ref());
        self
    }

    /// Only keys in `range` (narrows the scan itself).
    pub fn range<K: AsRef<str>, R: RangeBounds<K>>(mut self, range: R) -> Self {
        self.span = Span::range(&range);
        self
    }

    /// Keeps nuts for which `f` holds. Filters combine with AND.
    pub fn filter(mut self, f: impl Fn(&NutRef<'_>) -> bool + 'q) -> Self {
        self.filters.push(Box::new(f));
        self
    }

    /// Keeps nuts whose raw value bytes satisfy `f`; runs before any view is built, so a
    /// cheap byte test can spare the decode of every rejected value.
    pub fn filter_raw(mut self, f: impl Fn(&[u8]) -> bool + 'q) -> Self {
        self.raw.push(Box::new(f));
        self
    }

    /// Keeps nuts written between `from` and `to`, both inclusive.
    pub fn between(mut self, from: SystemTime, to: SystemTime) -> Self {
        self.window = Some((to_nanos(from), to_nanos(to)));
        self
    }

    /// Sorts ascending by `key` (stable; the last ordering given wins).
    pub fn order_by<K: Ord + 'q>(mut self, key: impl Fn(&NutRef<'_>) -> K + 'q) -> Self {
        self.order = Some(Box::new(move |v: &mut Vec<Record>| {
            v.sort_by_cached_key(|r| key(&r.view()));
        }));
        self
    }

    /// Sorts descending by `key` (stable; the last ordering given wins).
    pub fn order_by_desc<K: Ord + 'q>(mut self, key: impl Fn(&NutRef<'_>) -> K + 'q) -> Self {
        self.order = Some(Box::new(move |v: &mut Vec<Record>| {
            v.sort_by_cached_key(|r| Reverse(key(&r.view())));
        }));
        self
    }

    /// Most recently written first (ties broken by version).
    pub fn newest(self) -> Self {
        self.order_by_desc(|n| (n.timestamp, n.version))
    }

    /// Least recently written first (ties broken by version).
    pub fn oldest(self) -> Self {
        self.order_by(|n| (n.timestamp, n.version))
    }

    /// Leaves out the first `n` results (after filtering and ordering).
    pub fn skip(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    /// Keeps at most `n` results (after `skip`). Without an order, the scan stops as soon
    /// as it has them.
    pub fn take(mut self, n: usize) -> Self {
        self.take = Some(n);
        self
    }

    fn matches(&self, rec: &Record) -> bool {
        if let Some((from, to)) = self.window {
            let ts = rec.timestamp();
            if ts < from || ts > to {
                return false;
            }
        }
        if !self.raw.iter().all(|f| f(rec.value())) {
            return false;
        }
        if self.filters.is_empty() {
            return true;
        }
        let view = rec.view();
        self.filters.iter().all(|f| f(&view))
    }

    /// Runs the query, handing each result (after skip, within take) to `sink`.
    fn run(mut self, mut sink: impl FnMut(&Record)) {
        self.tree.tally(Op::Query, 1);
        let mut scan = Scan::new(self.tree, std::mem::take(&mut self.span));
        let take = self.take.unwrap_or(usize::MAX);
        if take == 0 {
            return;
        }
        if let Some(order) = self.order.take() {
            let mut hits = Vec::new();
            while let Some(rec) = scan.next_with(|r| self.matches(r).then(|| r.clone())) {
                hits.extend(rec);
            }
            order(&mut hits);
            hits.iter().skip(self.skip).take(take).for_each(sink);
            return;
        }
        let (mut skipped, mut taken) = (0, 0);
        while let Some(done) = scan.next_with(|r| {
            if !self.matches(r) {
                return false;
            }
            if skipped < self.skip {
                skipped += 1;
                return false;
            }
            sink(r);
            taken += 1;
            taken == take
        }) {
            if done {
                break;
            }
        }
    }

    /// The matching nuts.
    pub fn collect(self) -> Result<Vec<Nut>> {
        let unfiltered = self.raw.is_empty() && self.filters.is_empty() && self.window.is_none();
        let hint = if unfiltered { self.tree.len() } else { 0 };
        let mut out = Vec::with_capacity(
            hint.saturating_sub(self.skip)
                .min(self.take.unwrap_or(usize::MAX)),
        );
        // Take the references of a run of records first, then write their nuts: a
        // reference-count increment is a locked instruction, which waits for every store
        // before it, so alternating the two would expose each output store's cache miss.
        let mut held: SmallVec<[Record; RUN]> = SmallVec::new();
        self.run(|r| {
            held.push(r.clone());
            if held.len() == RUN {
                out.extend(held.drain(..).map(Record::into_nut));
            }
        });
        out.extend(held.drain(..).map(Record::into_nut));
        Ok(out)
    }

    /// Hands each matching nut to `f` as a borrowed view, in the query's order, without
    /// copying keys or values (the fast way to scan many results).
    pub fn for_each(self, mut f: impl FnMut(NutRef<'_>)) -> Result<()> {
        self.run(|r| f(r.view()));
        Ok(())
    }

    /// How many nuts match (after skip and take).
    pub fn count(self) -> Result<usize> {
        let mut n = 0;
        self.run(|_| n += 1);
        Ok(n)
    }

    /// The first matching nut in the query's order.
    pub fn first(self) -> Result<Option<Nut>> {
        let mut out = None;
        self.take(1).run(|r| out = Some(r.to_nut()));
        Ok(out)
    }

    /// Whether any nut matches.
    pub fn any(self) -> Result<bool> {
        Ok(self.take(1).count()? > 0)
    }
}
