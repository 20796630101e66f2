//! Stopping writer threads that a test runs until its checks are done, also when a check
//! fails: [`Stop::on_drop`] sets the flag as the test's own thread unwinds, so a failed
//! assertion never leaves a writer appending to the log (one that did once grew a 3.3 GB
//! log in /tmp). Writers still bound themselves by [`Stop::go_on`]'s count.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};

/// The flag writers poll.
#[derive(Debug, Default)]
pub struct Stop(AtomicBool);

/// Sets its [`Stop`] when dropped (at the end of the scope, or while a panic unwinds it).
pub struct OnDrop<'a>(&'a Stop);

impl Drop for OnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a writer at its `round`th round goes on: not once stopped, nor past `max`
    /// rounds (so even a test whose stop is never reached ends).
    pub fn go_on(&self, round: u64, max: u64) -> bool {
        round < max && !self.0.load(Ordering::Relaxed)
    }

    /// A guard that stops the writers when the scope it lives in ends, however it ends.
    pub fn on_drop(&self) -> OnDrop<'_> {
        OnDrop(self)
    }
}
