//! The write operations a tree offers, each described once as a [`Write`] that the
//! blocking methods here and `crate::aio::AsyncTree` run through the commit pipeline:
//! [`Stash`], [`Toss`], [`Purge`] (batches and transactions keep theirs beside their
//! builders). Also `flush`, a wait with nothing to commit.

use std::time::Duration;

use super::{Committed, State, Tree, Write};
use crate::index::Keyed;
use crate::record::{check_key, check_value, Change, Changes, Record};
use crate::stats::Op;
use crate::storage::Durable;
use crate::Result;

/// Values up to this many bytes are copied into their record under the state lock, once
/// the commit has asked for the key's hash-index slot: the copy's stores (cold lines, for a
/// record of an allocation nobody touched lately) then drain while the commit waits for the
/// slot and the record it replaces, where a copy made before the lock was drained by taking
/// the lock, before those loads could start (`write_loop cold`: see docs/PERFORMANCE.md).
/// Larger values are copied before the lock, so a long copy never holds up other writers.
const COPY_UNDER_LOCK: usize = 4096;

/// A stash: one validated record, committed as it is; returns the new version.
pub(crate) enum Stash<'a> {
    /// A small value (see [`COPY_UNDER_LOCK`]), built into its record by `changes`.
    Small {
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    },
    /// A large value, its record built already.
    Built(Record),
}

impl<'a> Stash<'a> {
    /// Validates the stash of `value` under `key` (expiring `ttl` from now) and counts it.
    pub(crate) fn new(
        tree: &Tree,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> Result<Self> {
        let stash = if value.len() <= COPY_UNDER_LOCK {
            check_key(key)?;
            check_value(key, value)?;
            Stash::Small { key, value, ttl }
        } else {
            Stash::Built(tree.make_record(key, value, ttl)?)
        };
        tree.tally(Op::Stash, 1);
        Ok(stash)
    }
}

impl Write for Stash<'_> {
    type Output = u64;
    type Kept = ();
    fn key(&self) -> Option<&[u8]> {
        Some(match self {
            Stash::Small { key, .. } => key.as_bytes(),
            Stash::Built(rec) => rec.key(),
        })
    }
    fn changes(self, _: &State, now: u64) -> Result<(Changes, ())> {
        let rec = match self {
            Stash::Small { key, value, ttl } => {
                let expires = ttl.map_or(0, |ttl| expiry(now, ttl));
                Record::new(key.as_bytes(), value, 0, 0, expires)
            }
            Stash::Built(rec) => rec,
        };
        Ok((smallvec::smallvec![Change::Put(rec)], ()))
    }
    fn output((): (), _: &Tree, done: Committed) -> u64 {
        done.version
    }
}

/// When a nut stored at `now` with `ttl` expires.
fn expiry(now: u64, ttl: Duration) -> u64 {
    // A TTL past the end of representable time means "never expires in practice".
    now.saturating_add(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX))
}

/// A toss: one validated key; returns whether a visible nut was there.
pub(crate) struct Toss(Changes);

impl Toss {
    /// Validates the toss of `key` and counts it.
    pub(crate) fn new(tree: &Tree, key: &str) -> Result<Self> {
        check_key(key)?;
        tree.tally(Op::Toss, 1);
        Ok(Toss(smallvec::smallvec![Change::Delete(
            key.as_bytes().into()
        )]))
    }
}

impl Write for Toss {
    type Output = bool;
    type Kept = ();
    fn key(&self) -> Option<&[u8]> {
        self.0.first().map(Change::key)
    }
    fn changes(self, _: &State, _: u64) -> Result<(Changes, ())> {
        Ok((self.0, ()))
    }
    fn output((): (), _: &Tree, done: Committed) -> bool {
        done.removed == 1
    }
}

/// A purge: deletes every key whose TTL ran out by the commit's time (chosen under the
/// state lock); returns how many, counted once committed.
pub(crate) struct Purge;

impl Write for Purge {
    type Output = usize;
    /// How many keys it deletes.
    type Kept = usize;
    fn changes(self, st: &State, now: u64) -> Result<(Changes, usize)> {
        let keys = st.expired_keys(now);
        let purged = keys.len();
        Ok((keys.into_iter().map(Change::Delete).collect(), purged))
    }
    fn output(purged: usize, tree: &Tree, _: Committed) -> usize {
        tree.tally(Op::Purged, purged as u64);
        purged
    }
}

impl Tree {
    /// Stores `value` under `key`, replacing any previous value; returns the new version.
    pub fn stash(&self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<u64> {
        self.stash_inner(key.as_ref(), value.as_ref(), None)
    }

    /// Like [`Tree::stash`], but the nut becomes invisible `ttl` from now.
    pub fn stash_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<u64> {
        self.stash_inner(key.as_ref(), value.as_ref(), Some(ttl))
    }

    // The generic methods only convert their arguments: the pipeline behind them is
    // compiled once, here, where it can inline the crate's own helpers (not into every
    // caller's crate).
    fn stash_inner(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<u64> {
        self.run(Stash::new(self, key, value, ttl)?)
    }

    /// Validates and builds an unstamped record.
    pub(crate) fn make_record(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Record> {
        check_key(key)?;
        check_value(key, value)?;
        let expires = ttl.map_or(0, |ttl| expiry(self.now(), ttl));
        Ok(Record::new(key.as_bytes(), value, 0, 0, expires))
    }

    /// Removes `key`; returns whether a visible nut was there.
    pub fn toss(&self, key: impl AsRef<str>) -> Result<bool> {
        self.toss_inner(key.as_ref())
    }

    fn toss_inner(&self, key: &str) -> Result<bool> {
        self.run(Toss::new(self, key)?)
    }

    /// Removes every nut whose TTL ran out, emitting [`crate::Event::Expired`] for each; returns
    /// how many were removed.
    pub fn purge_expired(&self) -> Result<usize> {
        self.run(Purge)
    }

    /// Makes every acknowledged write durable now (a no-op in memory).
    pub fn flush(&self) -> Result<()> {
        self.log().map_or(Ok(()), Durable::flush)
    }
}
