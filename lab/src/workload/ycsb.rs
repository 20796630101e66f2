//! YCSB's own workload files (`workloads/workloada` … `workloadf`, or any CoreWorkload
//! property file): `key=value` lines (`:` also separates), `#` and `!` comments. The
//! properties the lab models map onto the same [`Plan`] a TOML file gives; any other
//! property is accepted with a warning naming its line; a line that is not `key=value`, or
//! a value the lab cannot use, is an error naming the file and line, like TOML.
//!
//! What maps where (the rest of the plan takes the lab's defaults: the default variants,
//! 3 interleaved repeats, 1 s warmup, seed 42):
//!
//! | property | plan |
//! |---|---|
//! | `recordcount` | `[dataset] records` |
//! | `operationcount` (all threads) | `[run] ops` per thread; expected inserts for the item count |
//! | `maxexecutiontime` (s, when no `operationcount`) | `[run] duration` |
//! | `threadcount`, `target` | `[run] threads`, `rate` |
//! | `readproportion` … `readmodifywriteproportion` | `[mix]` (YCSB's defaults: read 0.95, update 0.05) |
//! | `requestdistribution` | `uniform`, `zipfian` → `scrambled_zipfian`, `latest`, `hotspot`, `sequential` |
//! | `hotspotdatafraction`, `hotspotopnfraction` | `hot_fraction`, `hot_ops` |
//! | `insertorder`, `zeropadding` | `[dataset] key.order`, `key.width` (prefix `user`) |
//! | `fieldcount`, `fieldlength` | `[dataset] doc.fields`, `doc.field_bytes` (no tags) |
//! | `scanlengthdistribution`, `minscanlength`, `maxscanlength` | `[run] scan_length_*` |

use std::path::Path;
use std::time::Duration;

use super::context::{closest, Ctx, Problems, WorkloadError};
use super::keys::{Distribution, ScanLength};
use super::names::KeyOrder;
use super::plan::Plan;
use super::sections::{
    query_from_spec, Bound, CacheSettings, Dataset, Mix, RunSettings, DEFAULT_VARIANTS,
};
use super::zipf::YCSB_THETA;
use crate::doc::{DocShape, ValueShape};
use acorn_reports::OpKind;

/// The properties of YCSB's CoreWorkload, its client and its measurements (from
/// `CoreWorkload.java`, `Client.java` and `Measurements.java`): a property the lab does not
/// read is ignored with a warning when it is one of these, and refused with a suggestion
/// when it is a near miss of one.
const YCSB_PROPERTIES: &[&str] = &[
    // CoreWorkload
    "table",
    "fieldcount",
    "fieldlength",
    "minfieldlength",
    "fieldlengthdistribution",
    "fieldlengthhistogram",
    "fieldnameprefix",
    "readallfields",
    "readallfieldsbyname",
    "writeallfields",
    "dataintegrity",
    "readproportion",
    "updateproportion",
    "insertproportion",
    "scanproportion",
    "readmodifywriteproportion",
    "requestdistribution",
    "zeropadding",
    "minscanlength",
    "maxscanlength",
    "scanlengthdistribution",
    "insertorder",
    "insertstart",
    "insertcount",
    "hotspotdatafraction",
    "hotspotopnfraction",
    "core_workload_insertion_retry_limit",
    "core_workload_insertion_retry_interval",
    "core_workload_insertion_keep_going_on_error",
    // Client
    "workload",
    "db",
    "recordcount",
    "operationcount",
    "threadcount",
    "target",
    "maxexecutiontime",
    "dotransactions",
    "exporter",
    "exportfile",
    "label",
    "status",
    "status.interval",
    // Measurements
    "measurementtype",
    "measurement.interval",
    "measurement.trackjvm",
    "histogram.buckets",
    "hdrhistogram.percentiles",
    "hdrhistogram.fileoutput",
    "hdrhistogram.output.path",
    "timeseries.granularity",
];

/// Whether `src` is a property file rather than TOML: not named `*.toml`, and no line opens
/// a `[table]`.
pub(crate) fn is_properties(path: &Path, src: &str) -> bool {
    if path.extension().is_some_and(|e| e == "toml") {
        return false;
    }
    !src.lines().any(|l| l.trim_start().starts_with('['))
}

/// One `key=value` line.
#[derive(Clone, Debug)]
struct Prop {
    value: String,
    line: usize,
    column: usize,
    /// Read by the mapping (anything never read is warned about).
    used: std::cell::Cell<bool>,
}

/// The parsed file: properties by name (the last occurrence wins, as in Java).
struct Props<'a> {
    file: &'a Path,
    map: std::collections::BTreeMap<String, Prop>,
    warnings: Vec<String>,
}

fn split_line(line: &str) -> Option<(&str, &str, usize)> {
    let sep = line.find(['=', ':'])?;
    Some((line[..sep].trim(), line[sep + 1..].trim(), sep + 1))
}

impl<'a> Props<'a> {
    fn parse(file: &'a Path, src: &str) -> Result<Props<'a>, WorkloadError> {
        let mut props = Props {
            file,
            map: std::collections::BTreeMap::new(),
            warnings: Vec::new(),
        };
        for (i, raw) in src.lines().enumerate() {
            let line = raw.trim_start();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let indent = raw.len() - line.len();
            let at = |column: usize, message: String| WorkloadError {
                line: i + 1,
                column,
                ..WorkloadError::whole(file, message)
            };
            let Some((key, value, sep)) = split_line(line) else {
                return Err(at(
                    indent + 1,
                    format!(
                        "expected `property=value` (a YCSB property file); got {:?}",
                        line.trim_end()
                    ),
                ));
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(at(indent + 1, format!("{:?} is not a property name", key)));
            }
            let value_at = line[sep..].len() - line[sep..].trim_start().len();
            if let Some(old) = props.map.get(key) {
                props.warnings.push(format!(
                    "{}:{}: warning: `{key}` is set again (line {} is overridden)",
                    file.display(),
                    i + 1,
                    old.line
                ));
            }
            props.map.insert(
                key.to_owned(),
                Prop {
                    value: value.to_owned(),
                    line: i + 1,
                    column: indent + sep + value_at + 1,
                    used: std::cell::Cell::new(false),
                },
            );
        }
        Ok(props)
    }

    fn get(&self, key: &str) -> Option<&Prop> {
        let p = self.map.get(key)?;
        p.used.set(true);
        Some(p)
    }

    fn err(&self, key: &str, message: impl Into<String>) -> WorkloadError {
        let (line, column) = self.map.get(key).map_or((1, 1), |p| (p.line, p.column));
        WorkloadError {
            line,
            column,
            key: key.to_owned(),
            ..WorkloadError::whole(self.file, message)
        }
    }

    fn warn(&mut self, key: &str, message: &str) {
        if let Some(p) = self.map.get(key) {
            p.used.set(true);
            let w = format!(
                "{}:{}: warning: `{key}={}`: {message}",
                self.file.display(),
                p.line,
                p.value
            );
            self.warnings.push(w);
        }
    }

    /// An integer in `min..=max`, or `default`.
    fn int(&self, key: &str, default: u64, min: u64, max: u64) -> Result<u64, WorkloadError> {
        let Some(p) = self.get(key) else {
            return Ok(default);
        };
        match p.value.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            Ok(v) => Err(self.err(key, format!("must be between {min} and {max}; got {v}"))),
            Err(_) => Err(self.err(key, format!("{:?} is not a whole number", p.value))),
        }
    }

    /// A number in `min..=max`, or `default`.
    fn float(&self, key: &str, default: f64, min: f64, max: f64) -> Result<f64, WorkloadError> {
        let Some(p) = self.get(key) else {
            return Ok(default);
        };
        match p.value.parse::<f64>() {
            Ok(v) if v.is_finite() && (min..=max).contains(&v) => Ok(v),
            Ok(v) => Err(self.err(key, format!("must be between {min} and {max}; got {v}"))),
            Err(_) => Err(self.err(key, format!("{:?} is not a number", p.value))),
        }
    }

    /// One of `choices`, or `default`.
    fn choice<T: Copy>(
        &self,
        key: &str,
        default: T,
        choices: &[(&str, T)],
    ) -> Result<T, WorkloadError> {
        let Some(p) = self.get(key) else {
            return Ok(default);
        };
        let found = choices.iter().find(|(n, _)| *n == p.value);
        found.map(|(_, v)| *v).ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            self.err(
                key,
                format!(
                    "{:?} is not one the lab runs; use {}",
                    p.value,
                    names.join(", ")
                ),
            )
        })
    }

    /// A boolean the lab models only as `modeled`: warns (with `why`) when set otherwise.
    fn only(&mut self, key: &str, modeled: &str, why: &str) {
        if self.map.get(key).is_some_and(|p| p.value != modeled) {
            self.warn(key, why);
        } else if let Some(p) = self.map.get(key) {
            p.used.set(true);
        }
    }
}

/// Reads a YCSB property file into a plan (see the module documentation).
pub(crate) fn parse(path: &Path, src: &str) -> Result<Plan, WorkloadError> {
    let mut props = Props::parse(path, src)?;
    accept_or_warn(&mut props)?;
    let dataset = dataset(&props)?;
    let (mix, insert_share) = mix(&props)?;
    let run = run(&props, path, src)?;
    let distribution = distribution(&props)?;
    let opcount = props.int("operationcount", 0, 0, i64::MAX as u64)?;
    // CoreWorkload: expectednewkeys = (int) (operationcount * insertproportion * 2.0).
    let expected = (opcount as f64 * insert_share * 2.0) as u64;
    let mut unknown = Problems::default();
    for (key, p) in &props.map {
        if p.used.get() {
            continue;
        }
        if YCSB_PROPERTIES.contains(&key.as_str()) {
            props.warnings.push(format!(
                "{}:{}: warning: `{key}` is YCSB's, but not modeled by the lab; ignored",
                path.display(),
                p.line
            ));
        } else if let Some(best) = closest(key, YCSB_PROPERTIES.iter().copied()) {
            // YCSB itself ignores an unknown property, so a misspelt one silently runs with
            // the default of the property meant: refused here.
            unknown.note(props.err(
                key,
                format!(
                    "unknown property. Did you mean `{best}`? (YCSB would ignore it and run \
                     with `{best}`'s default)"
                ),
            ));
        } else {
            props.warnings.push(format!(
                "{}:{}: warning: `{key}` is not a property of YCSB's CoreWorkload or client (a \
                 database binding's?); ignored",
                path.display(),
                p.line
            ));
        }
    }
    unknown.finish(|| ())?;
    props.warnings.sort_by_key(|w| line_of(w));
    let cx = Ctx { file: path, src };
    let query = query_from_spec(cx, None, &dataset)?;
    Ok(Plan {
        name: path
            .file_stem()
            .map_or_else(|| "ycsb".into(), |s| s.to_string_lossy().into_owned()),
        description: description(src),
        file: path.to_path_buf(),
        variants: DEFAULT_VARIANTS.iter().map(|s| (*s).to_owned()).collect(),
        item_count: dataset.records + expected,
        inserts_declared: true,
        dataset,
        run,
        mix,
        distribution,
        cache: CacheSettings::default(),
        query,
        targets: Vec::new(),
        warnings: props.warnings,
    })
}

/// The line number in a "file:line: warning" message, for ordering.
fn line_of(w: &str) -> usize {
    w.split(": warning")
        .next()
        .and_then(|s| s.rsplit(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// "YCSB Workload A: Update heavy workload", from the file's own comment when it has one.
fn description(src: &str) -> String {
    src.lines()
        .filter_map(|l| l.trim().strip_prefix('#'))
        .map(str::trim)
        .find(|l| l.starts_with("Workload") && l.contains(':'))
        .map_or_else(
            || "YCSB CoreWorkload property file".to_owned(),
            |l| format!("YCSB {l}"),
        )
}

/// Properties that are YCSB's but change nothing the lab measures, or that the lab models
/// only partly: accepted, with a warning where the run differs from YCSB's.
fn accept_or_warn(props: &mut Props<'_>) -> Result<(), WorkloadError> {
    if let Some(p) = props.get("workload") {
        let class = p.value.as_str();
        if !class.ends_with(".workloads.CoreWorkload") {
            return Err(props.err(
                "workload",
                format!("the lab runs CoreWorkload files only; {class:?} is another workload"),
            ));
        }
    }
    props.only(
        "readallfields",
        "true",
        "reads decode whole documents here (YCSB would read one field)",
    );
    props.only(
        "writeallfields",
        "true",
        "updates write whole documents here (YCSB would write one field)",
    );
    props.only(
        "fieldlengthdistribution",
        "constant",
        "fields are `fieldlength` bytes each here (constant)",
    );
    props.only(
        "insertstart",
        "0",
        "inserts start after the loaded records here",
    );
    if props.get("operationcount").is_some() && props.map.contains_key("maxexecutiontime") {
        props.warn(
            "maxexecutiontime",
            "the run is bounded by operationcount here, not also by time",
        );
    }
    Ok(())
}

fn dataset(props: &Props<'_>) -> Result<Dataset, WorkloadError> {
    if !props.map.contains_key("recordcount") {
        return Err(props.err(
            "recordcount",
            "the file sets no recordcount; the lab needs the number of records to load",
        ));
    }
    let records = props.int("recordcount", 0, 1, 1_000_000_000)?;
    Ok(Dataset {
        records,
        key_prefix: "user".into(),
        key_width: props.int("zeropadding", 1, 1, 32)? as usize,
        key_order: props.choice(
            "insertorder",
            KeyOrder::Hashed,
            &[("hashed", KeyOrder::Hashed), ("ordered", KeyOrder::Ordered)],
        )?,
        value: ValueShape::Doc(DocShape {
            fields: props.int("fieldcount", 10, 0, 1000)? as usize,
            field_bytes: props.int("fieldlength", 100, 1, 1 << 20)? as usize,
            tags: 0,
        }),
    })
}

/// The mix in parts per million (YCSB normalizes by the sum, as this does), and the raw
/// insert proportion (YCSB sizes its key space with it).
fn mix(props: &Props<'_>) -> Result<(Mix, f64), WorkloadError> {
    let keys = [
        ("readproportion", OpKind::Read, 0.95),
        ("updateproportion", OpKind::Update, 0.05),
        ("insertproportion", OpKind::Insert, 0.0),
        ("scanproportion", OpKind::Scan, 0.0),
        ("readmodifywriteproportion", OpKind::Rmw, 0.0),
    ];
    let mut weights = Vec::new();
    let mut insert = 0.0;
    for (key, kind, default) in keys {
        let p = props.float(key, default, 0.0, 1e6)?;
        if kind == OpKind::Insert {
            insert = p;
        }
        weights.push((kind, p));
    }
    let total: f64 = weights.iter().map(|(_, p)| p).sum();
    if total <= 0.0 {
        return Err(props.err(
            "readproportion",
            "every operation proportion is zero; nothing to run",
        ));
    }
    let mix = weights
        .into_iter()
        .filter(|(_, p)| *p > 0.0)
        .map(|(k, p)| (k, ((p / total * 1e6).round() as u32).max(1)))
        .collect();
    Ok((Mix(mix), insert))
}

fn run(props: &Props<'_>, path: &Path, src: &str) -> Result<RunSettings, WorkloadError> {
    let mut run = RunSettings::from_spec(Ctx { file: path, src }, None)?;
    let threads = props.int("threadcount", 1, 1, 1024)?;
    run.threads = vec![threads as usize];
    let opcount = props.int("operationcount", 0, 0, i64::MAX as u64)?;
    let seconds = props.int("maxexecutiontime", 0, 0, 365 * 86_400)?;
    run.bound = if opcount > 0 {
        Bound::Ops(opcount.div_ceil(threads))
    } else if seconds > 0 {
        Bound::Duration(Duration::from_secs(seconds))
    } else {
        let key = if props.map.contains_key("operationcount") {
            "operationcount"
        } else {
            "recordcount"
        };
        return Err(props.err(
            key,
            "set operationcount (or maxexecutiontime in seconds) to bound the run",
        ));
    };
    let target = props.float("target", 0.0, 0.0, 1e9)?;
    run.rate = (target > 0.0).then_some(target);
    let min = props.int("minscanlength", 1, 1, 100_000)?;
    let max = props.int("maxscanlength", 1000, 1, 100_000)?;
    if min > max {
        return Err(props.err(
            "minscanlength",
            format!("{min} is longer than maxscanlength ({max})"),
        ));
    }
    let zipfian = props.choice(
        "scanlengthdistribution",
        false,
        &[("uniform", false), ("zipfian", true)],
    )?;
    run.scan = if zipfian {
        ScanLength::Zipfian { min, max }
    } else {
        ScanLength::Uniform { min, max }
    };
    Ok(run)
}

fn distribution(props: &Props<'_>) -> Result<Distribution, WorkloadError> {
    #[derive(Clone, Copy)]
    enum Kind {
        Uniform,
        Zipfian,
        Latest,
        Hotspot,
        Sequential,
    }
    let kind = props.choice(
        "requestdistribution",
        Kind::Uniform,
        &[
            ("uniform", Kind::Uniform),
            ("zipfian", Kind::Zipfian),
            ("latest", Kind::Latest),
            ("hotspot", Kind::Hotspot),
            ("sequential", Kind::Sequential),
        ],
    )?;
    Ok(match kind {
        Kind::Uniform => Distribution::Uniform,
        Kind::Zipfian => Distribution::ScrambledZipfian { theta: YCSB_THETA },
        Kind::Latest => Distribution::Latest { theta: YCSB_THETA },
        Kind::Sequential => Distribution::Sequential,
        Kind::Hotspot => {
            let fraction = |key: &str, default: f64| -> Result<f64, WorkloadError> {
                let v = props.float(key, default, 0.0, 1.0)?;
                if v <= 0.0 || v >= 1.0 {
                    return Err(props.err(key, "must be between 0 and 1 (exclusive) here"));
                }
                Ok(v)
            };
            Distribution::Hotspot {
                hot_fraction: fraction("hotspotdatafraction", 0.2)?,
                hot_ops: fraction("hotspotopnfraction", 0.8)?,
            }
        }
    })
}
