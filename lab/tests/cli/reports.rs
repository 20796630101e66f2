//! What a run writes beside its results: the targets table in a Markdown file, flamegraphs.

use super::*;

#[test]
fn update_targets_rewrites_only_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "w.toml",
        "name = \"w\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 10\n[run]\nops = 100\nwarmup = \"0s\"\nrepeats = 1\n[mix]\nread = 100\n[[target]]\nname = \"Noop Reads\"\nmetric = \"read.throughput\"\nexpect = \"> 1 ops/s\"\n",
    );
    let md = dir.path().join("PERF.md");
    std::fs::write(&md, "Intro\n<!-- targets:begin -->\n| Operation | Current | Status |\n|---|---|---|\n| Noop Reads | TBD | open |\n<!-- targets:end -->\nOutro\n").unwrap();
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--update-targets",
        md.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let after = std::fs::read_to_string(&md).unwrap();
    assert!(
        after.starts_with("Intro\n<!-- targets:begin -->\n")
            && after.ends_with("<!-- targets:end -->\nOutro\n"),
        "{after}"
    );
    assert!(
        after.contains("| pass |") && after.contains("ops/s (`w`, noop, 1 thread)"),
        "{after}"
    );
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--update-targets",
        dir.path().join("none.md").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn flamegraphs_are_written_beside_the_report_and_linked() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "fg.toml",
        "name = \"fg\"\nvariants = [\"btreemap\"]\n[dataset]\nrecords = 500\n[run]\nops = 30000\nwarmup = \"0s\"\nrepeats = 1\n[mix]\nread = 100\n",
    );
    let out = dir.path().join("out");
    let o = lab(&[
        "run",
        w.to_str().unwrap(),
        "--quiet",
        "--flamegraph",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let svg = std::fs::read_to_string(out.join("flamegraph-btreemap-1t.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("samples"),
        "not a flamegraph"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("href=\"flamegraph-btreemap-1t.svg\""));
    let results = Results::load(&out.join("results.json")).unwrap();
    assert_eq!(results.flamegraphs, ["flamegraph-btreemap-1t.svg"]);
}
