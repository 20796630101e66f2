//! Change notifications, delivered in commit order through a bounded buffer per subscriber:
//! [`Subscription`] (events, blocking) and, with the `tokio` feature, the async
//! `ChangeStream` (changes with their values); both are one [`Channel`] and build on the
//! change feed ([`crate::Tree::changes_since`]).
//!
//! Policy when a subscriber falls behind: its buffer holds at most its capacity of items;
//! when a commit's items do not all fit, that commit is dropped for it *whole* (never
//! split), and writers never wait. When the subscriber reaches the place of the loss, the
//! commits it lost are read back from the tree's change feed and delivered there, so it
//! goes on exactly as if it had kept up. Only when the feed no longer holds them (a
//! durable tree compacted them away; an in-memory tree keeps no history unless
//! [`crate::TreeBuilder::history`] asks for one) does a [`Subscription`] receive one
//! [`Event::Lagged`] saying how many events it missed (and should then re-read what it
//! tracks from the tree); a stream ends with [`crate::Error::Compacted`].

use std::collections::VecDeque;
use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::feed::Change;

/// Events a subscriber buffers before it starts dropping commits (which it then reads back
/// from the change feed, or is told about with [`Event::Lagged`]).
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
    /// A nut whose TTL ran out was removed (by `purge_expired`, a compaction, or a `toss`
    /// of it).
    Expired {
        /// Its key.
        key: String,
    },
    /// The subscriber's buffer was full and `missed` events at this point were dropped,
    /// and the tree's change feed no longer holds them; re-read what it tracks from the
    /// tree.
    Lagged {
        /// How many events were dropped here.
        missed: u64,
    },
}

impl Event {
    fn of(change: &Change) -> Event {
        match change {
            Change::Stashed(nut) => Event::Stashed {
                key: nut.key.to_string(),
                version: nut.version,
            },
            Change::Tossed { key, .. } => Event::Tossed {
                key: key.to_string(),
            },
            Change::Expired { key, .. } => Event::Expired {
                key: key.to_string(),
            },
        }
    }
}

/// Commits a subscriber lost, as a run of versions: `after + 1 ..= to`, `missed` items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lost {
    /// The version before the first lost commit.
    pub(crate) after: u64,
    /// The last lost commit.
    pub(crate) to: u64,
    /// How many items they held.
    pub(crate) missed: u64,
}

/// What reads the commits of versions `after + 1 ..= to` back from the change feed; `None`
/// when the feed no longer holds them (or the tree is gone).
pub(crate) type Refill = Arc<dyn Fn(u64, u64) -> Option<Vec<Change>> + Send + Sync>;

#[derive(Debug)]
enum Item<T> {
    One(T),
    /// Commits lost here, to be read back from the feed.
    Gap(Lost),
}

#[derive(Debug)]
struct Queue<T> {
    items: VecDeque<Item<T>>,
    /// Commits lost since the last item queued (a gap not yet marked in `items`).
    lost: Option<Lost>,
    /// The tree is gone: no more items will come.
    closed: bool,
    /// The subscriber is gone: stop sending.
    abandoned: bool,
    /// Receivers blocked in `recv`: only then does publishing wake anyone (a futex wake is
    /// a system call even with nobody waiting).
    waiting: usize,
    /// The task of an async receiver waiting for an item.
    waker: Option<Waker>,
    /// A receiver is reading a gap back from the feed; others wait for it (order).
    filling: bool,
}

/// A subscriber's buffer: items of whole commits in order, and gaps where commits were
/// dropped. Shared by the publishing tree and the receiving handle.
pub(crate) struct Channel<T> {
    queue: Mutex<Queue<T>>,
    ready: Condvar,
    capacity: usize,
    refill: Option<Refill>,
}

impl<T> std::fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// What a receiver found.
pub(crate) enum Next<T> {
    Item(T),
    /// Lost commits: read them back (`Channel::refilled`) or report the loss.
    Gap(Lost),
    /// Nothing yet.
    Empty,
    /// Nothing, and nothing will come.
    Closed,
}

impl<T> Channel<T> {
    fn new(capacity: usize, refill: Option<Refill>, lost: Option<Lost>) -> Self {
        Channel {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                lost,
                closed: false,
                abandoned: false,
                waiting: 0,
                waker: None,
                filling: false,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            refill,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next item or gap (a gap is then being filled until `refilled`).
    fn take(q: &mut Queue<T>) -> Next<T> {
        let next = match q.items.pop_front() {
            Some(Item::One(item)) => return Next::Item(item),
            Some(Item::Gap(lost)) => Some(lost),
            None => q.lost.take(),
        };
        match next {
            Some(lost) => {
                q.filling = true;
                if q.items.is_empty() && q.items.capacity() > 1024 {
                    q.items = VecDeque::new();
                }
                Next::Gap(lost)
            }
            None if q.closed => Next::Closed,
            None => {
                if q.items.capacity() > 1024 {
                    q.items = VecDeque::new();
                }
                Next::Empty
            }
        }
    }

    /// The next item for an async receiver, leaving its waker when there is none.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn poll_take(&self, waker: &Waker) -> Next<T> {
        let mut q = self.lock();
        let next = Self::take(&mut q);
        if matches!(next, Next::Empty) {
            match &q.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => q.waker = Some(waker.clone()),
            }
        }
        next
    }

    /// Ends the filling of a gap: `items` (read back from the feed, in order) come next.
    pub(crate) fn refilled(&self, items: impl DoubleEndedIterator<Item = T>) {
        let mut q = self.lock();
        for item in items.rev() {
            q.items.push_front(Item::One(item));
        }
        q.filling = false;
        drop(q);
        self.ready.notify_all();
    }

    /// Reads a lost run back from the feed (`None`: the feed no longer holds it).
    pub(crate) fn read_back(&self, lost: Lost) -> Option<Vec<Change>> {
        self.refill.as_ref().and_then(|r| r(lost.after, lost.to))
    }

    /// Queues one commit's items, or drops the commit whole when they do not all fit.
    fn publish(&self, version: u64, items: &[T]) -> bool
    where
        T: Clone,
    {
        let mut q = self.lock();
        if q.abandoned {
            return false;
        }
        let room = self.capacity.saturating_sub(q.items.len());
        let need = items.len() + usize::from(q.lost.is_some());
        if need <= room {
            // After a loss, its gap goes in only with the commit after it.
            if let Some(lost) = q.lost.take() {
                q.items.push_back(Item::Gap(lost));
            }
            q.items.extend(items.iter().cloned().map(Item::One));
        } else {
            let lost = q.lost.get_or_insert(Lost {
                after: version - 1,
                to: version,
                missed: 0,
            });
            lost.to = version;
            lost.missed += items.len() as u64;
        }
        let wake = q.waiting > 0;
        let waker = q.waker.take();
        drop(q);
        if wake {
            self.ready.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        let waker = q.waker.take();
        drop(q);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The receiving handle is gone.
    pub(crate) fn abandon(&self) {
        let mut q = self.lock();
        q.abandoned = true;
        q.items = VecDeque::new();
    }
}

/// The receiving end of [`crate::Tree::subscribe`]: every committed change from the moment
/// it was created, in commit order; commits it fell behind on are read back from the
/// change feed (see the module docs), and [`Event::Lagged`] marks where the feed no longer
/// held them. Receiving ends with an error once the tree is dropped and every buffered
/// event was taken. The methods mirror `std::sync::mpsc::Receiver`.
#[derive(Debug)]
pub struct Subscription {
    chan: Arc<Channel<Event>>,
}

/// How long a receiver waits.
#[derive(Clone, Copy)]
enum Wait {
    No,
    Until(Option<Instant>),
}

impl Subscription {
    /// The next event, waiting as `wait` says; `None` on a timeout or an empty buffer.
    fn next(&self, wait: Wait) -> Result<Option<Event>, RecvError> {
        let mut q = self.chan.lock();
        loop {
            let next = if q.filling {
                Next::Empty
            } else {
                Channel::take(&mut q)
            };
            match next {
                Next::Item(e) => return Ok(Some(e)),
                Next::Gap(lost) => {
                    drop(q);
                    let back = self.chan.read_back(lost);
                    let lagged = back.is_none();
                    let events = back.unwrap_or_default();
                    self.chan.refilled(events.iter().map(Event::of));
                    if lagged {
                        return Ok(Some(Event::Lagged {
                            missed: lost.missed,
                        }));
                    }
                    q = self.chan.lock();
                }
                Next::Closed => return Err(RecvError),
                Next::Empty => {
                    let Wait::Until(deadline) = wait else {
                        return if q.closed && !q.filling {
                            Err(RecvError)
                        } else {
                            Ok(None)
                        };
                    };
                    let timeout = match deadline {
                        None => None,
                        Some(d) => match d.checked_duration_since(Instant::now()) {
                            Some(left) if !left.is_zero() => Some(left),
                            _ => return Ok(None),
                        },
                    };
                    q.waiting += 1;
                    q = match timeout {
                        None => self
                            .chan
                            .ready
                            .wait(q)
                            .unwrap_or_else(PoisonError::into_inner),
                        Some(t) => {
                            self.chan
                                .ready
                                .wait_timeout(q, t)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0
                        }
                    };
                    q.waiting -= 1;
                }
            }
        }
    }

    /// Waits for the next event; `Err` once the tree is gone and nothing is buffered.
    pub fn recv(&self) -> Result<Event, RecvError> {
        loop {
            if let Some(e) = self.next(Wait::Until(None))? {
                return Ok(e);
            }
        }
    }

    /// The next event if one is buffered.
    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        match self.next(Wait::No) {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err(TryRecvError::Empty),
            Err(RecvError) => Err(TryRecvError::Disconnected),
        }
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        match self.next(Wait::Until(Some(deadline))) {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err(RecvTimeoutError::Timeout),
            Err(RecvError) => Err(RecvTimeoutError::Disconnected),
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
        self.chan.abandon();
    }
}

/// Every live subscriber. Publishing happens under the tree's state lock, so each
/// subscriber sees commits in order; subscribers that were dropped are forgotten.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    events: Vec<Arc<Channel<Event>>>,
    changes: Vec<Arc<Channel<Change>>>,
}

impl Subscribers {
    /// A new subscriber of events; `refill` reads back commits it falls behind on.
    pub(crate) fn subscribe(&mut self, capacity: usize, refill: Option<Refill>) -> Subscription {
        let chan = Arc::new(Channel::new(capacity, refill, None));
        self.events.push(Arc::clone(&chan));
        Subscription { chan }
    }

    /// A new subscriber of changes, whose first items are the commits of `lost` (read back
    /// from the feed: what it asked for from before it subscribed).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn subscribe_changes(
        &mut self,
        capacity: usize,
        refill: Option<Refill>,
        lost: Option<Lost>,
    ) -> Arc<Channel<Change>> {
        let chan = Arc::new(Channel::new(capacity, refill, lost));
        self.changes.push(Arc::clone(&chan));
        chan
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.changes.is_empty()
    }

    /// Hands one commit's changes to every subscriber.
    pub(crate) fn publish(&mut self, version: u64, changes: &[Change]) {
        if !self.events.is_empty() {
            let events: Vec<Event> = changes.iter().map(Event::of).collect();
            self.events.retain(|chan| chan.publish(version, &events));
        }
        self.changes.retain(|chan| chan.publish(version, changes));
    }
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for chan in &self.events {
            chan.close();
        }
        for chan in &self.changes {
            chan.close();
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

    /// One commit per event, as single stashes make them.
    fn publish(subs: &mut Subscribers, versions: std::ops::RangeInclusive<u64>) {
        for v in versions {
            let nut = crate::record::Record::new(format!("k{v}").as_bytes(), b"", v, 1, 0);
            subs.publish(v, &[Change::Stashed(nut.into_nut())]);
        }
    }

    #[test]
    fn a_full_buffer_drops_whole_commits_counts_them_and_says_so_in_order() {
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(3, None);
        publish(&mut subs, 1..=5);
        // Three kept, two missed. One free slot is no room for the marker and an event.
        assert_eq!(rx.try_recv(), Ok(stashed(1)));
        publish(&mut subs, 6..=6);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, [stashed(2), stashed(3), Event::Lagged { missed: 3 }]);
        // With room, the marker and the events after it go in, in order.
        publish(&mut subs, 7..=7);
        assert_eq!(rx.try_recv(), Ok(stashed(7)));
        publish(&mut subs, 8..=10);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, [stashed(8), stashed(9), stashed(10)]);
        // Room for both: the marker sits where the loss happened.
        publish(&mut subs, 11..=15);
        assert_eq!(rx.try_recv(), Ok(stashed(11)));
        assert_eq!(rx.try_recv(), Ok(stashed(12)));
        publish(&mut subs, 16..=16);
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, [stashed(13), Event::Lagged { missed: 2 }, stashed(16)]);
        // A commit larger than the buffer is dropped whole, never split.
        let big: Vec<Change> = (0..4)
            .map(|i| {
                let rec = crate::record::Record::new(format!("b{i}").as_bytes(), b"", 17, 1, 0);
                Change::Stashed(rec.into_nut())
            })
            .collect();
        subs.publish(17, &big);
        assert_eq!(rx.try_recv(), Ok(Event::Lagged { missed: 4 }));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(subs);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv(), Err(RecvError));
    }

    #[test]
    fn lost_commits_are_read_back_in_their_place() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&asked);
        let refill: Refill = Arc::new(move |after, to| {
            seen.lock().unwrap().push((after, to));
            Some(
                (after + 1..=to)
                    .map(|v| {
                        let rec =
                            crate::record::Record::new(format!("k{v}").as_bytes(), b"", v, 1, 0);
                        Change::Stashed(rec.into_nut())
                    })
                    .collect(),
            )
        });
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(2, Some(refill));
        publish(&mut subs, 1..=6);
        assert_eq!(rx.try_recv(), Ok(stashed(1)));
        publish(&mut subs, 7..=7);
        // 1 and 2 kept, 3..=7 dropped (the marker never fit beside an event); then read
        // back when the receiver reaches them.
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, (2..=7).map(stashed).collect::<Vec<_>>());
        assert_eq!(*asked.lock().unwrap(), [(2, 7)]);
        publish(&mut subs, 8..=8);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [stashed(8)]);
    }

    #[test]
    fn a_blocked_receiver_is_woken_by_a_publish_and_by_the_tree_going_away() {
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(8, None);
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
            publish(&mut subs, 1..=1);
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
        let rx = subs.subscribe(8, None);
        drop(rx);
        publish(&mut subs, 1..=1);
        assert!(subs.is_empty());
    }
}
