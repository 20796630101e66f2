//! One conformance suite for every registered backend: each test below loops over the
//! registry, so a new backend gets the whole suite by registering itself. Every test runs
//! with documents and with opaque values (`dataset.value`), and the `cached` variants under
//! both cache policies. `noop` stores nothing (its `describe()` says so); for it the suite
//! checks that every operation succeeds and reads find nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use acorn_lab::backend::{
    open, registry, Backend, CachePolicy, Options, QueryOrder, QuerySpec, Version, Worker,
};
use acorn_lab::doc::{key, Doc, DocShape, SplitMix, Value, ValueShape};

const SHAPE: DocShape = DocShape {
    fields: 3,
    field_bytes: 12,
    tags: 2,
};

/// The two kinds of dataset every backend must store.
const KINDS: [ValueShape; 2] = [ValueShape::Doc(SHAPE), ValueShape::Bytes(24)];

fn value(kind: &ValueShape, id: u64, version: u64) -> Value {
    Value::generate(id, version, 7, kind)
}

/// Runs `test` on every registered backend, for documents and for opaque values, with
/// `cached` under both policies.
fn each_backend(test: impl Fn(&str, &ValueShape, &dyn Backend, bool)) {
    let scratch = tempfile::tempdir().unwrap();
    for kind in &KINDS {
        for policy in [CachePolicy::WriteThrough, CachePolicy::Invalidate] {
            let options = Options {
                cache_capacity: 64,
                cache_policy: policy,
                scratch_dir: scratch.path().to_path_buf(),
                values: *kind,
            };
            for reg in registry() {
                if policy == CachePolicy::Invalidate && !reg.name.starts_with("cached") {
                    continue; // the policy changes nothing else
                }
                let backend =
                    open(reg.name, &options).unwrap_or_else(|e| panic!("{}: {e}", reg.name));
                assert_eq!(
                    backend.describe().name,
                    reg.name,
                    "describe() names the registered variant"
                );
                let stores = backend.describe().stores_data;
                let label = format!("{} ({kind:?}, {policy:?})", reg.name);
                test(&label, kind, backend.as_ref(), stores);
            }
        }
    }
}

#[test]
fn insert_read_update_delete_round_trip() {
    each_backend(|name, kind, b, stores| {
        let mut w = b.worker();
        let k = key("user-", 6, 1);
        w.insert(&k, &value(kind, 1, 0)).unwrap();
        let got = w.read(&k).unwrap().cloned();
        if !stores {
            assert_eq!(got, None, "{name}");
            assert!(!w.delete(&k).unwrap());
            return;
        }
        assert_eq!(got, Some(value(kind, 1, 0)), "{name}: read after insert");
        w.update(&k, &value(kind, 1, 1)).unwrap();
        assert_eq!(
            w.read(&k).unwrap(),
            Some(&value(kind, 1, 1)),
            "{name}: read after update"
        );
        assert!(w.delete(&k).unwrap(), "{name}: delete of a present key");
        assert_eq!(w.read(&k).unwrap(), None, "{name}: read after delete");
        assert!(!w.delete(&k).unwrap(), "{name}: delete of a missing key");
        assert_eq!(
            w.read(&key("user-", 6, 999)).unwrap(),
            None,
            "{name}: never-written key"
        );
    });
}

#[test]
fn a_value_of_the_other_kind_is_refused_not_stored() {
    each_backend(|name, kind, b, stores| {
        if !stores {
            return;
        }
        let other = match kind {
            ValueShape::Doc(_) => Value::Bytes(vec![1, 2, 3]),
            ValueShape::Bytes(_) => Value::Doc(Doc::default()),
        };
        let mut w = b.worker();
        let k = key("kind-", 3, 1);
        assert!(w.insert(&k, &other).is_err(), "{name}");
        assert_eq!(w.read(&k).unwrap(), None, "{name}");
    });
}

/// Reads through every worker agree with a model after any sequence of writes from any of
/// them: a cache (write-through or invalidating) never serves a value that was replaced or
/// deleted, whichever worker wrote it.
#[test]
fn reads_follow_writes_from_any_worker() {
    each_backend(|name, kind, b, stores| {
        let mut workers: Vec<Box<dyn Worker + '_>> = (0..3).map(|_| b.worker()).collect();
        let mut model: BTreeMap<u64, Value> = BTreeMap::new();
        let mut rng = SplitMix(11);
        for step in 0..600u64 {
            let id = rng.below(12);
            let k = key("m-", 3, id);
            let w = &mut workers[rng.below(3) as usize];
            match rng.below(4) {
                0 => {
                    let v = value(kind, id, step);
                    w.update(&k, &v).unwrap();
                    model.insert(id, v);
                }
                1 => {
                    let existed = w.delete(&k).unwrap();
                    assert_eq!(existed, stores && model.remove(&id).is_some(), "{name}");
                }
                _ => {
                    let want = model.get(&id).filter(|_| stores);
                    assert_eq!(w.read(&k).unwrap(), want, "{name}: step {step}, id {id}");
                }
            }
        }
        let batch: Vec<(Vec<u8>, Value)> = (0..12)
            .map(|id| (key("m-", 3, id), value(kind, id, 9_999)))
            .collect();
        workers[0].batch_insert(&batch).unwrap();
        for (k, v) in &batch {
            let want = Some(v).filter(|_| stores);
            assert_eq!(workers[2].read(k).unwrap(), want, "{name}: after a batch");
        }
    });
}

#[test]
fn scans_go_in_key_order_and_respect_limits() {
    each_backend(|name, kind, b, stores| {
        let mut w = b.worker();
        // Inserted out of order.
        for id in [5u64, 1, 9, 3, 7, 2, 8, 0, 6, 4] {
            w.insert(&key("s-", 3, id), &value(kind, id, 0)).unwrap();
        }
        let expect = |start: u64, limit: usize| {
            if stores {
                (10 - start as usize).min(limit)
            } else {
                0
            }
        };
        assert_eq!(w.scan(&key("s-", 3, 3), 4).unwrap(), expect(3, 4), "{name}");
        assert_eq!(
            w.scan(&key("s-", 3, 8), 10).unwrap(),
            expect(8, 10),
            "{name}: scan past the end"
        );
        assert_eq!(
            w.scan(&key("s-", 3, 0), 0).unwrap(),
            0,
            "{name}: zero limit"
        );
        assert_eq!(w.scan(b"t", 5).unwrap(), 0, "{name}: start after every key");
    });
}

#[test]
fn batch_insert_stores_every_item() {
    each_backend(|name, kind, b, stores| {
        let mut w = b.worker();
        let items: Vec<(Vec<u8>, Value)> = (0..100)
            .map(|i| (key("b-", 4, i), value(kind, i, 0)))
            .collect();
        w.batch_insert(&items).unwrap();
        for (k, v) in &items {
            let got = w.read(k).unwrap().cloned();
            assert_eq!(
                got.as_ref(),
                stores.then_some(v),
                "{name}: {}",
                String::from_utf8_lossy(k)
            );
        }
    });
}

/// The model's page: keys under "q-a" in key order, filtered, sorted descending (stable,
/// so ties keep key order), skipped and taken.
fn model_page(docs: &[Doc], q: &QuerySpec) -> Vec<String> {
    let mut rows: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.id < 30 && q.min_value.is_none_or(|m| d.value >= m))
        .collect();
    match q.order {
        QueryOrder::Key => {}
        QueryOrder::ValueDesc => rows.sort_by_key(|d| std::cmp::Reverse(d.value)),
        QueryOrder::Newest => rows.sort_by_key(|d| std::cmp::Reverse(d.timestamp)),
    }
    rows.iter()
        .skip(q.skip)
        .take(q.take)
        .map(|d| String::from_utf8(key("q-a", 3, d.id)).unwrap())
        .collect()
}

#[test]
fn queries_filter_order_and_page_the_same_on_every_backend() {
    let ids: Vec<u64> = (0..60).collect();
    let mut docs: Vec<Doc> = ids
        .iter()
        .map(|i| match value(&KINDS[0], *i, 0) {
            Value::Doc(d) => d,
            Value::Bytes(_) => unreachable!(),
        })
        .collect();
    // Ties: equal values and timestamps must keep key order.
    docs[4].value = docs[2].value;
    docs[9].timestamp = docs[7].timestamp;
    let cases = [
        (None, QueryOrder::Key, 0, 100),
        (Some(500), QueryOrder::ValueDesc, 0, 5),
        (None, QueryOrder::ValueDesc, 0, 100),
        (Some(300), QueryOrder::Newest, 3, 4),
        (None, QueryOrder::Newest, 0, 100),
        (Some(999), QueryOrder::Key, 0, 10),
        (Some(900), QueryOrder::ValueDesc, 0, 10),
        (Some(0), QueryOrder::ValueDesc, 25, 10),
        (None, QueryOrder::Key, 28, 10),
        (Some(400), QueryOrder::Key, 2, 3),
    ];
    each_backend(|name, kind, b, stores| {
        let mut w = b.worker();
        for d in &docs {
            let prefix = if d.id < 30 { "q-a" } else { "q-b" };
            let v = match kind {
                ValueShape::Doc(_) => Value::Doc(d.clone()),
                ValueShape::Bytes(_) => value(kind, d.id, 0),
            };
            w.insert(&key(prefix, 3, d.id), &v).unwrap();
        }
        for (min_value, order, skip, take) in cases {
            let q = QuerySpec {
                prefix: b"q-a".to_vec(),
                min_value,
                order,
                skip,
                take,
            };
            if kind.is_opaque() && (min_value.is_some() || order != QueryOrder::Key) {
                continue; // opaque values have no fields: the validator refuses these
            }
            let want = if stores {
                model_page(&docs, &q)
            } else {
                vec![]
            };
            let got: Vec<String> = w
                .query(&q)
                .unwrap()
                .keys()
                .map(|k| String::from_utf8(k.to_vec()).unwrap())
                .collect();
            assert_eq!(got, want, "{name}: {q:?}");
        }
    });
}

/// A writer stores increasing versions of a few keys while readers read them: a reader
/// never sees a version older than one it saw before, and once the writer is done every
/// reader sees the last version. A cache whose fill could land after a newer write (a
/// miss that read the tree before the write and cached its value after) fails here.
#[test]
fn readers_never_see_a_value_go_back_in_time() {
    const KEYS: u64 = 2;
    const VERSIONS: u64 = 3_000;
    let versioned = |kind: &ValueShape, v: u64| match kind {
        ValueShape::Doc(_) => Value::Doc(Doc {
            id: v,
            ..Doc::default()
        }),
        ValueShape::Bytes(_) => Value::Bytes(v.to_le_bytes().to_vec()),
    };
    let version_of = |v: &Value| match v {
        Value::Doc(d) => d.id,
        Value::Bytes(b) => u64::from_le_bytes(b[..8].try_into().unwrap()),
    };
    each_backend(|name, kind, b, stores| {
        if !stores || name.contains("durable") || name.contains("sync") {
            return; // fsync per write: too slow for thousands of versions, same code path
        }
        let k = |i: u64| key("t-", 2, i);
        let mut w = b.worker();
        for i in 0..KEYS {
            w.insert(&k(i), &versioned(kind, 0)).unwrap();
        }
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut r = b.worker();
                    let mut seen = [0u64; KEYS as usize];
                    let mut n = 0u64;
                    while !done.load(std::sync::atomic::Ordering::Acquire) || n < 100 {
                        let i = n % KEYS;
                        if let Some(v) = r.read(&k(i)).unwrap() {
                            let got = version_of(v);
                            assert!(got >= seen[i as usize], "{name}: {got} after {seen:?}");
                            seen[i as usize] = got;
                        }
                        n += 1;
                    }
                });
            }
            s.spawn(|| {
                let mut w = b.worker();
                for v in 1..=VERSIONS {
                    w.update(&k(v % KEYS), &versioned(kind, v)).unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::Release);
            });
        });
        let mut r = b.worker();
        for i in 0..KEYS {
            let last = VERSIONS - (VERSIONS + KEYS - i) % KEYS;
            let got = r.read(&k(i)).unwrap().map(version_of);
            assert_eq!(got, Some(last), "{name}: key {i} after the writer finished");
        }
    });
}

#[test]
fn concurrent_workers_see_each_others_writes() {
    each_backend(|name, kind, b, stores| {
        std::thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || {
                    let mut w = b.worker();
                    for i in 0..25 {
                        let id = t * 100 + i;
                        w.insert(&key("c-", 4, id), &value(kind, id, 0)).unwrap();
                        assert_eq!(
                            w.read(&key("c-", 4, id)).unwrap().is_some(),
                            stores,
                            "{name}"
                        );
                    }
                });
            }
        });
        let mut w = b.worker();
        let found = (0..4u64)
            .flat_map(|t| (0..25).map(move |i| t * 100 + i))
            .filter(|id| w.read(&key("c-", 4, *id)).unwrap().is_some())
            .count();
        assert_eq!(found, if stores { 100 } else { 0 }, "{name}");
    });
}

#[test]
fn cache_counters_are_per_phase_and_add_up() {
    let options = Options {
        cache_capacity: 64,
        ..Options::default()
    };
    let b = open("cached", &options).unwrap();
    let k = key("h-", 2, 1);
    {
        let mut w = b.worker();
        w.insert(&k, &value(&KINDS[0], 1, 0)).unwrap();
        for _ in 0..5 {
            w.read(&k).unwrap();
        }
        w.read(&key("h-", 2, 2)).unwrap();
    }
    let m: BTreeMap<String, f64> = b.metrics().into_iter().collect();
    // Write-through: the insert cached the value, so all five reads hit; the absent key missed.
    assert_eq!((m["cache_hits"], m["cache_misses"]), (5.0, 1.0), "{m:?}");
    let m: BTreeMap<String, f64> = b.metrics().into_iter().collect();
    assert_eq!(
        (m["cache_hits"], m["cache_misses"]),
        (0.0, 0.0),
        "reset: {m:?}"
    );
    let invalidating = open(
        "cached",
        &Options {
            cache_policy: CachePolicy::Invalidate,
            ..options
        },
    )
    .unwrap();
    {
        let mut w = invalidating.worker();
        w.insert(&k, &value(&KINDS[0], 1, 0)).unwrap();
        for _ in 0..5 {
            w.read(&k).unwrap();
        }
    }
    let m: BTreeMap<String, f64> = invalidating.metrics().into_iter().collect();
    assert_eq!((m["cache_hits"], m["cache_misses"]), (4.0, 1.0), "{m:?}");
}

#[test]
fn unknown_names_list_the_registered_backends() {
    let err = open("plian", &Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("plian") && err.contains("plain") && err.contains("redb"),
        "{err}"
    );
}

#[test]
fn every_backend_describes_its_durability_serialization_and_policy() {
    each_backend(|name, kind, b, _| {
        let info = b.describe();
        assert!(
            !info.durability.is_empty()
                && !info.serialization.is_empty()
                && !info.store.is_empty()
                && !info.cache.is_empty(),
            "{name}"
        );
        assert!(!info.store.contains("unknown"), "{name}: {}", info.store);
        let reg = registry()
            .iter()
            .find(|r| name.starts_with(&format!("{} (", r.name)))
            .unwrap();
        assert_eq!(
            info.durability.starts_with("durable"),
            reg.tier.on_disk(),
            "{name}: {}",
            info.durability
        );
        // The version the registration declares is the one the description names.
        if matches!(reg.version, Version::Acorn | Version::Crate(_)) {
            assert!(
                info.store.contains(reg.version.number()),
                "{name}: {} does not name {:?}",
                info.store,
                reg.version
            );
        }
        if kind.is_opaque() && info.stores_data {
            assert!(info.serialization.contains("opaque"), "{name}: {info:?}");
        }
    });
}

#[test]
fn async_workers_keep_the_same_contract() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    each_backend(|name, kind, b, stores| {
        let Some(mut w) = b.async_worker() else {
            return;
        };
        let k = key("a-", 4, 1);
        rt.block_on(w.insert(&k, &value(kind, 1, 0))).unwrap();
        if stores {
            assert_eq!(
                w.blocking().read(&k).unwrap(),
                Some(&value(kind, 1, 0)),
                "{name}"
            );
        }
        rt.block_on(w.update(&k, &value(kind, 1, 1))).unwrap();
        // Another worker sees it at once: complete and visible when the future is done.
        let mut other = b.worker();
        if stores {
            assert_eq!(other.read(&k).unwrap(), Some(&value(kind, 1, 1)), "{name}");
        }
        assert_eq!(rt.block_on(w.delete(&k)).unwrap(), stores, "{name}: delete");
        assert!(!rt.block_on(w.delete(&k)).unwrap(), "{name}: delete again");
        let items: Vec<_> = (0..5)
            .map(|i| (key("a-", 4, 10 + i), value(kind, 10 + i, 0)))
            .collect();
        rt.block_on(w.batch_insert(&items)).unwrap();
        if stores {
            assert_eq!(
                other.scan(&key("a-", 4, 0), 100).unwrap(),
                5,
                "{name}: batch"
            );
        }
    });
    let async_names: Vec<&str> = registry()
        .iter()
        .filter(|r| r.name.contains(":async"))
        .map(|r| r.name)
        .collect();
    assert!(async_names.len() >= 2, "{async_names:?}");
}
