//! What each backend says about itself: cache counters, its description, and the error for
//! an unknown name.

use super::*;

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
    // Invalidate: the insert cached nothing; a read caches on the key's second miss.
    let m: BTreeMap<String, f64> = invalidating.metrics().into_iter().collect();
    assert_eq!((m["cache_hits"], m["cache_misses"]), (3.0, 2.0), "{m:?}");
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
