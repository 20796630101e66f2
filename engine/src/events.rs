//! Change notifications, delivered in commit order through a bounded buffer per subscriber.
//!
//! Policy when a subscriber falls behind: its buffer holds at most its capacity of events
//! (default [`DEFAULT_SUBSCRIBER_CAPACITY`]); while it is full, further events for it are
//! counted, not kept, and writers never wait. Once it has room again, the subscriber first
//! receives one [`Event::Lagged`] saying how many it missed, then events continue. A
//! subscriber that sees `Lagged` should re-read the state it tracks from the tree.

use std::collections::VecDeque;
use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Events a subscriber buffers before it starts missing them (see [`Event::Lagged`]).
pub const DEFAULT_SUBSCRIBER_CAPACITY: usize = 65_536;

/// One committed change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A nut was stashed (alone, or in a batch or transaction).
    Stashed {
        /// Its key.
        key: String,
        /// The version of the commit that wrote it.
        version: u64,
    },
    /// A visible nut was removed by `toss` (alone, or in a batch or transaction).
    Tossed {
        /// Its key.
        key: String,
    },
    /// A nut whose TTL ran out was removed (by `purge_expired`, or by a `toss` of it).
    Expired {
        /// Its key.
        key: String,
    },
    /// The subscriber's buffer was full and `missed` events at this point were dropped;
    /// re-read what it tracks from the tree.
    Lagged {
        /// How many events were dropped here.
        missed: u64,
    },
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Event>,
    /// Events dropped since the last one delivered or queued.
    missed: u64,
    /// The tree is gone: no more events will come.
    closed: bool,
    /// The subscriber is gone: stop sending.
    abandoned: bool,
    /// Receivers blocked in `recv`: only then does publishing wake anyone (a futex wake is
    /// a system call even with nobody waiting).
    waiting: usize,
}

#[derive(Debug)]
struct Channel {
    queue: Mutex<Queue>,
    ready: Condvar,
    capacity: usize,
}

impl Channel {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The receiving end of [`crate::Tree::subscribe`]: every committed change from the moment
/// it was created, in commit order, with [`Event::Lagged`] where it fell behind. Receiving
/// ends with an error once the tree is dropped and every buffered event was taken. The
/// methods mirror `std::sync::mpsc::Receiver`.
#[derive(Debug)]
pub struct Subscription {
    chan: Arc<Channel>,
}

impl Subscription {
    /// The next buffered event, if any, without waiting.
    fn take(&self, q: &mut Queue) -> Option<Event> {
        if let Some(e) = q.events.pop_front() {
            if q.events.is_empty() && q.events.capacity() > 1024 {
                q.events = VecDeque::new();
            }
            return Some(e);
        }
        (q.missed > 0).then(|| Event::Lagged {
            missed: std::mem::take(&mut q.missed),
        })
    }

    /// Waits for the next event; `Err` once the tree is gone and nothing is buffered.
    pub fn recv(&self) -> Result<Event, RecvError> {
        let mut q = self.chan.lock();
        loop {
            if let Some(e) = self.take(&mut q) {
                return Ok(e);
            }
            if q.closed {
                return Err(RecvError);
            }
            q.waiting += 1;
            q = self
                .chan
                .ready
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
            q.waiting -= 1;
        }
    }

    /// The next event if one is buffered.
    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        let mut q = self.chan.lock();
        match self.take(&mut q) {
            Some(e) => Ok(e),
            None if q.closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let mut q = self.chan.lock();
        loop {
            if let Some(e) = self.take(&mut q) {
                return Ok(e);
            }
            if q.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            q.waiting += 1;
            q = self
                .chan
                .ready
                .wait_timeout(q, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            q.waiting -= 1;
        }
    }

    /// Every event buffered now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    /// Events as they come, until the tree is gone.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// How many events this subscriber buffers at most.
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut q = self.chan.lock();
        q.abandoned = true;
        q.events = VecDeque::new();
    }
}

/// Every live subscriber. Publishing happens under the tree's state lock, so each
/// subscriber sees changes in commit order; subscribers that were dropped are forgotten.
#[derive(Debug, Default)]
pub(crate) struct Subscribers(Vec<Arc<Channel>>);

impl Subscribers {
    pub(crate) fn subscribe(&mut self, capacity: usize) -> Subscription {
        let chan = Arc::new(Channel {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        self.0.push(Arc::clone(&chan));
        Subscription { chan }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn publish(&mut self, events: &[Event]) {
        self.0.retain(|chan| {
            let mut q = chan.lock();
            if q.abandoned {
                return false;
            }
            for e in events {
                // After a loss, the marker goes in only with the event after it.
                if q.missed > 0 && q.events.len() + 2 <= chan.capacity {
                    let missed = std::mem::take(&mut q.missed);
                    q.events.push_back(Event::Lagged { missed });
                }
                if q.missed == 0 && q.events.len() < chan.capacity {
                    q.events.push_back(e.clone());
                } else {
                    q.missed += 1;
                }
            }
            let wake = q.waiting > 0;
            drop(q);
            if wake {
                chan.ready.notify_all();
            }
            true
        });
    }
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for chan in &self.0 {
            chan.lock().closed = true;
            chan.ready.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stashed(version: u64) -> Event {
        Event::Stashed {
            key: format!("k{version}"),
            version,
        }
    }

    #[test]
    fn a_full_buffer_counts_what_it_drops_and_says_so_in_order() {
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(3);
        let all: Vec<Event> = (1..=10).map(stashed).collect();
        subs.publish(&all[..5]);
        // Three kept, two missed. One free slot is no room for the marker and an event.
        assert_eq!(rx.try_recv(), Ok(stashed(1)));
        subs.publish(&all[5..6]);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, [stashed(2), stashed(3), Event::Lagged { missed: 3 }]);
        // With room, the marker and the events after it go in, in order.
        subs.publish(&all[6..7]);
        rx.try_recv().unwrap();
        subs.publish(&all[7..8]);
        subs.publish(&all[8..]);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, [stashed(8), stashed(9), stashed(10)]);
        subs.publish(&all[..4]);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(
            got,
            [
                stashed(1),
                stashed(2),
                stashed(3),
                Event::Lagged { missed: 1 }
            ]
        );
        // Room for both: the marker sits where the loss happened.
        subs.publish(&all[..5]);
        assert_eq!(rx.try_recv(), Ok(stashed(1)));
        assert_eq!(rx.try_recv(), Ok(stashed(2)));
        subs.publish(&all[5..6]);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, [stashed(3), Event::Lagged { missed: 2 }, stashed(6)]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(subs);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv(), Err(RecvError));
    }

    #[test]
    fn a_blocked_receiver_is_woken_by_a_publish_and_by_the_tree_going_away() {
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(8);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        std::thread::scope(|s| {
            let waiter = s.spawn(|| (rx.recv(), rx.recv()));
            // Publish only once the receiver is really waiting.
            while rx.chan.lock().waiting == 0 {
                std::thread::yield_now();
            }
            subs.publish(&[stashed(1)]);
            while rx.chan.lock().waiting == 0 {
                std::thread::yield_now();
            }
            drop(std::mem::take(&mut subs));
            assert_eq!(waiter.join().unwrap(), (Ok(stashed(1)), Err(RecvError)));
        });
    }

    #[test]
    fn a_dropped_subscription_is_forgotten() {
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(8);
        drop(rx);
        subs.publish(&[stashed(1)]);
        assert!(subs.is_empty());
    }
}
