//! `btreemap`: `RwLock<BTreeMap<Vec<u8>, Vec<u8>>>` + JSON — what people write by hand.
//! A read copies the stored bytes out under the read lock (into the worker's reused
//! buffer) and decodes them after releasing it; opaque bytes are copied straight into the
//! worker's value, which is the whole read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::peer::{Items, Kv, Peer};
use super::{Backend, BackendInfo, Options, Registration, Result, Tier, Version};

pub(crate) const REGISTRATIONS: &[Registration] = &[Registration::store(
    "btreemap",
    "RwLock<BTreeMap> + JSON: what people write by hand",
    Tier::Memory,
    Version::Std,
    open,
)];

/// The map, and whether its values are opaque (read under the lock: nothing to decode).
#[derive(Debug, Default)]
pub(crate) struct Map {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    opaque: bool,
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    Peer::open(reg, options, Map::new(options))
}

impl Map {
    pub(crate) fn new(options: &Options) -> Map {
        Map {
            map: RwLock::default(),
            opaque: options.values.is_opaque(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Kv for Map {
    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: "std RwLock<BTreeMap<Vec<u8>, Vec<u8>>>".into(),
            durability: "in memory".into(),
            cache: "none; reads copy the value out under the read lock, then decode".into(),
            ..info
        }
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        self.write().insert(key.to_vec(), value.into_owned());
        Ok(())
    }

    fn get<T>(
        &self,
        key: &[u8],
        scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>> {
        let map = self.read();
        let Some(stored) = map.get(key) else {
            return Ok(None);
        };
        if self.opaque {
            return Ok(Some(read(stored)));
        }
        scratch.clear();
        scratch.extend_from_slice(stored);
        drop(map);
        Ok(Some(read(scratch)))
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        Ok(self.write().remove(key).is_some())
    }

    fn scan(
        &self,
        start: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        for (k, v) in self.read().range(start.to_vec()..) {
            if !each(k, v)? {
                break;
            }
        }
        Ok(())
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        // Encoded before the lock is taken.
        let encoded = items
            .owned()
            .map(|item| item.map(|(k, v)| (k.to_vec(), v)))
            .collect::<Result<Vec<_>>>()?;
        self.write().extend(encoded);
        Ok(())
    }
}
