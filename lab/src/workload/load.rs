//! Reading a workload file: a bare name is looked up among the shipped workloads, the
//! bytes must be UTF-8, and the format is TOML (`plan.rs`) or YCSB properties (`ycsb.rs`).

use std::path::{Path, PathBuf};

use super::context::{line_col, WorkloadError};
use super::plan::Plan;

/// A bare workload name that is not a file here (`ycsb-a`, `workloada`) names a shipped
/// one: `workloads/<name>.toml` or YCSB's `workloads/ycsb/<name>`.
pub fn resolve(path: &Path) -> PathBuf {
    if path.exists() || path.components().count() != 1 {
        return path.to_path_buf();
    }
    let dir = Path::new("workloads");
    [
        dir.join(path).with_extension("toml"),
        dir.join(path),
        dir.join("ycsb").join(path),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| path.to_path_buf())
}

impl Plan {
    /// Reads and validates a workload file: TOML, or a YCSB property file (see `ycsb.rs`).
    /// A bare name is looked up among the shipped workloads (see [`resolve`]).
    pub fn load(path: &Path) -> Result<Plan, WorkloadError> {
        let resolved = resolve(path);
        let path = resolved.as_path();
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
                    ..WorkloadError::whole(
                        path,
                        "the file is not UTF-8 text (workload files must be UTF-8)",
                    )
                });
            }
        };
        if super::ycsb::is_properties(path, &src) {
            return super::ycsb::parse(path, &src);
        }
        Self::parse(path, &src)
    }
}
