//! Stage two, one table at a time: each section of a workload file has its own constructor
//! (`Dataset::from_spec`, `RunSettings::from_spec`, `Mix::from_spec`, ...) that checks its
//! keys and fills its defaults. Adding a key touches its spec struct and one constructor.

use std::time::Duration;

use serde::Serialize;
use toml::Spanned;

use super::context::{closest, Ctx, Problems, WorkloadError};
use super::keys::{Distribution, ScanLength};
use super::names::{write_key, KeyOrder, KeyTable};
use super::spec::{
    CacheSpec, DatasetSpec, DistributionSpec, DocSpec, QueryToml, RunSpec, TargetSpec, Threads,
};
use crate::backend::{self, CachePolicy, QueryOrder, QuerySpec};
use crate::doc::{DocShape, ValueShape};
use acorn_reports::targets::Target;
use acorn_reports::{Measure, OpKind};

/// The engine variants a workload runs when it names none.
pub const DEFAULT_VARIANTS: [&str; 4] = ["plain", "cached", "pooled", "binary"];

/// `[dataset]`: what is loaded before anything is measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dataset {
    pub records: u64,
    pub key_prefix: String,
    /// Digits the number in a key name is zero-padded to, at least (YCSB's `zeropadding`).
    pub key_width: usize,
    /// Whether key names carry the record number or its hash (YCSB's `insertorder`).
    pub key_order: KeyOrder,
    /// Documents of a shape (`doc = { .. }`, the default) or opaque bytes
    /// (`value = { bytes = N }`).
    pub value: ValueShape,
}

/// `[cache]`: what the `cached` variant does (other variants ignore it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CacheSettings {
    pub policy: CachePolicy,
    /// Values it keeps.
    pub capacity: usize,
}

impl Default for CacheSettings {
    /// Write-through, 10k values (AcornDB's default cache size).
    fn default() -> Self {
        CacheSettings {
            policy: CachePolicy::default(),
            capacity: 10_000,
        }
    }
}

impl Dataset {
    /// Writes the key name of record `id` into `buf`.
    #[inline]
    pub fn write_key(&self, buf: &mut Vec<u8>, id: u64) {
        write_key(buf, &self.key_prefix, self.key_width, self.key_order, id);
    }

    /// The names of the loaded records, computed once (see [`KeyTable`]).
    pub fn key_table(&self) -> KeyTable {
        KeyTable::new(
            &self.key_prefix,
            self.key_width,
            self.key_order,
            self.records,
        )
    }
}

/// How long each measured phase lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    #[serde(with = "duration_text")]
    Duration(Duration),
    Ops(u64),
}

pub(crate) mod duration_text {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// How variants share the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each variant runs all its repeats, then the next variant.
    Sequential,
    /// Variants take turns each repeat, in rotated order, so drift hits all alike.
    Interleaved,
    /// All variants at once (rayon): noisy, flagged as contended on small machines.
    Parallel,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Interleaved => "interleaved",
            Mode::Parallel => "parallel",
        }
    }
}

/// `[run]`: threads, phase length, repeats, pacing and per-operation sizes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSettings {
    pub threads: Vec<usize>,
    pub bound: Bound,
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    pub repeats: u32,
    pub seed: u64,
    /// Operations per second across all threads; `None` is closed loop.
    pub rate: Option<f64>,
    pub mode: Mode,
    pub scan: ScanLength,
    pub batch_size: usize,
    /// Operations each thread keeps going at once, as tokio tasks, on backends with an
    /// async API (`plain:async`); others run one at a time.
    pub in_flight: usize,
    /// Wall-clock time (the default) or instructions counted under callgrind.
    pub measure: Measure,
    /// The `recover` phase: after a variant's measured phases, close its store and time
    /// the reopen (stores on disk only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recover: bool,
}

/// `[mix]`: operation weights summing to 100 (zero weights left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Mix(pub Vec<(OpKind, u32)>);

impl Dataset {
    pub(crate) fn from_spec(cx: Ctx<'_>, ds: &DatasetSpec) -> Result<Dataset, WorkloadError> {
        let records = cx.positive(
            &ds.records,
            "dataset.records",
            1_000_000_000,
            "records to load",
        )?;
        let key = ds.key.as_ref();
        let key_prefix = key
            .and_then(|k| k.prefix.clone())
            .unwrap_or_else(|| "user".into());
        let key_width = match key.and_then(|k| k.width.as_ref()) {
            None => 1,
            Some(w) => cx.positive(
                w,
                "dataset.key.width",
                32,
                "digits a key number is padded to",
            )? as usize,
        };
        let key_order = match key.and_then(|k| k.order.as_ref()) {
            None => KeyOrder::Hashed,
            Some(o) => cx.choice(
                o,
                "dataset.key.order",
                "key order",
                &[("hashed", KeyOrder::Hashed), ("ordered", KeyOrder::Ordered)],
            )?,
        };
        Ok(Dataset {
            records,
            key_prefix,
            key_width,
            key_order,
            value: value_shape(cx, ds)?,
        })
    }
}

/// `doc = { .. }` or `value = { bytes = N }` (not both); documents of the default shape
/// when neither is given.
fn value_shape(cx: Ctx<'_>, ds: &DatasetSpec) -> Result<ValueShape, WorkloadError> {
    match (&ds.doc, &ds.value) {
        (Some(_), Some(v)) => Err(cx.err(
            v.span(),
            "dataset.value",
            "give `doc` (documents) or `value` (opaque bytes), not both",
        )),
        (None, Some(v)) => {
            let b = &v.get_ref().bytes;
            let n = cx.positive(b, "dataset.value.bytes", 1 << 24, "bytes per value")?;
            Ok(ValueShape::Bytes(n as usize))
        }
        (Some(d), None) => Ok(ValueShape::Doc(doc_shape(cx, d.get_ref())?)),
        (None, None) => Ok(ValueShape::default()),
    }
}

fn doc_shape(cx: Ctx<'_>, d: &DocSpec) -> Result<DocShape, WorkloadError> {
    let mut doc = DocShape::default();
    if let Some(f) = &d.fields {
        doc.fields = cx.nonneg(f, "dataset.doc.fields", 1000)?;
    }
    if let Some(f) = &d.field_bytes {
        doc.field_bytes =
            cx.positive(f, "dataset.doc.field_bytes", 1 << 20, "bytes per field")? as usize;
    }
    if let Some(t) = &d.tags {
        doc.tags = cx.nonneg(t, "dataset.doc.tags", 100)?;
    }
    Ok(doc)
}

impl CacheSettings {
    /// `[cache]`, plus `[run] cache_capacity`, the older spelling of `cache.capacity`.
    pub(crate) fn from_spec(
        cx: Ctx<'_>,
        cache: Option<&CacheSpec>,
        run: Option<&RunSpec>,
    ) -> Result<CacheSettings, WorkloadError> {
        let old = run.and_then(|r| r.cache_capacity.as_ref());
        let new = cache.and_then(|c| c.capacity.as_ref());
        let capacity = match (new, old) {
            (Some(c), Some(_)) => {
                return Err(cx.err(
                    c.span(),
                    "cache.capacity",
                    "also given as `run.cache_capacity` (its older spelling); keep one",
                ))
            }
            (Some(c), None) => cx.positive(c, "cache.capacity", 1 << 30, "values cached")?,
            (None, Some(c)) => cx.positive(c, "run.cache_capacity", 1 << 30, "values cached")?,
            (None, None) => CacheSettings::default().capacity as u64,
        };
        let policy = match cache.and_then(|c| c.policy.as_ref()) {
            None => CachePolicy::default(),
            Some(p) => cx.choice(
                p,
                "cache.policy",
                "cache policy",
                &[
                    ("write-through", CachePolicy::WriteThrough),
                    ("invalidate", CachePolicy::Invalidate),
                ],
            )?,
        };
        Ok(CacheSettings {
            policy,
            capacity: capacity as usize,
        })
    }
}

impl RunSettings {
    /// Every key of `[run]` is checked, even after one fails (each failed key's default
    /// stands in, so the later checks can go on), and the problems are reported together.
    pub(crate) fn from_spec(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<Self, WorkloadError> {
        let mut p = Problems::default();
        let threads = match run.and_then(|r| r.threads.as_ref()) {
            None => vec![1],
            Some(t) => p.or(threads(cx, t), vec![1]),
        };
        let warmup = match run.and_then(|r| r.warmup.as_ref()) {
            None => Duration::from_secs(1),
            Some(w) => p.or(cx.duration(w, "run.warmup"), Duration::ZERO),
        };
        let repeats = match run.and_then(|r| r.repeats.as_ref()) {
            None => 3,
            Some(r) => p.or(cx.positive(r, "run.repeats", 1000, "measured repeats"), 1) as u32,
        };
        let mode = match run.and_then(|r| r.mode.as_ref()) {
            None => Mode::Interleaved,
            Some(m) => p.or(
                cx.choice(
                    m,
                    "run.mode",
                    "mode",
                    &[
                        ("sequential", Mode::Sequential),
                        ("interleaved", Mode::Interleaved),
                        ("parallel", Mode::Parallel),
                    ],
                ),
                Mode::Interleaved,
            ),
        };
        let rate = p.or(rate(cx, run.and_then(|r| r.rate.as_ref()), &threads), None);
        let bound = p.or(bound(cx, run), Bound::Ops(1));
        let scan = p.or(scan_length(cx, run), ScanLength::Fixed { length: 1 });
        let batch_size = p.or(
            cx.positive_or(
                run.and_then(|r| r.batch_size.as_ref()),
                "run.batch_size",
                100,
                1_000_000,
            ),
            1,
        );
        let in_flight = p.or(in_flight(cx, run), 1);
        let measure = p.or(
            measure(cx, run.and_then(|r| r.measure.as_ref())),
            Measure::default(),
        );
        p.finish(|| RunSettings {
            threads,
            bound,
            warmup,
            repeats,
            seed: run
                .and_then(|r| r.seed.as_ref())
                .map_or(42, |s| s.get_ref().unsigned_abs()),
            rate,
            mode,
            scan,
            batch_size,
            in_flight,
            measure,
            recover: run
                .and_then(|r| r.recover.as_ref())
                .is_some_and(|r| *r.get_ref()),
        })
    }
}

/// `[run] in_flight`: 1 to 100,000 operations per thread at once; closed loop only.
fn in_flight(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<usize, WorkloadError> {
    let Some(v) = run.and_then(|r| r.in_flight.as_ref()) else {
        return Ok(1);
    };
    let n = cx.positive(
        v,
        "run.in_flight",
        100_000,
        "operations in flight per thread",
    )?;
    let paced = run
        .and_then(|r| r.rate.as_ref())
        .is_some_and(|r| *r.get_ref() > 0.0);
    if n > 1 && paced {
        return Err(cx.err(
            v.span(),
            "run.in_flight",
            "operations in flight run closed loop; drop `rate` or set in_flight = 1",
        ));
    }
    Ok(n as usize)
}

/// `measure = "wall-clock" | "instructions"`.
fn measure(cx: Ctx<'_>, m: Option<&Spanned<String>>) -> Result<Measure, WorkloadError> {
    let Some(m) = m else {
        return Ok(Measure::default());
    };
    let choices = Measure::ALL.map(|m| (m.name(), m));
    cx.choice(m, "run.measure", "measure", &choices)
}

/// `scan_length` (the longest, or the only, length), `scan_length_distribution` and
/// `min_scan_length`.
fn scan_length(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<ScanLength, WorkloadError> {
    let max = cx.positive_or(
        run.and_then(|r| r.scan_length.as_ref()),
        "run.scan_length",
        100,
        100_000,
    )? as u64;
    let min = cx.positive_or(
        run.and_then(|r| r.min_scan_length.as_ref()),
        "run.min_scan_length",
        1,
        100_000,
    )? as u64;
    #[derive(Clone, Copy)]
    enum Kind {
        Fixed,
        Uniform,
        Zipfian,
    }
    let kind = match run.and_then(|r| r.scan_length_distribution.as_ref()) {
        None => Kind::Uniform,
        Some(k) => cx.choice(
            k,
            "run.scan_length_distribution",
            "scan length distribution",
            &[
                ("uniform", Kind::Uniform),
                ("fixed", Kind::Fixed),
                ("zipfian", Kind::Zipfian),
            ],
        )?,
    };
    if min > max && !matches!(kind, Kind::Fixed) {
        let at = run
            .and_then(|r| r.min_scan_length.as_ref())
            .map_or(0..0, Spanned::span);
        return Err(cx.err(
            at,
            "run.min_scan_length",
            format!("{min} is longer than scan_length ({max})"),
        ));
    }
    Ok(match kind {
        Kind::Fixed => ScanLength::Fixed { length: max },
        Kind::Uniform => ScanLength::Uniform { min, max },
        Kind::Zipfian => ScanLength::Zipfian { min, max },
    })
}

fn threads(cx: Ctx<'_>, t: &Spanned<Threads>) -> Result<Vec<usize>, WorkloadError> {
    let list = match t.get_ref() {
        Threads::One(n) => vec![*n],
        Threads::Many(v) => v.clone(),
    };
    if list.is_empty() || list.iter().any(|n| *n < 1 || *n > 1024) {
        return Err(cx.err(
            t.span(),
            "run.threads",
            "give a thread count or a list of them, each between 1 and 1024",
        ));
    }
    Ok(list
        .into_iter()
        .map(|n| n.unsigned_abs() as usize)
        .collect())
}

fn bound(cx: Ctx<'_>, run: Option<&RunSpec>) -> Result<Bound, WorkloadError> {
    match (
        run.and_then(|r| r.duration.as_ref()),
        run.and_then(|r| r.ops.as_ref()),
    ) {
        (Some(d), Some(_)) => Err(cx.err(
            d.span(),
            "run.duration",
            "give `duration` or `ops`, not both",
        )),
        (Some(d), None) => {
            let dur = cx.duration(d, "run.duration")?;
            if dur.is_zero() {
                return Err(cx.err(d.span(), "run.duration", "must be longer than zero"));
            }
            Ok(Bound::Duration(dur))
        }
        (None, Some(o)) => Ok(Bound::Ops(cx.positive(
            o,
            "run.ops",
            i64::MAX,
            "operations per thread",
        )?)),
        (None, None) => Ok(Bound::Duration(Duration::from_secs(5))),
    }
}

/// `run.rate`: 0 (closed loop), or a total rate that gives every thread at least one
/// operation per second at the largest thread count.
fn rate(
    cx: Ctx<'_>,
    r: Option<&Spanned<f64>>,
    threads: &[usize],
) -> Result<Option<f64>, WorkloadError> {
    let Some(r) = r else { return Ok(None) };
    let x = *r.get_ref();
    if x == 0.0 {
        return Ok(None);
    }
    let most = threads.iter().copied().max().unwrap_or(1);
    let floor = most as f64;
    if !x.is_finite() || x < floor || x > 1e9 {
        let threads_text = if most == 1 {
            "1 thread".to_owned()
        } else {
            format!("{most} threads")
        };
        return Err(cx.err(
            r.span(),
            "run.rate",
            format!(
                "{x} is not a possible rate: use 0 for closed loop, or a total across all \
                 threads of at least 1 operation per second per thread (here {floor} or more, \
                 for {threads_text}) and at most 1e9"
            ),
        ));
    }
    Ok(Some(x))
}

/// `--variants`: trimmed names, each registered and listed once, with a suggestion for a
/// misspelt one (the file's `variants` gets the same checks).
pub fn variants_from_cli(list: &[String]) -> Result<Vec<String>, String> {
    let known: Vec<&str> = backend::registry().iter().map(|r| r.name).collect();
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let n = raw.trim();
        if n.is_empty() {
            return Err(format!(
                "--variants {:?}: an empty name (a stray comma?)",
                list.join(",")
            ));
        }
        if !known.contains(&n) {
            let hint = closest(n, known.iter().copied())
                .map(|b| format!(" Did you mean `{b}`?"))
                .unwrap_or_default();
            return Err(format!(
                "--variants: unknown variant {n:?}.{hint} Registered: {}",
                known.join(", ")
            ));
        }
        if out.iter().any(|o| o == n) {
            return Err(format!("--variants: {n:?} is listed twice"));
        }
        out.push(n.to_owned());
    }
    Ok(out)
}

impl Mix {
    /// The sum of the weights (100 for a TOML mix; YCSB's proportions are scaled).
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, w)| u64::from(*w)).sum()
    }

    /// Whether any operation of the mix changes the data (a read-only mix leaves the
    /// loaded records as they were, so repeats need not restore them).
    pub fn writes(&self) -> bool {
        self.0.iter().any(|(k, w)| *w > 0 && k.writes())
    }

    /// Records one operation inserts, on average (inserts, and batches of `batch_size`).
    pub fn inserts_per_op(&self, batch_size: usize) -> f64 {
        let inserted: f64 = self
            .0
            .iter()
            .map(|(k, w)| match k {
                OpKind::Insert => f64::from(*w),
                OpKind::Batch => f64::from(*w) * batch_size as f64,
                _ => 0.0,
            })
            .sum();
        inserted / self.total().max(1) as f64
    }

    pub(crate) fn from_spec(
        cx: Ctx<'_>,
        mix: &Spanned<std::collections::BTreeMap<String, Spanned<i64>>>,
    ) -> Result<Mix, WorkloadError> {
        let mut p = Problems::default();
        let mut out = Vec::new();
        let mut total = 0i64;
        for (op, w) in mix.get_ref() {
            let weight = *w.get_ref();
            if !(0..=100).contains(&weight) {
                p.note(cx.err(
                    w.span(),
                    &format!("mix.{op}"),
                    format!("weights are percentages from 0 to 100; got {weight}"),
                ));
            }
            total += weight;
            let Some(kind) = OpKind::parse(op) else {
                let names = OpKind::ALL.map(OpKind::name);
                let hint = closest(op, names)
                    .map(|b| format!(" Did you mean `{b}`?"))
                    .unwrap_or_default();
                p.note(cx.err(
                    w.span(),
                    &format!("mix.{op}"),
                    format!("unknown operation.{hint} Operations: {}", names.join(", ")),
                ));
                continue;
            };
            if weight > 0 {
                out.push((kind, weight.unsigned_abs() as u32));
            }
        }
        if total != 100 {
            p.note(cx.err(
                mix.span(),
                "mix",
                format!("weights must sum to 100; they sum to {total}"),
            ));
        }
        p.finish(|| Mix(out))
    }
}

impl Distribution {
    pub(crate) fn from_spec(
        cx: Ctx<'_>,
        d: Option<&DistributionSpec>,
    ) -> Result<Distribution, WorkloadError> {
        let Some(d) = d else {
            return Ok(Distribution::Uniform);
        };
        let theta = || cx.fraction(d.theta.as_ref(), "distribution.theta", 0.99);
        #[derive(Clone, Copy)]
        enum Kind {
            Uniform,
            Sequential,
            Zipfian,
            Scrambled,
            Latest,
            Hotspot,
        }
        let kind = cx.choice(
            &d.kind,
            "distribution.kind",
            "distribution",
            &[
                ("uniform", Kind::Uniform),
                ("zipfian", Kind::Zipfian),
                ("scrambled_zipfian", Kind::Scrambled),
                ("latest", Kind::Latest),
                ("hotspot", Kind::Hotspot),
                ("sequential", Kind::Sequential),
            ],
        )?;
        Ok(match kind {
            Kind::Uniform => Distribution::Uniform,
            Kind::Sequential => Distribution::Sequential,
            Kind::Zipfian => Distribution::Zipfian { theta: theta()? },
            Kind::Scrambled => Distribution::ScrambledZipfian { theta: theta()? },
            Kind::Latest => Distribution::Latest { theta: theta()? },
            Kind::Hotspot => Distribution::Hotspot {
                hot_fraction: cx.fraction(
                    d.hot_fraction.as_ref(),
                    "distribution.hot_fraction",
                    0.2,
                )?,
                hot_ops: cx.fraction(d.hot_ops.as_ref(), "distribution.hot_ops", 0.8)?,
            },
        })
    }
}

/// `[query]`: the query every backend answers, over the dataset's key prefix. Over opaque
/// values (which have no fields) it pages in key order and may not filter.
pub(crate) fn query_from_spec(
    cx: Ctx<'_>,
    q: Option<&QueryToml>,
    dataset: &Dataset,
) -> Result<QuerySpec, WorkloadError> {
    let opaque = dataset.value.is_opaque();
    let mut query = QuerySpec {
        prefix: dataset.key_prefix.as_bytes().to_vec(),
        min_value: (!opaque).then_some(500),
        order: if opaque {
            QueryOrder::Key
        } else {
            QueryOrder::ValueDesc
        },
        skip: 0,
        take: 10,
    };
    let Some(q) = q else { return Ok(query) };
    if let Some(m) = &q.min_value {
        if opaque {
            return Err(cx.err(
                m.span(),
                "query.min_value",
                "opaque values (`dataset.value`) have no fields to filter on; leave it out",
            ));
        }
    }
    query.min_value = q.min_value.as_ref().map(|m| *m.get_ref());
    if let Some(o) = &q.order {
        query.order = cx.choice(
            o,
            "query.order",
            "order",
            &[
                ("key", QueryOrder::Key),
                ("value_desc", QueryOrder::ValueDesc),
                ("newest", QueryOrder::Newest),
            ],
        )?;
        if opaque && query.order != QueryOrder::Key {
            return Err(cx.err(
                o.span(),
                "query.order",
                "opaque values (`dataset.value`) have no fields to order by; use \"key\"",
            ));
        }
    }
    if let Some(s) = &q.skip {
        query.skip = cx.nonneg(s, "query.skip", 1 << 30)?;
    }
    if let Some(t) = &q.take {
        query.take = cx.positive(t, "query.take", 1 << 30, "results per page")? as usize;
    }
    Ok(query)
}

/// `variants = [...]`: registered names, each once; the engine variants when absent.
pub(crate) fn variants_from_spec(
    cx: Ctx<'_>,
    list: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Result<Vec<String>, WorkloadError> {
    let known: Vec<&str> = backend::registry().iter().map(|r| r.name).collect();
    let Some(list) = list else {
        return Ok(DEFAULT_VARIANTS.iter().map(|s| (*s).to_owned()).collect());
    };
    if list.get_ref().is_empty() {
        return Err(cx.err(
            list.span(),
            "variants",
            format!("lists no variant; registered: {}", known.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for v in list.get_ref() {
        let n = v.get_ref();
        if !known.contains(&n.as_str()) {
            let hint = closest(n, known.iter().copied())
                .map(|b| format!(" Did you mean `{b}`?"))
                .unwrap_or_default();
            return Err(cx.err(
                v.span(),
                "variants",
                format!(
                    "unknown variant {n:?}.{hint} Registered: {}",
                    known.join(", ")
                ),
            ));
        }
        if out.contains(n) {
            return Err(cx.err(v.span(), "variants", format!("{n:?} is listed twice")));
        }
        out.push(n.clone());
    }
    Ok(out)
}

/// `[[target]]`: parsed once into a typed metric and expectation; the variant must run.
pub(crate) fn target_from_spec(
    cx: Ctx<'_>,
    t: &TargetSpec,
    variants: &[String],
) -> Result<Target, WorkloadError> {
    let metric = acorn_reports::targets::Metric::parse(t.metric.get_ref())
        .map_err(|e| cx.err(t.metric.span(), "target.metric", e))?;
    let expect = acorn_reports::targets::Expect::parse(t.expect.get_ref())
        .map_err(|e| cx.err(t.expect.span(), "target.expect", e))?;
    expect
        .check_unit(&metric)
        .map_err(|e| cx.err(t.expect.span(), "target.expect", e))?;
    let variant = match &t.variant {
        None => variants[0].clone(),
        Some(v) if variants.contains(v.get_ref()) => v.get_ref().clone(),
        Some(v) => {
            return Err(cx.err(
                v.span(),
                "target.variant",
                format!(
                    "{:?} does not run in this workload; it runs {}",
                    v.get_ref(),
                    variants.join(", ")
                ),
            ));
        }
    };
    Ok(Target {
        name: t.name.get_ref().clone(),
        variant,
        metric,
        expect,
    })
}
