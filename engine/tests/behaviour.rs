//! TTL (with a manual clock), events, typed codecs, transactions, queries and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use acorn::{Binary, Error, Event, Json, ManualClock, Tree, MAX_KEY_LEN, MAX_VALUE_LEN};
use serde::{Deserialize, Serialize};

fn clocked() -> (Tree, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
    (Tree::builder().clock(clock.clone()).open().unwrap(), clock)
}

#[test]
fn expired_nuts_vanish_at_once_and_purge_reports_them() {
    let (tree, clock) = clocked();
    let events = tree.subscribe();
    tree.stash_with_ttl("session", b"s", Duration::from_secs(30))
        .unwrap();
    tree.stash("user", b"u").unwrap();
    let nut = tree.crack("session").unwrap().unwrap();
    assert_eq!(
        nut.expires_at,
        Some(clock.now_for_test() + Duration::from_secs(30))
    );
    clock.advance(Duration::from_secs(29));
    assert!(tree.contains("session"));
    clock.advance(Duration::from_secs(1));
    assert_eq!(tree.crack("session").unwrap(), None);
    assert!(!tree.contains("session"));
    assert_eq!(tree.len(), 1);
    assert_eq!(tree.iter().count(), 1);
    assert_eq!(tree.query().count().unwrap(), 1);
    assert_eq!(tree.stats().items, 1);
    assert_eq!(tree.purge_expired().unwrap(), 1);
    assert_eq!(tree.purge_expired().unwrap(), 0);
    let seen: Vec<Event> = events.try_iter().collect();
    assert_eq!(
        seen,
        vec![
            Event::Stashed {
                key: "session".into(),
                version: 1
            },
            Event::Stashed {
                key: "user".into(),
                version: 2
            },
            Event::Expired {
                key: "session".into()
            },
        ]
    );
    // An absurd TTL saturates instead of overflowing.
    tree.stash_with_ttl("forever", b"f", Duration::MAX).unwrap();
    assert!(tree.contains("forever"));
    tree.toss("forever").unwrap();
    // Re-stashing without TTL makes the key permanent again.
    tree.stash_with_ttl("user", b"u2", Duration::from_secs(1))
        .unwrap();
    tree.stash("user", b"u3").unwrap();
    clock.advance(Duration::from_secs(5));
    assert_eq!(tree.crack("user").unwrap().unwrap().value, b"u3");
}

#[test]
fn a_manual_clock_advanced_past_the_end_of_time_stays_there_and_expires_every_ttl() {
    let (tree, clock) = clocked();
    tree.stash_with_ttl("session", b"s", Duration::from_secs(30))
        .unwrap();
    let start = clock.now_for_test();
    // `advance` saturates, as documented: it never wraps around to a time before `start`.
    clock.advance(Duration::MAX);
    assert!(clock.now_for_test() > start);
    clock.advance(Duration::from_secs(1));
    assert!(clock.now_for_test() > start);
    assert_eq!(
        tree.crack("session").unwrap(),
        None,
        "expired at the end of time"
    );
    assert_eq!(tree.len(), 0);
}

/// A stash builds a small value's record under the state lock and a large one's (over
/// 4 KiB) before it: both read back byte for byte, expire at the same instant, and toss
/// alike.
#[test]
fn small_and_large_values_store_expire_and_toss_alike() {
    let (tree, clock) = clocked();
    let small: Vec<u8> = (0..100u32).map(|i| i as u8).collect();
    let large: Vec<u8> = (0..9_000u32).map(|i| (i * 7) as u8).collect();
    for (key, value) in [("small", &small), ("large", &large)] {
        tree.stash_with_ttl(key, value, Duration::from_secs(10))
            .unwrap();
        let nut = tree.crack(key).unwrap().unwrap();
        assert_eq!(&nut.value, value, "{key}");
        assert_eq!(
            nut.expires_at,
            Some(clock.now_for_test() + Duration::from_secs(10)),
            "{key}"
        );
        tree.stash(format!("{key}-kept"), value).unwrap();
    }
    clock.advance(Duration::from_secs(10));
    for key in ["small", "large"] {
        assert_eq!(tree.crack(key).unwrap(), None, "{key} expired");
        // A toss of an expired nut removes nothing visible.
        assert!(!tree.toss(key).unwrap(), "{key}");
        let kept = format!("{key}-kept");
        assert!(tree.toss(&kept).unwrap(), "{kept}");
        assert!(!tree.toss(&kept).unwrap(), "{kept} again");
    }
    assert_eq!(tree.len(), 0);
}

trait NowForTest {
    fn now_for_test(&self) -> SystemTime;
}
impl NowForTest for ManualClock {
    fn now_for_test(&self) -> SystemTime {
        acorn::Clock::now(self)
    }
}

#[test]
fn events_follow_commit_order_and_skip_rolled_back_work() {
    let tree = Tree::open_memory();
    let rx = tree.subscribe();
    tree.stash("a", b"1").unwrap();
    let mut b = tree.batch();
    b.stash("b", b"2").toss("a");
    b.commit().unwrap();
    let dropped = {
        let mut b = tree.batch();
        b.stash("never", b"x");
        b.len()
    };
    assert_eq!(dropped, 1);
    let aborted = tree.transaction(|tx| {
        tx.stash("c", b"3")?;
        Err::<(), _>(Error::Aborted("no".into()))
    });
    assert!(matches!(aborted, Err(Error::Aborted(_))));
    tree.transaction(|tx| tx.stash("d", b"4")).unwrap();
    assert!(!tree.toss("missing").unwrap());
    let got: Vec<Event> = rx.try_iter().collect();
    assert_eq!(
        got,
        vec![
            Event::Stashed {
                key: "a".into(),
                version: 1
            },
            Event::Stashed {
                key: "b".into(),
                version: 2
            },
            Event::Tossed { key: "a".into() },
            Event::Stashed {
                key: "d".into(),
                version: 3
            },
        ]
    );
    assert!(!tree.contains("never") && !tree.contains("c"));
}

#[test]
fn versions_increase_across_toss_and_restash() {
    let tree = Tree::open_memory();
    let v1 = tree.stash("k", b"1").unwrap();
    tree.stash("other", b"x").unwrap();
    assert!(tree.toss("k").unwrap());
    let v2 = tree.stash("k", b"2").unwrap();
    assert!(v2 > v1);
    let nut = tree.crack("k").unwrap().unwrap();
    assert_eq!(nut.version, v2);
    assert!(
        nut.timestamp <= SystemTime::now()
            && nut.timestamp > SystemTime::now() - Duration::from_secs(60)
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    age: u32,
    tags: Vec<String>,
}

#[test]
fn typed_views_round_trip_and_report_decode_errors() {
    let tree = Tree::open_memory();
    let ada = User {
        name: "ada".into(),
        age: 36,
        tags: vec!["math".into()],
    };
    let json = tree.typed::<User, Json>();
    json.stash("u1", &ada).unwrap();
    assert_eq!(json.crack("u1").unwrap(), Some(ada.clone()));
    assert_eq!(
        tree.crack("u1").unwrap().unwrap().value,
        serde_json::to_vec(&ada).unwrap()
    );
    let bin = tree.typed::<User, Binary>();
    bin.stash("u2", &ada).unwrap();
    assert_eq!(bin.crack("u2").unwrap(), Some(ada.clone()));
    assert!(
        tree.crack("u2").unwrap().unwrap().value.len()
            < tree.crack("u1").unwrap().unwrap().value.len()
    );
    // Bytes that are not a User are an error, not a panic.
    tree.stash("bad", b"{not json").unwrap();
    assert!(matches!(json.crack("bad"), Err(Error::Codec(_))));
    assert!(matches!(bin.crack("u1"), Err(Error::Codec(_))));
    assert_eq!(json.crack("missing").unwrap(), None);
    let all: Vec<_> = json.iter().collect();
    assert_eq!(all.len(), 3);
    assert!(all[0].is_err() && all[1].is_ok() && all[2].is_err());
}

#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    let tree = Tree::open_memory();
    tree.stash("keep", b"1").unwrap();
    assert!(matches!(tree.stash("", b"x"), Err(Error::InvalidKey(_))));
    assert!(matches!(tree.crack(""), Err(Error::InvalidKey(_))));
    assert!(matches!(tree.toss(""), Err(Error::InvalidKey(_))));
    let long = "k".repeat(MAX_KEY_LEN + 1);
    assert!(matches!(tree.stash(&long, b"x"), Err(Error::TooLarge(_))));
    assert!(tree.stash("k".repeat(MAX_KEY_LEN), b"x").is_ok());
    let huge = vec![0u8; MAX_VALUE_LEN + 1];
    assert!(matches!(tree.stash("big", &huge), Err(Error::TooLarge(_))));
    // A batch with one bad key fails whole.
    let mut b = tree.batch();
    b.stash("fine", b"1")
        .toss("keep")
        .stash("", b"2")
        .stash("also", b"3");
    assert!(matches!(b.commit(), Err(Error::InvalidKey(_))));
    assert!(tree.contains("keep") && !tree.contains("fine") && !tree.contains("also"));
    // So does a transaction whose closure hits a bad key.
    let r = tree.transaction(|tx| {
        tx.stash("t1", b"1")?;
        tx.stash("", b"2")?;
        Ok(())
    });
    assert!(matches!(r, Err(Error::InvalidKey(_))));
    assert!(!tree.contains("t1"));
    assert_eq!(tree.len(), 2);
    // Messages say what to do.
    let msg = tree.stash(&long, b"x").unwrap_err().to_string();
    assert!(msg.contains("maximum"), "{msg}");
}

#[test]
fn transactions_read_their_own_writes_and_conflict_when_raced() {
    let tree = Tree::open_memory();
    tree.stash("acct-1", b"10").unwrap();
    let mut attempts = 0;
    let r = tree.transaction(|tx| {
        attempts += 1;
        let n = tx.crack("acct-1")?.unwrap();
        // A concurrent writer slips in on the first attempt only.
        if attempts == 1 {
            tree.stash("acct-1", b"20").unwrap();
        }
        let v: u32 = std::str::from_utf8(&n.value).unwrap().parse().unwrap();
        tx.stash("acct-1", (v + 1).to_string())?;
        assert_eq!(
            tx.crack("acct-1")?.unwrap().value,
            (v + 1).to_string().as_bytes()
        );
        assert!(tx.toss("acct-1")?);
        assert_eq!(tx.crack("acct-1")?, None);
        tx.stash("acct-1", (v + 1).to_string())?;
        Ok(v)
    });
    assert_eq!(attempts, 2);
    assert_eq!(r.unwrap(), 20);
    assert_eq!(tree.crack("acct-1").unwrap().unwrap().value, b"21");
    assert_eq!(tree.stats().ops.transaction_retries, 1);
    // Always conflicting: bounded retries, then Error::Conflict.
    let r = tree.transaction(|tx| {
        tx.crack("acct-1")?;
        tree.stash("acct-1", b"x").unwrap();
        tx.stash("acct-1", b"y")
    });
    assert!(matches!(r, Err(Error::Conflict)));
    assert_eq!(tree.crack("acct-1").unwrap().unwrap().value, b"x");
}

#[test]
fn queries_filter_order_window_and_paginate() {
    let (tree, clock) = clocked();
    let t0 = acorn::Clock::now(&clock);
    for i in 0..20u32 {
        tree.stash(
            format!("item-{i:02}"),
            format!("{{\"value\":{}}}", (i * 7) % 20),
        )
        .unwrap();
        clock.advance(Duration::from_secs(1));
    }
    tree.stash("other", b"{\"value\":100}").unwrap();
    let newest = tree
        .query()
        .prefix("item-")
        .newest()
        .first()
        .unwrap()
        .unwrap();
    assert_eq!(newest.key, "item-19");
    let oldest = tree.query().oldest().first().unwrap().unwrap();
    assert_eq!(oldest.key, "item-00");
    let window = tree
        .query()
        .between(t0 + Duration::from_secs(5), t0 + Duration::from_secs(9))
        .count()
        .unwrap();
    assert_eq!(window, 5);
    let value = |n: &acorn::NutRef<'_>| {
        serde_json::from_slice::<serde_json::Value>(n.value).unwrap()["value"]
            .as_u64()
            .unwrap()
    };
    let page: Vec<u64> = tree
        .query()
        .filter(move |n| value(n) >= 10)
        .order_by_desc(move |n| value(n))
        .skip(2)
        .take(3)
        .collect()
        .unwrap()
        .iter()
        .map(|n| {
            serde_json::from_slice::<serde_json::Value>(&n.value).unwrap()["value"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(page, vec![18, 17, 16]);
    assert!(tree
        .query()
        .filter_raw(|b| b.ends_with(b"100}"))
        .any()
        .unwrap());
    assert!(!tree
        .query()
        .prefix("item-")
        .filter_raw(|b| b.ends_with(b"100}"))
        .any()
        .unwrap());
    assert_eq!(tree.query().range("item-05".."item-08").count().unwrap(), 3);
    assert_eq!(tree.query().skip(19).take(5).count().unwrap(), 2);
    assert_eq!(tree.query().take(0).count().unwrap(), 0);
    let mut streamed = Vec::new();
    tree.query()
        .prefix("item-")
        .newest()
        .take(3)
        .for_each(|n| streamed.push(n.key.to_owned()))
        .unwrap();
    assert_eq!(streamed, ["item-19", "item-18", "item-17"]);
}

#[test]
fn stats_count_items_bytes_and_operations() {
    let tree = Tree::open_memory();
    tree.stash("ab", b"123").unwrap();
    tree.stash("cd", b"4567").unwrap();
    tree.stash("ab", b"1").unwrap();
    tree.crack("ab").unwrap();
    tree.crack("zz").unwrap();
    tree.toss("cd").unwrap();
    let s = tree.stats();
    assert_eq!(s.items, 1);
    assert_eq!(s.live_bytes, 3);
    assert_eq!((s.ops.stashes, s.ops.cracks, s.ops.tosses), (3, 2, 1));
    assert_eq!(s.version, 4);
}

#[test]
fn op_counts_include_the_items_of_committed_batches_and_transactions() {
    // `OpCounts::stashes` and `tosses` count single calls plus the items of every committed
    // batch and transaction; a transaction's items count once, however often it ran, and a
    // rolled-back one not at all.
    let tree = Tree::open_memory();
    let mut batch = tree.batch();
    batch.stash("a", b"1").stash("b", b"2").toss("c");
    batch.commit().unwrap();
    tree.transaction(|tx| {
        tx.stash("c", b"3")?;
        tx.stash("d", b"4")?;
        tx.toss("a")?;
        Ok(())
    })
    .unwrap();
    let mut first = true;
    tree.transaction(|tx| {
        tx.crack("b")?;
        if std::mem::take(&mut first) {
            tree.stash("b", b"raced").unwrap(); // one conflict: the closure runs again
        }
        tx.stash("e", b"5")
    })
    .unwrap();
    let aborted = tree.transaction(|tx| {
        tx.stash("f", b"6")?;
        Err::<(), _>(acorn::Error::Aborted("no".into()))
    });
    assert!(aborted.is_err());
    let ops = tree.stats().ops;
    assert_eq!(
        (ops.batches, ops.transactions, ops.transaction_retries),
        (1, 2, 1)
    );
    // 2 batched + 2 + 1 through transactions + 1 single ("raced").
    assert_eq!(ops.stashes, 6, "{ops:?}");
    assert_eq!(ops.tosses, 2, "{ops:?}");
}
