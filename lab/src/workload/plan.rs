//! Stage two of loading: a validated [`Plan`]. Every rejection names the file, the line and
//! column, and the key, and says what is allowed.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use toml::Spanned;

use super::keys::Distribution;
use super::ops::OpKind;
use super::spec::{Threads, WorkloadSpec};
use crate::backend::{self, QueryOrder, QuerySpec};
use crate::doc::DocShape;
use acorn_reports::targets::{Expect, Metric};

/// A workload file that cannot be run, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The key at fault ("dataset.records"); empty when the whole file is at fault.
    pub key: String,
    pub message: String,
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for WorkloadError {}

/// How long each measured phase lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    #[serde(with = "duration_text")]
    Duration(Duration),
    Ops(u64),
}

mod duration_text {
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

/// A target to judge after the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub name: String,
    pub metric: String,
    pub variant: String,
    pub expect: String,
}

/// A workload ready to run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub variants: Vec<String>,
    pub records: u64,
    pub key_prefix: String,
    pub key_width: usize,
    pub doc: DocShape,
    pub threads: Vec<usize>,
    pub bound: Bound,
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    pub repeats: u32,
    pub seed: u64,
    /// Operations per second across all threads; `None` is closed loop.
    pub rate: Option<f64>,
    pub mode: Mode,
    /// Operation weights summing to 100.
    pub mix: Vec<(OpKind, u32)>,
    pub distribution: Distribution,
    pub scan_length: usize,
    pub batch_size: usize,
    pub cache_capacity: usize,
    pub query: QuerySpec,
    pub targets: Vec<Target>,
}

/// The engine variants a workload runs when it names none.
pub const DEFAULT_VARIANTS: [&str; 4] = ["plain", "cached", "pooled", "binary"];

/// Line and column (1-based) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Ctx<'a> {
    file: &'a Path,
    src: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> WorkloadError {
        let (line, column) = line_col(self.src, span.start);
        WorkloadError {
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn positive<T>(
        &self,
        v: &Spanned<i64>,
        key: &str,
        max: i64,
        what: T,
    ) -> Result<u64, WorkloadError>
    where
        T: fmt::Display,
    {
        let x = *v.get_ref();
        if x <= 0 || x > max {
            return Err(self.err(
                v.span(),
                key,
                format!("must be between 1 and {max} ({what}); got {x}"),
            ));
        }
        Ok(x.unsigned_abs())
    }

    fn duration(&self, v: &Spanned<String>, key: &str) -> Result<Duration, WorkloadError> {
        let text = v.get_ref().trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(self.err(
                v.span(),
                key,
                format!("duration {text:?} needs a unit, e.g. \"{text}s\" or \"{text}ms\""),
            ));
        }
        humantime::parse_duration(text).map_err(|e| {
            self.err(
                v.span(),
                key,
                format!("{text:?} is not a duration ({e}); write e.g. \"10s\", \"500ms\", \"2m\""),
            )
        })
    }
}

/// The registered name closest to `word`, if reasonably close.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Turns a TOML/serde error into a positioned error, with a suggestion for unknown keys.
fn from_toml(file: &Path, src: &str, e: &toml::de::Error) -> WorkloadError {
    let offset = e.span().map_or(0, |s| s.start);
    let (line, column) = line_col(src, offset);
    let message = e.message().trim().to_owned();
    // "unknown field `recrods`, expected one of `records`, `key`, `doc`"
    let mut key = String::new();
    let mut text = message.clone();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, allowed)) = rest.split_once('`') {
            key = field.to_owned();
            let options: Vec<&str> = allowed.split('`').skip(1).step_by(2).collect();
            text = format!("unknown key; allowed here: {}", options.join(", "));
            if let Some(best) = closest(field, options.iter().copied()) {
                text.push_str(&format!(". Did you mean `{best}`?"));
            }
        }
    } else if let Some(line_text) = src
        .get(offset..)
        .and_then(|_| src.lines().nth(line.saturating_sub(1)))
    {
        if let Some((k, _)) = line_text.split_once('=') {
            key = k.trim().to_owned();
        }
    }
    WorkloadError {
        file: file.to_path_buf(),
        line,
        column,
        key,
        message: text,
    }
}

impl Plan {
    /// Reads and validates a workload file.
    pub fn load(path: &Path) -> Result<Plan, WorkloadError> {
        let whole = |message: String| WorkloadError {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            key: String::new(),
            message,
        };
        let bytes = std::fs::read(path)
            .map_err(|e| whole(format!("cannot read the workload file: {e}")))?;
        let src = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
                let (line, column) = line_col(&valid, at);
                return Err(WorkloadError {
                    file: path.to_path_buf(),
                    line,
                    column,
                    key: String::new(),
                    message: "the file is not UTF-8 text (TOML must be UTF-8)".into(),
                });
            }
        };
        Self::parse(path, &src)
    }

    /// Validates workload text; `path` names it in errors.
    pub fn parse(path: &Path, src: &str) -> Result<Plan, WorkloadError> {
        if src.trim().is_empty() {
            return Err(WorkloadError {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
                key: String::new(),
                message: "the file is empty; a workload needs at least `name`, `[dataset] records` and `[mix]`".into(),
            });
        }
        let spec: WorkloadSpec = toml::from_str(src).map_err(|e| from_toml(path, src, &e))?;
        let cx = Ctx { file: path, src };
        validate(&cx, spec)
    }
}

fn validate(cx: &Ctx<'_>, spec: WorkloadSpec) -> Result<Plan, WorkloadError> {
    let name = spec.name.get_ref().trim().to_owned();
    if name.is_empty() {
        return Err(cx.err(spec.name.span(), "name", "must not be empty"));
    }

    // Variants.
    let known: Vec<&str> = backend::registry().iter().map(|r| r.name).collect();
    let variants = match &spec.variants {
        None => DEFAULT_VARIANTS.iter().map(|s| (*s).to_owned()).collect(),
        Some(list) => {
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
            out
        }
    };

    // Dataset.
    let ds = spec.dataset.get_ref();
    let records = cx.positive(
        &ds.records,
        "dataset.records",
        1_000_000_000,
        "records to load",
    )?;
    let key_prefix = ds
        .key
        .as_ref()
        .and_then(|k| k.prefix.clone())
        .unwrap_or_else(|| "user-".into());
    let digits = (records * 4).to_string().len();
    let key_width = match ds.key.as_ref().and_then(|k| k.width.as_ref()) {
        None => 12.max(digits),
        Some(w) => {
            let w =
                cx.positive(w, "dataset.key.width", 32, "digits of the record number")? as usize;
            if w < digits {
                return Err(cx.err(
                    ds.key.as_ref().and_then(|k| k.width.as_ref()).map_or(0..0, Spanned::span),
                    "dataset.key.width",
                    format!("{w} digits cannot hold record numbers up to {} (inserts included); use at least {digits}", records * 4),
                ));
            }
            w
        }
    };
    let mut doc = DocShape::default();
    if let Some(d) = &ds.doc {
        if let Some(f) = &d.fields {
            doc.fields = nonneg(cx, f, "dataset.doc.fields", 1000)?;
        }
        if let Some(f) = &d.field_bytes {
            doc.field_bytes =
                cx.positive(f, "dataset.doc.field_bytes", 1 << 20, "bytes per field")? as usize;
        }
        if let Some(t) = &d.tags {
            doc.tags = nonneg(cx, t, "dataset.doc.tags", 100)?;
        }
    }

    // Run.
    let run = spec.run.as_ref();
    let threads = match run.and_then(|r| r.threads.as_ref()) {
        None => vec![1],
        Some(t) => {
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
            list.into_iter()
                .map(|n| n.unsigned_abs() as usize)
                .collect()
        }
    };
    let bound = match (
        run.and_then(|r| r.duration.as_ref()),
        run.and_then(|r| r.ops.as_ref()),
    ) {
        (Some(d), Some(_)) => {
            return Err(cx.err(
                d.span(),
                "run.duration",
                "give `duration` or `ops`, not both",
            ));
        }
        (Some(d), None) => {
            let dur = cx.duration(d, "run.duration")?;
            if dur.is_zero() {
                return Err(cx.err(d.span(), "run.duration", "must be longer than zero"));
            }
            Bound::Duration(dur)
        }
        (None, Some(o)) => {
            Bound::Ops(cx.positive(o, "run.ops", i64::MAX, "operations per thread")?)
        }
        (None, None) => Bound::Duration(Duration::from_secs(5)),
    };
    let warmup = match run.and_then(|r| r.warmup.as_ref()) {
        None => Duration::from_secs(1),
        Some(w) => cx.duration(w, "run.warmup")?,
    };
    let repeats = match run.and_then(|r| r.repeats.as_ref()) {
        None => 3,
        Some(r) => cx.positive(r, "run.repeats", 1000, "measured repeats")? as u32,
    };
    let seed = run
        .and_then(|r| r.seed.as_ref())
        .map_or(42, |s| s.get_ref().unsigned_abs());
    let rate = match run.and_then(|r| r.rate.as_ref()) {
        None => None,
        Some(r) => {
            let x = *r.get_ref();
            if !x.is_finite() || !(0.0..=1e9).contains(&x) {
                return Err(cx.err(
                    r.span(),
                    "run.rate",
                    format!("{x} is not a possible rate; use 0 for closed loop or 1..=1e9 operations per second"),
                ));
            }
            (x > 0.0).then_some(x)
        }
    };
    let mode = match run.and_then(|r| r.mode.as_ref()) {
        None => Mode::Interleaved,
        Some(m) => match m.get_ref().as_str() {
            "sequential" => Mode::Sequential,
            "interleaved" => Mode::Interleaved,
            "parallel" => Mode::Parallel,
            other => {
                return Err(cx.err(
                    m.span(),
                    "run.mode",
                    format!("unknown mode {other:?}; use sequential, interleaved or parallel"),
                ));
            }
        },
    };
    let scan_length = opt_positive(
        cx,
        run.and_then(|r| r.scan_length.as_ref()),
        "run.scan_length",
        100,
        100_000,
    )?;
    let batch_size = opt_positive(
        cx,
        run.and_then(|r| r.batch_size.as_ref()),
        "run.batch_size",
        100,
        1_000_000,
    )?;
    let cache_capacity = opt_positive(
        cx,
        run.and_then(|r| r.cache_capacity.as_ref()),
        "run.cache_capacity",
        10_000,
        1 << 30,
    )?;

    // Mix.
    let mut mix = Vec::new();
    let mut total = 0i64;
    for (op, w) in spec.mix.get_ref() {
        let Some(kind) = OpKind::parse(op) else {
            let names = OpKind::ALL.map(OpKind::name);
            let hint = closest(op, names)
                .map(|b| format!(" Did you mean `{b}`?"))
                .unwrap_or_default();
            return Err(cx.err(
                w.span(),
                &format!("mix.{op}"),
                format!("unknown operation.{hint} Operations: {}", names.join(", ")),
            ));
        };
        let weight = *w.get_ref();
        if !(0..=100).contains(&weight) {
            return Err(cx.err(
                w.span(),
                &format!("mix.{op}"),
                format!("weights are percentages from 0 to 100; got {weight}"),
            ));
        }
        total += weight;
        if weight > 0 {
            mix.push((kind, weight.unsigned_abs() as u32));
        }
    }
    if total != 100 {
        return Err(cx.err(
            spec.mix.span(),
            "mix",
            format!("weights must sum to 100; they sum to {total}"),
        ));
    }

    // Distribution.
    let distribution = match &spec.distribution {
        None => Distribution::Uniform,
        Some(d) => {
            let fraction =
                |v: &Option<Spanned<f64>>, key: &str, default: f64| -> Result<f64, WorkloadError> {
                    match v {
                        None => Ok(default),
                        Some(x) if *x.get_ref() > 0.0 && *x.get_ref() < 1.0 => Ok(*x.get_ref()),
                        Some(x) => Err(cx.err(
                            x.span(),
                            key,
                            format!("must be between 0 and 1 (exclusive); got {}", x.get_ref()),
                        )),
                    }
                };
            match d.kind.get_ref().as_str() {
                "uniform" => Distribution::Uniform,
                "sequential" => Distribution::Sequential,
                "zipfian" => Distribution::Zipfian {
                    theta: fraction(&d.theta, "distribution.theta", 0.99)?,
                },
                "latest" => Distribution::Latest {
                    theta: fraction(&d.theta, "distribution.theta", 0.99)?,
                },
                "hotspot" => Distribution::Hotspot {
                    hot_fraction: fraction(&d.hot_fraction, "distribution.hot_fraction", 0.2)?,
                    hot_ops: fraction(&d.hot_ops, "distribution.hot_ops", 0.8)?,
                },
                other => {
                    return Err(cx.err(
                        d.kind.span(),
                        "distribution.kind",
                        format!("unknown distribution {other:?}; use uniform, zipfian, latest, hotspot or sequential"),
                    ));
                }
            }
        }
    };

    // Query.
    let mut query = QuerySpec {
        prefix: key_prefix.clone().into_bytes(),
        min_value: Some(500),
        order: QueryOrder::ValueDesc,
        skip: 0,
        take: 10,
    };
    if let Some(q) = &spec.query {
        query.min_value = q.min_value;
        if let Some(o) = &q.order {
            query.order = match o.get_ref().as_str() {
                "key" => QueryOrder::Key,
                "value_desc" => QueryOrder::ValueDesc,
                "newest" => QueryOrder::Newest,
                other => {
                    return Err(cx.err(
                        o.span(),
                        "query.order",
                        format!("unknown order {other:?}; use key, value_desc or newest"),
                    ))
                }
            };
        }
        if let Some(s) = &q.skip {
            query.skip = nonneg(cx, s, "query.skip", 1 << 30)?;
        }
        if let Some(t) = &q.take {
            query.take = cx.positive(t, "query.take", 1 << 30, "results per page")? as usize;
        }
    }

    // Targets.
    let mut targets = Vec::new();
    for t in &spec.targets {
        let metric = Metric::parse(t.metric.get_ref())
            .map_err(|e| cx.err(t.metric.span(), "target.metric", e))?;
        let expect = Expect::parse(t.expect.get_ref())
            .map_err(|e| cx.err(t.expect.span(), "target.expect", e))?;
        expect
            .check_kind(&metric)
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
        targets.push(Target {
            name: t.name.get_ref().clone(),
            metric: t.metric.get_ref().clone(),
            variant,
            expect: t.expect.get_ref().clone(),
        });
    }

    Ok(Plan {
        name,
        description: spec.description.unwrap_or_default(),
        file: cx.file.to_path_buf(),
        variants,
        records,
        key_prefix,
        key_width,
        doc,
        threads,
        bound,
        warmup,
        repeats,
        seed,
        rate,
        mode,
        mix,
        distribution,
        scan_length,
        batch_size,
        cache_capacity,
        query,
        targets,
    })
}

fn nonneg(cx: &Ctx<'_>, v: &Spanned<i64>, key: &str, max: i64) -> Result<usize, WorkloadError> {
    let x = *v.get_ref();
    if !(0..=max).contains(&x) {
        return Err(cx.err(
            v.span(),
            key,
            format!("must be between 0 and {max}; got {x}"),
        ));
    }
    Ok(x.unsigned_abs() as usize)
}

fn opt_positive(
    cx: &Ctx<'_>,
    v: Option<&Spanned<i64>>,
    key: &str,
    default: usize,
    max: i64,
) -> Result<usize, WorkloadError> {
    match v {
        None => Ok(default),
        Some(v) => Ok(cx.positive(v, key, max, "a count")? as usize),
    }
}
