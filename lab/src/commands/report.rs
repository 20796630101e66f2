//! `lab report`: the HTML report again from a results file.

use std::path::Path;

use super::{load_results, other_view};
use crate::error::{Exit, LabError};
use crate::output::OutputDir;

/// `lab report`: re-renders `index.html` from a results file, with the other measure of
/// the same workload side by side when there is one.
pub fn report(
    results: &Path,
    out: Option<&Path>,
    baseline: Option<&Path>,
    beside: Option<&Path>,
) -> Result<Exit, LabError> {
    let r = load_results(results)?;
    let baseline = baseline.map(load_results).transpose()?;
    let home = results.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = out.map_or_else(|| home.clone(), Path::to_path_buf);
    let beside = match beside {
        Some(path) => {
            let other = load_results(path)?;
            if other.workload != r.workload || other.measure == r.measure {
                return Err(LabError::BadInput(format!(
                    "--beside {}: holds {} results of {:?}; it must hold the other measure of \
                     {:?} than {}",
                    path.display(),
                    other.measure.name(),
                    other.workload,
                    r.workload,
                    r.measure.name()
                )));
            }
            Some(other)
        }
        None => other_view(&OutputDir::at(home).other_view(r.measure), &r),
    };
    let path = OutputDir::at(dir).write_report_beside(&r, baseline.as_ref(), beside.as_ref())?;
    println!("report: {}", path.display());
    Ok(Exit::Success)
}
