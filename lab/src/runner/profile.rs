//! `lab run --flamegraph`: samples a variant's first measured phase in-process (pprof at
//! 997 Hz) and writes an inferno flamegraph titled with the workload, variant and thread
//! count, through `output.rs`. A phase too short to sample well gets a warning, and the
//! profiler's own temporary file is kept in a directory the command removes.

use std::path::{Path, PathBuf};

use acorn_reports::format::{flamegraph_file, threads_text};

/// Sampling frequency, in samples per second of CPU time per thread.
pub const FREQUENCY: i32 = 997;

/// Fewer samples than this cannot be read: one sample is over 1% of the graph. (The kernel's
/// timer granularity can hold pprof well under the 997 Hz asked for: about 75 a second of
/// CPU on the 2-core VM this was written on, so a 2 s phase gives some 150.)
pub const FEW_SAMPLES: u64 = 100;

/// Where and under what title one phase's flamegraph goes.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub dir: &'a Path,
    pub workload: &'a str,
    pub variant: &'a str,
    pub threads: usize,
}

/// What sampling one phase produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampled {
    /// The flamegraph's file name, relative to `Target::dir`.
    pub file: String,
    pub samples: u64,
    /// Why it was not written, if it was not.
    pub failed: Option<String>,
}

impl Sampled {
    /// What the reader should know about this flamegraph, if anything.
    pub fn warning(&self) -> Option<String> {
        if let Some(why) = &self.failed {
            return Some(format!("flamegraph {} was not written: {why}", self.file));
        }
        (self.samples < FEW_SAMPLES).then(|| {
            format!(
                "flamegraph {} has only {} samples (fewer than {FEW_SAMPLES}), too few to read: \
                 run longer phases (without --quick, or a longer run.duration)",
                self.file, self.samples
            )
        })
    }
}

impl Target<'_> {
    /// Runs `phase` under the sampling profiler; writes its flamegraph when `keep` says the
    /// phase counts (a phase cut short by Ctrl-C does not).
    #[cfg(unix)]
    pub fn sample<T>(
        &self,
        phase: impl FnOnce() -> T,
        keep: impl Fn(&T) -> bool,
    ) -> (T, Option<Sampled>) {
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build();
        let out = phase();
        if !keep(&out) {
            return (out, None);
        }
        let file = flamegraph_file(self.variant, self.threads);
        let mut sampled = Sampled {
            file,
            samples: 0,
            failed: None,
        };
        let svg = guard
            .map_err(|e| e.to_string())
            .and_then(|g| g.report().build().map_err(|e| e.to_string()))
            .and_then(|report| {
                sampled.samples = report.data.values().map(|n| n.unsigned_abs() as u64).sum();
                if sampled.samples == 0 {
                    return Err("no samples: the phase was too short to sample".to_owned());
                }
                let mut options = pprof::flamegraph::Options::default();
                options.title = format!(
                    "{}: {}, {}",
                    self.workload,
                    self.variant,
                    threads_text(self.threads)
                );
                options.subtitle = Some(format!(
                    "first measured phase: {} samples (pprof, {FREQUENCY} Hz asked)",
                    sampled.samples
                ));
                let mut svg = Vec::new();
                report
                    .flamegraph_with_options(&mut svg, &mut options)
                    .map_err(|e| e.to_string())?;
                Ok(svg)
            });
        let written = svg.and_then(|svg| {
            crate::output::write_beside(self.dir, &sampled.file, &svg).map_err(|e| e.to_string())
        });
        sampled.failed = written.err();
        (out, Some(sampled))
    }

    #[cfg(not(unix))]
    pub fn sample<T>(
        &self,
        phase: impl FnOnce() -> T,
        _keep: impl Fn(&T) -> bool,
    ) -> (T, Option<Sampled>) {
        (phase(), None)
    }
}

/// pprof keeps its samples in a temporary file held by a static, so it is never removed.
/// This points temporary files at a directory of our own and removes it when dropped (at
/// the end of the command; the profiler cannot be used after that in this process).
#[derive(Debug)]
pub struct Scratch(Option<PathBuf>);

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("lab-profiler-")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .ok()
            .filter(|dir| tempfile::env::override_temp_dir(dir).is_ok());
        Scratch(dir)
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
