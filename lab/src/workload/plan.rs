//! Stage two of loading: a validated [`Plan`], composed from one constructor per section
//! (see `sections.rs`). Every rejection names the file, the line and column, and the key,
//! and says what is allowed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::context::{from_toml, Ctx, WorkloadError};
use super::keys::{Distribution, KeyLaw};
use super::ops::StreamSpec;
use super::sections::{query_from_spec, target_from_spec, variants_from_spec};
use super::sections::{CacheSettings, Dataset, Mix, RunSettings};
use super::spec::WorkloadSpec;
use crate::backend::QuerySpec;
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

impl Plan {
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
        let spec: WorkloadSpec = toml::from_str(src).map_err(|e| from_toml(path, src, &e))?;
        validate(Ctx { file: path, src }, &spec)
    }
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
    let name = name_from_spec(cx, &spec.name)?;
    let variants = variants_from_spec(cx, spec.variants.as_ref())?;
    // Sections in file order, so the first error reported is the first in the file.
    let dataset = Dataset::from_spec(cx, spec.dataset.get_ref())?;
    let run = RunSettings::from_spec(cx, spec.run.as_ref())?;
    let mix = Mix::from_spec(cx, &spec.mix)?;
    let distribution = Distribution::from_spec(cx, spec.distribution.as_ref())?;
    let expected = match spec
        .distribution
        .as_ref()
        .and_then(|d| d.expected_inserts.as_ref())
    {
        Some(n) => cx.nonneg(n, "distribution.expected_inserts", 1 << 40)? as u64,
        None => expected_inserts(&dataset, &run, &mix),
    };
    let cache = CacheSettings::from_spec(cx, spec.cache.as_ref(), spec.run.as_ref())?;
    let query = query_from_spec(cx, spec.query.as_ref(), &dataset)?;
    let targets = spec
        .targets
        .iter()
        .map(|t| target_from_spec(cx, t, &variants))
        .collect::<Result<_, _>>()?;
    let inserts_declared = spec
        .distribution
        .as_ref()
        .is_some_and(|d| d.expected_inserts.is_some());
    let item_count = expected.saturating_add(dataset.records);
    Ok(Plan {
        name,
        description: spec.description.clone().unwrap_or_default(),
        file: cx.file.to_path_buf(),
        variants,
        dataset,
        inserts_declared,
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
