//! The C ABI from C: the header matches `src/ffi/`, and `tests/c/acorn_test.c` compiles
//! against it with the system C compiler, links the static library, and passes — also under
//! valgrind (memcheck, leak check) where valgrind is installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn engine() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn names_after(text: &str, marker: &str) -> BTreeSet<String> {
    text.match_indices(marker)
        .map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let start = rest.find("acorn_").unwrap_or(rest.len());
            rest[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| n.starts_with("acorn_"))
        .collect()
}

#[test]
fn header_declares_exactly_the_exported_functions_and_codes() {
    // Every file of the C ABI (src/ffi/), in a fixed order.
    let mut files: Vec<PathBuf> = std::fs::read_dir(engine().join("src/ffi"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let rust: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let header = std::fs::read_to_string(engine().join("include/acorn.h")).unwrap();
    let exported = names_after(&rust, "extern \"C\" fn ");
    let declared: BTreeSet<String> = header
        .lines()
        .filter(|l| !l.trim_start().starts_with(['/', '*', '#']))
        .flat_map(|l| names_after(l, " "))
        .filter(|n| header.contains(&format!("{n}(")))
        .collect();
    assert!(exported.len() >= 18, "found only {exported:?} in src/ffi/");
    assert_eq!(exported, declared);
    // Every status code has the same value on both sides.
    for line in rust.lines().filter(|l| l.starts_with("pub const ACORN_")) {
        let (name, value) = line["pub const ".len()..].split_once(": c_int = ").unwrap();
        let value = value.trim_end_matches(';');
        let c = if value.starts_with('-') {
            format!("#define {name} ({value})")
        } else {
            format!("#define {name} {value}")
        };
        assert!(header.contains(&c), "header lacks `{c}`");
    }
}

/// Builds `libacorn.a` with the `ffi` feature into its own target directory.
fn static_lib() -> PathBuf {
    let target = engine().join("../target/ffi-test");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "rustc",
            "-p",
            "acorn",
            "--features",
            "ffi",
            "--lib",
            "--crate-type",
            "staticlib",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(engine())
        .status()
        .unwrap();
    assert!(status.success(), "building the static library failed");
    target.join("debug")
}

fn compile(lib_dir: &Path, out: &Path) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg(engine().join("tests/c/acorn_test.c"))
        .arg("-I")
        .arg(engine().join("include"))
        .arg("-L")
        .arg(lib_dir)
        .args(["-l:libacorn.a", "-lpthread", "-ldl", "-lm", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "C compile failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_c_program_passes_against_the_header_and_library() {
    let lib = static_lib();
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("acorn_test");
    compile(&lib, &prog);
    let data = dir.path().join("durable");
    let o = Command::new(&prog).arg(&data).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(text.contains("all C API checks passed"), "{text}");

    let valgrind = Command::new("valgrind").arg("--version").output();
    if valgrind.is_ok_and(|o| o.status.success()) {
        for args in [
            vec![data.to_str().unwrap().to_owned() + "-vg"],
            vec!["cycles".into(), "300".into()],
        ] {
            let o = Command::new("valgrind")
                .args([
                    "--quiet",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    "--error-exitcode=9",
                ])
                .arg(&prog)
                .args(&args)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "valgrind {args:?}:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    } else {
        println!("valgrind not installed: skipped the memcheck run");
    }
}
