//! What readers get back: [`Nut`] (owned) and [`NutRef`] (borrowed, for filters).
//!
//! An owned `Nut` copies nothing: its [`Value`] is a handle onto the stored record (one
//! reference-count increment) and its [`Key`] is held inline (or, over 22 bytes, is a
//! second handle), so `crack`, `collect`, iterators and transactions allocate nothing per
//! item. The stored bytes never change once written; a
//! handle keeps the version it was read from alive after the key is overwritten or tossed.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::index::Keyed;
use crate::record::Record;

/// A stored item with its metadata, owned by the caller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Nut {
    /// The key; derefs to `str` (`.to_string()`, `.as_str()`, `String::from(key)`).
    pub key: Key,
    /// The value; derefs to `[u8]` (`.to_vec()`, `.as_slice()`, `Vec::from(value)`).
    pub value: Value,
    /// Commit sequence number of the write that produced this value. Versions of one key
    /// strictly increase across stash, toss and stash again.
    pub version: u64,
    /// Wall-clock time of the write (from the tree's [`crate::Clock`]).
    pub timestamp: SystemTime,
    /// When the nut stops being visible, if it was stashed with a TTL.
    pub expires_at: Option<SystemTime>,
}

/// The key of an owned [`Nut`]: keys of up to 22 bytes are held inline (copying 24
/// bytes is cheaper than a shared reference-count increment and decrement), longer ones
/// (and those of a record whose key and value are under 22 bytes together) as a shared
/// handle onto the stored record. Never allocates. Derefs to `str` and
/// compares, hashes and orders like one.
#[derive(Clone)]
pub struct Key(KeyRepr);

const INLINE_KEY: usize = 22;

#[derive(Clone)]
enum KeyRepr {
    Inline { len: u8, buf: [u8; INLINE_KEY] },
    Shared(Record),
}

/// The value of an owned [`Nut`]: a shared handle onto the stored record (8 bytes, no
/// copy). Derefs to `[u8]` and compares, hashes and orders like a byte slice.
#[derive(Clone)]
pub struct Value(Record);

/// A borrowed view of a stored item, handed to query filters and `crack_with` without
/// copying key or value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NutRef<'a> {
    /// The key, borrowed from the stored record.
    pub key: &'a str,
    /// The value, borrowed from the stored record.
    pub value: &'a [u8],
    /// Commit sequence number of the write that produced this value.
    pub version: u64,
    /// Wall-clock time of that write.
    pub timestamp: SystemTime,
    /// When the nut stops being visible, if it was stashed with a TTL.
    pub expires_at: Option<SystemTime>,
}

impl Key {
    #[inline(always)]
    fn of(rec: &Record) -> Key {
        let len = rec.key().len();
        // A fixed-size copy of the 22 bytes from the key's start (a few moves, no `memcpy`
        // call); the bytes past the key are never read. A record too short for that (key
        // and value under 22 bytes together) is shared like a long key: one branch, no
        // call, so the nut is built in registers and stored once, straight into its slot.
        match rec.key_onwards().first_chunk::<INLINE_KEY>() {
            Some(head) if len <= INLINE_KEY => Key(KeyRepr::Inline {
                len: len as u8,
                buf: *head,
            }),
            _ => Key(KeyRepr::Shared(rec.clone())),
        }
    }

    /// A key from the bytes of a stored key (valid UTF-8): held inline when short (no
    /// allocation), else in a record of its own (never sharing a value).
    pub(crate) fn from_utf8(key: &[u8]) -> Key {
        if key.len() <= INLINE_KEY {
            let mut buf = [0; INLINE_KEY];
            buf[..key.len()].copy_from_slice(key);
            Key(KeyRepr::Inline {
                len: key.len() as u8,
                buf,
            })
        } else {
            Key(KeyRepr::Shared(Record::new(key, &[], 0, 0, 0)))
        }
    }

    /// The key as a string slice (no copy).
    pub fn as_str(&self) -> &str {
        // Keys are validated as UTF-8 (they come from `&str`) before they are stored, and
        // records read back from disk are checked when loaded.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The key's UTF-8 bytes (no copy).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            KeyRepr::Inline { len, buf } => &buf[..usize::from(*len)],
            KeyRepr::Shared(rec) => rec.key(),
        }
    }

    /// Copies the key into a `String` (`String::from(key)`).
    fn into_string(self) -> String {
        self.as_str().to_owned()
    }
}

impl Value {
    /// The value's bytes, borrowed from the shared record (no copy).
    pub fn as_slice(&self) -> &[u8] {
        self.0.value()
    }

    /// Copies the value into a `Vec<u8>` (`Vec::from(value)`).
    fn into_vec(self) -> Vec<u8> {
        self.as_slice().to_vec()
    }
}

impl Deref for Key {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Deref for Value {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Keys and values built by hand (tests, or a `Nut` assembled by the caller) get a record
/// of their own.
impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::of(&Record::new(s.as_bytes(), &[], 0, 0, 0))
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::from(s.as_str())
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value(Record::new(&[], b, 0, 0, 0))
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::from(b.as_slice())
    }
}

impl<const N: usize> From<&[u8; N]> for Value {
    fn from(b: &[u8; N]) -> Self {
        Value::from(b.as_slice())
    }
}

impl Default for Key {
    fn default() -> Self {
        Key::from("")
    }
}

impl Default for Value {
    fn default() -> Self {
        Value::from(&[][..])
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.into_string()
    }
}

impl From<Value> for Vec<u8> {
    fn from(v: Value) -> Vec<u8> {
        v.into_vec()
    }
}

/// `tree.iter().map(|n| n.key).collect::<Vec<String>>()` keeps working, as the README
/// shows. (The price: `collect::<Vec<_>>()` of keys needs its element type spelled out,
/// `Vec<Key>` or `Vec<String>`.)
impl FromIterator<Key> for Vec<String> {
    fn from_iter<I: IntoIterator<Item = Key>>(iter: I) -> Self {
        iter.into_iter().map(Key::into_string).collect()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self
    }
}

impl Borrow<[u8]> for Value {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

/// Both directions of `==` with the string types a key is compared against.
macro_rules! key_eq {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Key {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Key> for $t {
            fn eq(&self, other: &Key) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
        impl PartialOrd<$t> for Key {
            fn partial_cmp(&self, other: &$t) -> Option<Ordering> {
                Some(self.as_str().cmp(AsRef::<str>::as_ref(other)))
            }
        }
    )*};
}
key_eq!(str, &str, String);

/// Both directions of `==` with the byte types a value is compared against.
macro_rules! value_eq {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool {
                self.as_slice() == AsRef::<[u8]>::as_ref(other)
            }
        }
        impl PartialEq<Value> for $t {
            fn eq(&self, other: &Value) -> bool {
                AsRef::<[u8]>::as_ref(self) == other.as_slice()
            }
        }
    )*};
}
value_eq!([u8], &[u8], Vec<u8>);

impl<const N: usize> PartialEq<[u8; N]> for Value {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Value {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<Value> for [u8; N] {
    fn eq(&self, other: &Value) -> bool {
        self == other.as_slice()
    }
}

impl<const N: usize> PartialEq<Value> for &[u8; N] {
    fn eq(&self, other: &Value) -> bool {
        *self == other.as_slice()
    }
}

pub(crate) fn from_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

/// Nanoseconds since the epoch, saturating; times before the epoch map to 1 so that 0
/// keeps meaning "no expiry".
pub(crate) fn to_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(1, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}

impl Record {
    pub(crate) fn view(&self) -> NutRef<'_> {
        let e = self.expires();
        NutRef {
            key: self.key_str(),
            value: self.value(),
            version: self.version(),
            timestamp: from_nanos(self.timestamp()),
            expires_at: (e != 0).then(|| from_nanos(e)),
        }
    }

    /// An owned nut sharing this record: one reference-count increment (two for a key
    /// over 22 bytes), no allocation.
    #[inline(always)]
    pub(crate) fn to_nut(&self) -> Nut {
        self.clone().into_nut()
    }

    /// An owned nut that takes over this reference as its value.
    // Always inlined (and `to_nut` too): built in a stack temporary and then copied into
    // its slot, a nut's bytes are stored at other widths than the copy loads them, and
    // every load waits for the stores to reach the cache (a store-forwarding stall).
    #[inline(always)]
    pub(crate) fn into_nut(self) -> Nut {
        let e = self.expires();
        Nut {
            key: Key::of(&self),
            version: self.version(),
            timestamp: from_nanos(self.timestamp()),
            expires_at: (e != 0).then(|| from_nanos(e)),
            value: Value(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_compare_like_the_types_they_replace() {
        let rec = Record::new(b"user-1", b"{\"a\":1}", 3, 4, 0);
        let nut = rec.to_nut();
        assert_eq!(nut.key, "user-1");
        assert_eq!("user-1", nut.key);
        assert_eq!(nut.key, String::from("user-1"));
        assert_eq!(nut.key.to_string(), "user-1");
        assert_eq!(String::from(nut.key.clone()), "user-1");
        assert!(nut.key < "user-2" && nut.key > *"user-0");
        assert_eq!(nut.value, b"{\"a\":1}");
        assert_eq!(nut.value, *b"{\"a\":1}");
        assert_eq!(nut.value, b"{\"a\":1}".to_vec());
        assert_eq!(nut.value.to_vec(), b"{\"a\":1}");
        assert_eq!(Vec::from(nut.value.clone()), b"{\"a\":1}");
        assert_eq!(&nut.value[..2], b"{\"");
        assert_ne!(nut.value, b"other");
        assert_eq!(Value::default().len(), 0);
        assert_eq!(format!("{:?}", nut.key), "\"user-1\"");
        // A handle stays valid after the record it came from is gone elsewhere.
        let value = nut.value.clone();
        drop((rec, nut));
        assert_eq!(value, b"{\"a\":1}");
        let long = "a key longer than twenty-two bytes";
        let nut = Record::new(long.as_bytes(), b"v", 1, 2, 0).to_nut();
        assert_eq!(nut.key, long);
        assert_eq!(String::from(nut.key.clone()), long);
        assert!(nut.key > "a key");
        let nut = Record::new(b"k", b"v", 1, 2, 9).to_nut();
        assert_eq!(
            (nut.key.as_str(), nut.value.as_slice(), nut.version),
            ("k", &b"v"[..], 1)
        );
        assert_eq!(nut.expires_at, Some(from_nanos(9)));
    }
}
