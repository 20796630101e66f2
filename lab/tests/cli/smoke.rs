//! The smoke workload over every backend, with documents and with opaque values, and
//! `lab list`.

use super::*;

/// Runs a smoke-sized workload file over every backend: every operation succeeds.
fn smoke(file: &Path) -> Results {
    let out = tempfile::tempdir().unwrap();
    let o = run_quiet(file, out.path());
    assert!(o.status.success(), "{}", text(&o));
    let results = Results::load(&out.path().join("results.json")).unwrap();
    let registered = acorn_lab::backend::registry().len();
    let variants: std::collections::BTreeSet<&str> = results
        .summaries
        .iter()
        .map(|s| s.variant.as_str())
        .collect();
    assert_eq!(variants.len(), registered, "{variants:?}");
    // Every storing backend did every operation without errors.
    for s in &results.summaries {
        assert!(s.per_op.len() >= 8, "{}: {:?}", s.variant, s.per_op.keys());
        let errors: u64 = s.per_op.values().map(|o| o.errors).sum();
        assert_eq!(
            errors,
            0,
            "{}: {:?}",
            s.variant,
            s.per_op
                .values()
                .flat_map(|o| &o.error_samples)
                .collect::<Vec<_>>()
        );
    }
    assert!(!results.partial);
    assert_eq!(results.mode, "sequential");
    assert!(text(&o).contains("plain:durable"));
    results
}

#[test]
fn smoke_runs_every_backend_and_writes_results() {
    let results = smoke(Path::new("workloads/smoke.toml"));
    // The cached variants report their hit ratio per phase and over the run; the engine
    // variants their allocations per operation.
    for s in results
        .summaries
        .iter()
        .filter(|s| s.variant.starts_with("cached"))
    {
        let ratio = s.metrics["cache_hit_ratio"];
        assert!((0.0..=1.0).contains(&ratio), "{}: {ratio}", s.variant);
    }
    assert!(results
        .runs
        .iter()
        .filter(|r| r.variant == "cached")
        .all(|r| r.metrics.contains_key("cache_hits")));
    let pooled = results
        .summaries
        .iter()
        .find(|s| s.variant == "pooled")
        .unwrap();
    assert!(pooled.per_op["read"].allocations.is_some());
    let sqlite = results
        .summaries
        .iter()
        .find(|s| s.variant == "sqlite")
        .unwrap();
    assert!(
        sqlite.per_op["read"].allocations.is_none(),
        "SQLite allocates outside Rust"
    );
}

#[test]
fn smoke_with_opaque_values_runs_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../workloads/smoke.toml"
    ))
    .unwrap()
    .replace(
        "doc = { fields = 4, field_bytes = 20 }",
        "value = { bytes = 100 }",
    )
    .replace("min_value = 500\norder = \"newest\"\n", "");
    assert!(src.contains("value = { bytes = 100 }") && !src.contains("min_value"));
    let results = smoke(&workload(dir.path(), "smoke-opaque.toml", &src));
    let plain = results
        .summaries
        .iter()
        .find(|s| s.variant == "plain")
        .unwrap();
    assert!(
        plain.info["serialization"].contains("opaque"),
        "{:?}",
        plain.info
    );
}

#[test]
fn list_shows_backends_and_shipped_workloads() {
    let o = lab(&["list"]);
    assert!(o.status.success());
    let t = text(&o);
    for name in [
        "plain",
        "cached:durable",
        "redb",
        "fjall:sync",
        "sqlite",
        "noop",
        "workloads/mixed.toml",
        "workloads/ycsb-f.toml",
    ] {
        assert!(t.contains(name), "missing {name} in:\n{t}");
    }
    assert!(!t.contains("INVALID"), "{t}");
}
