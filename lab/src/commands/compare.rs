//! `lab compare BASE NEW`: two results files of one measure, refused when they are not
//! comparable, judged row by row by `acorn_reports::compare` (or knee by knee for sweeps).

use std::path::Path;

use acorn_reports::export::Sides;

use super::load_results;
use crate::cli::FormatArgs;
use crate::error::{Exit, LabError};
use crate::formats::Outputs;

/// `lab compare`: exit 1 on a significant regression; bad input when the files are not
/// comparable (different measures, workloads or measured settings) or nothing could be
/// judged. Instruction counts and wall-clock times are never compared with each other.
pub fn compare(
    base: &Path,
    new: &Path,
    threshold: Option<&str>,
    reference: Option<&str>,
    formats: &FormatArgs,
) -> Result<Exit, LabError> {
    use acorn_reports::compare as cmp;
    let outputs = Outputs::new(&formats.formats, &formats.exports, true)?;
    let (b, n) = (load_results(base)?, load_results(new)?);
    if b.measure != n.measure {
        return Err(LabError::BadInput(format!(
            "cannot compare {} ({}) with {} ({}): instruction counts and wall-clock times are \
             different measures; compare two results of the same measure",
            base.display(),
            b.measure.name(),
            new.display(),
            n.measure.name()
        )));
    }
    let kind = crate::per_measure::kind(b.measure);
    let threshold = match threshold {
        Some(t) => {
            cmp::parse_threshold(t).map_err(|e| LabError::BadInput(format!("--threshold: {e}")))?
        }
        None => kind.default_threshold(),
    };
    match (&b.sweep, &n.sweep) {
        (Some(bs), Some(ns)) => {
            let (lines, regression) =
                acorn_reports::sweep::compare(bs, ns, threshold).map_err(|e| {
                    LabError::BadInput(format!("{} and {}: {e}", base.display(), new.display()))
                })?;
            println!(
                "sweeps compared by their knees (threshold {:.1}%):",
                threshold * 100.0
            );
            for l in lines {
                println!("  {l}");
            }
            return Ok(if regression {
                Exit::Failed
            } else {
                Exit::Success
            });
        }
        (None, None) => {}
        _ => {
            return Err(LabError::BadInput(format!(
                "cannot compare {} with {}: one is a sweep (lab sweep) and the other is not",
                base.display(),
                new.display()
            )))
        }
    }
    let m = cmp::mismatches(&b, &n);
    if !m.refuse.is_empty() {
        return Err(LabError::BadInput(format!(
            "{} and {} are not comparable:\n  {}",
            base.display(),
            new.display(),
            m.refuse.join("\n  ")
        )));
    }
    for w in &m.warn {
        if !outputs.machine_stdout() {
            println!("WARNING: {w}");
        }
        eprintln!("WARNING: {w}");
    }
    let sides = Sides {
        base: base.display().to_string(),
        new: new.display().to_string(),
        workload: n.workload.clone(),
        warnings: m.warn.clone(),
    };
    let reference = reference.map_or(cmp::Reference::Auto, cmp::Reference::parse);
    let regressed = kind.compare(&b, &n, threshold, &reference, (&outputs, &sides))?;
    Ok(if regressed {
        Exit::Failed
    } else {
        Exit::Success
    })
}
