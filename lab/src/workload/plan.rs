//! Stage two of loading: a validated [`Plan`], composed from one constructor per section
//! (see `sections.rs`). Every rejection names the file, the line and column, and the key,
//! and says what is allowed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::context::{from_toml, line_col, Ctx, WorkloadError};
use super::keys::Distribution;
use super::ops::StreamSpec;
use super::sections::{query_from_spec, target_from_spec, variants_from_spec};
use super::sections::{Dataset, Mix, RunSettings};
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
    pub query: QuerySpec,
    pub targets: Vec<Target>,
}

impl Plan {
    /// Reads and validates a workload file.
    pub fn load(path: &Path) -> Result<Plan, WorkloadError> {
        let bytes = std::fs::read(path).map_err(|e| {
            WorkloadError::whole(path, format!("cannot read the workload file: {e}"))
        })?;
        let src = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
                let (line, column) = line_col(&valid, at);
                return Err(WorkloadError {
                    line,
                    column,
                    ..WorkloadError::whole(path, "the file is not UTF-8 text (TOML must be UTF-8)")
                });
            }
        };
        Self::parse(path, &src)
    }

    /// What the operation streams of this plan are drawn from.
    pub fn stream_spec(&self) -> StreamSpec<'_> {
        StreamSpec {
            mix: &self.mix,
            distribution: self.distribution,
            records: self.dataset.records,
            batch_size: self.run.batch_size,
            seed: self.run.seed,
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
    let query = query_from_spec(cx, spec.query.as_ref(), &dataset.key_prefix)?;
    let targets = spec
        .targets
        .iter()
        .map(|t| target_from_spec(cx, t, &variants))
        .collect::<Result<_, _>>()?;
    Ok(Plan {
        name,
        description: spec.description.clone().unwrap_or_default(),
        file: cx.file.to_path_buf(),
        variants,
        dataset,
        run,
        mix,
        distribution,
        query,
        targets,
    })
}
