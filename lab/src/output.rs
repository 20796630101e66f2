//! Every file `lab` writes, in one place: the output directory of a workload
//! (`target/lab/<workload>/` unless `--out`; instruction counts in its `instructions/`),
//! `results.json`, `index.html`, flamegraphs beside them, merged results, and the rewrite of
//! a Markdown targets table.

use std::path::{Path, PathBuf};

use acorn_reports::{Measure, Results};

use crate::error::LabError;

/// Where results go when `--out` is not given.
pub const DEFAULT_ROOT: &str = "target/lab";

const TARGETS_MARKER: &str = "<!-- targets:begin -->";

/// The subdirectory of a workload's output directory that holds its instruction counts.
pub const INSTRUCTIONS_DIR: &str = "instructions";

/// The output directory of one workload's run.
#[derive(Clone, Debug)]
pub struct OutputDir {
    dir: PathBuf,
}

impl OutputDir {
    /// Where a workload's results go: `out` itself when it is the only workload, else
    /// `out/<workload>/` (so two workloads never share a directory); by default
    /// `target/lab/<workload>/`. Workload names are never paths (the validator sees to it).
    pub fn for_workload(out: Option<&Path>, workload: &str, several: bool) -> Self {
        let dir = match out {
            None => Path::new(DEFAULT_ROOT).join(workload),
            Some(out) if several => out.join(workload),
            Some(out) => out.to_path_buf(),
        };
        OutputDir { dir }
    }

    /// As [`OutputDir::for_workload`]; without `--out`, instruction counts go into its
    /// `instructions/` subdirectory (`target/lab/<workload>/instructions/`), so both views
    /// of a workload live side by side.
    pub fn for_run(out: Option<&Path>, workload: &str, measure: Measure, several: bool) -> Self {
        let mut dir = Self::for_workload(out, workload, several);
        if out.is_none() && measure == Measure::Instructions {
            dir.dir.push(INSTRUCTIONS_DIR);
        }
        dir
    }

    /// An existing directory (e.g. beside a results file).
    pub fn at(dir: PathBuf) -> Self {
        OutputDir { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory and proves it writable (a probe file, created and removed),
    /// so a run never ends in an unwritable directory.
    pub fn prepare(&self) -> Result<(), LabError> {
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| {
                tempfile::Builder::new()
                    .prefix(".lab-write-check-")
                    .tempfile_in(&self.dir)
                    .map(drop)
            })
            .map_err(|e| LabError::output(&self.dir, e))
    }

    /// Writes `results.json`; returns its path.
    pub fn write_results(&self, results: &Results) -> Result<PathBuf, LabError> {
        self.write("results.json", results.to_json().as_bytes())
    }

    /// Renders and writes `index.html`, with `beside` (the same workload in the other
    /// measure) side by side when given.
    pub fn write_report_beside(
        &self,
        results: &Results,
        baseline: Option<&Results>,
        beside: Option<&Results>,
    ) -> Result<PathBuf, LabError> {
        let path = self.dir.join("index.html");
        let html = acorn_reports::html::render_beside(results, baseline, beside)
            .map_err(|e| LabError::output(&path, e))?;
        self.write("index.html", html.as_bytes())
    }

    /// Where results of the other measure of the same workload live by default:
    /// `instructions/results.json` below wall-clock results, `../results.json` above
    /// instruction counts.
    pub fn other_view(&self, measure: Measure) -> PathBuf {
        match measure {
            Measure::WallClock => self.dir.join(INSTRUCTIONS_DIR).join("results.json"),
            Measure::Instructions => self.dir.join("..").join("results.json"),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, LabError> {
        write_beside(&self.dir, name, bytes)
    }
}

/// Writes `name` into `dir` (creating it): flamegraphs beside the report, and every file
/// of an [`OutputDir`].
pub fn write_beside(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, LabError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, bytes))
        .map_err(|e| LabError::output(&path, e))?;
    Ok(path)
}

/// Writes a merged results file to `path`.
pub fn write_merged(path: &Path, results: &Results) -> Result<(), LabError> {
    std::fs::write(path, results.to_json()).map_err(|e| LabError::output(path, e))
}

/// A Markdown file whose targets table (between `<!-- targets:begin -->` and
/// `<!-- targets:end -->`) each run rewrites.
#[derive(Clone, Debug)]
pub struct TargetsTable {
    path: PathBuf,
}

impl TargetsTable {
    /// Checks, before anything runs, that `path` is readable and has the markers.
    pub fn open(path: &Path) -> Result<Self, LabError> {
        let bad =
            |why: String| LabError::BadInput(format!("--update-targets {}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        if !text.contains(TARGETS_MARKER) {
            return Err(bad(format!("no `{TARGETS_MARKER}` marker")));
        }
        Ok(TargetsTable {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrites the Current and Status cells of the rows `results` has targets for.
    pub fn update(&self, results: &Results) -> Result<(), LabError> {
        let path = &self.path;
        let text = std::fs::read_to_string(path).map_err(|e| LabError::output(path, e))?;
        let updated = acorn_reports::targets::update_markdown(&text, results)
            .map_err(|e| LabError::output(path, e))?;
        std::fs::write(path, updated).map_err(|e| LabError::output(path, e))
    }
}
