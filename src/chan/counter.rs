//! How many `Sender`s and `Receiver`s a channel has, and whether `close` was called.
//!
//! The channel's memory is owned by an `Arc`; these counts only decide *when the channel
//! closes*: the last `Sender` dropped closes it for everyone (Go has no such rule: an
//! unreferenced channel just waits for the garbage collector), and the last `Receiver`
//! dropped closes it for senders, so a sender blocked forever in Go gets its value back here.
//!
//! # Invariants
//! - `senders` counts live `Sender` handles; it reaches 0 once and never leaves 0 (a handle
//!   is only cloned from a live one). Same for `receivers`.
//! - `close_called` goes `false → true` once: exactly one `Sender::close` returns `Ok`.
//!
//! # Memory ordering
//! The decrements are `AcqRel` so the thread that sees 1 → 0 has seen every other handle's
//! last use (the same reasoning as `Arc`'s drop). The increments are `Relaxed`: cloning needs
//! an existing handle, which already keeps the count above zero.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Handle counts and the close-once flag of one channel.
#[derive(Debug)]
pub(crate) struct Counter {
    senders: AtomicUsize,
    receivers: AtomicUsize,
    close_called: AtomicBool,
}

impl Counter {
    /// One sender and one receiver, not closed.
    pub(crate) fn new() -> Counter {
        Counter {
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            close_called: AtomicBool::new(false),
        }
    }

    /// Counts a cloned `Sender`.
    pub(crate) fn acquire_sender(&self) {
        let previous = self.senders.fetch_add(1, Ordering::Relaxed);
        assert!(previous < usize::MAX / 2, "too many senders");
    }

    /// Counts a cloned `Receiver`.
    pub(crate) fn acquire_receiver(&self) {
        let previous = self.receivers.fetch_add(1, Ordering::Relaxed);
        assert!(previous < usize::MAX / 2, "too many receivers");
    }

    /// Forgets a dropped `Sender`; true if it was the last one.
    pub(crate) fn release_sender(&self) -> bool {
        self.senders.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Forgets a dropped `Receiver`; true if it was the last one.
    pub(crate) fn release_receiver(&self) -> bool {
        self.receivers.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Marks the channel closed by its senders; true for the one call that did it (an
    /// explicit `close`, or the drop of the last sender if nobody closed before).
    pub(crate) fn mark_closed(&self) -> bool {
        !self.close_called.swap(true, Ordering::AcqRel)
    }

    /// Whether the senders closed the channel (explicitly or by all being dropped).
    pub(crate) fn is_closed_by_senders(&self) -> bool {
        self.close_called.load(Ordering::Acquire)
    }
}
