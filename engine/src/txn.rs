//! Optimistic transactions: reads record the version they saw, writes are buffered, and
//! commit validates the reads under the state lock. Serializable for the keys touched.
//!
//! A transaction reads what every other read sees: the commits applied to the tree, so
//! under `SyncPolicy::Always` only durable ones. Its commit is ordered after every commit
//! logged before it, though, also those still waiting for their fsync: when one of those
//! changed a key it read, it waits for that fsync (which applies the commit) and runs
//! again, instead of reading a commit that is not yet durable.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::limits::{MAX_ATTEMPTS, MAX_BATCH_BYTES};
use crate::nut::Nut;
use crate::record::{check_key, Change, Changes, Items, Record};
use crate::stats::Op;
use crate::tree::{Committed, State, Write};
use crate::{Error, Result, Tree};

/// The view a transaction closure works through.
#[derive(Debug)]
pub struct Txn<'t> {
    tree: &'t Tree,
    /// Keys read from the tree, with the version seen (`None`: absent).
    reads: BTreeMap<Box<[u8]>, Option<u64>>,
    /// Buffered writes: `Some` to stash, `None` to toss.
    writes: BTreeMap<Box<[u8]>, Option<Record>>,
    bytes: usize,
}

impl<'t> Txn<'t> {
    fn observe(&mut self, key: &str) -> Result<Option<Nut>> {
        check_key(key)?;
        if let Some(w) = self.writes.get(key.as_bytes()) {
            return Ok(w.as_ref().map(Record::to_nut));
        }
        let nut = self.tree.crack(key)?;
        self.reads
            .entry(key.as_bytes().into())
            .or_insert(nut.as_ref().map(|n| n.version));
        Ok(nut)
    }

    /// Reads `key` as of this transaction: its own writes first, then the tree. A nut
    /// written by this transaction reads back with version 0 (it has none until commit).
    pub fn crack(&mut self, key: impl AsRef<str>) -> Result<Option<Nut>> {
        self.observe(key.as_ref())
    }

    /// Buffers a stash; it becomes visible to others only when the transaction commits.
    /// Errors at once for an invalid key or an oversized value.
    pub fn stash(&mut self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<()> {
        self.put(key.as_ref(), value.as_ref(), None)
    }

    /// Buffers a stash that becomes invisible `ttl` after it is buffered.
    pub fn stash_with_ttl(
        &mut self,
        key: impl AsRef<str>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<()> {
        self.put(key.as_ref(), value.as_ref(), Some(ttl))
    }

    fn put(&mut self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let mut rec = self.tree.make_record(key, value, ttl)?;
        rec.stamp(0, self.tree.now());
        self.bytes += key.len() + value.len();
        self.writes.insert(key.as_bytes().into(), Some(rec));
        Ok(())
    }

    /// Removes `key`; returns whether it was visible to this transaction.
    pub fn toss(&mut self, key: impl AsRef<str>) -> Result<bool> {
        let key = key.as_ref();
        let existed = self.observe(key)?.is_some();
        self.bytes += key.len();
        self.writes.insert(key.as_bytes().into(), None);
        Ok(existed)
    }
}

impl Tree {
    /// Runs `f` as one atomic, isolated unit. When another writer changed a key `f` read
    /// before this commit, `f` runs again (up to [`MAX_ATTEMPTS`] times, then
    /// [`Error::Conflict`]); when that writer's commit is still waiting for its fsync
    /// (`SyncPolicy::Always`), `f` runs again once it is durable, without counting an
    /// attempt. An `Err` from `f` discards every buffered write and is returned.
    ///
    /// `f` reads what every read sees (under `Always`, durable commits only), and may run
    /// more than once: keep side effects out of it.
    pub fn transaction<R>(&self, mut f: impl FnMut(&mut Txn<'_>) -> Result<R>) -> Result<R> {
        let mut retries = Retries::default();
        loop {
            let (out, writes) = self.txn_attempt(&mut f)?;
            match retries.after(self, self.commit_txn(writes)) {
                Retry::Done(result) => return result.map(|()| out),
                Retry::Yield => std::thread::yield_now(),
                Retry::Sleep(pause) => std::thread::sleep(pause),
                Retry::Durable(ticket) => self.log().map_or(Ok(()), |log| log.wait(ticket))?,
            }
        }
    }

    /// Commits one attempt's writes (not generic: the pipeline is compiled once, here).
    fn commit_txn(&self, writes: TxnCommit) -> Result<Settled> {
        self.run(writes)
    }

    /// Runs `f` once over a fresh view; returns its result and the commit of its writes,
    /// which validates its reads.
    pub(crate) fn txn_attempt<R>(
        &self,
        f: &mut impl FnMut(&mut Txn<'_>) -> Result<R>,
    ) -> Result<(R, TxnCommit)> {
        let mut tx = Txn {
            tree: self,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            bytes: 0,
        };
        let out = f(&mut tx)?;
        if tx.bytes > MAX_BATCH_BYTES {
            return Err(Error::TooLarge(format!(
                "transaction writes {} bytes, over the maximum of {MAX_BATCH_BYTES}",
                tx.bytes
            )));
        }
        let Txn { reads, writes, .. } = tx;
        let changes: Changes = writes
            .into_iter()
            .map(|(k, w)| match w {
                Some(rec) => Change::Put(rec),
                None => Change::Delete(k),
            })
            .collect();
        let items = Items::of(&changes);
        Ok((
            out,
            TxnCommit {
                reads,
                changes,
                items,
            },
        ))
    }
}

/// One attempt of a transaction, as a write: commits its buffered writes if every key it
/// read still has the version it saw (else [`Error::Conflict`], or [`Settled::After`] a
/// pending commit); once committed, counts the transaction and its stashes and tosses (as
/// a batch counts its items).
pub(crate) struct TxnCommit {
    reads: BTreeMap<Box<[u8]>, Option<u64>>,
    changes: Changes,
    items: Items,
}

/// How an attempt's commit ended, short of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Committed (or, read-only, its reads were consistent).
    Committed,
    /// A key it read was changed by an `Always` commit still waiting for its fsync, at this
    /// log position: run again once it is durable (and applied).
    After(u64),
}

impl Write for TxnCommit {
    type Output = Settled;
    /// How many stashes and tosses it holds, or the log position to wait for.
    type Kept = Result<Items, u64>;
    fn changes(self, st: &State, now: u64) -> Result<(Changes, Result<Items, u64>)> {
        if self.changes.is_empty() {
            // Read-only: nothing to order after pending commits. Its reads (all of applied
            // commits) only have to be of one state: none changed since.
            return if self
                .reads
                .iter()
                .all(|(k, seen)| st.visible_version(k, now) == *seen)
            {
                Ok((self.changes, Ok(self.items)))
            } else {
                Err(Error::Conflict)
            };
        }
        // Its writes follow every commit logged so far, applied or not: what it read must
        // still be the latest. A key a pending commit changed is not a conflict yet, only
        // a read that came too early.
        let mut pending = None;
        for (k, seen) in &self.reads {
            if st.latest_version(k, now) != *seen {
                match st.pending_ticket(k) {
                    Some(ticket) => pending = pending.max(Some(ticket)),
                    None => return Err(Error::Conflict),
                }
            }
        }
        match pending {
            Some(ticket) => Ok((Changes::new(), Err(ticket))),
            None => Ok((self.changes, Ok(self.items))),
        }
    }
    fn output(kept: Result<Items, u64>, tree: &Tree, _: Committed) -> Settled {
        match kept {
            Ok(items) => {
                tree.tally(Op::Txn, 1);
                tree.tally_items(items);
                Settled::Committed
            }
            Err(ticket) => Settled::After(ticket),
        }
    }
}

/// What a transaction does after an attempt. The policy is [`Retries::after`]; the
/// blocking API yields, sleeps and waits for the log with its thread, the async one with
/// its task.
#[derive(Debug)]
pub(crate) enum Retry {
    /// Return this: the commit's result, or [`Error::Conflict`] after [`MAX_ATTEMPTS`].
    Done(Result<()>),
    /// Let other writers run, then run the closure again.
    Yield,
    /// Wait this long, then run the closure again.
    Sleep(Duration),
    /// Wait until this log position is durable (and its commits applied), then run the
    /// closure again; a failed wait is the transaction's error.
    Durable(u64),
}

/// The retry policy of one transaction: after a conflict, yield four times, then back
/// off exponentially (2^n µs, at most about 1 ms), and give up after [`MAX_ATTEMPTS`]
/// conflicts; after a read that came before a pending commit's fsync, wait for it (that is
/// progress, not a conflict: it does not count towards the limit, and the next conflict
/// yields again instead of sleeping: the state just settled). Both count as a retry in
/// [`crate::Stats`].
#[derive(Debug, Default)]
pub(crate) struct Retries {
    conflicts: u32,
    /// Conflicts since the last wait for a pending commit: how long to back off.
    streak: u32,
}

impl Retries {
    /// Judges the result of an attempt's commit.
    pub(crate) fn after(&mut self, tree: &Tree, attempt: Result<Settled>) -> Retry {
        match attempt {
            Ok(Settled::Committed) => return Retry::Done(Ok(())),
            Ok(Settled::After(ticket)) => {
                tree.tally(Op::TxnRetry, 1);
                self.streak = 0;
                return Retry::Durable(ticket);
            }
            Err(Error::Conflict) => tree.tally(Op::TxnRetry, 1),
            Err(e) => return Retry::Done(Err(e)),
        }
        let n = self.streak;
        self.streak += 1;
        self.conflicts += 1;
        if self.conflicts >= MAX_ATTEMPTS {
            Retry::Done(Err(Error::Conflict))
        } else if n < 4 {
            Retry::Yield
        } else {
            Retry::Sleep(Duration::from_micros(1 << n.min(10)))
        }
    }
}
