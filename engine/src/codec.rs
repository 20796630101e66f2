//! Typed access over serde: [`Typed`] stores `T` encoded with a [`Codec`].

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result, Tree};

/// A serialization format for [`Typed`].
pub trait Codec {
    /// Short name shown in reports ("json", "postcard").
    const NAME: &'static str;
    /// Appends the encoding of `value` to `out`.
    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()>;
    /// Decodes a `T` from `bytes`; [`Error::Codec`] when they are not a valid encoding.
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T>;

    /// The encoding of `value` in a new buffer.
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        Self::encode_into(value, &mut out)?;
        Ok(out)
    }
}

/// JSON via serde_json: readable, self-describing, the slower of the two.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Codec for Json {
    const NAME: &'static str = "json";

    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
        serde_json::to_writer(out, value).map_err(|e| Error::Codec(format!("json encode: {e}")))
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| Error::Codec(format!("json decode: {e}")))
    }
}

/// Compact binary via postcard (varint integers, no field names).
#[derive(Clone, Copy, Debug, Default)]
pub struct Binary;

impl Codec for Binary {
    const NAME: &'static str = "postcard";

    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
        let buf = std::mem::take(out);
        *out = postcard::to_extend(value, buf)
            .map_err(|e| Error::Codec(format!("postcard encode: {e}")))?;
        Ok(())
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
        postcard::from_bytes(bytes).map_err(|e| Error::Codec(format!("postcard decode: {e}")))
    }
}

thread_local! {
    static ENCODE_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A typed view of a tree: values are `T`, encoded with `C`.
pub struct Typed<T, C = Json> {
    tree: Tree,
    _marker: PhantomData<fn() -> (T, C)>,
}

impl<T, C> fmt::Debug for Typed<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed")
            .field("type", &std::any::type_name::<T>())
            .field("codec", &std::any::type_name::<C>())
            .finish_non_exhaustive()
    }
}

impl<T, C> Clone for Typed<T, C> {
    fn clone(&self) -> Self {
        Self {
            tree: self.tree.clone(),
            _marker: PhantomData,
        }
    }
}

impl Tree {
    /// A typed view: `tree.typed::<User, Json>()`.
    pub fn typed<T: Serialize + DeserializeOwned, C: Codec>(&self) -> Typed<T, C> {
        Typed {
            tree: self.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned, C: Codec> Typed<T, C> {
    /// The untyped tree underneath (same data: typed and raw access can be mixed).
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    fn encoded<R>(value: &T, f: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
        // Taken out while in use: a re-entrant call (a Serialize impl touching the tree)
        // or one from a thread-local destructor after the buffer was torn down gets a
        // fresh buffer.
        let mut out = ENCODE_BUF.try_with(Cell::take).unwrap_or_default();
        out.clear();
        let result = C::encode_into(value, &mut out).and_then(|()| f(&out));
        let _ = ENCODE_BUF.try_with(|b| b.set(out));
        result
    }

    /// Encodes and stores `value`; returns the new version.
    pub fn stash(&self, key: impl AsRef<str>, value: &T) -> Result<u64> {
        Self::encoded(value, |bytes| self.tree.stash(key.as_ref(), bytes))
    }

    /// Encodes and stores `value`, invisible `ttl` from now; returns the new version.
    pub fn stash_with_ttl(&self, key: impl AsRef<str>, value: &T, ttl: Duration) -> Result<u64> {
        Self::encoded(value, |bytes| {
            self.tree.stash_with_ttl(key.as_ref(), bytes, ttl)
        })
    }

    /// Reads and decodes straight from the stored bytes (no intermediate copy).
    pub fn crack(&self, key: impl AsRef<str>) -> Result<Option<T>> {
        self.tree
            .crack_with(key, |n| C::decode::<T>(n.value))?
            .transpose()
    }

    /// Removes `key`; returns whether a visible value was there (see [`Tree::toss`]).
    pub fn toss(&self, key: impl AsRef<str>) -> Result<bool> {
        self.tree.toss(key)
    }

    /// Every item in key order, decoded; a value that fails to decode yields `Err`.
    pub fn iter(&self) -> impl Iterator<Item = Result<(String, T)>> + use<T, C> {
        let mut it = self.tree.iter();
        std::iter::from_fn(move || {
            it.next_ref(|n| C::decode::<T>(n.value).map(|v| (n.key.to_owned(), v)))
        })
    }
}
