//! How values become stored bytes and back, in one place for every backend: JSON
//! (serde_json), postcard, or `Raw` (opaque values, stored as they are: no codec at all).
//! Also the projection queries filter and order on: a document's `value` and `timestamp`,
//! read without allocating and without decoding the rest.

use std::borrow::Cow;

use serde::Deserialize;

use crate::doc::{Doc, Value};

/// How values are serialized (the lab's choice per backend; not `acorn::Codec`, the
/// engine's typed-access trait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Postcard,
    /// Opaque bytes: stored as given, handed back as stored.
    Raw,
}

/// Where a read puts what it decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decode {
    /// A new document (new strings and vectors): what a straightforward reader does.
    Fresh,
    /// Into the worker's document, reusing its strings and vectors (no allocation once warm).
    InPlace,
}

/// The fields a query filters and orders on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueryFields {
    pub(crate) value: i64,
    pub(crate) timestamp: u64,
}

impl Format {
    /// `docs` when the dataset holds documents; `Raw` when its values are opaque.
    pub(crate) fn for_values(docs: Format, opaque: bool) -> Format {
        if opaque {
            Format::Raw
        } else {
            docs
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Format::Json => "JSON (serde_json)",
            Format::Postcard => "postcard (binary serde)",
            Format::Raw => "none: opaque bytes stored as given",
        }
    }

    /// The bytes to store for `v`: opaque bytes as they are (no copy), a document encoded
    /// into `buf` (cleared first; pass a fresh one or a reused one).
    pub(crate) fn stored<'a>(
        self,
        v: &'a Value,
        buf: &'a mut Vec<u8>,
    ) -> std::result::Result<&'a [u8], String> {
        match (self, v) {
            (Format::Raw, Value::Bytes(b)) => Ok(b),
            (Format::Raw, Value::Doc(_)) => {
                Err("this store holds opaque values (dataset.value), not documents".into())
            }
            (_, Value::Bytes(_)) => {
                Err("this store holds documents (dataset.doc), not opaque values".into())
            }
            (Format::Json, Value::Doc(d)) => {
                buf.clear();
                serde_json::to_writer(&mut *buf, d).map_err(|e| e.to_string())?;
                Ok(buf)
            }
            (Format::Postcard, Value::Doc(d)) => {
                buf.clear();
                *buf = postcard::to_extend(d, std::mem::take(buf)).map_err(|e| e.to_string())?;
                Ok(buf)
            }
        }
    }

    /// The bytes to store for `v`: opaque bytes borrowed as they are, a document encoded
    /// into a fresh buffer (owned, so a store that keeps owned bytes takes it as it is).
    pub(crate) fn bytes(self, v: &Value) -> std::result::Result<Cow<'_, [u8]>, String> {
        match (self, v) {
            (Format::Raw, Value::Bytes(b)) => Ok(Cow::Borrowed(b)),
            _ => {
                let mut buf = Vec::new();
                self.stored(v, &mut buf)?;
                Ok(Cow::Owned(buf))
            }
        }
    }

    /// The bytes to store for `v`, owned: a fresh encoding, or a copy of opaque bytes.
    pub(crate) fn encoded(self, v: &Value) -> std::result::Result<Vec<u8>, String> {
        self.bytes(v).map(Cow::into_owned)
    }

    /// Decodes stored bytes into `out`. Opaque bytes are always copied into `out`'s buffer
    /// (there is nothing to decode; a copy is what any store's reader pays to hold them).
    pub(crate) fn decode(
        self,
        bytes: &[u8],
        out: &mut Value,
        how: Decode,
    ) -> std::result::Result<(), String> {
        match (self, how) {
            (Format::Raw, _) => {
                if let Value::Bytes(b) = out {
                    b.clear();
                    b.extend_from_slice(bytes);
                } else {
                    *out = Value::Bytes(bytes.to_vec());
                }
                Ok(())
            }
            (Format::Json, Decode::Fresh) => {
                *out = Value::Doc(serde_json::from_slice(bytes).map_err(|e| e.to_string())?);
                Ok(())
            }
            (Format::Postcard, Decode::Fresh) => {
                *out = Value::Doc(postcard::from_bytes(bytes).map_err(|e| e.to_string())?);
                Ok(())
            }
            (_, Decode::InPlace) => {
                if !matches!(out, Value::Doc(_)) {
                    *out = Value::Doc(Doc::default());
                }
                let Value::Doc(doc) = out else {
                    unreachable!("set to a document just above")
                };
                self.decode_in_place(bytes, doc)
            }
        }
    }

    /// Decodes a document into `doc`, reusing its strings and vectors.
    fn decode_in_place(self, bytes: &[u8], doc: &mut Doc) -> std::result::Result<(), String> {
        match self {
            Format::Json => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                Doc::deserialize_in_place(&mut de, doc).map_err(|e| e.to_string())?;
                de.end().map_err(|e| e.to_string())
            }
            Format::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(bytes);
                Doc::deserialize_in_place(&mut de, doc).map_err(|e| e.to_string())
            }
            Format::Raw => Err("opaque values are not documents".into()),
        }
    }

    /// A stored document's `value` and `timestamp`, read without allocating and without
    /// decoding the rest (postcard: the first three varints; JSON: the top-level keys up to
    /// the two it needs). `None` when the bytes are not a document: such values never match
    /// a filter and sort after every document.
    pub(crate) fn project(self, bytes: &[u8]) -> Option<QueryFields> {
        match self {
            Format::Json => json_fields(bytes),
            Format::Postcard => {
                // `Doc` serializes `id`, `value`, `timestamp` first (a unit test holds it).
                let ((_id, value, timestamp), _rest) =
                    postcard::take_from_bytes::<(u64, i64, u64)>(bytes).ok()?;
                Some(QueryFields { value, timestamp })
            }
            Format::Raw => None,
        }
    }
}

/// JSON: the fast path for the plain case, serde_json for everything else.
fn json_fields(bytes: &[u8]) -> Option<QueryFields> {
    if let Some(f) = Cursor::new(bytes).fields() {
        return Some(f);
    }
    #[derive(Deserialize)]
    struct Fields {
        value: i64,
        timestamp: u64,
    }
    // Other fields are skipped without allocating (serde ignores unknown fields).
    serde_json::from_slice::<Fields>(bytes)
        .ok()
        .map(|f| QueryFields {
            value: f.value,
            timestamp: f.timestamp,
        })
}

/// A cursor over JSON text that reads the top-level keys of an object and stops as soon as
/// it has `value` and `timestamp`. It gives up (`None`) on anything beyond the plain case
/// (an escaped key, a fraction or exponent, malformed text), and `json_fields` then asks
/// serde_json, so the answer is always serde_json's. Values it passes over are skipped,
/// not validated: a query decodes no document in full.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cursor { b, i: 0 }
    }

    fn fields(&mut self) -> Option<QueryFields> {
        self.ws();
        self.eat(b'{')?;
        let (mut value, mut timestamp) = (None, None);
        loop {
            self.ws();
            let key = self.plain_key()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            match key {
                b"value" => value = Some(self.int()?),
                b"timestamp" => timestamp = Some(u64::try_from(self.int()?).ok()?),
                _ => self.skip_value()?,
            }
            if let (Some(value), Some(timestamp)) = (value, timestamp) {
                return Some(QueryFields { value, timestamp });
            }
            self.ws();
            self.eat(b',')?;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    /// A key without escapes (with one, give up: serde_json unescapes it).
    fn plain_key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .position(|c| *c == b'"' || *c == b'\\')?;
        if self.b[start + len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&self.b[start..start + len])
    }

    /// An integer; a fraction or exponent gives up.
    fn int(&mut self) -> Option<i64> {
        let negative = self.eat(b'-').is_some();
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
            self.i += 1;
        }
        if self.i == start || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        // Accumulated negatively so that i64::MIN parses.
        if negative {
            Some(n)
        } else {
            n.checked_neg()
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let at = self.b[self.i..]
                .iter()
                .position(|c| *c == b'"' || *c == b'\\')?;
            self.i += at;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Some(());
            }
            // A backslash and the byte it escapes; a backslash at the very end is no JSON.
            self.i += 2;
            if self.i > self.b.len() {
                return None;
            }
        }
    }

    /// Passes over one value: a string, an array or object (strings inside included), or
    /// a scalar (number, true, false, null).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'[' | b'{' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => self.skip_string()?,
                        b'[' | b'{' => {
                            depth += 1;
                            self.i += 1;
                        }
                        b']' | b'}' => {
                            depth -= 1;
                            self.i += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        _ => self.i += 1,
                    }
                }
            }
            _ => {
                let start = self.i;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{DocShape, ValueShape};
    use proptest::prelude::*;

    fn doc(id: u64) -> Value {
        Value::generate(id, 0, 9, &ValueShape::Doc(DocShape::default()))
    }

    #[test]
    fn documents_round_trip_fresh_and_in_place_in_both_formats() {
        for format in [Format::Json, Format::Postcard] {
            let mut out = Value::Bytes(vec![1]);
            for id in 0..3 {
                let v = doc(id);
                let mut buf = Vec::new();
                let stored = format.stored(&v, &mut buf).unwrap().to_vec();
                for how in [Decode::Fresh, Decode::InPlace] {
                    format.decode(&stored, &mut out, how).unwrap();
                    assert_eq!(out, v, "{format:?} {how:?}");
                }
            }
        }
    }

    #[test]
    fn opaque_values_are_stored_as_given_and_kinds_do_not_mix() {
        let v = Value::Bytes(vec![7; 40]);
        let mut buf = Vec::new();
        assert_eq!(Format::Raw.stored(&v, &mut buf).unwrap(), &[7; 40][..]);
        let mut out = doc(1);
        Format::Raw
            .decode(&[1, 2, 3], &mut out, Decode::Fresh)
            .unwrap();
        assert_eq!(out, Value::Bytes(vec![1, 2, 3]));
        assert!(Format::Raw.stored(&doc(1), &mut buf).is_err());
        assert!(Format::Json.stored(&v, &mut buf).is_err());
        assert_eq!(Format::Raw.project(&[1, 2, 3]), None);
    }

    #[test]
    fn projection_reads_value_and_timestamp_of_stored_documents() {
        for format in [Format::Json, Format::Postcard] {
            for id in 0..50 {
                let v = doc(id);
                let d = v.as_doc().unwrap();
                let mut buf = Vec::new();
                let stored = format.stored(&v, &mut buf).unwrap();
                assert_eq!(
                    format.project(stored),
                    Some(QueryFields {
                        value: d.value,
                        timestamp: d.timestamp
                    }),
                    "{format:?}"
                );
            }
        }
        // Postcard has no framing (any bytes read as varints); JSON does.
        assert_eq!(Format::Json.project(b"not a document"), None);
    }

    #[test]
    fn a_truncated_escape_is_no_document_not_a_panic() {
        for bytes in [&br#"{"a":"x\"#[..], br#"{"a":"\"#, br#"{"value":1,"a":"\"#] {
            assert_eq!(
                Format::Json.project(bytes),
                None,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn json_projection_handles_what_the_fast_path_gives_up_on() {
        for (text, want) in [
            (r#"{"value":-5,"timestamp":9}"#, Some((-5, 9))),
            (r#" { "timestamp" : 9 , "value" : 3 } "#, Some((3, 9))),
            (
                r#"{"x":{"a":[1,"]}",{"b":"\""}]},"value":1,"timestamp":2}"#,
                Some((1, 2)),
            ),
            (r#"{"v\u0061lue":4,"timestamp":2}"#, Some((4, 2))),
            (r#"{"value":4.0,"timestamp":2}"#, None),
            (r#"{"value":4}"#, None),
            (r#"{"value":1,"timestamp":-2}"#, None),
            (
                r#"{"value":-9223372036854775808,"timestamp":1}"#,
                Some((i64::MIN, 1)),
            ),
            // serde reads a struct from an array too: the answer is serde's.
            (r#"[1,2]"#, Some((1, 2))),
            (r#"[1]"#, None),
            ("", None),
        ] {
            assert_eq!(
                json_fields(text.as_bytes()).map(|f| (f.value, f.timestamp)),
                want,
                "{text}"
            );
        }
    }

    proptest! {
        /// Whatever the fast path answers, serde_json agrees (it answers `None` otherwise).
        #[test]
        fn fast_json_projection_agrees_with_serde(
            value in any::<i64>(),
            timestamp in any::<u64>(),
            before in "[ a-z\"\\\\:,\\[\\]{}0-9.-]{0,24}",
            spaces in "[ \n\t]{0,3}",
        ) {
            let text = format!(
                "{{{spaces}\"pre\":{before:?},\"value\"{spaces}:{spaces}{value},\"timestamp\":{timestamp}{spaces}}}"
            );
            let serde: Option<(i64, u64)> = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| Some((v.get("value")?.as_i64()?, v.get("timestamp")?.as_u64()?)));
            let fast = Cursor::new(text.as_bytes()).fields().map(|f| (f.value, f.timestamp));
            if let Some(fast) = fast {
                prop_assert_eq!(Some(fast), serde, "{}", text);
            }
            prop_assert_eq!(json_fields(text.as_bytes()).map(|f| (f.value, f.timestamp)), serde);
        }
    }
}
