//! Bounded busy-waiting before a lock parks (Go's `runtime_canSpin`/`runtime_doSpin`).
//!
//! Parking costs a context switch on both sides; when the holder is running on another CPU and
//! its critical section is short, waiting a few hundred nanoseconds is cheaper. Spinning is only
//! worth it when the holder can be running meanwhile: never on a single CPU, and never in a
//! goroutine while gort runs one processor (the holder, if it is a goroutine, waits for our
//! processor). And only briefly: a goroutine that spins keeps its M busy, so the total spin is
//! bounded (Go: 4 rounds of 30 `PAUSE`s) and never yields the thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Spin rounds before parking.
const SPIN_ROUNDS: u32 = 4;
/// `spin_loop` hints per round.
const PAUSES_PER_ROUND: u32 = 30;

/// Counts spin rounds for one lock attempt.
#[derive(Debug, Default)]
pub(crate) struct Spin {
    rounds: u32,
    /// Whether spinning can help the caller; worked out on the first round.
    useful: Option<bool>,
}

impl Spin {
    /// A fresh budget.
    pub(crate) const fn new() -> Self {
        Spin {
            rounds: 0,
            useful: None,
        }
    }

    /// Spins one round and returns true, or returns false once the budget is spent or
    /// spinning cannot help (see the module documentation).
    pub(crate) fn spin(&mut self) -> bool {
        if self.rounds >= SPIN_ROUNDS {
            return false;
        }
        if !*self.useful.get_or_insert_with(spinning_can_help) {
            return false;
        }
        self.rounds += 1;
        for _ in 0..PAUSES_PER_ROUND {
            std::hint::spin_loop();
        }
        true
    }

    /// Starts a new budget (after a park, the situation has changed).
    pub(crate) fn reset(&mut self) {
        self.rounds = 0;
    }
}

/// Whether a lock holder can run while the caller spins.
fn spinning_can_help() -> bool {
    if !multi_core() {
        return false;
    }
    if !crate::runtime::m::in_goroutine() {
        return true;
    }
    crate::runtime::sched::sched_if_started().is_none_or(|sched| sched.nprocs() > 1)
}

/// Whether the machine has more than one CPU (cached; 0 means not yet known).
fn multi_core() -> bool {
    static CPUS: AtomicUsize = AtomicUsize::new(0);
    // Relaxed: a plain cached number, recomputing it in a race is harmless.
    let mut cpus = CPUS.load(Ordering::Relaxed);
    if cpus == 0 {
        cpus = std::thread::available_parallelism().map_or(1, |count| count.get());
        CPUS.store(cpus, Ordering::Relaxed);
    }
    cpus > 1
}
