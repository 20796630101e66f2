//! The report in a real browser: headless Chromium loads it from file://, the charts and
//! tables are in the rendered DOM, and the page requests nothing from the network. Then the
//! laid-out page is measured (a copy of the report with a script appended that reads the
//! browser's own geometry: the report itself has no scripts): the verdict names the right
//! winners, every variant has one colour in every chart, and no text overlaps a plot area
//! or is clipped. Chromium is installed by .ci/run; outside CI a missing Chromium skips
//! these tests with a message.

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

/// Appended to a copy of the report: records what the browser laid out as JSON in a <pre>.
const MEASURE: &str = r#"<script>
(function () {
  const box = (el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const out = { verdict: document.getElementById('verdict').innerText, legend: {}, charts: [] };
  document.querySelectorAll('#legend [data-variant]').forEach((e) => { out.legend[e.dataset.variant] = e.dataset.colour; });
  document.querySelectorAll('figure.chart').forEach((fig) => {
    const svg = fig.querySelector('svg');
    const items = [];
    svg.querySelectorAll('*').forEach((el) => {
      const tag = el.tagName.toLowerCase();
      items.push({ tag, fill: el.getAttribute('fill'), stroke: el.getAttribute('stroke'),
                   text: tag === 'text' ? el.textContent : null, box: box(el) });
    });
    out.charts.push({ id: fig.id, svg: box(svg), items });
  });
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

/// Chromium's DOM of `page` after load and scripts, at a desktop window size.
fn dump_dom(browser: &str, dir: &std::path::Path, page: &std::path::Path) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args(["--window-size=1280,1000", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn measured(browser: &str, results: &acorn_reports::Results) -> serde_json::Value {
    measured_page(browser, html::render(results).unwrap())
}

/// Renders `html` in Chromium and returns what the measuring script saw.
fn measured_page(browser: &str, html: String) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("measure.html");
    assert!(
        !html.contains("<script"),
        "the report itself has no scripts"
    );
    std::fs::write(&page, html.replace("</body>", &format!("{MEASURE}</body>"))).unwrap();
    let dom = dump_dom(browser, dir.path(), &page);
    let json = dom
        .split("<pre id=\"measured\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .expect("the measuring script ran");
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

fn boxed(v: &serde_json::Value) -> [f64; 4] {
    let a: Vec<f64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    [a[0], a[1], a[2], a[3]]
}

/// The colour an SVG element paints with (fill, else stroke), upper case, if it is a colour
/// (not `none`, not a grey of the axes and grid, not the plot background).
fn paint(item: &serde_json::Value) -> Option<String> {
    ["fill", "stroke"]
        .iter()
        .filter_map(|k| item[k].as_str())
        .map(str::to_uppercase)
        .find(|c| {
            let hex = c.trim_start_matches('#');
            c.starts_with('#')
                && hex.len() == 6
                && !(hex[0..2] == hex[2..4] && hex[2..4] == hex[4..6])
                && c != "#F7F7FA"
        })
}

#[test]
fn the_verdict_names_the_winner_per_thread_count_and_says_whether_it_is_noise() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium must be installed in CI"
        );
        println!("skipped: no Chromium on this machine (apt-get install chromium)");
        return;
    };
    let results = fixture();
    let m = measured(browser, &results);
    let verdict = m["verdict"].as_str().unwrap();
    let mut threads: Vec<usize> = results.summaries.iter().map(|s| s.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    let lines: Vec<&str> = verdict.lines().filter(|l| l.starts_with("At ")).collect();
    assert_eq!(
        lines.len(),
        threads.len(),
        "one sentence per thread count:\n{verdict}"
    );
    for (t, line) in threads.iter().zip(&lines) {
        let at = if *t == 1 {
            "At 1 thread,".to_owned()
        } else {
            format!("At {t} threads,")
        };
        assert!(line.starts_with(&at), "{line}");
        let mut here: Vec<_> = results
            .summaries
            .iter()
            .filter(|s| s.threads == *t)
            .collect();
        here.sort_by(|a, b| b.throughput_median.total_cmp(&a.throughput_median));
        let (lead, next) = (here[0], here[1]);
        let overlap = lead.throughput_ci95[0] <= next.throughput_ci95[1];
        assert!(
            line.contains(&lead.variant),
            "the leader {} in {line}",
            lead.variant
        );
        assert_eq!(line.contains("tied"), overlap, "{line}");
        assert_eq!(
            line.contains("outside the 95% intervals"),
            !overlap
                || here.len() > 2 && {
                    let last = here[here.len() - 1];
                    lead.throughput_ci95[0] > last.throughput_ci95[1]
                },
            "{line}"
        );
    }
    assert!(verdict.contains("“plain ×2” means the variant plain on 2 threads"));
}

#[test]
fn every_variant_has_one_colour_in_every_chart() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium must be installed in CI"
        );
        println!("skipped: no Chromium on this machine (apt-get install chromium)");
        return;
    };
    let results = fixture();
    let m = measured(browser, &results);
    let legend: std::collections::BTreeMap<String, String> = m["legend"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_uppercase()))
        .collect();
    let variants: Vec<&String> = legend.keys().collect();
    assert_eq!(variants.len(), 3, "{legend:?}");
    let distinct: std::collections::BTreeSet<&String> = legend.values().collect();
    assert_eq!(
        distinct.len(),
        legend.len(),
        "two variants share a colour: {legend:?}"
    );
    let charts = m["charts"].as_array().unwrap();
    assert!(charts.len() >= 8, "{} charts", charts.len());
    let mut named = 0;
    for chart in charts {
        let id = chart["id"].as_str().unwrap();
        let items = chart["items"].as_array().unwrap();
        for (i, item) in items.iter().enumerate() {
            if let Some(colour) = paint(item) {
                assert!(
                    distinct.contains(&colour),
                    "{id}: {colour} is no variant's colour"
                );
            }
            let Some(text) = item["text"].as_str().map(str::trim) else {
                continue;
            };
            // A label naming a variant ("plain ×2" in a legend or beside a bar) follows
            // the mark it labels: the nearest coloured element before it.
            let Some(variant) = variants
                .iter()
                .find(|v| text == v.as_str() || text.starts_with(&format!("{v} ×")))
            else {
                continue;
            };
            let mark = items[..i].iter().rev().find_map(paint);
            assert_eq!(
                mark.as_ref(),
                Some(&legend[*variant]),
                "{id}: {text} is drawn in {mark:?}, the legend says {}",
                legend[*variant]
            );
            named += 1;
        }
    }
    assert!(named >= 30, "only {named} labelled marks found");
}

#[test]
fn no_text_overlaps_a_plot_area_or_is_clipped() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium must be installed in CI"
        );
        println!("skipped: no Chromium on this machine (apt-get install chromium)");
        return;
    };
    let mut results = fixture();
    // Long names and big numbers are where labels collide.
    for s in &mut results.summaries {
        if s.variant == "btreemap" {
            s.variant = "sqlite:durable-with-a-long-name".into();
            s.throughput_median *= 1000.0;
        }
    }
    for r in &mut results.runs {
        if r.variant == "btreemap" {
            r.variant = "sqlite:durable-with-a-long-name".into();
        }
    }
    // The wall-clock report, and beside it the instruction-count one (its charts are
    // drawn by other code, in the same frame).
    let counted = common::counted(11_000);
    let pages = [
        measured(browser, &results),
        measured_page(
            browser,
            html::render_beside(&counted, None, Some(&results)).unwrap(),
        ),
    ];
    let mut texts = 0;
    let mut instruction_charts = 0;
    for chart in pages.iter().flat_map(|m| m["charts"].as_array().unwrap()) {
        let id = chart["id"].as_str().unwrap();
        let svg = boxed(&chart["svg"]);
        let items = chart["items"].as_array().unwrap();
        let plots: Vec<[f64; 4]> = items
            .iter()
            .filter(|i| {
                i["tag"] == "rect"
                    && i["fill"]
                        .as_str()
                        .is_some_and(|f| f.eq_ignore_ascii_case("#F7F7FA"))
            })
            .map(|i| boxed(&i["box"]))
            .collect();
        assert_eq!(plots.len(), 1, "{id}: one plot area");
        instruction_charts += usize::from(svg_text(chart).contains("per operation"));
        let plot = plots[0];
        for t in items.iter().filter(|i| i["tag"] == "text") {
            let [l, top, r, b] = boxed(&t["box"]);
            let what = t["text"].as_str().unwrap_or_default();
            if r - l < 0.5 {
                continue; // an empty label
            }
            texts += 1;
            let overlaps =
                l < plot[2] - 0.5 && r > plot[0] + 0.5 && top < plot[3] - 0.5 && b > plot[1] + 0.5;
            assert!(
                !overlaps,
                "{id}: {what:?} at {:?} overlaps the plot area {plot:?}",
                [l, top, r, b]
            );
            let inside =
                l >= svg[0] - 0.5 && r <= svg[2] + 0.5 && top >= svg[1] - 0.5 && b <= svg[3] + 0.5;
            assert!(
                inside,
                "{id}: {what:?} at {:?} is clipped by the chart {svg:?}",
                [l, top, r, b]
            );
        }
    }
    assert!(texts > 100, "only {texts} texts measured");
    assert!(
        instruction_charts >= 3,
        "{instruction_charts} instruction charts measured"
    );
}

/// Every text of a measured chart, joined.
fn svg_text(chart: &serde_json::Value) -> String {
    chart["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
