//! The write operations a tree offers, each described once as a [`Write`] that the
//! blocking methods here and `crate::aio::AsyncTree` run through the commit pipeline:
//! [`Stash`], [`Toss`], [`Purge`] (batches and transactions keep theirs beside their
//! builders). Also `flush`, a wait with nothing to commit.

use std::time::Duration;

use super::{Committed, State, Tree, Write};
use crate::record::{check_key, check_value, Change, Changes, Record};
use crate::stats::Op;
use crate::storage::Durable;
use crate::Result;

/// A stash: one validated record, committed as it is; returns the new version.
pub(crate) struct Stash(Changes);

impl Stash {
    /// Validates the stash of `value` under `key` (expiring `ttl` from now) and counts it.
    pub(crate) fn new(tree: &Tree, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<Self> {
        let rec = tree.make_record(key, value, ttl)?;
        tree.tally(Op::Stash, 1);
        Ok(Stash(smallvec::smallvec![Change::Put(rec)]))
    }
}

impl Write for Stash {
    type Output = u64;
    type Kept = ();
    fn changes(self, _: &State, _: u64) -> Result<(Changes, ())> {
        Ok((self.0, ()))
    }
    fn output((): (), _: &Tree, done: Committed) -> u64 {
        done.version
    }
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
        let expires = match ttl {
            None => 0,
            // A TTL past the end of representable time means "never expires in practice".
            Some(ttl) => self
                .now()
                .saturating_add(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX)),
        };
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
