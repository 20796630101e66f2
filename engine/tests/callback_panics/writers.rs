//! Writers beside one whose extractor panics: blocking writers neither wait nor fail for
//! it, and every async writer wakes.

use std::collections::BTreeMap;

use super::{
    assert_extractor_panicked, assert_holds, quiet_deliberate_panics, runtime, within, Place,
    DEADLINE, MODES,
};

#[test]
fn blocking_writers_never_wait_on_or_fail_for_another_writers_panicking_extractor() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let t = tree.clone();
        let model = within("concurrent writers", move || {
            let handles: Vec<_> = (0..4)
                .map(|w| {
                    let tree = t.clone();
                    std::thread::spawn(move || {
                        let mut mine = BTreeMap::new();
                        for i in 0..40 {
                            let key = format!("w{w}-{i:02}");
                            if (i + w) % 7 == 3 {
                                assert_extractor_panicked(tree.stash(&key, "boom"), &key);
                            } else {
                                let value = format!("v{w}-{i}");
                                tree.stash(&key, &value).unwrap();
                                mine.insert(key, value);
                            }
                        }
                        mine
                    })
                })
                .collect();
            let mut model = BTreeMap::new();
            for h in handles {
                model.extend(h.join().expect("a writer panicked"));
            }
            model
        });
        assert_holds(&tree, &model, mode);
        place.reopen_holds(tree, &model);
    }
}

#[test]
fn every_async_writer_wakes_when_an_extractor_panics() {
    quiet_deliberate_panics();
    for mode in MODES {
        let place = Place::new(mode);
        let tree = place.open();
        let at = tree.to_async();
        let model = within("async writers", move || {
            runtime().block_on(async move {
                let tasks: Vec<_> = (0..64)
                    .map(|i| {
                        let at = at.clone();
                        tokio::spawn(async move {
                            let key = format!("k{i:02}");
                            let bad = i % 5 == 2;
                            let value = if bad { "boom".into() } else { format!("v{i}") };
                            let r = if i % 2 == 0 {
                                at.stash(&key, &value).await
                            } else {
                                let mut batch = at.batch();
                                batch.stash(&key, &value);
                                at.commit(batch).await
                            };
                            if bad {
                                assert_extractor_panicked(r, &key);
                                None
                            } else {
                                r.unwrap();
                                Some((key, value))
                            }
                        })
                    })
                    .collect();
                let mut model = BTreeMap::new();
                for t in tasks {
                    let done = tokio::time::timeout(DEADLINE, t)
                        .await
                        .expect("an async writer hung");
                    model.extend(done.expect("an async writer panicked"));
                }
                // The async API still works.
                at.stash("after", "a").await.unwrap();
                model.insert("after".to_string(), "a".to_string());
                at.flush().await.unwrap();
                model
            })
        });
        assert_holds(&tree, &model, mode);
        place.reopen_holds(tree, &model);
    }
}
