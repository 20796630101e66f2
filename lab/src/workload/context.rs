//! Where a rejected value sits: [`WorkloadError`] (file, line, column, key, message) and the
//! checks every section shares. A leaf of the workload modules: the sections and the plan
//! build on it, it builds on nothing of theirs.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

/// A workload file that cannot be run, and where: the first problem in file order, and
/// every further one in `more` (validation goes on past the first, so one run of
/// `lab validate` lists them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The key at fault ("dataset.records"); empty when the whole file is at fault.
    pub key: String,
    pub message: String,
    /// The other problems found in the same file, in file order (each with an empty
    /// `more`).
    pub more: Vec<WorkloadError>,
}

impl fmt::Display for WorkloadError {
    /// One line per problem; lines after the first start with `error: `, as the first
    /// does where `lab` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.all().enumerate() {
            if i > 0 {
                write!(f, "\nerror: ")?;
            }
            write!(f, "{}:{}:{}: ", e.file.display(), e.line, e.column)?;
            if !e.key.is_empty() {
                write!(f, "`{}`: ", e.key)?;
            }
            write!(f, "{}", e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for WorkloadError {}

impl WorkloadError {
    /// An error about the whole file (line 1, column 1, no key).
    pub(crate) fn whole(file: &Path, message: impl Into<String>) -> Self {
        WorkloadError {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            key: String::new(),
            message: message.into(),
            more: Vec::new(),
        }
    }

    /// Every problem: this one, then `more`.
    pub fn all(&self) -> impl Iterator<Item = &WorkloadError> {
        std::iter::once(self).chain(&self.more)
    }

    /// How many problems this error reports.
    pub fn count(&self) -> usize {
        1 + self.more.len()
    }

    /// Adds `other`'s problems (another file's, say) after this one's.
    pub fn absorb(&mut self, mut other: WorkloadError) {
        let more = std::mem::take(&mut other.more);
        self.more.push(other);
        self.more.extend(more);
    }
}

/// Problems gathered while validating one file, so that validation can go on past the
/// first and report them all at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<WorkloadError>);

impl Problems {
    /// The value, or `None` with its problems noted.
    pub(crate) fn keep<T>(&mut self, r: Result<T, WorkloadError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.note(e);
                None
            }
        }
    }

    /// The value, or `default` with its problems noted (so later checks can go on).
    pub(crate) fn or<T>(&mut self, r: Result<T, WorkloadError>, default: T) -> T {
        self.keep(r).unwrap_or(default)
    }

    pub(crate) fn note(&mut self, mut e: WorkloadError) {
        let more = std::mem::take(&mut e.more);
        self.0.push(e);
        self.0.extend(more);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn count(&self) -> usize {
        self.0.len()
    }

    /// Whether a problem noted so far suggests `name` ("Did you mean `name`?").
    pub(crate) fn suggested(&self, name: &str) -> bool {
        let hint = format!("Did you mean `{name}`?");
        self.0.iter().any(|e| e.message.contains(&hint))
    }

    /// `Ok(value())` when nothing was noted; else every problem, in file order.
    pub(crate) fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, WorkloadError> {
        if self.0.is_empty() {
            return Ok(value());
        }
        Err(self.into_error(Path::new("")))
    }

    /// Every problem noted, in file order, as one error (a whole-file error about `file`
    /// if, against the caller's reasoning, none was noted).
    pub(crate) fn into_error(self, file: &Path) -> WorkloadError {
        let mut all = self.0;
        all.sort_by_key(|e| (e.line, e.column));
        all.dedup();
        if all.is_empty() {
            return WorkloadError::whole(file, "the workload is invalid");
        }
        let mut first = all.remove(0);
        first.more = all;
        first
    }
}

/// Line and column (1-based) of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The file being validated: turns spans into positioned errors.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a Path,
    pub(crate) src: &'a str,
}

impl Ctx<'_> {
    pub(crate) fn err(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> WorkloadError {
        let (line, column) = line_col(self.src, span.start);
        WorkloadError {
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
            more: Vec::new(),
        }
    }

    /// An integer in `1..=max`; `what` says what it counts.
    pub(crate) fn positive(
        &self,
        v: &Spanned<i64>,
        key: &str,
        max: i64,
        what: impl fmt::Display,
    ) -> Result<u64, WorkloadError> {
        let x = *v.get_ref();
        if x <= 0 || x > max {
            return Err(self.err(
                v.span(),
                key,
                format!("must be between 1 and {max} ({what}); got {x}"),
            ));
        }
        Ok(x.unsigned_abs())
    }

    /// An optional integer in `1..=max`, `default` when absent.
    pub(crate) fn positive_or(
        &self,
        v: Option<&Spanned<i64>>,
        key: &str,
        default: usize,
        max: i64,
    ) -> Result<usize, WorkloadError> {
        match v {
            None => Ok(default),
            Some(v) => Ok(self.positive(v, key, max, "a count")? as usize),
        }
    }

    /// An integer in `0..=max`.
    pub(crate) fn nonneg(
        &self,
        v: &Spanned<i64>,
        key: &str,
        max: i64,
    ) -> Result<usize, WorkloadError> {
        let x = *v.get_ref();
        if !(0..=max).contains(&x) {
            return Err(self.err(
                v.span(),
                key,
                format!("must be between 0 and {max}; got {x}"),
            ));
        }
        Ok(x.unsigned_abs() as usize)
    }

    /// A fraction strictly between 0 and 1, `default` when absent.
    pub(crate) fn fraction(
        &self,
        v: Option<&Spanned<f64>>,
        key: &str,
        default: f64,
    ) -> Result<f64, WorkloadError> {
        match v {
            None => Ok(default),
            Some(x) if *x.get_ref() > 0.0 && *x.get_ref() < 1.0 => Ok(*x.get_ref()),
            Some(x) => Err(self.err(
                x.span(),
                key,
                format!("must be between 0 and 1 (exclusive); got {}", x.get_ref()),
            )),
        }
    }

    /// A duration with a unit ("10s", "500ms").
    pub(crate) fn duration(
        &self,
        v: &Spanned<String>,
        key: &str,
    ) -> Result<Duration, WorkloadError> {
        let text = v.get_ref().trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(self.err(
                v.span(),
                key,
                format!("duration {text:?} needs a unit, e.g. \"{text}s\" or \"{text}ms\""),
            ));
        }
        humantime::parse_duration(text).map_err(|e| {
            self.err(
                v.span(),
                key,
                format!("{text:?} is not a duration ({e}); write e.g. \"10s\", \"500ms\", \"2m\""),
            )
        })
    }

    /// One of `choices` (name, value), or an error listing them.
    pub(crate) fn choice<T: Copy>(
        &self,
        v: &Spanned<String>,
        key: &str,
        what: &str,
        choices: &[(&str, T)],
    ) -> Result<T, WorkloadError> {
        let word = v.get_ref().as_str();
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == word) {
            return Ok(*value);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let hint = closest(word, names.iter().copied())
            .map(|b| format!(" Did you mean `{b}`?"))
            .unwrap_or_default();
        Err(self.err(
            v.span(),
            key,
            format!("unknown {what} {word:?}.{hint} Use {}", names.join(", ")),
        ))
    }
}

/// The registered name closest to `word`, if reasonably close.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Turns a TOML/serde error into a positioned error, with a suggestion for unknown keys.
pub(crate) fn from_toml(file: &Path, src: &str, e: &toml::de::Error) -> WorkloadError {
    let offset = e.span().map_or(0, |s| s.start);
    let (line, column) = line_col(src, offset);
    let message = e.message().trim().to_owned();
    // "unknown field `recrods`, expected one of `records`, `key`, `doc`"
    let mut key = String::new();
    let mut text = message.clone();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, allowed)) = rest.split_once('`') {
            key = field.to_owned();
            let options: Vec<&str> = allowed.split('`').skip(1).step_by(2).collect();
            text = format!("unknown key; allowed here: {}", options.join(", "));
            if let Some(best) = closest(field, options.iter().copied()) {
                text.push_str(&format!(". Did you mean `{best}`?"));
            }
        }
    } else if let Some(line_text) = src
        .get(offset..)
        .and_then(|_| src.lines().nth(line.saturating_sub(1)))
    {
        if let Some((k, _)) = line_text.split_once('=') {
            key = k.trim().to_owned();
        }
    }
    WorkloadError {
        file: file.to_path_buf(),
        line,
        column,
        key,
        message: text,
        more: Vec::new(),
    }
}
