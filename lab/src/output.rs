//! Every file `lab` writes, in one place: the output directory of a workload
//! (`target/lab/<workload>/` unless `--out`; instruction counts in its `instructions/`),
//! `results.json`, `index.html`, flamegraphs beside them, merged results, and the rewrite of
//! a Markdown targets table.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
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
    /// results.json indented (`--pretty`) rather than compact.
    pretty: bool,
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
        OutputDir { dir, pretty: false }
    }

    /// This directory, with results.json indented when `pretty`.
    pub fn pretty(self, pretty: bool) -> Self {
        OutputDir { pretty, ..self }
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
        OutputDir { dir, pretty: false }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory, proves it writable (a probe file, created and removed), so a
    /// run never ends in an unwritable directory, and locks it for this process (see
    /// [`OutputLock`]): a second lab writing to the same directory is refused.
    pub fn prepare(&self) -> Result<OutputLock, LabError> {
        writable_dir(&self.dir)?;
        OutputLock::acquire(&self.dir)
    }

    /// Writes `results.json`; returns its path.
    pub fn write_results(&self, results: &Results) -> Result<PathBuf, LabError> {
        let json = if self.pretty {
            results.to_json_pretty()
        } else {
            results.to_json()
        };
        self.write("results.json", json.as_bytes())
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

    /// Writes `name` into the directory (`lab ab`'s ab.json and index.html).
    pub fn write_named(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, LabError> {
        write_beside(&self.dir, name, bytes)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, LabError> {
        self.write_named(name, bytes)
    }
}

/// Name of the lock file in an output directory.
pub const LOCK_FILE: &str = ".lab.lock";

/// An output directory held by this process until dropped (the OS releases it when the
/// process dies, however it dies). The lock is an OS file lock (`flock`) on `.lab.lock` in
/// the directory, the engine's approach for its `LOCK`; the file records the holder's
/// process id so the refusal can name it.
#[derive(Debug)]
#[must_use = "the directory is unlocked as soon as the lock is dropped"]
pub struct OutputLock {
    file: File,
    /// The process that took the lock: only it unlocks (see `Drop`).
    owner: u32,
}

impl OutputLock {
    /// Locks `dir`, or refuses (bad input, exit 2) when another lab holds it.
    pub fn acquire(dir: &Path) -> Result<Self, LabError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| LabError::output(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    "another lab".to_owned()
                } else {
                    format!("another lab (process {holder})")
                };
                return Err(LabError::BadInput(format!(
                    "{}: {by} is writing results here; wait for it to finish, or give this \
                     run another directory with --out",
                    dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(LabError::output(&path, e)),
        }
        // Best effort: the pid only names the holder in the message above.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| write!(file, "{}", std::process::id()));
        remove_stale_temporaries(dir);
        Ok(OutputLock {
            file,
            owner: std::process::id(),
        })
    }
}

impl Drop for OutputLock {
    /// Unlocks before the file closes: a child forked by any thread holds a copy of the
    /// file until it runs its program, and the lock belongs to the file, so closing alone
    /// would leave the directory locked through that copy. An unlock releases every copy,
    /// so only the process that took the lock unlocks: a forked child dropping its copy
    /// only closes it, and the parent stays locked.
    fn drop(&mut self) {
        if std::process::id() == self.owner {
            let _ = self.file.unlock();
        }
    }
}

/// Removes what [`write_atomic`] leaves behind when a run is killed mid-write
/// (`.<name>.<random>.tmp`). Only a lock holder calls it, so no write is in flight.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

const TMP_SUFFIX: &str = ".lab-tmp";

/// Makes `dir` and proves it writable (a probe file, created and removed), so that a run
/// never ends in an unwritable directory.
pub fn writable_dir(dir: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix(".lab-write-check-")
                .tempfile_in(dir)
                .map(drop)
        })
        .map_err(|e| LabError::output(dir, e))
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it, flushed, then
/// renamed over `path`. A run killed at any moment leaves either the old file or the whole
/// new one, never a half-written file that `compare` would trust.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LabError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(TMP_SUFFIX)
            .tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        keep_permissions(tmp.as_file(), path)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|e| LabError::output(path, e))
}

/// Gives the temporary file `tmp` (created 0600) the permissions of the file it replaces,
/// or the usual 0644 for a new one.
fn keep_permissions(tmp: &File, path: &Path) -> std::io::Result<()> {
    let permissions = match std::fs::metadata(path) {
        Ok(old) => old.permissions(),
        Err(_) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::Permissions::from_mode(0o644)
            }
            #[cfg(not(unix))]
            {
                return Ok(());
            }
        }
    };
    tmp.set_permissions(permissions)
}

/// Writes `name` into `dir` (creating it) atomically: flamegraphs beside the report, and
/// every file of an [`OutputDir`].
pub fn write_beside(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, LabError> {
    let path = dir.join(name);
    write_atomic(&path, bytes)?;
    Ok(path)
}

/// Writes a merged results file to `path` (atomically).
pub fn write_merged(path: &Path, results: &Results) -> Result<(), LabError> {
    write_atomic(path, results.to_json().as_bytes())
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
        write_atomic(path, updated.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_lock_holder_sweeps_temporaries_a_killed_write_left() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!(".results.json.a1b2c3{TMP_SUFFIX}"));
        std::fs::write(&stale, b"{\"half").unwrap();
        let other = dir.path().join(".keep-me");
        std::fs::write(&other, b"x").unwrap();
        let _lock = OutputLock::acquire(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(other.exists(), "only the lab's own temporaries are removed");
    }

    /// A forked child that drops its copy of the lock (before its program runs, or
    /// because it never runs one) must not free the directory: the lock is the parent's,
    /// and an unlock would release it for every copy while the parent still writes.
    #[cfg(unix)]
    #[test]
    fn a_forked_child_dropping_its_copy_leaves_the_directory_locked() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let mut lock = OutputLock::acquire(dir.path()).unwrap();
        let at = std::ptr::addr_of_mut!(lock) as usize;
        let mut child = std::process::Command::new("true");
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child, on the child's copy of `lock`,
        // which nothing in the child uses again; dropping it only unlocks and closes.
        unsafe {
            child.pre_exec(move || {
                std::ptr::drop_in_place(at as *mut OutputLock);
                Ok(())
            });
        }
        assert!(child.status().unwrap().success());
        assert!(
            OutputLock::acquire(dir.path()).is_err(),
            "a child's drop released the parent's lock"
        );
        drop(lock);
        let _held = OutputLock::acquire(dir.path()).expect("free once the parent drops it");
    }

    /// A child forked while the lock is held keeps a copy of its file until it runs its
    /// program (here it sleeps first); the directory is free the moment the lock drops.
    #[cfg(unix)]
    #[test]
    fn a_dropped_lock_frees_the_directory_while_a_child_is_being_spawned() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let lock = OutputLock::acquire(dir.path()).unwrap();
        let child = std::thread::spawn(|| {
            let mut slow = std::process::Command::new("true");
            #[allow(unsafe_code)]
            // SAFETY: the closure only sleeps, which is async-signal-safe.
            unsafe {
                slow.pre_exec(|| {
                    std::thread::sleep(std::time::Duration::from_millis(400));
                    Ok(())
                });
            }
            slow.status().unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(lock);
        let _held =
            OutputLock::acquire(dir.path()).expect("the directory is free once the lock drops");
        assert!(child.join().unwrap().success());
    }

    #[test]
    fn an_atomic_write_replaces_the_whole_file_and_keeps_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomic(&path, b"first").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode, 0o644,
                "a new file is readable by others, as fs::write makes it"
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        }
        write_atomic(&path, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o664, "the replaced file's permissions are kept");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left beside it");
    }
}
