//! Composite keys order by index key, then primary key (escaping included); `IndexKey`'s
//! encodings keep numeric order. (Indexes through the tree: tests/indexes.rs.)

use super::*;

#[test]
fn composite_keys_sort_by_index_key_then_primary_key() {
    let ikeys: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"\0a", b"a", b"a\0", b"ab"];
    let pkeys: [&[u8]; 3] = [b"a", b"b", b"\xff"];
    let mut pairs = Vec::new();
    for i in ikeys {
        for p in pkeys {
            let mut c = Vec::new();
            composite(&mut c, i, p);
            pairs.push(((i, p), c));
        }
    }
    let mut by_pair = pairs.clone();
    by_pair.sort_by(|a, b| a.0.cmp(&b.0));
    let mut by_composite = pairs.clone();
    by_composite.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(by_pair, by_composite);
    for (_, a) in &pairs {
        for (_, b) in &pairs {
            let (x, y) = (abbreviation(a), abbreviation(b));
            assert!(x == y || (x < y) == (a < b), "{a:?} {b:?}");
        }
    }
    // Bounds select exactly the entries whose index key is in range.
    for lo in ikeys {
        for hi in ikeys {
            for (s, e) in [
                (Bound::Included(lo), Bound::Included(hi)),
                (Bound::Excluded(lo), Bound::Excluded(hi)),
                (Bound::Included(lo), Bound::Excluded(hi)),
                (Bound::Excluded(lo), Bound::Included(hi)),
            ] {
                let (cs, ce) = bounds(s, e);
                for ((i, _), c) in &pairs {
                    let want = after_start(i, s) && before_end(i, e);
                    let got = after_start(c, cs.as_ref().map(|b| &**b))
                        && before_end(c, ce.as_ref().map(|b| &**b));
                    assert_eq!(got, want, "{i:?} in {s:?}..{e:?}");
                }
            }
        }
    }
}

#[test]
fn index_key_encodings_keep_numeric_order() {
    let ints = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
    assert!(ints
        .windows(2)
        .all(|w| IndexKey::i64(w[0]) < IndexKey::i64(w[1])));
    let floats = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-9, 3.0, f64::INFINITY];
    assert!(floats
        .windows(2)
        .all(|w| IndexKey::f64(w[0]) < IndexKey::f64(w[1])));
    assert!(IndexKey::u64(9) < IndexKey::u64(10));
}
