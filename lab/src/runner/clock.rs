//! The runner's time source: real in runs, fake in tests, so latency accounting (open loop,
//! coordinated omission) is tested without asserting anything about wall-clock speed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub trait Clock: Sync {
    /// Nanoseconds since an arbitrary start.
    fn now_ns(&self) -> u64;
    /// Waits until `now_ns() >= t`.
    fn sleep_until(&self, t: u64);
}

/// The monotonic clock, read from the CPU's invariant time-stamp counter where there is
/// one (quanta calibrates it against the OS clock, and falls back to the OS clock where
/// the counter cannot be trusted): a read costs a few nanoseconds instead of the ~40 of
/// `clock_gettime` on this VM, and every operation reads it once.
#[derive(Debug)]
pub struct RealClock {
    clock: quanta::Clock,
    start: u64,
}

impl Default for RealClock {
    fn default() -> Self {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        Self { clock, start }
    }
}

impl Clock for RealClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.clock.delta_as_nanos(self.start, self.clock.raw())
    }

    fn sleep_until(&self, t: u64) {
        loop {
            let now = self.now_ns();
            if now >= t {
                return;
            }
            let left = t - now;
            // Sleep most of a long wait; spin the last stretch for precision.
            if left > 200_000 {
                std::thread::sleep(Duration::from_nanos(left - 100_000));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// A clock that moves only when told to (tests advance it from inside a backend).
#[derive(Debug, Default)]
pub struct FakeClock(AtomicU64);

impl FakeClock {
    pub fn advance(&self, ns: u64) {
        self.0.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, t: u64) {
        self.0.fetch_max(t, Ordering::SeqCst);
    }
}
