//! One conformance suite for every registered backend: each test below loops over the
//! registry, so a new backend gets the whole suite by registering itself. `noop` stores
//! nothing (its `describe()` says so); for it the suite checks that every operation
//! succeeds and reads find nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use acorn_lab::backend::{open, registry, Backend, Options, QueryOrder, QuerySpec};
use acorn_lab::doc::{key, Doc, DocShape};

const SHAPE: DocShape = DocShape {
    fields: 3,
    field_bytes: 12,
    tags: 2,
};

fn doc(id: u64, version: u64) -> Doc {
    Doc::generate(id, version, 7, &SHAPE)
}

fn each_backend(test: impl Fn(&str, &dyn Backend, bool)) {
    let scratch = tempfile::tempdir().unwrap();
    let options = Options {
        cache_capacity: 64,
        scratch_dir: scratch.path().to_path_buf(),
    };
    for reg in registry() {
        let backend = open(reg.name, &options).unwrap_or_else(|e| panic!("{}: {e}", reg.name));
        assert_eq!(
            backend.describe().name,
            reg.name,
            "describe() names the registered variant"
        );
        let stores = backend.describe().stores_data;
        test(reg.name, backend.as_ref(), stores);
    }
}

#[test]
fn insert_read_update_delete_round_trip() {
    each_backend(|name, b, stores| {
        let mut w = b.worker();
        let k = key("user-", 6, 1);
        w.insert(&k, &doc(1, 0)).unwrap();
        let got = w.read(&k).unwrap().cloned();
        if !stores {
            assert_eq!(got, None, "{name}");
            assert!(!w.delete(&k).unwrap());
            return;
        }
        assert_eq!(got, Some(doc(1, 0)), "{name}: read after insert");
        w.update(&k, &doc(1, 1)).unwrap();
        assert_eq!(
            w.read(&k).unwrap(),
            Some(&doc(1, 1)),
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
fn scans_go_in_key_order_and_respect_limits() {
    each_backend(|name, b, stores| {
        let mut w = b.worker();
        // Inserted out of order.
        for id in [5u64, 1, 9, 3, 7, 2, 8, 0, 6, 4] {
            w.insert(&key("s-", 3, id), &doc(id, 0)).unwrap();
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
    each_backend(|name, b, stores| {
        let mut w = b.worker();
        let items: Vec<(Vec<u8>, Doc)> = (0..100).map(|i| (key("b-", 4, i), doc(i, 0))).collect();
        w.batch_insert(&items).unwrap();
        for (k, d) in &items {
            let got = w.read(k).unwrap().cloned();
            assert_eq!(
                got.as_ref(),
                stores.then_some(d),
                "{name}: {}",
                String::from_utf8_lossy(k)
            );
        }
    });
}

#[test]
fn queries_filter_order_and_page() {
    let ids: Vec<u64> = (0..60).collect();
    let docs: Vec<Doc> = ids.iter().map(|i| doc(*i, 0)).collect();
    // The model: documents under "q-a" are ids 0..30; "q-b" holds the rest.
    let under_a: Vec<&Doc> = docs.iter().take(30).collect();
    each_backend(|name, b, stores| {
        let mut w = b.worker();
        for d in &docs {
            let prefix = if d.id < 30 { "q-a" } else { "q-b" };
            w.insert(&key(prefix, 3, d.id), d).unwrap();
        }
        for (min_value, order, skip, take) in [
            (None, QueryOrder::Key, 0, 100),
            (Some(500), QueryOrder::ValueDesc, 0, 5),
            (Some(300), QueryOrder::Newest, 3, 4),
            (Some(999), QueryOrder::Key, 0, 10),
            (None, QueryOrder::Key, 28, 10),
        ] {
            let q = QuerySpec {
                prefix: b"q-a".to_vec(),
                min_value,
                order,
                skip,
                take,
            };
            let matching = under_a
                .iter()
                .filter(|d| min_value.is_none_or(|m| d.value >= m))
                .count();
            let expect = if stores {
                matching.saturating_sub(skip).min(take)
            } else {
                0
            };
            assert_eq!(w.query(&q).unwrap(), expect, "{name}: {q:?}");
        }
    });
}

#[test]
fn concurrent_workers_see_each_others_writes() {
    each_backend(|name, b, stores| {
        std::thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || {
                    let mut w = b.worker();
                    for i in 0..25 {
                        let id = t * 100 + i;
                        w.insert(&key("c-", 4, id), &doc(id, 0)).unwrap();
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
fn every_backend_describes_its_durability_and_serialization() {
    each_backend(|name, b, _| {
        let info = b.describe();
        assert!(
            !info.durability.is_empty() && !info.serialization.is_empty() && !info.store.is_empty(),
            "{name}"
        );
        let durable = registry().iter().find(|r| r.name == name).unwrap().durable;
        assert_eq!(
            info.durability.starts_with("durable"),
            durable,
            "{name}: {}",
            info.durability
        );
    });
}

#[test]
fn async_workers_keep_the_same_contract() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    each_backend(|name, b, stores| {
        let Some(mut w) = b.async_worker() else {
            return;
        };
        let k = key("a-", 4, 1);
        rt.block_on(w.insert(&k, &doc(1, 0))).unwrap();
        if stores {
            assert_eq!(w.blocking().read(&k).unwrap(), Some(&doc(1, 0)), "{name}");
        }
        rt.block_on(w.update(&k, &doc(1, 1))).unwrap();
        // Another worker sees it at once: complete and visible when the future is done.
        let mut other = b.worker();
        if stores {
            assert_eq!(other.read(&k).unwrap(), Some(&doc(1, 1)), "{name}");
        }
        assert_eq!(rt.block_on(w.delete(&k)).unwrap(), stores, "{name}: delete");
        assert!(!rt.block_on(w.delete(&k)).unwrap(), "{name}: delete again");
        let items: Vec<_> = (0..5)
            .map(|i| (key("a-", 4, 10 + i), doc(10 + i, 0)))
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
