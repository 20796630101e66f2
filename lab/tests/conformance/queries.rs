//! Queries filter, order and page the same on every backend as on a model.

use super::*;

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
