//! How long the calling thread has waited for a CPU: runnable, but the scheduler ran
//! something else (another process, or another of our threads when there are more
//! threads than cores). Linux keeps it per thread in `/proc/thread-self/schedstat` (the
//! second field, in nanoseconds); elsewhere, or without schedstats, there is none.
//!
//! `lab ab` and the paired verdicts of `lab run` take a slice's time as its wall-clock
//! time less this wait ([`Busy`]), so another process taking the CPU does not count
//! against the side that happened to be running; I/O, lock waits and sleeps still count
//! (they are not waits for a CPU).

/// The calling thread's total wait for a CPU so far, in nanoseconds.
pub fn cpu_wait_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// A thread's busy time: from [`Busy::start`] to [`Busy::end`] on the caller's clock
/// (`now`, in nanoseconds), less the wait for a CPU in between. The clock is read just
/// inside the two readings of the wait, so a wait outside the window can only come from
/// the few instructions between them.
#[derive(Clone, Copy, Debug)]
pub struct Busy {
    wait: u64,
    at: u64,
}

impl Busy {
    /// Starts the window on the calling thread; `None` where the wait cannot be read.
    pub fn start(now: impl Fn() -> u64) -> Option<Busy> {
        let wait = cpu_wait_ns()?;
        Some(Busy { wait, at: now() })
    }

    /// Ends it (on the same thread): the window's time less the wait in it, at least 1 ns.
    pub fn end(self, now: impl Fn() -> u64) -> Option<u64> {
        let at = now();
        let waited = cpu_wait_ns()?.saturating_sub(self.wait);
        Some(at.saturating_sub(self.at).saturating_sub(waited).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_never_goes_back() {
        if let Some(a) = cpu_wait_ns() {
            let began = std::time::Instant::now();
            let now = || began.elapsed().as_nanos() as u64;
            let busy = Busy::start(now).unwrap();
            let mut x = 0u64;
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x ^ i);
            }
            assert!(cpu_wait_ns().is_some_and(|b| b >= a));
            let busy = busy.end(now).unwrap();
            assert!(busy >= 1 && busy <= now(), "{busy} ns busy in {} ns", now());
        } else {
            // Not Linux, or a kernel without schedstats: nothing to read, nothing claimed.
            assert!(std::fs::read_to_string("/proc/thread-self/schedstat").is_err());
        }
    }
}
