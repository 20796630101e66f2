//! `cached`'s own tests: the fill/write ordering, values a reader holds, admission and
//! negative entries (the conformance suite runs it as every other backend).
use super::*;
use crate::doc::Doc;

/// A `cached` backend in memory, with `policy`.
fn backend(policy: CachePolicy) -> CachedBackend {
    let options = Options {
        cache_policy: policy,
        ..Options::default()
    };
    CachedBackend::new(&REGISTRATIONS[0], &options).unwrap()
}

fn version(v: u64) -> Value {
    Value::Doc(Doc {
        id: v,
        ..Doc::default()
    })
}

/// A reader misses and reads the tree (version 1, or nothing for an absent key); a
/// writer then stores version 2. The writer must wait until the reader's fill is in the
/// cache, so the cache ends with version 2. Without the stripe lock around the fill,
/// the writer finishes inside the gap and the reader caches version 1 (or a negative
/// entry) after it: a stale answer, served forever.
#[test]
fn a_fill_never_lands_after_a_newer_write() {
    for policy in [CachePolicy::WriteThrough, CachePolicy::Invalidate] {
        for present in [true, false] {
            let b = backend(policy);
            let key = b"user-1".as_slice();
            if present {
                b.cached_worker().insert(key, &version(1)).unwrap();
                b.cache.remove(key);
            }
            let case = format!("{policy:?}, present {present}");
            std::thread::scope(|s| {
                let mut reader = b.cached_worker();
                let mut writer = None;
                let filled = reader
                    .fill(key, || {
                        let w = s.spawn(|| b.cached_worker().update(key, &version(2)));
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        assert!(!w.is_finished(), "{case}: a write landed inside a fill");
                        writer = Some(w);
                    })
                    .unwrap();
                let want = present.then(|| version(1));
                assert_eq!(filled.as_deref(), want.as_ref(), "{case}");
                writer.unwrap().join().unwrap().unwrap();
            });
            let mut w = b.cached_worker();
            assert_eq!(w.read(key).unwrap(), Some(&version(2)), "{case}");
            assert_eq!(w.hits + w.misses, 1);
        }
    }
}

/// A batch delete, like every other change, waits for a fill of one of its keys: a
/// reader that read the value before the delete must not cache it after the delete
/// dropped the key from the cache (the value would be served, stale, until written).
#[test]
fn a_fill_never_lands_after_a_batch_delete() {
    for policy in [CachePolicy::WriteThrough, CachePolicy::Invalidate] {
        let b = backend(policy);
        let key = b"user-2".as_slice();
        b.cached_worker().insert(key, &version(1)).unwrap();
        b.cache.remove(key);
        std::thread::scope(|s| {
            let mut reader = b.cached_worker();
            let mut deleter = None;
            let filled = reader
                .fill(key, || {
                    let d = s.spawn(|| b.cached_worker().delete_batch(&[key.to_vec()]));
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    assert!(!d.is_finished(), "{policy:?}: a batch delete landed inside a fill");
                    deleter = Some(d);
                })
                .unwrap();
            assert_eq!(filled.as_deref(), Some(&version(1)), "{policy:?}");
            deleter.unwrap().join().unwrap().unwrap();
        });
        assert_ne!(b.cache.get(key), Some(Some(Arc::new(version(1)))), "{policy:?}");
        assert_eq!(b.cached_worker().read(key).unwrap(), None, "{policy:?}");
    }
}

/// A write never changes a value a reader holds: it caches a copy made beside it, so
/// the reader's value stays as the reader saw it and the reader's next read sees the new
/// one. The value a write replaces, held by nobody, becomes the worker's spare: the next
/// write copies into that same allocation.
#[test]
fn a_write_never_changes_a_value_a_reader_holds() {
    let b = CachedBackend::new(&REGISTRATIONS[0], &Options::default()).unwrap();
    let key = b"user-5".as_slice();
    let mut writer = b.cached_worker();
    let mut reader = b.cached_worker();
    writer.insert(key, &version(1)).unwrap();
    let held = reader.read(key).unwrap();
    assert_eq!(held, Some(&version(1)));
    writer.update(key, &version(2)).unwrap();
    assert_eq!(held, Some(&version(1)), "a reader's value changed under it");
    assert_eq!(reader.read(key).unwrap(), Some(&version(2)));
    drop(reader);
    let replaced = b.cache.get(key).flatten().map(|v| Arc::as_ptr(&v));
    writer.update(key, &version(3)).unwrap();
    assert_eq!(writer.read(key).unwrap(), Some(&version(3)));
    writer.update(key, &version(4)).unwrap();
    let after = b.cache.get(key).flatten();
    assert_eq!(after.as_deref(), Some(&version(4)));
    assert_eq!(after.map(|v| Arc::as_ptr(&v)), replaced, "the replaced value not reused");
    assert_eq!(writer.read(key).unwrap(), Some(&version(4)));
}

/// A read caches what it found only on the key's second miss in a window: the first
/// is answered from the tree through the worker's own document. After a window of
/// first misses of other keys, a key's earlier miss is forgotten.
#[test]
fn a_read_caches_a_value_on_its_second_miss_in_a_window() {
    let b = CachedBackend::new(&REGISTRATIONS[0], &Options::default()).unwrap();
    let mut w = b.cached_worker();
    let key = b"user-7".as_slice();
    w.insert(key, &version(7)).unwrap();
    b.cache.remove(key);
    assert_eq!(w.read(key).unwrap(), Some(&version(7)), "a first miss reads the tree");
    assert_eq!(b.cache.get(key), None, "and caches nothing");
    assert_eq!(w.read(key).unwrap(), Some(&version(7)));
    assert_eq!(b.cache.get(key), Some(Some(Arc::new(version(7)))), "the second does");
    assert_eq!((w.hits, w.misses), (0, 2));
    assert_eq!(w.read(key).unwrap(), Some(&version(7)));
    assert_eq!(w.hits, 1);

    let other = b"user-8".as_slice();
    w.insert(other, &version(8)).unwrap();
    b.cache.remove(other);
    assert_eq!(w.read(other).unwrap(), Some(&version(8)));
    // First misses of other keys until the window closes (some are taken for second
    // ones: two keys may share a bit).
    let mut closed = false;
    for i in 0..3 * b.doorkeeper.window {
        let _ = w.read(format!("absent-{i}").as_bytes()).unwrap();
        if b.doorkeeper.set.load(Ordering::Relaxed) == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the window never closed");
    assert_eq!(w.read(other).unwrap(), Some(&version(8)));
    assert_eq!(b.cache.get(other), None, "a miss from a window ago is forgotten");
}

/// A delete leaves a negative entry under both policies, so the next reads of the key
/// are hits that find nothing; a read of a never-written key leaves one too; a write
/// replaces it (write-through) or drops it (invalidate).
#[test]
fn deletes_and_empty_reads_are_remembered_until_a_write() {
    for policy in [CachePolicy::WriteThrough, CachePolicy::Invalidate] {
        let b = backend(policy);
        let mut w = b.cached_worker();
        let key = b"user-3".as_slice();
        w.insert(key, &version(1)).unwrap();
        assert!(w.delete(key).unwrap());
        assert_eq!(b.cache.get(key), Some(None), "{policy:?}: a negative entry");
        assert_eq!(w.read(key).unwrap(), None);
        assert_eq!(w.read(key).unwrap(), None);
        assert_eq!((w.hits, w.misses), (2, 0), "{policy:?}: both reads hit");
        w.update(key, &version(2)).unwrap();
        let after_write = b.cache.get(key);
        match policy {
            CachePolicy::WriteThrough => {
                assert_eq!(after_write, Some(Some(Arc::new(version(2)))));
            }
            CachePolicy::Invalidate => assert_eq!(after_write, None),
        }
        assert_eq!(w.read(key).unwrap(), Some(&version(2)), "{policy:?}");
        let never = b"user-4".as_slice();
        assert_eq!(w.read(never).unwrap(), None);
        assert_eq!(b.cache.get(never), None, "{policy:?}: a first miss is not cached");
        assert_eq!(w.read(never).unwrap(), None);
        assert_eq!(b.cache.get(never), Some(None), "{policy:?}: a miss remembered");
        assert_eq!(w.read(never).unwrap(), None);
        w.insert(never, &version(4)).unwrap();
        assert_eq!(w.read(never).unwrap(), Some(&version(4)), "{policy:?}");
    }
}

/// Another worker's update, delete, write again, batch and batch delete are each seen by
/// the next read of a worker that had the key cached.
#[test]
fn another_workers_changes_are_seen_by_the_next_read() {
    let b = CachedBackend::new(&REGISTRATIONS[0], &Options::default()).unwrap();
    let key = b"user-9".as_slice();
    let mut reader = b.cached_worker();
    let mut writer = b.cached_worker();
    writer.insert(key, &version(1)).unwrap();
    assert_eq!(reader.read(key).unwrap(), Some(&version(1)));
    assert_eq!(reader.read(key).unwrap(), Some(&version(1)));
    assert_eq!((reader.hits, reader.misses), (2, 0));

    writer.update(key, &version(2)).unwrap();
    assert_eq!(reader.read(key).unwrap(), Some(&version(2)), "after an update");
    assert!(writer.delete(key).unwrap());
    assert_eq!(reader.read(key).unwrap(), None, "after a delete");
    assert_eq!(reader.read(key).unwrap(), None);
    writer.insert(key, &version(3)).unwrap();
    assert_eq!(reader.read(key).unwrap(), Some(&version(3)), "after a write again");
    writer
        .batch_insert(&[(key.to_vec(), version(4))])
        .unwrap();
    assert_eq!(reader.read(key).unwrap(), Some(&version(4)), "after a batch");
    writer.delete_batch(&[key.to_vec()]).unwrap();
    assert_eq!(reader.read(key).unwrap(), None, "after a batch delete");
}
