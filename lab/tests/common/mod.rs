//! What the lab's command-line tests share: the `lab` binary run from the repository root,
//! its output as one text, and workload files written into a test's directory.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `lab args` from the repository root and waits for it.
pub fn lab(args: &[&str]) -> Output {
    lab_with(args, &[])
}

/// [`lab`] with these environment variables set.
pub fn lab_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lab"));
    c.args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Writes `body` to `dir/name` and returns its path.
pub fn workload(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// Whether process `pid` has a handler installed for SIGINT (Linux: `SigCgt` in /proc).
pub fn catches_sigint(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

/// `lab run WORKLOAD --quiet --out OUT`, waited for.
pub fn run_quiet(workload: &Path, out: &Path) -> Output {
    lab(&[
        "run",
        workload.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
}
