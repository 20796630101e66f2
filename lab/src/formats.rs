//! `--format`, `--export FORMAT=PATH`, `--hdr-log DIR`, `lab export` and GitHub's job
//! summary: the lab's side of [`acorn_reports::export`] (which renders each format). What
//! goes to stdout is what `--format` asks for (the table when nothing is asked); when a
//! machine format is asked, the lab's own lines ("results: ...") go to stderr so that
//! stdout parses.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use acorn_reports::export::{self, bmf, csv, hdrlog, junit, markdown, Comparison, Format};
use acorn_reports::Results;

use crate::error::{Exit, LabError};
use crate::output;

/// `--export FORMAT=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub format: Format,
    pub path: PathBuf,
}

/// Parses `FORMAT=PATH` (clap's value parser for `--export`).
pub fn parse_export(s: &str) -> Result<Export, String> {
    let (format, path) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected FORMAT=PATH, e.g. junit=lab.xml"))?;
    if path.trim().is_empty() {
        return Err(format!("{s:?}: no path after `=`"));
    }
    Ok(Export {
        format: Format::parse(format)?,
        path: PathBuf::from(path),
    })
}

/// What a command was asked to print and write.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    formats: Vec<Format>,
    exports: Vec<Export>,
}

/// What is being rendered.
enum Subject<'a> {
    Run {
        results: &'a [Results],
        pretty: bool,
    },
    Compare {
        table: &'a str,
        c: &'a Comparison,
    },
}

impl Outputs {
    /// Checks the request before anything runs: each export's directory is made and proved
    /// writable, and a comparison is not asked for BMF (which describes one run).
    pub fn new(
        formats: &[Format],
        exports: &[Export],
        comparing: bool,
    ) -> Result<Outputs, LabError> {
        let asked = formats.iter().chain(exports.iter().map(|e| &e.format));
        if comparing && asked.clone().any(|f| *f == Format::Bmf) {
            return Err(LabError::BadInput(
                "bmf (Bencher Metric Format) describes one run's results, not a comparison: \
                 use `lab export bencher NEW.json`"
                    .into(),
            ));
        }
        for (i, e) in exports.iter().enumerate() {
            if exports[..i].iter().any(|o| o.path == e.path) {
                return Err(LabError::BadInput(format!(
                    "--export: {} is given twice",
                    e.path.display()
                )));
            }
            let dir = match e.path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            output::writable_dir(dir)?;
        }
        Ok(Outputs {
            formats: formats.to_vec(),
            exports: exports.to_vec(),
        })
    }

    /// Whether stdout carries a machine format (then the lab's own lines go to stderr).
    pub fn machine_stdout(&self) -> bool {
        self.formats.iter().any(|f| *f != Format::Table)
    }

    /// Whether the terminal table goes to stdout (asked for, or nothing asked).
    pub fn table(&self) -> bool {
        self.formats.is_empty() || self.formats.contains(&Format::Table)
    }

    /// One of the lab's own lines: stdout, or stderr when stdout carries a machine format.
    pub fn note(&self, line: impl Display) {
        if self.machine_stdout() {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// `lab run`'s formats other than the table (printed as each workload finishes), and
    /// its exports, over every workload that ran.
    pub fn run(&self, results: &[Results], pretty: bool) -> Result<(), LabError> {
        self.emit(&Subject::Run { results, pretty })
    }

    /// `lab compare`'s formats and exports; the Markdown is also appended to
    /// `$GITHUB_STEP_SUMMARY` when that is set (a GitHub Actions job summary).
    pub fn compare(&self, table: &str, c: &Comparison) -> Result<(), LabError> {
        if self.table() {
            print!("{table}");
        }
        self.emit(&Subject::Compare { table, c })?;
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            append(Path::new(&path), &markdown::compare(c))?;
        }
        Ok(())
    }

    fn emit(&self, subject: &Subject) -> Result<(), LabError> {
        for f in self.formats.iter().filter(|f| **f != Format::Table) {
            print!("{}", render(*f, subject));
        }
        for e in &self.exports {
            output::write_atomic(&e.path, render(e.format, subject).as_bytes())?;
            self.note(format_args!("{}: {}", e.format.name(), e.path.display()));
        }
        Ok(())
    }
}

/// `format` of `subject`, ending in a line break. (BMF of a comparison is refused by
/// [`Outputs::new`]; it renders as the comparison's JSON should it ever get here.)
fn render(format: Format, subject: &Subject) -> String {
    let mut text = match (format, subject) {
        (Format::Table, Subject::Run { results, .. }) => {
            results.iter().map(acorn_reports::table::render).collect()
        }
        (Format::Markdown, Subject::Run { results, .. }) => markdown::run(results),
        (Format::Json, Subject::Run { results, pretty }) => export::results_json(results, *pretty),
        (Format::Junit, Subject::Run { results, .. }) => junit::run(results),
        (Format::Csv, Subject::Run { results, .. }) => csv::run(results),
        (Format::Bmf, Subject::Run { results, .. }) => bmf::render(results),
        (Format::Table, Subject::Compare { table, .. }) => (*table).to_owned(),
        (Format::Markdown, Subject::Compare { c, .. }) => markdown::compare(c),
        (Format::Json | Format::Bmf, Subject::Compare { c, .. }) => c.to_json(),
        (Format::Junit, Subject::Compare { c, .. }) => junit::compare(c),
        (Format::Csv, Subject::Compare { c, .. }) => csv::compare(c),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Appends `text` to `path` (GitHub's job summary file), creating it.
fn append(path: &Path, text: &str) -> Result<(), LabError> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| LabError::output(path, e))
}

/// Writes `r`'s HdrHistogram interval logs into `dir`; returns how many.
pub fn write_hdr_logs(dir: &Path, r: &Results) -> Result<usize, LabError> {
    let logs = hdrlog::logs(r).map_err(|e| LabError::output(dir, e))?;
    for (name, bytes) in &logs {
        output::write_beside(dir, name, bytes)?;
    }
    Ok(logs.len())
}

/// `lab export FORMAT RESULTS`: a saved results file in another format, to `output` (a
/// directory for `hdr-log`) or stdout.
pub fn export(format: &str, results: &Path, output: Option<&Path>) -> Result<Exit, LabError> {
    let r = Results::load(results).map_err(|e| LabError::BadInput(e.to_string()))?;
    if matches!(format, "hdr-log" | "hdrlog" | "hlog") {
        let dir = output.ok_or_else(|| {
            LabError::BadInput("hdr-log writes one file per variant: give -o DIR".into())
        })?;
        let n = write_hdr_logs(dir, &r)?;
        println!("{n} interval log(s) in {}", dir.display());
        return Ok(Exit::Success);
    }
    let format = Format::parse(format).map_err(|e| LabError::BadInput(format!("{e}, hdr-log")))?;
    let text = render(
        format,
        &Subject::Run {
            results: std::slice::from_ref(&r),
            pretty: false,
        },
    );
    match output {
        Some(path) => {
            output::write_atomic(path, text.as_bytes())?;
            eprintln!("{}: {}", format.name(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(Exit::Success)
}
