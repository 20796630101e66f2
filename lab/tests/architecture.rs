//! The house holds its map: no module of `acorn` (engine/), `acorn-lab` (lab/) or
//! `acorn-reports` (reports/) imports, through any chain, a module that imports it back;
//! measurement knows nothing of backends; reports never reach the lab (Cargo enforces
//! that one: reports does not depend on lab).
//!
//! Modules are files: `a/mod.rs` is `a`, `a/b.rs` is `a::b`. An edge `m -> n` is any
//! `crate::…` or `super::…` path in `m` that resolves to `n` (re-exports in lib.rs resolve
//! to the module that defines the item). A module and its own submodules are one family:
//! `storage` declaring `mod wal` and `wal` using `super::io_at` is not a cycle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/lib.rs` → `` (the root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// Identifier-ish tokens and the punctuation `{`, `}`, `,`, `::` of a path expression.
fn path_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut word = c.to_string();
            while let Some(&n) = chars.peek() {
                if n.is_alphanumeric() || n == '_' {
                    word.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(word);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.push("::".into());
        } else if matches!(c, '{' | '}' | ',' | ';') {
            out.push(c.to_string());
        } else if !c.is_whitespace() {
            out.push(" ".into());
        }
    }
    out
}

/// Every path (as segments) that starts with `crate` or `super` in `text`, expanding
/// `use crate::{a, b::c}` groups.
fn paths(text: &str) -> Vec<Vec<String>> {
    let toks = path_tokens(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if (toks[i] == "crate" || toks[i] == "super") && toks.get(i + 1).is_some_and(|t| t == "::")
        {
            let mut prefix = vec![toks[i].clone()];
            i += 2;
            expand(&toks, &mut i, &mut prefix, &mut out);
        } else {
            i += 1;
        }
    }
    out
}

fn expand(toks: &[String], i: &mut usize, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let depth = prefix.len();
    loop {
        match toks.get(*i).map(String::as_str) {
            Some("{") => {
                *i += 1;
                loop {
                    let mut inner = prefix.clone();
                    expand(toks, i, &mut inner, out);
                    match toks.get(*i).map(String::as_str) {
                        Some(",") => *i += 1,
                        Some("}") => {
                            *i += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                prefix.truncate(depth);
                return;
            }
            Some(t) if t.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                prefix.push(t.to_owned());
                *i += 1;
                if toks.get(*i).is_some_and(|t| t == "::") {
                    *i += 1;
                    continue;
                }
                out.push(prefix.clone());
                return;
            }
            _ => {
                if prefix.len() > 1 {
                    out.push(prefix.clone());
                }
                return;
            }
        }
    }
}

/// `text` as the compiler sees it outside tests: comments (doc links included) and the
/// contents of string and char literals removed, and every `#[cfg(test)]` item cut out
/// wherever it sits (a test module at the end, a test-only function in the middle). Also
/// returns the names of modules declared `#[cfg(test)] mod name;`.
fn code_of(text: &str) -> (String, Vec<String>) {
    let plain = strip_literals(text);
    let mut out = String::with_capacity(plain.len());
    let mut test_mods = Vec::new();
    let mut rest = plain.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = item_end(item);
        let words: Vec<&str> = item[..end]
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        if let Some(i) = words.iter().position(|w| *w == "mod") {
            if item[..end].trim_end().ends_with(';') {
                test_mods.extend(words.get(i + 1).map(|w| (*w).to_owned()));
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_mods)
}

/// The length of the item that starts at `item` (its attributes included): up to the
/// first `;` outside brackets, or the `}` that closes its first top-level `{`.
fn item_end(item: &str) -> usize {
    let mut depth = 0i32;
    let mut braces = 0i32;
    for (i, c) in item.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' => braces += 1,
            '}' => {
                braces -= 1;
                if braces == 0 && depth == 0 {
                    return i + 1;
                }
            }
            ';' if depth == 0 && braces == 0 => return i + 1,
            _ => {}
        }
    }
    item.len()
}

/// `text` without comments, and with string and char literals emptied (`""`, `' '`), so
/// braces and paths inside them count for nothing.
fn strip_literals(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '"' || (c == 'r' && raw_string_at(&b, i)) {
            i = skip_string(&b, i);
            out.push_str("\"\"");
        } else if c == '\'' && (next == Some('\\') || b.get(i + 2) == Some(&'\'')) {
            i += 1;
            while i < b.len() && b[i] != '\'' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether a raw string (`r"`, `r#"`, also after `b`) starts at the `r` at `i`.
fn raw_string_at(b: &[char], i: usize) -> bool {
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let starts_word =
        i == 0 || !word(b.get(i - 1)) || (b[i - 1] == 'b' && (i == 1 || !word(b.get(i - 2))));
    let quote = b[i + 1..].iter().find(|c| **c != '#');
    starts_word && quote == Some(&'"')
}

/// The index after the string literal (plain or raw) that starts at `i`.
fn skip_string(b: &[char], mut i: usize) -> usize {
    if b[i] == 'r' {
        let mut hashes = 0;
        i += 1;
        while b.get(i) == Some(&'#') {
            hashes += 1;
            i += 1;
        }
        i += 1;
        while i < b.len() {
            if b[i] == '"' && (1..=hashes).all(|h| b.get(i + h) == Some(&'#')) {
                return i + 1 + hashes;
            }
            i += 1;
        }
        return i;
    }
    i += 1;
    while i < b.len() && b[i] != '"' {
        i += if b[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

struct Crate {
    modules: BTreeSet<String>,
    /// Root re-exports: item name → defining module.
    reexports: BTreeMap<String, String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn parent(m: &str) -> String {
    m.rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_owned())
}

/// The longest module prefix of `segments` (already absolute, without `crate`).
fn resolve(c: &Crate, segments: &[String]) -> Option<String> {
    for n in (1..=segments.len()).rev() {
        let m = segments[..n].join("::");
        if c.modules.contains(&m) {
            return Some(m);
        }
    }
    segments.first().and_then(|s| c.reexports.get(s)).cloned()
}

fn load(src: &Path) -> Crate {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let texts: Vec<(String, String)> = files
        .iter()
        .filter(|f| !f.ends_with("main.rs") && !f.to_string_lossy().contains("/bin/"))
        .map(|f| (module_of(src, f), std::fs::read_to_string(f).unwrap()))
        .collect();
    let modules: BTreeSet<String> = texts.iter().map(|(m, _)| m.clone()).collect();
    let mut c = Crate {
        modules,
        reexports: BTreeMap::new(),
        edges: BTreeMap::new(),
    };
    let root = texts
        .iter()
        .find(|(m, _)| m.is_empty())
        .map(|(_, t)| t.clone());
    for line in root.unwrap_or_default().lines() {
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix("pub use ")
            .or_else(|| line.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        for p in paths(&format!("crate::{rest}")) {
            if let (Some(m), Some(item)) = (resolve(&c, &p[1..]), p.last()) {
                c.reexports.insert(item.clone(), m);
            }
        }
    }
    // Test code may reach anywhere: `#[cfg(test)]` items, wherever they sit, and the
    // files of modules declared under `#[cfg(test)]`.
    let mut code = BTreeMap::new();
    let mut test_only = BTreeSet::new();
    for (m, text) in &texts {
        let (body, test_mods) = code_of(text);
        for t in test_mods {
            test_only.insert(if m.is_empty() { t } else { format!("{m}::{t}") });
        }
        code.insert(m.clone(), body);
    }
    for (m, body) in &code {
        if test_only
            .iter()
            .any(|t| m == t || m.starts_with(&format!("{t}::")))
        {
            continue;
        }
        for p in paths(body) {
            let mut base: Vec<String> = if p[0] == "crate" {
                Vec::new()
            } else {
                parent(m)
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            base.extend(p[1..].iter().cloned());
            if let Some(target) = resolve(&c, &base) {
                let family = target.starts_with(&format!("{m}::"))
                    || m.starts_with(&format!("{target}::"))
                    || target.is_empty()
                    || *m == target;
                if !family {
                    c.edges.entry(m.clone()).or_default().insert(target);
                }
            }
        }
    }
    c
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(c: &Crate, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((m, path)) = stack.pop() {
        for n in c.edges.get(&m).into_iter().flatten() {
            if n == start {
                let mut cycle = path.clone();
                cycle.push(n.clone());
                return Some(cycle);
            }
            if seen.insert(n.clone()) {
                let mut p = path.clone();
                p.push(n.clone());
                stack.push((n.clone(), p));
            }
        }
    }
    None
}

fn src(krate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src")
}

#[test]
fn no_module_imports_its_way_back_to_itself() {
    for krate in ["engine", "lab", "reports"] {
        let c = load(&src(krate));
        assert!(
            c.edges.len() > 3,
            "{krate}: the import scan found almost nothing"
        );
        let cycles: Vec<String> = c
            .modules
            .iter()
            .filter_map(|m| cycle_from(&c, m))
            .map(|cycle| cycle.join(" -> "))
            .collect();
        assert!(
            cycles.is_empty(),
            "{krate} has module cycles:\n{}",
            cycles.join("\n")
        );
    }
}

#[test]
fn measurement_and_workloads_know_nothing_of_the_runner() {
    let c = load(&src("lab"));
    for m in c.modules.iter().filter(|m| m.starts_with("measure")) {
        let deps = c.edges.get(m).cloned().unwrap_or_default();
        assert!(
            deps.iter()
                .all(|d| !d.starts_with("backend") && !d.starts_with("runner")),
            "{m} depends on {deps:?}"
        );
    }
    for m in c
        .modules
        .iter()
        .filter(|m| m.starts_with("workload") || m.starts_with("backend"))
    {
        let deps = c.edges.get(m).cloned().unwrap_or_default();
        assert!(
            deps.iter()
                .all(|d| !d.starts_with("runner") && !d.starts_with("commands")),
            "{m} depends on {deps:?}"
        );
    }
}

/// One operation dispatcher (issue 28): only `runner/dispatch.rs` maps an operation kind
/// to a store call (an arm `OpKind::Update =>` beside an `.update(` call), and its mapping
/// has no wildcard arm, so a new kind cannot run silently as another.
#[test]
fn one_file_maps_operation_kinds_to_backend_calls() {
    let root = src("lab");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut dispatchers: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("OpKind::Update =>") && text.contains(".update(")
        })
        .map(|f| module_of(&root, f))
        .collect();
    dispatchers.sort();
    assert_eq!(dispatchers, ["runner::dispatch"]);
    let dispatch = std::fs::read_to_string(root.join("runner/dispatch.rs")).unwrap();
    let mapping = dispatch.split("#[cfg(test)]").next().unwrap();
    assert!(
        !mapping.contains("_ =>"),
        "runner/dispatch.rs has a wildcard arm"
    );
}

#[test]
fn the_scan_sees_a_cycle_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(dir.path().join("a.rs"), "use crate::b::Thing;\n").unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "use crate::{c::{self, Other}, x};\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.rs"),
        "/// [`crate::b`] in a comment is no import\nfn f() { super::a::g(); }\n",
    )
    .unwrap();
    let c = load(dir.path());
    assert_eq!(cycle_from(&c, "a").unwrap(), ["a", "b", "c", "a"]);
}

#[test]
fn test_code_in_the_middle_of_a_file_hides_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib.rs"),
        "mod a;\nmod b;\n#[cfg(test)]\nmod t;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.rs"),
        r##"use crate::b::Thing;
#[cfg(test)]
pub(crate) fn only_in_tests(x: [u8; 2]) -> char { let _ = "}"; let _ = r#"{"#; '{' }
#[cfg(test)]
mod helpers;
fn later<'a>(s: &'a str) { crate::b::g(s); /* crate::t::h() */ }
"##,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "#[cfg(test)]\nuse crate::t::Fake;\npub(crate) fn g(_: &str) { crate::a::later(\"\") }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("t.rs"), "use crate::a::only_in_tests;\n").unwrap();
    let c = load(dir.path());
    assert_eq!(cycle_from(&c, "a").unwrap(), ["a", "b", "a"]);
    assert!(
        c.edges.get("b").is_some_and(|e| !e.contains("t")),
        "a #[cfg(test)] import counted: {:?}",
        c.edges
    );
    assert!(!c.edges.contains_key("t"), "a test-only module counted");
}
