//! Queries over a snapshot: filter (on a borrowed view, or on raw bytes before any decode),
//! order, time window, skip and take; over the keys, or over a secondary index (equality,
//! range, and its order either way); answered from the query cache when repeated.

use std::cmp::Reverse;
use std::fmt::Write as _;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::time::SystemTime;

use smallvec::SmallVec;

use crate::cache::{Reach, MAX_CACHED_RESULTS};
use crate::index::{Index, Keyed};
use crate::iter::{Scan, Span};
use crate::nut::{to_nanos, Nut, NutRef};
use crate::record::Record;
use crate::secondary::{self, Entry, IndexScan};
use crate::stats::Op;
use crate::{Error, Result, Tree};

/// Records whose references `collect` takes before writing their nuts.
const RUN: usize = 32;

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

fn show(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => key.iter().fold(String::from("0x"), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        }),
    }
}

fn show_bound(b: Bound<&[u8]>, open: bool) -> String {
    match (b, open) {
        (Bound::Unbounded, _) => String::new(),
        (Bound::Included(k), true) => format!("{}..", show(k)),
        (Bound::Excluded(k), true) => format!("(after {})..", show(k)),
        (Bound::Included(k), false) => format!("={}", show(k)),
        (Bound::Excluded(k), false) => show(k),
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

/// Whether a query's answer comes from the query cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheUse {
    /// Its results are cached: it would be answered without scanning.
    Hit,
    /// It can be cached, and will be once it runs.
    Miss,
    /// It holds unnamed closures, which cannot be keyed.
    Uncacheable,
    /// The tree's cache is off (`TreeBuilder::query_cache(0)`).
    Off,
}

/// How a query would run: [`Query::explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explain {
    /// The secondary index it reads, or `None` for a scan of the keys.
    pub index: Option<String>,
    /// Whether the query cache would answer it.
    pub cache: CacheUse,
    /// One line, e.g. `index "by_age" range 0x..=0x desc, 1 named filter (adults), take 10;
    /// cache: hit`.
    pub text: String,
}

impl std::fmt::Display for Explain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a query reads, taken under the state lock in one go.
enum Source {
    Keys(Scan),
    Index(IndexScan),
}

impl Source {
    fn next_with<R>(&mut self, f: impl FnOnce(&Record) -> R) -> Option<R> {
        match self {
            Source::Keys(s) => s.next_with(f),
            Source::Index(s) => s.next_with(f),
        }
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

    fn matches(&self, rec: &Record) -> bool {
        if let Some((from, to)) = self.window {
            let ts = rec.timestamp();
            if ts < from || ts > to {
                return false;
            }
        }
        if self.through.is_some() && !self.in_span(rec.key()) {
            return false;
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

    /// Whether `key` is in the primary-key span (checked per item when reading an index).
    fn in_span(&self, key: &[u8]) -> bool {
        let span = &self.span;
        let after = match &span.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= &**s,
            Bound::Excluded(s) => key > &**s,
        };
        after
            && crate::index::before_end(key, span.end.as_ref().map(|b| &**b))
            && span.prefix.as_ref().is_none_or(|p| key.starts_with(p))
    }

    /// The cache key: every part of the query, or `None` when a closure cannot be keyed or
    /// the cache is off.
    fn cache_key(&self) -> Option<Box<[u8]>> {
        if self.closures > 0 || !self.tree.inner.cache.enabled() {
            return None;
        }
        let mut k = Vec::with_capacity(64);
        let bytes = |k: &mut Vec<u8>, b: &[u8]| {
            k.extend_from_slice(&(b.len() as u64).to_le_bytes());
            k.extend_from_slice(b);
        };
        let bound = |k: &mut Vec<u8>, b: &Bound<Box<[u8]>>| match b {
            Bound::Unbounded => k.push(0),
            Bound::Included(x) => {
                k.push(1);
                bytes(k, x);
            }
            Bound::Excluded(x) => {
                k.push(2);
                bytes(k, x);
            }
        };
        bound(&mut k, &self.span.start);
        bound(&mut k, &self.span.end);
        match &self.span.prefix {
            None => k.push(0),
            Some(p) => {
                k.push(1);
                bytes(&mut k, p);
            }
        }
        match &self.through {
            None => k.push(0),
            Some(t) => {
                k.push(if t.desc { 2 } else { 1 });
                bytes(&mut k, t.name.as_bytes());
                bound(&mut k, &t.start);
                bound(&mut k, &t.end);
            }
        }
        let (from, to) = self.window.unwrap_or((u64::MAX, 0));
        k.extend_from_slice(&from.to_le_bytes());
        k.extend_from_slice(&to.to_le_bytes());
        k.push(match self.order {
            None => 0,
            Some(Order::Newest) => 1,
            Some(Order::Oldest) => 2,
            Some(Order::By(_)) => return None,
        });
        k.extend_from_slice(&(self.skip as u64).to_le_bytes());
        k.extend_from_slice(&(self.take.map_or(u64::MAX, |t| t as u64)).to_le_bytes());
        for name in &self.named {
            bytes(&mut k, name.as_bytes());
        }
        Some(k.into_boxed_slice())
    }

    /// The range a cached result depends on.
    fn reach(&self) -> Reach {
        match &self.through {
            Some(t) => Reach::Index {
                name: Arc::from(t.name.as_str()),
                start: t.start.clone(),
                end: t.end.clone(),
            },
            None => {
                let span = &self.span;
                let end = match &span.prefix {
                    Some(p) => match prefix_end(p) {
                        Some(e) => tighter_end(span.end.clone(), Bound::Excluded(e)),
                        None => span.end.clone(),
                    },
                    None => span.end.clone(),
                };
                Reach::Keys {
                    start: span.start.clone(),
                    end,
                }
            }
        }
    }

    /// Says how the query would run: a scan of the keys or a read of an index, and
    /// whether the answer would come from the cache.
    pub fn explain(&self) -> Explain {
        let mut text = match &self.through {
            Some(t) => format!(
                "index {:?} {}{}",
                t.name,
                match t.asked {
                    Asked::Eq => match &t.start {
                        Bound::Included(k) => format!("= {}", show(&secondary::index_key_of(k))),
                        _ => "=".into(),
                    },
                    Asked::All => "all".to_string(),
                    Asked::Range => {
                        // Shown as asked: composite bounds map back to index keys.
                        let ikey = |b: &Bound<Box<[u8]>>| match b {
                            Bound::Unbounded => None,
                            Bound::Included(k) | Bound::Excluded(k) => {
                                Some((secondary::index_key_of(k), k.last() == Some(&1)))
                            }
                        };
                        let from = match ikey(&t.start) {
                            None => String::new(),
                            Some((k, false)) => format!("{}..", show(&k)),
                            Some((k, true)) => format!("(after {})..", show(&k)),
                        };
                        let to = match ikey(&t.end) {
                            None => String::new(),
                            Some((k, true)) => format!("={}", show(&k)),
                            Some((k, false)) => show(&k),
                        };
                        format!("range {from}{to}")
                    }
                },
                if t.desc { " desc" } else { "" }
            ),
            None => match (&self.span.prefix, &self.span.start, &self.span.end) {
                (Some(p), _, _) => format!("scan of keys with prefix {}", show(p)),
                (None, Bound::Unbounded, Bound::Unbounded) => "full scan of keys".into(),
                (None, s, e) => format!(
                    "scan of keys {}{}",
                    show_bound(s.as_ref().map(|b| &**b), true),
                    show_bound(e.as_ref().map(|b| &**b), false)
                ),
            },
        };
        let unnamed = self.closures;
        if unnamed > 0 {
            let _ = write!(text, ", {unnamed} closure(s)");
        }
        if !self.named.is_empty() {
            let _ = write!(text, ", named filter(s) {}", self.named.join(", "));
        }
        if self.window.is_some() {
            text.push_str(", time window");
        }
        match &self.order {
            Some(Order::By(_)) => text.push_str(", sorted by a closure"),
            Some(Order::Newest) => text.push_str(", sorted newest first"),
            Some(Order::Oldest) => text.push_str(", sorted oldest first"),
            None => {}
        }
        if self.skip > 0 {
            let _ = write!(text, ", skip {}", self.skip);
        }
        if let Some(t) = self.take {
            let _ = write!(text, ", take {t}");
        }
        let cache = &self.tree.inner.cache;
        let use_ = if !cache.enabled() {
            CacheUse::Off
        } else {
            match self.cache_key() {
                None => CacheUse::Uncacheable,
                Some(key) if cache.contains(&key, self.tree.now()) => CacheUse::Hit,
                Some(_) => CacheUse::Miss,
            }
        };
        let _ = write!(
            text,
            "; cache: {}",
            match use_ {
                CacheUse::Hit => "hit",
                CacheUse::Miss => "miss (cached once run)",
                CacheUse::Uncacheable => "not cacheable (unnamed closure)",
                CacheUse::Off => "off",
            }
        );
        Explain {
            index: self.through.as_ref().map(|t| t.name.clone()),
            cache: use_,
            text,
        }
    }

    /// Takes the snapshot (one lock, one `Arc` clone): the applied version, and the
    /// source to read.
    fn open(&mut self, now: u64) -> Result<(u64, Source)> {
        let span = std::mem::take(&mut self.span);
        let st = self.tree.state();
        let version = st.applied;
        match &self.through {
            None => {
                let index = st.index.clone();
                drop(st);
                Ok((version, Source::Keys(Scan::over(&index, span, now))))
            }
            Some(t) => {
                let entries: Index<Entry> = match st.indexes.get(&t.name) {
                    Some(sec) => sec.entries.clone(),
                    None => {
                        return Err(Error::UnknownIndex {
                            name: t.name.clone(),
                            known: match st.indexes.names() {
                                names if names.is_empty() => "none".into(),
                                names => names.join(", "),
                            },
                        })
                    }
                };
                drop(st);
                // The span still filters the primary keys.
                self.span = span;
                let (start, end, desc) = (t.start.clone(), t.end.clone(), t.desc);
                Ok((
                    version,
                    Source::Index(IndexScan::new(&entries, start, end, desc, now)),
                ))
            }
        }
    }

    /// Runs the query, handing each result (after skip, within take) to `sink`: from the
    /// cache when it holds them, else from a snapshot (and into the cache when keyable).
    fn run(self, sink: impl FnMut(&Record)) -> Result<()> {
        self.run_sized(0, sink)
    }

    /// [`Query::run`], knowing about how many results to expect (sizes the list kept for
    /// the cache).
    fn run_sized(mut self, hint: usize, mut sink: impl FnMut(&Record)) -> Result<()> {
        self.tree.tally(Op::Query, 1);
        let now = self.tree.now();
        let key = self.cache_key();
        if let Some(key) = &key {
            if let Some(hit) = self.tree.inner.cache.get(key, now) {
                hit.iter().for_each(sink);
                return Ok(());
            }
        }
        let reach = key.as_ref().map(|_| self.reach());
        let (version, source) = self.open(now)?;
        let Some((key, reach)) = key.zip(reach) else {
            let mut valid_until = u64::MAX;
            self.walk(source, sink, &mut valid_until);
            return Ok(());
        };
        let mut kept = Vec::with_capacity(hint.min(MAX_CACHED_RESULTS + 1));
        let mut valid_until = u64::MAX;
        let tree = self.tree;
        self.walk(
            source,
            |r| {
                sink(r);
                // Past the cap nothing is cached: stop keeping.
                if kept.len() <= MAX_CACHED_RESULTS {
                    kept.push(r.clone());
                }
            },
            &mut valid_until,
        );
        let cache = &tree.inner.cache;
        cache.put(key, version, &tree.inner.applied, kept, reach, valid_until);
        Ok(())
    }

    /// Walks `source` through the filters, order, skip and take; lowers `valid_until` to
    /// the earliest expiry among the records read.
    fn walk(mut self, mut source: Source, mut sink: impl FnMut(&Record), valid_until: &mut u64) {
        let take = self.take.unwrap_or(usize::MAX);
        if take == 0 {
            return;
        }
        let mut read = |r: &Record| {
            if r.expires() != 0 {
                *valid_until = (*valid_until).min(r.expires());
            }
        };
        if let Some(order) = self.order.take() {
            let mut hits = Vec::new();
            while let Some(rec) = source.next_with(|r| {
                read(r);
                self.matches(r).then(|| r.clone())
            }) {
                hits.extend(rec);
            }
            match order {
                Order::By(sort) => sort(&mut hits),
                Order::Newest => {
                    hits.sort_by_key(|r| Reverse((r.timestamp(), r.version())));
                }
                Order::Oldest => hits.sort_by_key(|r| (r.timestamp(), r.version())),
            }
            hits.iter().skip(self.skip).take(take).for_each(sink);
            return;
        }
        let (mut skipped, mut taken) = (0, 0);
        while let Some(done) = source.next_with(|r| {
            read(r);
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
        let unfiltered = self.raw.is_empty()
            && self.filters.is_empty()
            && self.window.is_none()
            && self.through.is_none();
        let hint = if unfiltered { self.tree.len() } else { 0 };
        let mut out = Vec::with_capacity(
            hint.saturating_sub(self.skip)
                .min(self.take.unwrap_or(usize::MAX)),
        );
        // Take the references of a run of records first, then write their nuts: a
        // reference-count increment is a locked instruction, which waits for every store
        // before it, so alternating the two would expose each output store's cache miss.
        let mut held: SmallVec<[Record; RUN]> = SmallVec::new();
        self.run_sized(hint, |r| {
            held.push(r.clone());
            if held.len() == RUN {
                out.extend(held.drain(..).map(Record::into_nut));
            }
        })?;
        out.extend(held.drain(..).map(Record::into_nut));
        Ok(out)
    }

    /// Hands each matching nut to `f` as a borrowed view, in the query's order, without
    /// copying keys or values (the fast way to scan many results).
    pub fn for_each(self, mut f: impl FnMut(NutRef<'_>)) -> Result<()> {
        self.run(|r| f(r.view()))
    }

    /// How many nuts match (after skip and take).
    pub fn count(self) -> Result<usize> {
        let mut n = 0;
        self.run(|_| n += 1)?;
        Ok(n)
    }

    /// The first matching nut in the query's order.
    pub fn first(self) -> Result<Option<Nut>> {
        let mut out = None;
        self.take(1).run(|r| out = Some(r.to_nut()))?;
        Ok(out)
    }

    /// Whether any nut matches.
    pub fn any(self) -> Result<bool> {
        Ok(self.take(1).count()? > 0)
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
