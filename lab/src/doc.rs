//! What workloads store: a YCSB-shaped document (N string fields of M bytes, plus the fields
//! the seed guide's queries filter and sort on), or opaque bytes for store-only comparisons.
//! Generated deterministically from a seed.

use serde::{Deserialize, Serialize};

/// One stored document. Every backend stores it serialized; reads return it fully decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "codec-bench",
    derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)
)]
pub struct Doc {
    pub id: u64,
    /// 0..1000; queries filter and sort on it.
    pub value: i64,
    /// Milliseconds since the epoch; "newest" queries sort on it.
    pub timestamp: u64,
    pub tags: Vec<String>,
    /// YCSB's field0..fieldN.
    pub fields: Vec<String>,
}

/// The size of generated documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocShape {
    pub fields: usize,
    pub field_bytes: usize,
    pub tags: usize,
}

impl Default for DocShape {
    fn default() -> Self {
        Self {
            fields: 10,
            field_bytes: 100,
            tags: 3,
        }
    }
}

/// What a workload stores under a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A document: every backend encodes it (JSON, postcard) and reads decode it in full.
    Doc(Doc),
    /// Opaque bytes, stored as they are: no document, no codec, so a run measures what the
    /// stores themselves cost.
    Bytes(Vec<u8>),
}

impl Value {
    /// The value of record `id` under `seed`; `version` changes the content (updates).
    pub fn generate(id: u64, version: u64, seed: u64, shape: &ValueShape) -> Value {
        match shape {
            ValueShape::Doc(d) => Value::Doc(Doc::generate(id, version, seed, d)),
            ValueShape::Bytes(n) => {
                let mut rng = SplitMix(seed ^ id.rotate_left(17) ^ version.wrapping_mul(31));
                let mut out = Vec::with_capacity(*n + 8);
                while out.len() < *n {
                    out.extend_from_slice(&rng.next_u64().to_le_bytes());
                }
                out.truncate(*n);
                Value::Bytes(out)
            }
        }
    }

    /// The document, when this is one.
    pub fn as_doc(&self) -> Option<&Doc> {
        match self {
            Value::Doc(d) => Some(d),
            Value::Bytes(_) => None,
        }
    }

    /// Makes this value the next version of itself, as a read-modify-write does: a
    /// document's `value` goes up by one (mod 1000), the first byte of opaque bytes by one.
    pub fn bump(&mut self) {
        match self {
            Value::Doc(d) => d.value = (d.value + 1) % 1000,
            Value::Bytes(b) => {
                if let Some(first) = b.first_mut() {
                    *first = first.wrapping_add(1);
                }
            }
        }
    }

    /// Copies `other` into `self`, reusing `self`'s allocations where the shapes allow.
    pub fn assign(&mut self, other: &Value) {
        match (self, other) {
            (Value::Bytes(a), Value::Bytes(b)) => {
                a.clear();
                a.extend_from_slice(b);
            }
            (Value::Doc(a), Value::Doc(b)) => a.assign(b),
            (me, other) => *me = other.clone(),
        }
    }
}

impl Default for Value {
    fn default() -> Self {
        Value::Doc(Doc::default())
    }
}

/// What the dataset's values are: documents of a shape (`[dataset] doc = { .. }`), or opaque
/// byte strings of a length (`[dataset] value = { bytes = N }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueShape {
    Doc(DocShape),
    Bytes(usize),
}

impl ValueShape {
    /// Whether values are opaque bytes.
    pub fn is_opaque(&self) -> bool {
        matches!(self, ValueShape::Bytes(_))
    }

    /// About how many bytes a stored value takes: opaque values their length; a document
    /// its JSON (braces, id, value, timestamp and their names ~60 B, quoted tags and
    /// fields).
    pub fn approx_bytes(&self) -> u64 {
        match self {
            ValueShape::Doc(d) => {
                60 + d.tags as u64 * 9 + d.fields as u64 * (d.field_bytes as u64 + 3)
            }
            ValueShape::Bytes(n) => *n as u64,
        }
    }
}

impl Default for ValueShape {
    fn default() -> Self {
        ValueShape::Doc(DocShape::default())
    }
}

/// SplitMix64: tiny, seedable, and the same on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Doc {
    /// The document for record `id` under `seed`; `version` changes the content (updates).
    pub fn generate(id: u64, version: u64, seed: u64, shape: &DocShape) -> Doc {
        let mut rng =
            SplitMix(seed ^ id.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ version.rotate_left(32));
        let mut field = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'a' + (rng.below(26) as u8)))
                .collect()
        };
        let fields = (0..shape.fields)
            .map(|_| field(shape.field_bytes))
            .collect();
        let tags = (0..shape.tags).map(|_| field(6)).collect();
        let mut rng = SplitMix(seed ^ id ^ version);
        Doc {
            id,
            value: rng.below(1000) as i64,
            timestamp: 1_700_000_000_000 + id * 10 + version,
            tags,
            fields,
        }
    }
}

impl Doc {
    /// Copies `other` into `self`, reusing `self`'s strings and vectors (what `clone_from`
    /// would do if the derive specialized it).
    pub fn assign(&mut self, other: &Doc) {
        self.id = other.id;
        self.value = other.value;
        self.timestamp = other.timestamp;
        self.tags.clone_from(&other.tags);
        self.fields.clone_from(&other.fields);
    }
}

/// The key of record `id`: `prefix` then `id` zero-padded to `width` digits.
pub fn key(prefix: &str, width: usize, id: u64) -> Vec<u8> {
    format!("{prefix}{id:0width$}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_shaped() {
        let shape = DocShape {
            fields: 4,
            field_bytes: 20,
            tags: 2,
        };
        let a = Doc::generate(7, 0, 42, &shape);
        assert_eq!(a, Doc::generate(7, 0, 42, &shape));
        assert_ne!(a, Doc::generate(7, 1, 42, &shape));
        assert_ne!(a, Doc::generate(8, 0, 42, &shape));
        assert_eq!(a.fields.len(), 4);
        assert!(a.fields.iter().all(|f| f.len() == 20));
        assert_eq!(a.tags.len(), 2);
        assert!((0..1000).contains(&a.value));
        assert_eq!(key("user-", 6, 42), b"user-000042");
    }

    #[test]
    fn opaque_values_have_their_length_and_change_with_version() {
        let shape = ValueShape::Bytes(100);
        let a = Value::generate(7, 0, 42, &shape);
        let Value::Bytes(bytes) = &a else {
            panic!("opaque shape made a document")
        };
        assert_eq!(bytes.len(), 100);
        assert_eq!(a, Value::generate(7, 0, 42, &shape));
        assert_ne!(a, Value::generate(7, 1, 42, &shape));
        assert_ne!(a, Value::generate(8, 0, 42, &shape));
        assert!(Value::generate(1, 0, 42, &ValueShape::default())
            .as_doc()
            .is_some());
    }

    #[test]
    fn assign_copies_and_bump_changes_the_value() {
        let shape = ValueShape::default();
        let (a, b) = (
            Value::generate(1, 0, 42, &shape),
            Value::generate(2, 0, 42, &shape),
        );
        let mut c = a.clone();
        c.assign(&b);
        assert_eq!(c, b);
        c.assign(&Value::Bytes(vec![1, 2]));
        assert_eq!(c, Value::Bytes(vec![1, 2]));
        c.bump();
        assert_eq!(c, Value::Bytes(vec![2, 2]));
        let mut d = a.clone();
        d.bump();
        assert_ne!(d, a);
        assert_eq!(
            d.as_doc().map(|d| d.value),
            a.as_doc().map(|d| (d.value + 1) % 1000)
        );
    }
}
