//! `park` and `Unparker`: the only way anything in gort blocks and is woken.
//!
//! # The contract (what channels, sync, time and the netpoller build on)
//! - [`park`] blocks the caller until an [`Unparker`] for it is used. Inside a goroutine it
//!   parks the G (its M runs other Gs); on a plain OS thread it blocks the thread.
//! - An `Unparker` is cheap to clone, `Send + Sync`, and may be used from any thread, any
//!   number of times. Unparks are a *token*, as with `std::thread::park`: an unpark that
//!   arrives before the park is not lost, it makes the next park return at once. Several
//!   unparks before one park leave one token.
//! - `park` may return spuriously (a stale token from an earlier operation, a timer that fired
//!   late). Every caller parks in a loop that re-checks its own condition.
//! - [`park_until`] also returns once the deadline has passed.
//! - Nothing calls `Unparker::unpark` while holding a lock that the woken side takes before it
//!   can re-check (it would only cost a wasted switch, but keep wake-ups outside locks).

use std::time::Instant;

use super::g::WaitReason;

/// Blocks the caller until it is unparked (see the module contract).
pub(crate) fn park(reason: WaitReason) {
    let _ = reason;
    std::thread::park();
}

/// Blocks the caller until it is unparked or `deadline` has passed.
pub(crate) fn park_until(reason: WaitReason, deadline: Instant) {
    let _ = reason;
    let now = Instant::now();
    if deadline > now {
        std::thread::park_timeout(deadline - now);
    }
}

/// Wakes one parked goroutine or thread; see the module contract.
#[derive(Clone, Debug)]
pub(crate) struct Unparker {
    thread: std::thread::Thread,
}

impl Unparker {
    /// The unparker of the calling goroutine (or plain thread).
    pub(crate) fn current() -> Unparker {
        Unparker { thread: std::thread::current() }
    }

    /// Makes the target runnable again, or leaves it a token if it is not parked yet.
    pub(crate) fn unpark(&self) {
        self.thread.unpark();
    }
}
