//! The report in a real browser: headless Chromium loads it from file://, the charts and
//! tables are in the rendered DOM, and the page requests nothing from the network. Chromium
//! is installed by .ci/run; outside CI a missing Chromium skips this test with a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use acorn_reports::html;
use common::{fixture, SECTIONS};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Hosts Chromium itself talks to (updates, time) despite the flags; never the page's doing.
fn browser_service(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':', '?'])
        .next()
        .unwrap_or("");
    ["google.com", "googleapis.com", "gstatic.com", "gvt1.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

#[test]
fn chromium_renders_the_report_without_network_requests() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium must be installed in CI (.ci/run installs it)"
        );
        println!("skipped: no Chromium on this machine (apt-get install chromium)");
        return;
    };
    let results = fixture();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("index.html");
    std::fs::write(&page, html::render(&results).unwrap()).unwrap();
    let netlog = dir.path().join("netlog.json");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.matches("<svg").count() >= 6,
        "charts missing from the rendered DOM"
    );
    for id in SECTIONS {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "section {id} missing from the rendered DOM"
        );
    }
    assert!(dom.contains("<table"), "tables missing");
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    let requested: Vec<&str> = log
        .split("\"url\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|u| {
            (u.starts_with("http://") || u.starts_with("https://") || u.starts_with("ws"))
                && !browser_service(u)
        })
        .collect();
    assert!(
        requested.is_empty(),
        "the page made network requests: {requested:?}"
    );
}
