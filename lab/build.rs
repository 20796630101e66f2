//! Records the compiler version and git revision for the machine fingerprint in results,
//! and the versions of the peer stores as Cargo.lock resolved them, so each backend's
//! `describe()` names the release it runs.
use std::process::Command;

/// Crates whose resolved version becomes `LAB_<NAME>_VERSION`.
const VERSIONED: [&str; 4] = ["redb", "fjall", "rusqlite", "quick_cache"];

/// The version Cargo.lock gives `name` ("unknown" when it lists none).
fn locked_version(lock: &str, name: &str) -> String {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                return v.trim_matches('"').to_owned();
            }
        }
    }
    "unknown".into()
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    let rev =
        output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    println!("cargo:rustc-env=LAB_RUSTC_VERSION={version}");
    println!(
        "cargo:rustc-env=LAB_GIT_REVISION={rev}{}",
        if dirty { "-dirty" } else { "" }
    );
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    for name in VERSIONED {
        println!(
            "cargo:rustc-env=LAB_{}_VERSION={}",
            name.to_uppercase(),
            locked_version(&lock, name)
        );
    }
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/index");
}
