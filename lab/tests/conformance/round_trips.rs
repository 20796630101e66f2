//! Single-worker contract: round trips, refused value kinds, reads after writes, scans,
//! batches.

use super::*;

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
