//! Queries over a snapshot: filter (on a borrowed view, or on raw bytes before any decode),
//! order, time window, skip and take; over the keys, or over a secondary index (equality,
//! range, and its order either way); answered from the query cache when repeated.
//!
//! Files: `mod.rs` (building a query: [`Query`], [`IndexQuery`]), `run.rs` (running it:
//! the snapshot, the scan or index read, filters, order, skip and take, the cache),
//! `explain.rs` (what [`Query::explain`] says).

mod explain;
mod run;

use std::cmp::Reverse;
use std::ops::{Bound, RangeBounds};
use std::time::SystemTime;

use crate::iter::Span;
use crate::nut::{to_nanos, NutRef};
use crate::record::Record;
use crate::secondary;
use crate::Tree;

pub use explain::{CacheUse, Explain};

type RawPred<'q> = Box<dyn Fn(&[u8]) -> bool + 'q>;
type ViewPred<'q> = Box<dyn for<'a> Fn(&NutRef<'a>) -> bool + 'q>;
type Sorter<'q> = Box<dyn FnOnce(&mut Vec<Record>) + 'q>;

/// How results are ordered when not in the source's own order.
enum Order<'q> {
    By(Sorter<'q>),
    Newest,
    Oldest,
}

/// Reading a secondary index between composite-key bounds.
#[derive(Debug, Clone)]
struct Through {
    name: String,
    start: Bound<Box<[u8]>>,
    end: Bound<Box<[u8]>>,
    desc: bool,
    /// How the range was asked for, for `explain`.
    asked: Asked,
}

/// The part of an index a query asked for (only `explain` reads it).
#[derive(Debug, Clone)]
enum Asked {
    Eq,
    Range,
    All,
}

/// A query under construction; nothing runs until `collect`, `count`, `first` or `any`.
///
/// **Caching.** A query whose every part can be described (key span or index range, named
/// filters, `between`, `newest`/`oldest`, skip, take) is *keyable*: its results (up to
/// 10,000 nuts) are kept in the tree's query cache, keyed by that description, and a
/// repeated query is answered from there without scanning until a commit touches the
/// range it read (or a nut it read expires). A closure given to `filter`, `filter_raw` or
/// `order_by` cannot be described (two closures cannot be compared), so such a query always
/// runs; name a filter with [`Query::filter_named`] to let it be cached (the name then
/// stands for the closure: give different filters different names). [`Query::explain`]
/// says which applies.
#[must_use = "a query does nothing until collect, count, first or any runs it"]
pub struct Query<'q> {
    tree: &'q Tree,
    span: Span,
    through: Option<Through>,
    raw: Vec<RawPred<'q>>,
    filters: Vec<ViewPred<'q>>,
    /// Names of the named filters, in order (they key the cache).
    named: Vec<String>,
    /// Unnamed closures (filters and orderings): a query with any is not cached.
    closures: usize,
    window: Option<(u64, u64)>,
    order: Option<Order<'q>>,
    skip: usize,
    take: Option<usize>,
}

impl std::fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("span", &self.span)
            .field("index", &self.through)
            .field("raw_filters", &self.raw.len())
            .field("filters", &self.filters.len())
            .field("named", &self.named)
            .field("window", &self.window)
            .field("ordered", &self.order.is_some())
            .field("skip", &self.skip)
            .field("take", &self.take)
            .finish()
    }
}

/// A query that has picked a secondary index and now says which part of it to read.
#[must_use = "say which part of the index to read: eq, range or all"]
pub struct IndexQuery<'q> {
    query: Query<'q>,
    name: String,
    desc: bool,
}

impl std::fmt::Debug for IndexQuery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexQuery")
            .field("name", &self.name)
            .field("desc", &self.desc)
            .finish_non_exhaustive()
    }
}

impl<'q> IndexQuery<'q> {
    /// Reads the index backwards: largest index key first (ties by primary key, also
    /// backwards).
    pub fn desc(mut self) -> Self {
        self.desc = true;
        self
    }

    fn read(self, start: Bound<&[u8]>, end: Bound<&[u8]>, asked: Asked) -> Query<'q> {
        let (start, end) = secondary::bounds(start, end);
        let mut query = self.query;
        query.through = Some(Through {
            name: self.name,
            start,
            end,
            desc: self.desc,
            asked,
        });
        query
    }

    /// Nuts whose index key equals `key`, in primary-key order.
    pub fn eq(self, key: impl AsRef<[u8]>) -> Query<'q> {
        let key = key.as_ref();
        self.read(Bound::Included(key), Bound::Included(key), Asked::Eq)
    }

    /// Nuts whose index key lies in `range` (of byte strings, e.g. [`crate::IndexKey`]
    /// encodings), in index-key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(self, range: R) -> Query<'q> {
        let start = range.start_bound().map(AsRef::as_ref);
        let end = range.end_bound().map(AsRef::as_ref);
        self.read(start, end, Asked::Range)
    }

    /// Every nut the index holds, in index-key order.
    pub fn all(self) -> Query<'q> {
        self.read(Bound::Unbounded, Bound::Unbounded, Asked::All)
    }
}

impl Tree {
    /// Starts a query over every visible nut.
    pub fn query(&self) -> Query<'_> {
        Query {
            tree: self,
            span: Span::default(),
            through: None,
            raw: Vec::new(),
            filters: Vec::new(),
            named: Vec::new(),
            closures: 0,
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

    /// Reads the secondary index `name` instead of scanning the keys; say which part
    /// with [`IndexQuery::eq`], [`IndexQuery::range`] or [`IndexQuery::all`]. Results come
    /// in index-key order (then primary-key order) unless an ordering is given; `prefix` and
    /// `range` given before still narrow the primary keys (as a filter).
    pub fn index(self, name: impl Into<String>) -> IndexQuery<'q> {
        IndexQuery {
            query: self,
            name: name.into(),
            desc: false,
        }
    }

    /// Keeps nuts for which `f` holds. Filters combine with AND. (A closure makes the query
    /// uncacheable: see [`Query::filter_named`].)
    pub fn filter(mut self, f: impl Fn(&NutRef<'_>) -> bool + 'q) -> Self {
        self.filters.push(Box::new(f));
        self.closures += 1;
        self
    }

    /// Like [`Query::filter`], but `name` stands for the closure, so the query can be
    /// cached: the same name must always mean the same test.
    pub fn filter_named(
        mut self,
        name: impl Into<String>,
        f: impl Fn(&NutRef<'_>) -> bool + 'q,
    ) -> Self {
        self.filters.push(Box::new(f));
        self.named.push(name.into());
        self
    }

    /// Keeps nuts whose raw value bytes satisfy `f`; runs before any view is built, so a
    /// cheap byte test can spare the decode of every rejected value. (Uncacheable, as
    /// `filter`.)
    pub fn filter_raw(mut self, f: impl Fn(&[u8]) -> bool + 'q) -> Self {
        self.raw.push(Box::new(f));
        self.closures += 1;
        self
    }

    /// Keeps nuts written between `from` and `to`, both inclusive.
    pub fn between(mut self, from: SystemTime, to: SystemTime) -> Self {
        self.window = Some((to_nanos(from), to_nanos(to)));
        self
    }

    /// Sorts ascending by `key` (stable; the last ordering given wins). To read in an
    /// order without sorting everything first, query an index instead.
    pub fn order_by<K: Ord + 'q>(mut self, key: impl Fn(&NutRef<'_>) -> K + 'q) -> Self {
        self.order = Some(Order::By(Box::new(move |v: &mut Vec<Record>| {
            v.sort_by_cached_key(|r| key(&r.view()));
        })));
        self.closures += 1;
        self
    }

    /// Sorts descending by `key` (stable; the last ordering given wins).
    pub fn order_by_desc<K: Ord + 'q>(mut self, key: impl Fn(&NutRef<'_>) -> K + 'q) -> Self {
        self.order = Some(Order::By(Box::new(move |v: &mut Vec<Record>| {
            v.sort_by_cached_key(|r| Reverse(key(&r.view())));
        })));
        self.closures += 1;
        self
    }

    /// Most recently written first (ties broken by version).
    pub fn newest(mut self) -> Self {
        self.order = Some(Order::Newest);
        self
    }

    /// Least recently written first (ties broken by version).
    pub fn oldest(mut self) -> Self {
        self.order = Some(Order::Oldest);
        self
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
}

/// The first key past every key starting with `prefix` (`None`: there is none).
fn prefix_end(prefix: &[u8]) -> Option<Box<[u8]>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end.into_boxed_slice());
        }
    }
    None
}

/// The tighter of two end bounds.
fn tighter_end(a: Bound<Box<[u8]>>, b: Bound<Box<[u8]>>) -> Bound<Box<[u8]>> {
    let key = |x: &Bound<Box<[u8]>>| match x {
        Bound::Unbounded => None,
        Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
    };
    match (key(&a), key(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x < y => a,
        (Some(x), Some(y)) if y < x => b,
        _ if matches!(a, Bound::Excluded(_)) => a,
        _ => b,
    }
}
