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

/// The names of the loaded records, written once per phase so that no operation formats
/// one (a hashed name is an FNV hash and 19 decimal digits: ~25 ns). Each slot holds the
/// name's length and bytes; datasets whose table would pass [`KeyTable::MAX_BYTES`] get
/// none and format names as they go.
#[derive(Debug, Default)]
pub struct KeyTable {
    stride: usize,
    names: Vec<u8>,
}

impl KeyTable {
    /// The largest table built.
    pub const MAX_BYTES: usize = 64 << 20;

    /// The table of records `0..records` (empty when it would be too large).
    pub fn new(prefix: &str, width: usize, order: KeyOrder, records: u64) -> KeyTable {
        let longest = prefix.len() + width.max(20);
        let stride = 1 + longest;
        if longest > usize::from(u8::MAX)
            || (records as usize).saturating_mul(stride) > Self::MAX_BYTES
        {
            return KeyTable::default();
        }
        let mut names = vec![0u8; records as usize * stride];
        let mut buf = Vec::with_capacity(longest);
        for (id, slot) in names.chunks_exact_mut(stride).enumerate() {
            write_key(&mut buf, prefix, width, order, id as u64);
            slot[0] = buf.len() as u8;
            slot[1..=buf.len()].copy_from_slice(&buf);
        }
        KeyTable { stride, names }
    }

    /// The name of record `id`, if it is in the table.
    #[inline]
    pub fn get(&self, id: u64) -> Option<&[u8]> {
        let at = (id as usize).checked_mul(self.stride)?;
        let slot = self.names.get(at..at.checked_add(self.stride)?)?;
        let (len, name) = slot.split_first()?;
        name.get(..usize::from(*len))
    }
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
    fn the_table_holds_the_same_names() {
        for order in [KeyOrder::Hashed, KeyOrder::Ordered] {
            let t = KeyTable::new("user", 3, order, 1000);
            for id in [0, 1, 7, 999] {
                assert_eq!(t.get(id), Some(name("user", 3, order, id).as_bytes()));
            }
            assert_eq!(t.get(1000), None);
        }
        let huge = KeyTable::new("k", 1, KeyOrder::Ordered, 1 << 40);
        assert_eq!(huge.get(0), None);
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
