//! Key names, as YCSB's `CoreWorkload.buildKeyName` makes them: the prefix, then the record
//! number — or, with `insertorder=hashed` (YCSB's default), its `fnvhash64` — zero-padded to
//! at least `width` digits. Hashed names scatter consecutive records over the key space, so
//! inserts do not all land at the right edge of a B-tree and `latest`'s hot set is not one
//! contiguous run of keys.

use serde::Serialize;

use super::zipf::fnvhash64;

/// How record numbers become key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOrder {
    /// `prefix + fnvhash64(n)` (YCSB's `insertorder=hashed`, the default).
    Hashed,
    /// `prefix + n` (YCSB's `insertorder=ordered`).
    Ordered,
}

/// Writes the name of record `id` into `buf` (cleared first; its allocation is reused).
#[inline]
pub fn write_key(buf: &mut Vec<u8>, prefix: &str, width: usize, order: KeyOrder, id: u64) {
    let n = match order {
        KeyOrder::Hashed => fnvhash64(id),
        KeyOrder::Ordered => id,
    };
    let mut digits = itoa::Buffer::new();
    let text = digits.format(n).as_bytes();
    buf.clear();
    buf.extend_from_slice(prefix.as_bytes());
    let pad = width.saturating_sub(text.len());
    buf.resize(buf.len() + pad, b'0');
    buf.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(prefix: &str, width: usize, order: KeyOrder, id: u64) -> String {
        let mut b = Vec::new();
        write_key(&mut b, prefix, width, order, id);
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn ordered_names_are_prefixed_and_zero_padded() {
        for (id, width, want) in [
            (0, 4, "k-0000"),
            (42, 4, "k-0042"),
            (12345, 3, "k-12345"),
            (9, 1, "k-9"),
            (1000, 4, "k-1000"),
        ] {
            assert_eq!(name("k-", width, KeyOrder::Ordered, id), want);
        }
    }

    #[test]
    fn hashed_names_are_ycsbs() {
        // CoreWorkload.buildKeyName(0, 1, false) = "user" + Utils.fnvhash64(0).
        assert_eq!(
            name("user", 1, KeyOrder::Hashed, 0),
            "user6284781860667377211"
        );
        assert_eq!(
            name("user", 22, KeyOrder::Hashed, 1),
            "user0008517097267634966620"
        );
    }
}
