//! Running a query: the snapshot taken under the state lock (keys or an index), the walk
//! that filters, skips and takes (stopping early when it can), ordering, and the query
//! cache (its key and reach, lookups and stores).

use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{prefix_end, tighter_end, Order, Query};
use crate::cache::{Reach, MAX_CACHED_RESULTS};
use crate::index::{Index, Keyed};
use crate::iter::Scan;
use crate::nut::{Nut, NutRef};
use crate::record::Record;
use crate::secondary::{Entry, IndexScan};
use crate::stats::Op;
use crate::{Error, Result};

/// A keyable query's key in the cache, and the generation of the tree's indexes it was
/// made for (`None`: the query reads no index).
pub(super) struct CacheKey {
    pub(super) bytes: Box<[u8]>,
    generation: Option<u64>,
}

/// What a snapshot shows: the last applied commit and the indexes' generation.
#[derive(Clone, Copy)]
struct Seen {
    version: u64,
    generation: u64,
}

/// What a query reads, taken under the state lock in one go.
enum Source {
    Keys(Scan),
    Index(IndexScan),
}

impl Source {
    // Inlined into the query's walk (once per record): out of line it costs ~1% of a scan.
    #[inline]
    fn next_with<R>(&mut self, f: impl FnOnce(&Record) -> R) -> Option<R> {
        match self {
            Source::Keys(s) => s.next_with(f),
            Source::Index(s) => s.next_with(f),
        }
    }
}

/// Where a query's results go, one record at a time or a run of them (a leaf's run of a
/// plain scan, a cached list): a run lets the receiver fill its list without a check per
/// item.
trait Sink {
    fn one(&mut self, rec: &Record);

    #[inline]
    fn run(&mut self, recs: &[Record]) {
        recs.iter().for_each(|r| self.one(r));
    }
}

impl<F: FnMut(&Record)> Sink for F {
    #[inline]
    fn one(&mut self, rec: &Record) {
        self(rec);
    }
}

/// [`Query::collect`]'s sink: an owned nut per record.
struct Nuts(Vec<Nut>);

impl Sink for Nuts {
    #[inline]
    fn one(&mut self, rec: &Record) {
        self.0.push(rec.to_nut());
    }

    #[inline]
    fn run(&mut self, recs: &[Record]) {
        // A slice's iterator knows its length: one capacity check per run, and each nut is
        // built in its slot.
        self.0.extend(recs.iter().map(Record::to_nut));
    }
}

/// A sink that also keeps what it is handed, for the query cache (past the cap, nothing).
struct Keeping<'k, S> {
    sink: &'k mut S,
    kept: &'k mut Vec<Record>,
}

impl<S: Sink> Sink for Keeping<'_, S> {
    #[inline]
    fn one(&mut self, rec: &Record) {
        self.sink.one(rec);
        if self.kept.len() <= MAX_CACHED_RESULTS {
            self.kept.push(rec.clone());
        }
    }

    #[inline]
    fn run(&mut self, recs: &[Record]) {
        self.sink.run(recs);
        // Past the cap nothing is cached: stop keeping.
        if self.kept.len() <= MAX_CACHED_RESULTS {
            let room = MAX_CACHED_RESULTS + 1 - self.kept.len();
            self.kept.extend_from_slice(&recs[..recs.len().min(room)]);
        }
    }
}

impl<'q> Query<'q> {
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
    /// the cache is off. A query through an index is keyed by the index's name and the
    /// generation of the tree's indexes too: replaced or dropped under the same name, the
    /// index is another one, and results cached under the old one are never its answer.
    pub(super) fn cache_key(&self) -> Option<CacheKey> {
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
        let generation = match &self.through {
            None => {
                k.push(0);
                None
            }
            Some(t) => {
                k.push(if t.desc { 2 } else { 1 });
                bytes(&mut k, t.name.as_bytes());
                let generation = self.tree.inner.index_generation.load(Ordering::SeqCst);
                k.extend_from_slice(&generation.to_le_bytes());
                bound(&mut k, &t.start);
                bound(&mut k, &t.end);
                Some(generation)
            }
        };
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
        Some(CacheKey {
            bytes: k.into_boxed_slice(),
            generation,
        })
    }

    /// The range a cached result depends on.
    pub(super) fn reach(&self) -> Reach {
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

    /// Takes the snapshot (one lock, one `Arc` clone): what it shows (the applied version
    /// and the indexes' generation), and the source to read.
    fn open(&mut self, now: u64) -> Result<(Seen, Source)> {
        let span = std::mem::take(&mut self.span);
        let st = self.tree.state();
        let seen = Seen {
            version: st.applied,
            generation: st.indexes.generation,
        };
        match &self.through {
            None => {
                let index = st.index.clone();
                drop(st);
                Ok((seen, Source::Keys(Scan::over(&index, span, now))))
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
                    seen,
                    Source::Index(IndexScan::new(&entries, start, end, desc, now)),
                ))
            }
        }
    }

    /// Runs the query, handing each result (after skip, within take) to `sink`: from the
    /// cache when it holds them, else from a snapshot (and into the cache when keyable).
    fn run(self, mut sink: impl FnMut(&Record)) -> Result<()> {
        self.run_sized(0, &mut sink)
    }

    /// [`Query::run`], knowing about how many results to expect (sizes the list kept for
    /// the cache).
    fn run_sized(mut self, hint: usize, sink: &mut impl Sink) -> Result<()> {
        self.tree.tally(Op::Query, 1);
        let now = self.tree.now();
        let key = self.cache_key();
        if let Some(key) = &key {
            if let Some(hit) = self.tree.inner.cache.get(&key.bytes, now) {
                sink.run(&hit);
                return Ok(());
            }
        }
        let reach = key.as_ref().map(|_| self.reach());
        let (seen, source) = self.open(now)?;
        // An index replaced between the key and the snapshot: the key names the old one.
        let key = key.filter(|k| k.generation.is_none_or(|g| g == seen.generation));
        let Some((key, reach)) = key.zip(reach) else {
            let mut valid_until = u64::MAX;
            self.walk(source, sink, &mut valid_until);
            return Ok(());
        };
        let mut kept = Vec::with_capacity(hint.min(MAX_CACHED_RESULTS + 1));
        let mut valid_until = u64::MAX;
        let tree = self.tree;
        let mut keeping = Keeping {
            sink,
            kept: &mut kept,
        };
        self.walk(source, &mut keeping, &mut valid_until);
        // Kept only if the snapshot still shows the tree as it is: no commit applied since,
        // no index of the key's generation replaced or dropped since. Checked under the
        // state lock, which commits and index changes hold while they change either (see
        // `crate::cache`).
        if kept.len() > MAX_CACHED_RESULTS || !tree.inner.cache.enabled() {
            return Ok(());
        }
        let kept = kept.into();
        let st = tree.state();
        let current =
            st.applied == seen.version && key.generation.is_none_or(|g| st.indexes.generation == g);
        tree.inner
            .cache
            .put(key.bytes, current, kept, reach, valid_until);
        drop(st);
        Ok(())
    }

    /// Walks `source` through the filters, order, skip and take; lowers `valid_until` to
    /// the earliest expiry among the records read.
    fn walk(mut self, mut source: Source, sink: &mut impl Sink, valid_until: &mut u64) {
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
            let end = hits.len().min(self.skip.saturating_add(take));
            sink.run(hits.get(self.skip..end).unwrap_or_default());
            return;
        }
        let (mut skipped, mut taken) = (0, 0);
        if let (Source::Keys(scan), true) = (&mut source, self.passes_all()) {
            // Nothing to test per record: whole runs of the scan go to the sink.
            while let Some(done) = scan.next_run_with(|run| {
                // Read (for the cache's expiry) what the per-record walk would: the
                // skipped and the taken, none past the take.
                let cut = (self.skip - skipped).min(run.len());
                let end = run.len().min(cut.saturating_add(take - taken));
                run[..end].iter().for_each(&mut read);
                sink.run(&run[cut..end]);
                skipped += cut;
                taken += end - cut;
                taken == take
            }) {
                if done {
                    break;
                }
            }
            return;
        }
        while let Some(done) = source.next_with(|r| {
            read(r);
            if !self.matches(r) {
                return false;
            }
            if skipped < self.skip {
                skipped += 1;
                return false;
            }
            sink.one(r);
            taken += 1;
            taken == take
        }) {
            if done {
                break;
            }
        }
    }

    /// Whether every record of the source matches (no filter, window or index span).
    fn passes_all(&self) -> bool {
        self.window.is_none()
            && self.through.is_none()
            && self.raw.is_empty()
            && self.filters.is_empty()
    }

    /// The matching nuts.
    pub fn collect(self) -> Result<Vec<Nut>> {
        let hint = if self.passes_all() {
            self.tree.len()
        } else {
            0
        };
        let mut nuts = Nuts(Vec::with_capacity(
            hint.saturating_sub(self.skip)
                .min(self.take.unwrap_or(usize::MAX)),
        ));
        self.run_sized(hint, &mut nuts)?;
        Ok(nuts.0)
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
