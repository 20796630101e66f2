//! Stage two of loading: a validated [`Plan`], composed from one constructor per section
//! (see `sections/`). Every rejection names the file, the line and column, and the key,
//! and says what is allowed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::context::{from_toml, Ctx, Problems, WorkloadError};
use super::keys::{Distribution, KeyLaw};
use super::ops::StreamSpec;
use super::sections::{query_from_spec, target_from_spec, variants_from_spec};
use super::sections::{CacheSettings, Dataset, Mix, RunSettings};
use super::spec::WorkloadSpec;
use crate::backend::QuerySpec;
use acorn_reports::plan::{PlanTarget, RunPlan};
use acorn_reports::targets::Target;

/// A workload ready to run. Serialized flat (sections inline) into `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub variants: Vec<String>,
    #[serde(flatten)]
    pub dataset: Dataset,
    #[serde(flatten)]
    pub run: RunSettings,
    pub mix: Mix,
    pub distribution: Distribution,
    pub cache: CacheSettings,
    /// Records the key distribution is drawn over: the loaded ones plus the inserts it
    /// expects (YCSB's item count); draws of records not inserted yet are redrawn.
    pub item_count: u64,
    /// Whether the file said how many records the run inserts (`expected_inserts`, or a
    /// YCSB file's operation count) rather than the lab guessing it for a timed run.
    #[serde(skip)]
    pub inserts_declared: bool,
    pub query: QuerySpec,
    pub targets: Vec<Target>,
    /// Things in the file the lab accepted but does not model (YCSB properties), each
    /// "file:line: ...", for the commands to print.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `v` as JSON, for the entries of [`acorn_reports::plan::RunPlan`] that readers only
/// compare and show.
fn json<T: Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

impl Plan {
    /// The plan as `results.json` records it: every entry a typed field of
    /// [`RunPlan`], which compare, merge and the report read.
    pub fn record(&self) -> RunPlan {
        let (d, r) = (&self.dataset, &self.run);
        RunPlan {
            name: self.name.clone(),
            description: self.description.clone(),
            file: self.file.display().to_string(),
            variants: self.variants.clone(),
            records: Some(d.records),
            key_prefix: Some(d.key_prefix.clone()),
            key_width: Some(d.key_width as u64),
            key_order: json(&d.key_order).and_then(|v| v.as_str().map(str::to_owned)),
            value: json(&d.value),
            threads: r.threads.clone(),
            bound: json(&r.bound),
            warmup: Some(humantime::format_duration(r.warmup).to_string()),
            repeats: Some(r.repeats),
            seed: Some(r.seed),
            rate: r.rate,
            mode: Some(r.mode.label().to_owned()),
            scan: json(&r.scan),
            batch_size: Some(r.batch_size as u64),
            in_flight: Some(r.in_flight as u64),
            recover: r.recover.then_some(true),
            measure: Some(r.measure),
            mix: json(&self.mix),
            distribution: json(&self.distribution),
            cache: json(&self.cache),
            item_count: Some(self.item_count),
            query: json(&self.query),
            targets: self
                .targets
                .iter()
                .map(|t| PlanTarget {
                    name: t.name.clone(),
                    metric: t.metric.to_string(),
                    variant: t.variant.clone(),
                    expect: t.expect.text.clone(),
                })
                .collect(),
            ..RunPlan::default()
        }
    }

    /// What the operation streams of this plan are drawn from (builds the tables the
    /// threads share: call once per phase).
    pub fn stream_spec(&self) -> StreamSpec<'_> {
        StreamSpec {
            mix: &self.mix,
            distribution: self.distribution,
            records: self.dataset.records,
            item_count: self.item_count,
            scan: self.run.scan,
            batch_size: self.run.batch_size,
            seed: self.run.seed,
            law: KeyLaw::new(self.distribution, self.item_count),
        }
    }

    /// Validates workload text; `path` names it in errors.
    pub fn parse(path: &Path, src: &str) -> Result<Plan, WorkloadError> {
        if src.trim().is_empty() {
            return Err(WorkloadError::whole(
                path,
                "the file is empty; a workload needs at least `name`, `[dataset] records` and \
                 `[mix]`",
            ));
        }
        let spec = deserialize(path, src)?;
        validate(Ctx { file: path, src }, &spec)
    }
}

/// Unknown keys reported in one pass, at most.
const MAX_UNKNOWN_KEYS: usize = 50;

/// Stage one: the file into its spec. serde stops at the first unknown key, so each one
/// found is noted and its line blanked (spaces keep every later offset, and so every line
/// and column, where it was), and the file is read again, until it reads or fails
/// otherwise: one pass names every unknown key, and then the rest is still validated.
fn deserialize(path: &Path, src: &str) -> Result<WorkloadSpec, WorkloadError> {
    let mut p = Problems::default();
    let mut text = std::borrow::Cow::Borrowed(src);
    loop {
        let e = match toml::from_str::<WorkloadSpec>(&text) {
            Ok(spec) if p.is_empty() => return Ok(spec),
            Ok(spec) => {
                // Validate the rest too, so its problems come with the unknown keys.
                if let Err(more) = validate(Ctx { file: path, src }, &spec) {
                    p.note(more);
                }
                return Err(p.into_error(path));
            }
            Err(e) => e,
        };
        // A required key missing because it was misspelt is the unknown key's problem,
        // already noted with its suggestion.
        let consequence = e
            .message()
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .is_some_and(|field| p.suggested(field));
        if consequence {
            return Err(p.into_error(path));
        }
        let unknown = e.message().starts_with("unknown field");
        let blanked = unknown
            .then(|| e.span().and_then(|span| blank_line(&text, span.start)))
            .flatten()
            // A blanked line that was part of a longer value breaks the syntax: stop there.
            .filter(|t| t.parse::<toml::Table>().is_ok());
        p.note(from_toml(path, src, &e));
        match blanked {
            Some(t) if p.count() < MAX_UNKNOWN_KEYS => text = t.into(),
            _ => return Err(p.into_error(path)),
        }
    }
}

/// `text` with the line holding `offset` turned into spaces, when the key there starts
/// its line (`key = value`); `None` for a key inside an inline table.
fn blank_line(text: &str, offset: usize) -> Option<String> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    if !text[start..offset].trim().is_empty() {
        return None;
    }
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.extend(text[start..end].chars().map(|_| ' '));
    out.push_str(&text[end..]);
    Some(out)
}

/// Longest workload name (it names a directory).
pub const NAME_MAX: usize = 64;

/// `name`: it names the output directory (`target/lab/<name>/`), so it is never a path:
/// letters, digits, `-`, `_` and `.`, not starting with `.`.
fn name_from_spec(cx: Ctx<'_>, name: &toml::Spanned<String>) -> Result<String, WorkloadError> {
    let text = name.get_ref().trim();
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if text.is_empty() || text.len() > NAME_MAX || text.starts_with('.') || !text.chars().all(safe)
    {
        return Err(cx.err(
            name.span(),
            "name",
            format!(
                "{text:?} cannot name the output directory (target/lab/<name>/): use 1 to \
                 {NAME_MAX} letters, digits, '-', '_' or '.', not starting with '.'"
            ),
        ));
    }
    Ok(text.to_owned())
}

fn validate(cx: Ctx<'_>, spec: &WorkloadSpec) -> Result<Plan, WorkloadError> {
    // Every section is checked even after one fails, so one run lists every problem;
    // a check that needs another section's value runs only when that section passed.
    let mut p = Problems::default();
    let name = p.keep(name_from_spec(cx, &spec.name));
    let variants = p.keep(variants_from_spec(cx, spec.variants.as_ref()));
    let dataset = p.keep(Dataset::from_spec(cx, spec.dataset.get_ref()));
    let run = p.keep(RunSettings::from_spec(cx, spec.run.as_ref()));
    let mix = p.keep(Mix::from_spec(cx, &spec.mix));
    let distribution = p.keep(Distribution::from_spec(cx, spec.distribution.as_ref()));
    let declared = spec
        .distribution
        .as_ref()
        .and_then(|d| d.expected_inserts.as_ref());
    let expected = match (declared, &dataset, &run, &mix) {
        (Some(n), ..) => p
            .keep(cx.nonneg(n, "distribution.expected_inserts", 1 << 40))
            .map(|n| n as u64),
        (None, Some(dataset), Some(run), Some(mix)) => Some(expected_inserts(dataset, run, mix)),
        (None, ..) => None,
    };
    let cache = p.keep(CacheSettings::from_spec(
        cx,
        spec.cache.as_ref(),
        spec.run.as_ref(),
    ));
    let query = dataset
        .as_ref()
        .and_then(|d| p.keep(query_from_spec(cx, spec.query.as_ref(), d)));
    let targets: Vec<_> = match &variants {
        Some(variants) => spec
            .targets
            .iter()
            .filter_map(|t| p.keep(target_from_spec(cx, t, variants)))
            .collect(),
        None => Vec::new(),
    };
    let (
        Some(name),
        Some(variants),
        Some(dataset),
        Some(run),
        Some(mix),
        Some(distribution),
        Some(expected),
        Some(cache),
        Some(query),
    ) = (
        name,
        variants,
        dataset,
        run,
        mix,
        distribution,
        expected,
        cache,
        query,
    )
    else {
        // A section is missing only because its check failed, so there are problems.
        return Err(p.into_error(cx.file));
    };
    let item_count = expected.saturating_add(dataset.records);
    p.finish(|| Plan {
        name,
        description: spec.description.clone().unwrap_or_default(),
        file: cx.file.to_path_buf(),
        variants,
        dataset,
        inserts_declared: declared.is_some(),
        run,
        mix,
        distribution,
        cache,
        item_count,
        query,
        targets,
        warnings: Vec::new(),
    })
}

/// YCSB's estimate of the records a run inserts: twice the operations times the insert
/// share. A duration-bound run's operation count is unknown before it runs; the lab then
/// assumes as many operations per thread count as there are records.
pub(crate) fn expected_inserts(dataset: &Dataset, run: &RunSettings, mix: &Mix) -> u64 {
    let ops = match run.bound {
        super::Bound::Ops(n) => {
            n.saturating_mul(run.threads.iter().copied().max().unwrap_or(1) as u64)
        }
        super::Bound::Duration(_) => dataset.records,
    };
    (ops as f64 * mix.inserts_per_op(run.batch_size) * 2.0) as u64
}
