//! The blocking half of the buffered flavor: a send that parks while the ring is full and a
//! receive that parks while it is empty, each until an optional deadline.
//!
//! Both follow `WaitList`'s protocol (see `waitq.rs`): link an entry, re-check the ring with
//! the `must_wait` predicate after a `SeqCst` fence, and only then park. A claimer that pops
//! the entry wakes it with `Retry`, and the woken party tries the ring again; so a wake-up is
//! never a value handed over, and nothing is lost when a wait times out.

use std::time::Instant;

use super::super::backoff::{spinning_may_help, Backoff};
use super::super::error::{RecvTimeoutError, SendTimeoutError};
use super::super::waiter::{Waiter, Woken};
use super::super::waitq::{Entry, WaitList};
use super::{ArrayChannel, NotReceived, NotReserved};
use crate::runtime::g::WaitReason;

impl<T> ArrayChannel<T> {
    /// Sends, parking while the ring is full, until `deadline` if any.
    pub(crate) fn send(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut backoff = Backoff::new();
        let mut may_spin = None;
        loop {
            match self.reserve(false) {
                Ok(reservation) => {
                    reservation.commit(value);
                    return Ok(());
                }
                Err(NotReserved::Closed) => return Err(SendTimeoutError::Closed(value)),
                Err(NotReserved::Full) => {}
            }
            if !backoff.is_completed() && *may_spin.get_or_insert_with(spinning_may_help) {
                backoff.spin();
                continue;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(SendTimeoutError::Timeout(value));
            }
            let waiter = Waiter::new(WaitReason::ChanSend);
            let entry = Entry::new(&waiter, 0, std::ptr::null_mut());
            if park_on(&self.senders, &waiter, &entry, deadline, || {
                self.sender_must_wait()
            }) == Parked::TimedOut
            {
                return Err(SendTimeoutError::Timeout(value));
            }
        }
    }

    /// Receives, parking while the ring is empty, until `deadline` if any.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut backoff = Backoff::new();
        let mut may_spin = None;
        loop {
            match self.take() {
                Ok(value) => return Ok(value),
                Err(NotReceived::Closed) => return Err(RecvTimeoutError::Closed),
                Err(NotReceived::Empty)
                    if !backoff.is_completed()
                        && *may_spin.get_or_insert_with(spinning_may_help) =>
                {
                    backoff.spin();
                    continue;
                }
                Err(NotReceived::Empty | NotReceived::LazyPending) => {}
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
            let waiter = Waiter::new(WaitReason::ChanRecv);
            let entry = Entry::new(&waiter, 0, std::ptr::null_mut());
            if park_on(&self.receivers, &waiter, &entry, deadline, || {
                self.receiver_must_wait()
            }) == Parked::TimedOut
            {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }
}

/// How a plain blocking operation's park ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parked {
    /// Woken (or the re-check said no need to park): try again.
    Retry,
    /// The deadline passed; the entry is unlinked.
    TimedOut,
}

/// Registers `entry`, re-checks with `must_wait`, parks, and unlinks: the slow path shared
/// by a blocked send and a blocked receive.
fn park_on(
    list: &WaitList,
    waiter: &Waiter,
    entry: &Entry,
    deadline: Option<Instant>,
    must_wait: impl FnOnce() -> bool,
) -> Parked {
    // SAFETY: `entry` lives in this frame until the function returns, and it is unlinked
    // before that: by the claimer when the wait ends with a claim (`Some`), or below.
    unsafe { list.register(entry) };
    let woken: Option<Woken> = if must_wait() {
        waiter.wait(deadline)
    } else {
        waiter.abort()
    };
    match woken {
        // A claimer popped the entry; the outcome for a buffered channel is always Retry.
        Some(_) => Parked::Retry,
        None => {
            // SAFETY: registered with this list only.
            unsafe { list.unregister(entry) };
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                Parked::TimedOut
            } else {
                Parked::Retry
            }
        }
    }
}
