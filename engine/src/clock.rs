//! Wall-clock source for timestamps and TTLs, injectable so tests need no sleeps.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::nut::{from_nanos, to_nanos};

/// Where a tree reads the time from.
pub trait Clock: Send + Sync + Debug {
    /// The current wall-clock time. Called once per commit (the timestamp and TTL base)
    /// and once per read of a nut that has a TTL; it should be cheap.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `start`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use acorn::{Clock, ManualClock, Tree};
    /// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000));
    /// let tree = Tree::builder().clock(clock.clone()).open()?;
    /// tree.stash_with_ttl("session", b"token", Duration::from_secs(30))?;
    /// clock.advance(Duration::from_secs(31));
    /// assert!(tree.crack("session")?.is_none(), "expired without sleeping");
    /// # Ok::<(), acorn::Error>(())
    /// ```
    pub fn new(start: SystemTime) -> Self {
        Self(Arc::new(AtomicU64::new(to_nanos(start))))
    }

    /// Moves the time forward by `by` (saturating), for every clone.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the time to `to` (also backwards), for every clone.
    pub fn set(&self, to: SystemTime) {
        self.0.store(to_nanos(to), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(SystemTime::now())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        from_nanos(self.0.load(Ordering::SeqCst))
    }
}
