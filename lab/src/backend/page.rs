//! What a query returns ([`Page`]: the keys, in order) and how the peers, which have no
//! query engine, answer one ([`Pager`]) by the rule the engine variants follow: each value
//! is looked at once, only the fields the filter and order need are read (no allocation,
//! no full decode), and ties keep key order.

use std::cmp::Reverse;

use super::codec::{Format, QueryFields};
use super::{QueryOrder, QuerySpec};

/// The keys of a query's page, in the query's order. Workers keep one and reuse its
/// buffers, so a warm page allocates nothing.
#[derive(Debug, Default)]
pub struct Page {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Page {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    pub fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    /// How many keys the page holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(s, e)| &self.bytes[s..*e])
    }
}

/// The order key of a query: what `ValueDesc` or `Newest` sorts on, descending, as one
/// `u64` that orders the same (a value's sign bit flipped).
pub(crate) fn order_key(order: QueryOrder, f: QueryFields) -> u64 {
    match order {
        QueryOrder::Key => 0,
        QueryOrder::ValueDesc => (f.value as u64) ^ (1 << 63),
        QueryOrder::Newest => f.timestamp,
    }
}

/// Whether a query looks inside values at all (a filter, or an order other than the key's).
pub(crate) fn reads_fields(q: &QuerySpec) -> bool {
    q.min_value.is_some() || q.order != QueryOrder::Key
}

/// The filter and order key of one stored value under `q`, from one look at its fields:
/// `None` when it does not match (or is no document, so has no fields).
pub(crate) fn select(q: &QuerySpec, format: Format, value: &[u8]) -> Option<u64> {
    if !reads_fields(q) {
        return Some(0);
    }
    let f = format.project(value)?;
    q.min_value
        .is_none_or(|m| f.value >= m)
        .then(|| order_key(q.order, f))
}

/// A query run for a peer: values are offered in key order, then `finish` fills the page.
/// Keeps its buffers between queries.
#[derive(Debug, Default)]
pub(crate) struct Pager {
    /// Matching rows to sort: (order key, start and end of the row's key in `keys`).
    rows: Vec<(u64, usize, usize)>,
    keys: Vec<u8>,
    /// Matches passed over by `skip` (key order only).
    skipped: usize,
}

impl Pager {
    /// Starts a query; `page` is cleared.
    pub(crate) fn start(&mut self, page: &mut Page) {
        self.rows.clear();
        self.keys.clear();
        self.skipped = 0;
        page.clear();
    }

    /// Offers the next value in key order; false once the page is complete and nothing
    /// further can change it (key order: the first `skip + take` matches decide it).
    pub(crate) fn offer(
        &mut self,
        q: &QuerySpec,
        format: Format,
        key: &[u8],
        value: &[u8],
        page: &mut Page,
    ) -> bool {
        let Some(order) = select(q, format, value) else {
            return true;
        };
        if q.order == QueryOrder::Key {
            if self.skipped < q.skip {
                self.skipped += 1;
            } else {
                page.push(key);
            }
            return page.len() < q.take;
        }
        let start = self.keys.len();
        self.keys.extend_from_slice(key);
        self.rows.push((order, start, self.keys.len()));
        true
    }

    /// Sorts what was offered (descending by the order key; ties in key order, which is
    /// the order of offering, so of `start`) and puts the page's keys into `page`.
    pub(crate) fn finish(&mut self, q: &QuerySpec, page: &mut Page) {
        if q.order == QueryOrder::Key {
            return;
        }
        self.rows
            .sort_unstable_by_key(|(order, start, _)| (Reverse(*order), *start));
        for (_, start, end) in self.rows.iter().skip(q.skip).take(q.take) {
            page.push(&self.keys[*start..*end]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{Doc, Value};

    fn stored(value: i64, timestamp: u64) -> Vec<u8> {
        let v = Value::Doc(Doc {
            value,
            timestamp,
            ..Doc::default()
        });
        let mut buf = Vec::new();
        Format::Json.stored(&v, &mut buf).unwrap().to_vec()
    }

    fn run(q: &QuerySpec, rows: &[(&str, i64, u64)]) -> Vec<String> {
        let (mut pager, mut page) = (Pager::default(), Page::default());
        pager.start(&mut page);
        for (k, v, t) in rows {
            if !pager.offer(q, Format::Json, k.as_bytes(), &stored(*v, *t), &mut page) {
                break;
            }
        }
        pager.finish(q, &mut page);
        page.keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn order_keys_order_like_the_fields() {
        let f = |value, timestamp| QueryFields { value, timestamp };
        let values = [i64::MIN, -5, -1, 0, 1, 999, i64::MAX];
        for w in values.windows(2) {
            let (a, b) = (f(w[0], 0), f(w[1], 0));
            assert!(order_key(QueryOrder::ValueDesc, a) < order_key(QueryOrder::ValueDesc, b));
        }
        assert!(order_key(QueryOrder::Newest, f(0, 1)) < order_key(QueryOrder::Newest, f(0, 2)));
    }

    #[test]
    fn pages_filter_order_with_ties_in_key_order_then_skip_and_take() {
        let rows = [
            ("a", 5, 1),
            ("b", 9, 3),
            ("c", 5, 2),
            ("d", 1, 9),
            ("e", 9, 0),
        ];
        let q = |min_value, order, skip, take| QuerySpec {
            prefix: Vec::new(),
            min_value,
            order,
            skip,
            take,
        };
        assert_eq!(
            run(&q(None, QueryOrder::ValueDesc, 0, 10), &rows),
            ["b", "e", "a", "c", "d"]
        );
        assert_eq!(
            run(&q(Some(5), QueryOrder::Newest, 1, 2), &rows),
            ["c", "a"]
        );
        assert_eq!(run(&q(Some(2), QueryOrder::Key, 1, 2), &rows), ["b", "c"]);
        assert_eq!(
            run(&q(Some(99), QueryOrder::Key, 0, 2), &rows),
            [] as [&str; 0]
        );
        let mut page = Page::default();
        page.push(b"x");
        page.push(b"");
        page.push(b"yz");
        assert_eq!(page.keys().collect::<Vec<_>>(), [&b"x"[..], b"", b"yz"]);
    }
}
