//! How long a channel operation spins before it parks.
//!
//! Parking costs a context switch, and waking a goroutine whose processor went to sleep costs
//! a futex wake-up (tens of microseconds across cores on a VM). When the other side is
//! running on another processor, the buffer usually changes within a few hundred
//! nanoseconds, so a buffered operation first spins a little (`pause` instructions, doubling
//! each step). Unbuffered operations never spin: a rendezvous needs the other side to run,
//! which on one processor it cannot do while we spin.
//!
//! Spinning only pays when the other side can run meanwhile: never for a goroutine on a
//! single processor (the other goroutine needs this one's processor), see
//! [`spinning_may_help`].
//!
//! `snooze` is for a wait that cannot end with a park: another party is inside a window of a
//! few instructions (a sender between reserving a slot and publishing it). It spins, then
//! yields the thread, until that party is done.

use std::hint;

use crate::runtime::m::in_goroutine;
use crate::runtime::sched::sched_if_started;

/// Spin steps (each doubling the number of `pause`s) before an operation parks.
const SPIN_LIMIT: u32 = 6;
/// Steps after which `snooze` yields the thread instead of spinning.
const YIELD_AFTER: u32 = 10;

/// Exponential backoff for one operation.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub(crate) fn new() -> Backoff {
        Backoff { step: 0 }
    }

    /// Spins after a lost compare-and-swap (contention, not waiting).
    #[inline]
    pub(crate) fn spin(&mut self) {
        for _ in 0..1u32 << self.step.min(SPIN_LIMIT) {
            hint::spin_loop();
        }
        if self.step <= SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Waits for another party to leave a short window (it cannot park there).
    pub(crate) fn snooze(&mut self) {
        if self.step <= SPIN_LIMIT {
            for _ in 0..1u32 << self.step {
                hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        if self.step <= YIELD_AFTER {
            self.step += 1;
        }
    }

    /// Whether spinning has gone on long enough: time to park.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.step > SPIN_LIMIT
    }
}

/// Whether spinning before a park can pay off: the other side makes progress during our spin
/// only if it runs in parallel, so a goroutine spins only when there are several processors.
/// A plain thread always may (its counterpart may be anywhere).
pub(crate) fn spinning_may_help() -> bool {
    if !in_goroutine() {
        return true;
    }
    sched_if_started().is_none_or(|sched| sched.nprocs() > 1)
}
