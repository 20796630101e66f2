//! What readers get back: [`Nut`] (owned) and [`NutRef`] (borrowed, for filters).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::index::Keyed;
use crate::record::Record;

/// A stored item with its metadata, owned by the caller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Nut {
    pub key: String,
    pub value: Vec<u8>,
    /// Commit sequence number of the write that produced this value. Versions of one key
    /// strictly increase across stash, toss and stash again.
    pub version: u64,
    /// Wall-clock time of the write (from the tree's [`crate::Clock`]).
    pub timestamp: SystemTime,
    /// When the nut stops being visible, if it was stashed with a TTL.
    pub expires_at: Option<SystemTime>,
}

/// A borrowed view of a stored item, handed to query filters and `crack_with` without
/// copying key or value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NutRef<'a> {
    pub key: &'a str,
    pub value: &'a [u8],
    pub version: u64,
    pub timestamp: SystemTime,
    pub expires_at: Option<SystemTime>,
}

impl NutRef<'_> {
    /// Copies the view into an owned [`Nut`].
    pub fn to_nut(&self) -> Nut {
        Nut {
            key: self.key.to_owned(),
            value: self.value.to_vec(),
            version: self.version,
            timestamp: self.timestamp,
            expires_at: self.expires_at,
        }
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
            // Keys are validated as UTF-8 before they are stored.
            key: std::str::from_utf8(self.key()).unwrap_or_default(),
            value: self.value(),
            version: self.version(),
            timestamp: from_nanos(self.timestamp()),
            expires_at: (e != 0).then(|| from_nanos(e)),
        }
    }

    pub(crate) fn to_nut(&self) -> Nut {
        self.view().to_nut()
    }
}
