//! Snapshots of the terminal table and the HTML skeleton from the fixed results file. Digits
//! are masked and chart bodies dropped, so the snapshots pin structure (columns, sections,
//! order, escaping), not numbers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use acorn_reports::{html, table, Results};

fn fixture() -> Results {
    let mut r = common::fixture();
    // Machine facts differ between the machine that made the fixture and any other reader.
    r.machine.cpu = "CPU".into();
    r.machine.os = "OS".into();
    r.machine.rustc = "rustc".into();
    r.machine.git_revision = "rev".into();
    r
}

fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_digit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
        } else {
            out.push(c);
            last_digit = false;
        }
    }
    out
}

#[test]
fn terminal_table_layout() {
    let text = table::render(&fixture());
    // Column alignment depends on number widths: keep the words, one cell per token.
    let shape: Vec<String> = text
        .lines()
        .map(|l| mask(&l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    insta::assert_snapshot!(shape.join("\n"));
}

#[test]
fn html_skeleton() {
    let page = html::render(&fixture()).unwrap();
    let mut skeleton = String::new();
    let mut rest = page.as_str();
    while let Some(start) = rest.find("<svg") {
        skeleton.push_str(&rest[..start]);
        skeleton.push_str("<svg/>");
        rest = rest[start..]
            .find("</svg>")
            .map_or("", |end| &rest[start + end + 6..]);
    }
    skeleton.push_str(rest);
    let lines: Vec<String> = skeleton
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(mask)
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}
