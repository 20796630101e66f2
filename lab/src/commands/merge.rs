//! `lab merge`: several load generators' results as one file.

use std::path::{Path, PathBuf};

use acorn_reports::TargetVerdict;

use super::load_results;
use crate::error::{Exit, LabError};
use crate::output;

/// `lab merge`: several load generators' results as one file.
pub fn merge(files: &[PathBuf], output: &Path) -> Result<Exit, LabError> {
    for (i, f) in files.iter().enumerate() {
        let same = |g: &PathBuf| match (f.canonicalize(), g.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => f == g,
        };
        if let Some(g) = files[..i].iter().find(|g| same(g)) {
            return Err(LabError::BadInput(format!(
                "{} is given twice ({}): each generator's results merge once",
                f.display(),
                g.display()
            )));
        }
    }
    let parts = files
        .iter()
        .map(|f| load_results(f))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = acorn_reports::merge::merge(&parts).map_err(LabError::BadInput)?;
    output::write_merged(output, &merged)?;
    print!("{}", acorn_reports::table::render(&merged));
    println!("merged {} files into {}", files.len(), output.display());
    // As `run` does: a merged result whose target failed is a failed run.
    Ok(if merged.targets.iter().any(TargetVerdict::failed) {
        Exit::Failed
    } else {
        Exit::Success
    })
}
