//! Records the compiler version and git revision for the machine fingerprint in results,
//! and the version Cargo.lock resolved for every dependency of the lab
//! (`$OUT_DIR/locked.rs`), so a backend names the release it runs by naming its crate
//! (`backend::Version::Crate`); no list to keep by hand.
use std::process::Command;

/// One `[[package]]` of Cargo.lock: its name, version and dependencies (each `"name"`, or
/// `"name version"` when the lock holds several versions of it).
#[derive(Default)]
struct Package {
    name: String,
    version: String,
    dependencies: Vec<String>,
}

/// The packages of a Cargo.lock (the lines this needs; the format is TOML written by Cargo,
/// one key per line and one dependency per line).
fn packages(lock: &str) -> Vec<Package> {
    let mut out: Vec<Package> = Vec::new();
    let mut in_dependencies = false;
    for line in lock.lines().map(str::trim) {
        let quoted = |s: &str| s.trim_matches(|c| c == '"' || c == ',').to_owned();
        if line == "[[package]]" {
            out.push(Package::default());
            in_dependencies = false;
        } else if let Some(p) = out.last_mut() {
            if in_dependencies {
                if line == "]" {
                    in_dependencies = false;
                } else {
                    p.dependencies.push(quoted(line));
                }
            } else if let Some(v) = line.strip_prefix("name = ") {
                p.name = quoted(v);
            } else if let Some(v) = line.strip_prefix("version = ") {
                p.version = quoted(v);
            } else if line == "dependencies = [" {
                in_dependencies = true;
            }
        }
    }
    out
}

/// `(name, version)` of every dependency of `package`, as the lock resolved it.
fn locked_dependencies(lock: &str, package: &str) -> Vec<(String, String)> {
    let all = packages(lock);
    let Some(me) = all.iter().find(|p| p.name == package) else {
        return Vec::new();
    };
    me.dependencies
        .iter()
        .filter_map(|dep| {
            let (name, version) = match dep.split_once(' ') {
                Some((n, v)) => (n, Some(v)),
                None => (dep.as_str(), None),
            };
            let p = all
                .iter()
                .find(|p| p.name == name && version.is_none_or(|v| p.version == v))?;
            Some((p.name.clone(), p.version.clone()))
        })
        .collect()
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
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let entries: String = locked_dependencies(&lock, &package)
        .iter()
        .map(|(name, version)| format!("    ({name:?}, {version:?}),\n"))
        .collect();
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let code = format!(
        "/// Every dependency of the lab and the version Cargo.lock resolved for it.\n\
         const LOCKED: &[(&str, &str)] = &[\n{entries}];\n"
    );
    if let Err(e) = std::fs::write(out.join("locked.rs"), code) {
        panic!("cannot write {}: {e}", out.join("locked.rs").display());
    }
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/index");
}
