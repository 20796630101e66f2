//! Wall-clock source for timestamps and TTLs, injectable so tests need no sleeps.
//!
//! Every commit reads the clock once. The OS clock costs ~50 ns a read on this project's
//! VM (`clock_gettime` through the kvm clock, then the conversion from `SystemTime`): a
//! quarter of an in-memory stash. So [`SystemClock`] reads the CPU's time-stamp counter
//! (~15 ns; calibrated once per process by `quanta`, which falls back to the OS's
//! monotonic clock where the counter cannot be trusted) and adds the time elapsed since an
//! *anchor*: a reading of the OS wall clock this thread took at most 1 ms (of counter
//! time) ago. A time read so stays within the counter's calibration error of the OS clock
//! over 1 ms (nanoseconds), follows changes of the OS clock (NTP steps, a date set by
//! hand) within 1 ms, and never runs backwards within one thread between anchors.
//!
//! How often a thread re-anchors depends on elapsed time, so the instructions a run
//! executes do too. With `ACORN_CLOCK=os` in the environment (read once per process)
//! every read goes to the OS clock instead: two runs of one build then count exactly
//! the same instructions (`lab run --measure instructions` sets it for its counted runs).

use std::cell::Cell;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crate::nut::{from_nanos, to_nanos};

/// Where a tree reads the time from.
pub trait Clock: Send + Sync + Debug {
    /// The current wall-clock time. Called once per commit (the timestamp and TTL base)
    /// and once per read of a nut that has a TTL; it should be cheap.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock (the default), read through the CPU's time-stamp
/// counter between readings of the OS clock at most 1 ms apart (see the module docs):
/// within nanoseconds of [`SystemTime::now`], at a third of its cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        from_nanos(system_nanos())
    }
}

/// The counter, calibrated against the OS clock at first use (tens of microseconds);
/// `None` when `ACORN_CLOCK=os` asks for the OS clock at every read.
static COUNTER: OnceLock<Option<quanta::Clock>> = OnceLock::new();

/// The environment variable that, set to `os`, makes [`SystemClock`] read the OS clock
/// at every call (see the module docs).
const CLOCK_VAR: &str = "ACORN_CLOCK";

/// How long (in counter time) a thread's anchor serves before the OS clock is read again.
const ANCHOR_NS: u64 = 1_000_000;

thread_local! {
    /// This thread's anchor: a counter reading and the OS wall clock (nanoseconds since
    /// the epoch) taken together; `(0, 0)` before the first.
    static ANCHOR: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// [`SystemClock`]'s time in nanoseconds since the epoch.
pub(crate) fn system_nanos() -> u64 {
    let counter = COUNTER.get_or_init(|| {
        let os = std::env::var_os(CLOCK_VAR).is_some_and(|v| v == "os");
        (!os).then(quanta::Clock::new)
    });
    let Some(counter) = counter else {
        return to_nanos(SystemTime::now());
    };
    let raw = counter.raw();
    ANCHOR
        .try_with(|anchor| {
            let (at, wall) = anchor.get();
            let since = counter.delta_as_nanos(at, raw);
            if wall != 0 && raw >= at && since < ANCHOR_NS {
                wall + since
            } else {
                let wall = to_nanos(SystemTime::now());
                anchor.set((counter.raw(), wall));
                wall
            }
        })
        .unwrap_or_else(|_| to_nanos(SystemTime::now()))
}

/// A tree's clock: the system clock read directly (no dynamic call, no `SystemTime`), or
/// one the builder was given.
#[derive(Clone, Debug, Default)]
pub(crate) enum TreeClock {
    #[default]
    System,
    Custom(Arc<dyn Clock>),
}

impl TreeClock {
    /// The time in nanoseconds since the epoch (before it: 1, since 0 means "no expiry").
    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        match self {
            TreeClock::System => system_nanos(),
            TreeClock::Custom(clock) => to_nanos(clock.now()),
        }
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
        // `fetch_add` would wrap around to a time before the start.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn the_system_clock_follows_the_os_clock() {
        for _ in 0..5 {
            let before = to_nanos(SystemTime::now());
            let now = system_nanos();
            let after = to_nanos(SystemTime::now());
            // Within 1 ms either way: the anchor is at most 1 ms old, and the counter's
            // error over that stretch is far below it.
            assert!(
                now + 1_000_000 >= before && now <= after + 1_000_000,
                "{before} {now} {after}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let t = SystemClock.now();
        assert!(t > UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    }

    #[test]
    fn the_system_clock_does_not_run_backwards_in_a_thread_between_anchors() {
        let mut last = system_nanos();
        for _ in 0..100_000 {
            let now = system_nanos();
            // Only a new anchor may move it back (by the counter's error at most, plus any
            // step of the OS clock itself).
            assert!(now + 1_000_000 >= last, "{last} then {now}");
            last = now;
        }
    }
}
