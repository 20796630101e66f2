//! Change notifications, delivered in commit order.

use std::sync::mpsc::{channel, Receiver, Sender};

/// One committed change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Stashed {
        key: String,
        version: u64,
    },
    Tossed {
        key: String,
    },
    /// A nut whose TTL ran out was removed (by `purge_expired`, or by a `toss` of it).
    Expired {
        key: String,
    },
}

/// Senders of every live subscriber. Sending happens under the tree's state lock, so each
/// receiver sees changes in commit order; subscribers that hung up are dropped.
#[derive(Debug, Default)]
pub(crate) struct Subscribers(Vec<Sender<Event>>);

impl Subscribers {
    pub(crate) fn subscribe(&mut self) -> Receiver<Event> {
        let (tx, rx) = channel();
        self.0.push(tx);
        rx
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn publish(&mut self, events: &[Event]) {
        self.0
            .retain(|tx| events.iter().all(|e| tx.send(e.clone()).is_ok()));
    }
}
