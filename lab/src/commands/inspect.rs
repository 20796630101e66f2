//! The commands that look without measuring: `lab validate` (workload files checked),
//! `lab sample` (a workload's operations printed) and `lab list` (backends and workloads).

use std::path::{Path, PathBuf};

use acorn_reports::{format, Measure};

use super::load_plan;
use crate::backend;
use crate::error::{Exit, LabError};
use crate::workload::Plan;

/// `lab validate`: checks every file, reporting each error; bad input if any failed.
pub fn validate(files: &[PathBuf]) -> Result<Exit, LabError> {
    let mut bad = false;
    for f in files {
        match load_plan(f) {
            Ok(p) => println!(
                "{}: ok ({}, {}, {})",
                f.display(),
                p.name,
                format::count(p.variants.len() as u64, "variant"),
                format::count(p.dataset.records, "record")
            ),
            Err(LabError::Workload(e)) => {
                eprintln!("error: {e}");
                if e.count() > 1 {
                    eprintln!("{}: {} problems", f.display(), e.count());
                }
                bad = true;
            }
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
            }
        }
    }
    Ok(if bad { Exit::BadInput } else { Exit::Success })
}

/// `lab sample`: the first stream of a workload, one operation per line, on stdout.
pub fn sample(file: &Path, ops: u64, seed: Option<u64>) -> Result<Exit, LabError> {
    let plan = load_plan(file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match crate::workload::sample::write(&plan, ops, seed, &mut out) {
        // `lab sample ... | head` closes the pipe early: not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(LabError::output(Path::new("<stdout>"), e))
        }
        _ => Ok(Exit::Success),
    }
}

/// `lab list`: the backends, and the workloads in `./workloads/` (saying where it looked).
pub fn list() -> Result<Exit, LabError> {
    println!("backends:");
    for line in backend_list() {
        println!("{line}");
    }
    let dir = Path::new("workloads");
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!(
            "workloads: no workloads directory at {} (list looks in ./workloads; run it from \
             the repository root)",
            shown.display()
        );
        return Ok(Exit::Success);
    };
    println!("workloads in {}:", shown.display());
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let w = files
        .iter()
        .map(|f| f.display().to_string().chars().count())
        .max()
        .unwrap_or(0);
    for f in files {
        let name = f.display().to_string();
        match Plan::load(&f) {
            Ok(p) => println!("  {name:<w$}  {}", p.description),
            Err(e) => println!("  {name:<w$}  INVALID: {e}"),
        }
    }
    Ok(Exit::Success)
}

/// Three lines per registered backend: its name, phrase and serialization; its durability
/// tier and version; the measures it supports (and why not the others). Columns as wide
/// as the longest name, so every description starts in one column.
pub(crate) fn backend_list() -> Vec<String> {
    let options = backend::Options::default();
    let w = backend::registry()
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for r in backend::registry() {
        lines.push(match (r.open)(r, &options).map(|b| b.describe()) {
            Ok(i) => format!("  {:<w$}  {}; {}", r.name, r.about, i.serialization),
            Err(e) => format!("  {:<w$}  {} (cannot open here: {e})", r.name, r.about),
        });
        lines.push(format!(
            "  {:<w$}  tier: {}; version: {}",
            "",
            r.tier.name(),
            r.version.label()
        ));
        let measures = match r.supports(Measure::Instructions) {
            Ok(()) => "wall-clock, instructions".to_owned(),
            Err(why) => format!("wall-clock (not instructions: {why})"),
        };
        lines.push(format!("  {:<w$}  measures: {measures}", ""));
    }
    lines
}
