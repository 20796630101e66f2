//! The YCSB workloads are YCSB's: `lab sample` of `ycsb-a` … `ycsb-f` and of YCSB's own
//! property files (`workloads/ycsb/workloada` …) is compared with a line-by-line port of
//! YCSB's Java generators (`ZipfianGenerator`, `ScrambledZipfianGenerator`,
//! `SkewedLatestGenerator`, `Utils.fnvhash64`, `CoreWorkload.buildKeyName` and
//! `nextKeynum`), written here independently of the lab's own code: rank popularity by
//! total variation distance on fixed seeds, key names for hashed and ordered inserts, and
//! scan lengths.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::lab;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

// ---- A port of YCSB's Java, as written in core/src/main/java/site/ycsb ----

/// `Utils.fnvhash64(long)`.
fn java_fnvhash64(mut val: i64) -> i64 {
    let mut hashval: i64 = 0xCBF2_9CE4_8422_2325_u64 as i64;
    for _ in 0..8 {
        let octet = val & 0x00ff;
        val >>= 8;
        hashval ^= octet;
        hashval = hashval.wrapping_mul(1_099_511_628_211);
    }
    hashval.wrapping_abs()
}

/// `CoreWorkload.buildKeyName(keynum, zeropadding, orderedinserts)`.
fn build_key_name(mut keynum: i64, zeropadding: usize, ordered: bool) -> String {
    if !ordered {
        keynum = java_fnvhash64(keynum);
    }
    let value = keynum.to_string();
    let fill = zeropadding.saturating_sub(value.len());
    format!("user{}{value}", "0".repeat(fill))
}

/// `ZipfianGenerator`, with the uniform `u` passed in instead of `ThreadLocalRandom`.
struct Zipfian {
    items: i64,
    base: i64,
    theta: f64,
    zeta2theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    countforzeta: i64,
}

fn zetastatic(st: i64, n: i64, theta: f64, initialsum: f64) -> f64 {
    let mut sum = initialsum;
    for i in st..n {
        sum += 1.0 / ((i + 1) as f64).powf(theta);
    }
    sum
}

impl Zipfian {
    fn new(min: i64, max: i64, theta: f64, zetan: f64) -> Zipfian {
        let items = max - min + 1;
        let zeta2theta = zetastatic(0, 2, theta, 0.0);
        Zipfian {
            items,
            base: min,
            theta,
            zeta2theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: (1.0 - (2.0 / items as f64).powf(1.0 - theta)) / (1.0 - zeta2theta / zetan),
            countforzeta: items,
        }
    }

    /// `new ZipfianGenerator(items)`.
    fn with_items(items: i64) -> Zipfian {
        Zipfian::new(0, items - 1, 0.99, zetastatic(0, items, 0.99, 0.0))
    }

    fn next_long(&mut self, itemcount: i64, u: f64) -> i64 {
        if itemcount > self.countforzeta {
            self.zetan = zetastatic(self.countforzeta, itemcount, self.theta, self.zetan);
            self.countforzeta = itemcount;
            self.eta = (1.0 - (2.0 / self.items as f64).powf(1.0 - self.theta))
                / (1.0 - self.zeta2theta / self.zetan);
        }
        let uz = u * self.zetan;
        if uz < 1.0 {
            return self.base;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return self.base + 1;
        }
        self.base + (itemcount as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as i64
    }
}

/// `ScrambledZipfianGenerator(min, max)` (θ = 0.99, the precomputed ζ).
struct Scrambled {
    gen: Zipfian,
    min: i64,
    itemcount: i64,
}

impl Scrambled {
    fn new(min: i64, max: i64) -> Scrambled {
        Scrambled {
            gen: Zipfian::new(0, 10_000_000_000, 0.99, 26.46902820178302),
            min,
            itemcount: max - min + 1,
        }
    }

    fn next(&mut self, u: f64) -> i64 {
        let items = self.gen.items;
        let r = self.gen.next_long(items, u);
        self.min + java_fnvhash64(r) % self.itemcount
    }
}

/// The test's own random numbers (not the lab's SplitMix).
struct XorShift(u64);

impl XorShift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What YCSB's key chooser draws for `draws` key-reading operations, with inserts at
/// `insert_share` in between (acknowledged at once, as one client thread would), as key
/// names: `CoreWorkload` with `requestdistribution=zipfian` or `latest`.
fn ycsb_keys(
    latest: bool,
    records: i64,
    expected_new_keys: i64,
    insert_share: f64,
    draws: usize,
    ordered: bool,
    seed: u64,
) -> Vec<String> {
    let mut rng = XorShift(seed | 1);
    let mut last_value = records - 1; // AcknowledgedCounterGenerator(recordcount).lastValue()
    let mut scrambled = Scrambled::new(0, records + expected_new_keys);
    let mut skewed = Zipfian::with_items(records - 1); // SkewedLatestGenerator(counter)
    let mut out = Vec::with_capacity(draws);
    while out.len() < draws {
        if rng.unit() < insert_share {
            last_value += 1;
            continue;
        }
        let keynum = if latest {
            last_value - skewed.next_long(last_value, rng.unit())
        } else {
            loop {
                let k = scrambled.next(rng.unit());
                if k <= last_value {
                    break k;
                }
            }
        };
        out.push(build_key_name(keynum, 1, ordered));
    }
    out
}

// ---- The lab's side ----

/// `lab sample` output as (op, key, length) triples.
fn sample(file: &Path, ops: u64, seed: u64) -> Vec<(String, String, Option<u64>)> {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["sample", file.to_str().unwrap()])
        .args(["--ops", &ops.to_string(), "--seed", &seed.to_string()])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut parts = l.split(' ');
            let op = parts.next().unwrap().to_owned();
            let key = parts.next().unwrap_or_default().to_owned();
            (op, key, parts.next().map(|n| n.parse().unwrap()))
        })
        .collect()
}

fn workload(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../workloads")
        .join(name)
}

/// The popularity of the most popular key, the next, ...: counts sorted, as fractions.
fn rank_popularity(keys: impl IntoIterator<Item = String>) -> Vec<f64> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for k in keys {
        *counts.entry(k).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    let mut v: Vec<u64> = counts.into_values().collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.into_iter().map(|c| c as f64 / total as f64).collect()
}

fn tvd(p: &[f64], q: &[f64]) -> f64 {
    let n = p.len().max(q.len());
    let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0);
    (0..n).map(|i| (at(p, i) - at(q, i)).abs()).sum::<f64>() / 2.0
}

fn lab_keys(lines: &[(String, String, Option<u64>)]) -> Vec<String> {
    lines
        .iter()
        .filter(|(op, _, _)| op != "insert")
        .map(|(_, k, _)| k.clone())
        .collect()
}

struct Case {
    file: &'static str,
    latest: bool,
    records: i64,
    /// YCSB's expectednewkeys for the file (the lab's own estimate for duration-bound TOML).
    expected_new_keys: i64,
    insert_share: f64,
}

const CASES: [Case; 12] = {
    const fn c(file: &'static str, latest: bool, records: i64, new: i64, ins: f64) -> Case {
        Case {
            file,
            latest,
            records,
            expected_new_keys: new,
            insert_share: ins,
        }
    }
    [
        c("ycsb/workloada", false, 1000, 0, 0.0),
        c("ycsb/workloadb", false, 1000, 0, 0.0),
        c("ycsb/workloadc", false, 1000, 0, 0.0),
        c("ycsb/workloadd", true, 1000, 100, 0.05),
        c("ycsb/workloade", false, 1000, 100, 0.05),
        c("ycsb/workloadf", false, 1000, 0, 0.0),
        c("ycsb-a.toml", false, 50_000, 0, 0.0),
        c("ycsb-b.toml", false, 50_000, 0, 0.0),
        c("ycsb-c.toml", false, 50_000, 0, 0.0),
        c("ycsb-d.toml", true, 50_000, 5_000, 0.05),
        c("ycsb-e.toml", false, 50_000, 5_000, 0.05),
        c("ycsb-f.toml", false, 50_000, 0, 0.0),
    ]
};

#[test]
fn rank_popularity_matches_ycsbs_generators() {
    for case in &CASES {
        let lines = sample(&workload(case.file), 200_000, 7);
        let lab = rank_popularity(lab_keys(&lines));
        let draws = lab_keys(&lines).len();
        let reference = |seed| {
            rank_popularity(ycsb_keys(
                case.latest,
                case.records,
                case.expected_new_keys,
                case.insert_share,
                draws,
                false,
                seed,
            ))
        };
        let (ycsb, again) = (reference(11), reference(12));
        let noise = tvd(&ycsb, &again);
        let d = tvd(&lab, &ycsb);
        assert!(
            d < 0.03 && d < 3.0 * noise.max(0.005),
            "{}: TVD {d:.4} from YCSB's generator (two YCSB samples differ by {noise:.4})",
            case.file
        );
    }
}

#[test]
fn the_old_unscrambled_law_would_fail_the_popularity_check() {
    // The check can fail: an exact zipfian over the 50,000 records (the lab's old law,
    // scrambled or not, has the same rank popularity) is about twice as skewed as YCSB's.
    let lab = rank_popularity(
        sample(&workload("ycsb-c.toml"), 200_000, 7)
            .into_iter()
            .map(|(_, k, _)| k),
    );
    let zeta: f64 = (1..=50_000).map(|k| (k as f64).powf(-0.99)).sum();
    let exact: Vec<f64> = (1..=50_000)
        .map(|k| (k as f64).powf(-0.99) / zeta)
        .collect();
    assert!(tvd(&lab, &exact) > 0.15, "{}", tvd(&lab, &exact));
    // The hottest key takes ~4% (YCSB) rather than ~8% (exact over 50k).
    assert!((0.03..0.055).contains(&lab[0]), "{}", lab[0]);
    let top10k: f64 = lab[..10_000].iter().sum();
    assert!((0.45..0.6).contains(&top10k), "top 10k keys: {top10k}");
}

#[test]
fn key_names_are_ycsbs_for_hashed_and_ordered_inserts() {
    // Hashed (the default): the hottest key is YCSB's hottest, "user" + fnvhash64 of
    // fnvhash64(0) % (records + 1), and every name is a hashed record number.
    let lines = sample(&workload("ycsb-c.toml"), 50_000, 3);
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for (_, k, _) in &lines {
        *counts.entry(k.as_str()).or_default() += 1;
    }
    let top = counts.iter().max_by_key(|(_, n)| **n).unwrap().0;
    let hot_record = java_fnvhash64(0) % 50_001;
    assert_eq!(*top, build_key_name(hot_record, 1, false));
    let names: std::collections::HashSet<String> =
        (0..50_000).map(|n| build_key_name(n, 1, false)).collect();
    assert!(lines.iter().all(|(_, k, _)| names.contains(k)));
    // Ordered: "user" + the record number (zero-padded to `zeropadding`).
    let dir = tempfile::tempdir().unwrap();
    let ordered = dir.path().join("ordered");
    std::fs::write(
        &ordered,
        "recordcount=1000\noperationcount=1000\nrequestdistribution=zipfian\ninsertorder=ordered\nzeropadding=6\nreadproportion=0.9\nupdateproportion=0\ninsertproportion=0.1\n",
    )
    .unwrap();
    let lines = sample(&ordered, 5_000, 3);
    let mut inserted = 1000;
    for (op, k, _) in &lines {
        if op == "insert" {
            assert_eq!(*k, build_key_name(inserted, 6, true));
            inserted += 1;
        } else {
            let n: i64 = k.strip_prefix("user").unwrap().parse().unwrap();
            assert!(n < inserted, "{k} read before it was inserted");
            assert_eq!(*k, build_key_name(n, 6, true));
        }
    }
    assert!(inserted > 1300);
}

#[test]
fn scan_lengths_are_uniform_where_ycsbs_are() {
    for file in ["ycsb-e.toml", "ycsb/workloade"] {
        let lines = sample(&workload(file), 100_000, 5);
        let lengths: Vec<u64> = lines
            .iter()
            .filter(|(op, _, _)| op == "scan")
            .map(|(_, _, n)| n.unwrap())
            .collect();
        assert!(lengths.len() > 90_000);
        let mut per = [0u64; 101];
        for n in &lengths {
            assert!((1..=100).contains(n), "{file}: scan of {n}");
            per[*n as usize] += 1;
        }
        let expect = lengths.len() as f64 / 100.0;
        // Chi-square with 99 degrees of freedom: 99 ± 14; 160 is far out in the tail.
        let chi2: f64 = per[1..]
            .iter()
            .map(|c| (*c as f64 - expect).powi(2) / expect)
            .sum();
        assert!(chi2 < 160.0, "{file}: chi-square {chi2:.0}");
    }
}

#[test]
fn ycsb_operations_are_named_as_ycsb_names_them() {
    let lines = sample(&workload("ycsb/workloadf"), 2_000, 1);
    let ops: std::collections::BTreeSet<&str> = lines.iter().map(|(o, _, _)| o.as_str()).collect();
    assert_eq!(
        ops.into_iter().collect::<Vec<_>>(),
        ["read", "readmodifywrite"]
    );
    let share = lines.iter().filter(|(o, _, _)| o == "read").count() as f64 / 2000.0;
    assert!((0.45..0.55).contains(&share), "{share}");
}

#[test]
fn ycsbs_own_files_validate_and_run_by_name_on_the_default_variants() {
    for f in ["a", "b", "c", "d", "e", "f"] {
        let o = lab(&["validate", &format!("workloads/ycsb/workload{f}")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("4 variants, 1000 records"), "{out}");
        // Every property in YCSB's own files is modeled: no warning.
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // A bare name finds the shipped copy; the run uses the default variants.
    let dir = tempfile::tempdir().unwrap();
    let o = lab(&[
        "run",
        "workloada",
        "--quick",
        "--quiet",
        "--variants",
        "plain,binary",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = acorn_reports::Results::load(&dir.path().join("results.json")).unwrap();
    assert_eq!(r.workload, "workloada");
    assert!(r.summaries.iter().all(|s| s.per_op.contains_key("update")));
}

#[test]
fn unmodeled_properties_warn_with_their_line_and_malformed_lines_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let warn = dir.path().join("mine");
    std::fs::write(
        &warn,
        "# mine\nrecordcount=100\noperationcount=100\ntable=usertable\nwriteallfields=false\nmeasurementtype=hdrhistogram\n",
    )
    .unwrap();
    let o = lab(&["validate", warn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    let w = warn.display();
    assert!(err.contains(&format!("{w}:4: warning: `table`")), "{err}");
    assert!(
        err.contains(&format!("{w}:5: warning: `writeallfields=false`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{w}:6: warning: `measurementtype`")),
        "{err}"
    );
    for (body, line, says) in [
        (
            "recordcount=100\noperationcount=10\nreadproportion\n",
            "3:1",
            "property=value",
        ),
        (
            "recordcount=lots\noperationcount=10\n",
            "1:13",
            "not a whole number",
        ),
        (
            "recordcount=10\noperationcount=10\nrequestdistribution=exponential\n",
            "3:21",
            "exponential",
        ),
        (
            "recordcount=10\noperationcount=10\nreadproportion=0\nupdateproportion=0\n",
            "3:16",
            "zero",
        ),
        ("operationcount=10\n", "1:1", "recordcount"),
        ("recordcount=10\n", "1:13", "operationcount"),
    ] {
        let bad = dir.path().join("bad");
        std::fs::write(&bad, body).unwrap();
        let o = lab(&["validate", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{body}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{}:{line}", bad.display())) && err.contains(says),
            "{body}: {err}"
        );
    }
}

#[test]
fn a_misspelt_property_is_refused_with_a_suggestion_and_a_foreign_one_is_ignored_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo");
    std::fs::write(
        &file,
        "recordcount=100\noperationcount=100\nreadproprtion=0.5\nupdateproportion=0.5\n\
         requestdistrbution=zipfian\n",
    )
    .unwrap();
    let o = lab(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let f = file.display();
    // Both near misses at once, each with the property meant.
    assert!(
        err.contains(&format!(
            "{f}:3:15: `readproprtion`: unknown property. Did you mean `readproportion`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:5:20: `requestdistrbution`: unknown property. Did you mean `requestdistribution`?"
        )),
        "{err}"
    );
    // A database binding's property is nobody's typo: ignored, and said so.
    std::fs::write(
        &file,
        "recordcount=100\noperationcount=100\nmongodb.url=mongodb://localhost:27017/ycsb\n",
    )
    .unwrap();
    let o = lab(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{f}:3: warning: `mongodb.url` is not a property of YCSB's CoreWorkload or client"
        )),
        "{err}"
    );
}
