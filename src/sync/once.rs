//! `Once`: run an initialiser exactly once, however many goroutines race (Go's `sync.Once`).
//!
//! # State word (`state: AtomicU8`)
//! `INCOMPLETE → RUNNING → COMPLETE`, plus the `WAITERS` bit while someone is queued waiting
//! for the runner. A runner whose closure panics (or, internally, reports failure) moves the
//! state back to `INCOMPLETE` and wakes the waiters; one of them becomes the next runner.
//!
//! # Invariants
//! - Only the caller whose CAS moved `INCOMPLETE → RUNNING` runs a closure, so at most one
//!   closure runs at a time and none runs after `COMPLETE`.
//! - `WAITERS` is set only while `RUNNING`, under the queue lock and in the same critical
//!   section that queues the waiter; the runner's final `swap` clears it and, if it was set,
//!   wakes every queued waiter under the queue lock. A waiter that comes later sees the new
//!   state and does not queue.
//!
//! # Memory ordering
//! The runner's `swap(COMPLETE)` is `Release` and pairs with the `Acquire` loads in
//! `call_once`/`is_completed`: whatever the closure wrote is visible to every caller that sees
//! `COMPLETE`.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use super::waitq::{Position, WaitQueue, WOKEN};
use crate::runtime::g::WaitReason;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;
const PHASE_MASK: u8 = 3;
const WAITERS: u8 = 4;

/// Runs a closure exactly once: Go's `sync.Once`.
///
/// When several goroutines (or threads) call [`call_once`](Once::call_once) together, one runs
/// its closure and the others park until it has finished; afterwards every call returns at once.
///
/// # Panics in the closure: retried, not poisoned
/// If the closure panics, the panic propagates to its caller and the `Once` goes back to "not
/// run": the callers that were waiting wake up and one of them runs *its* closure, and later
/// calls try again too. Nothing is poisoned (Go instead marks the `Once` done after a panic and
/// never retries; retrying keeps a transient failure from disabling a program for good, and
/// matches `std::sync::OnceLock`).
///
/// Calling `call_once` on the same `Once` from inside its own closure deadlocks.
///
/// # Example
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use gort::sync::Once;
///
/// static INIT: Once = Once::new();
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
///
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         std::thread::spawn(|| {
///             INIT.call_once(|| {
///                 RUNS.fetch_add(1, Ordering::Relaxed);
///             })
///         })
///     })
///     .collect();
/// for thread in threads {
///     thread.join().unwrap();
/// }
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    state: AtomicU8,
    queue: WaitQueue<()>,
}

impl Once {
    /// A `Once` that has not run yet. Usable in a `static`.
    pub const fn new() -> Self {
        Once {
            state: AtomicU8::new(INCOMPLETE),
            queue: WaitQueue::new(()),
        }
    }

    /// Runs `init` if no call has completed yet; otherwise returns at once. Callers that arrive
    /// while another call's closure runs park until it finishes, then return (or, if it
    /// panicked, take their turn at running their own closure).
    ///
    /// # Panics
    /// Propagates a panic of `init`; the `Once` is then not completed (see the type docs).
    ///
    /// ```
    /// let once = gort::sync::Once::new();
    /// let mut runs = 0;
    /// once.call_once(|| runs += 1);
    /// once.call_once(|| runs += 1);
    /// assert_eq!(runs, 1);
    /// ```
    #[inline]
    pub fn call_once(&self, init: impl FnOnce()) {
        if self.is_completed() {
            return;
        }
        let mut init = Some(init);
        self.run_once(&mut || {
            if let Some(init) = init.take() {
                init();
            }
            true
        });
    }

    /// Whether a call has completed. `true` guarantees the closure's effects are visible.
    ///
    /// ```
    /// let once = gort::sync::Once::new();
    /// assert!(!once.is_completed());
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    #[inline]
    pub fn is_completed(&self) -> bool {
        // Acquire: pairs with the runner's Release swap to COMPLETE.
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// The general form: `attempt` returns whether it completed the `Once`. A `false` (or a
    /// panic) leaves it incomplete for the next caller. Returns when the `Once` is complete or
    /// when this caller's own attempt failed (then `false`).
    pub(crate) fn run_once(&self, attempt: &mut dyn FnMut() -> bool) -> bool {
        loop {
            // Acquire: pairs with the runner's Release swap.
            let state = self.state.load(Ordering::Acquire);
            match state & PHASE_MASK {
                COMPLETE => return true,
                INCOMPLETE => {
                    if self
                        .state
                        .compare_exchange(state, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                        .is_err()
                    {
                        continue;
                    }
                    let mut finish = Finish {
                        once: self,
                        outcome: INCOMPLETE,
                    };
                    if attempt() {
                        finish.outcome = COMPLETE;
                    }
                    let completed = finish.outcome == COMPLETE;
                    drop(finish);
                    return completed;
                }
                _ => self.wait_for_runner(),
            }
        }
    }

    /// Parks until the current runner finishes (or returns at once if it already has).
    fn wait_for_runner(&self) {
        self.queue.wait(
            (),
            WaitReason::Once,
            None,
            |_queue| {
                let mut state = self.state.load(Ordering::Relaxed);
                loop {
                    if state & PHASE_MASK != RUNNING {
                        return None;
                    }
                    match self.state.compare_exchange_weak(
                        state,
                        state | WAITERS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return Some(Position::Back),
                        Err(current) => state = current,
                    }
                }
            },
            || {},
            |_queue| {},
        );
    }
}

/// Ends a run: publishes the outcome and wakes the waiters, also when the closure unwinds.
struct Finish<'a> {
    once: &'a Once,
    outcome: u8,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        // Release: publishes the closure's writes to every Acquire load that sees COMPLETE.
        let previous = self.once.state.swap(self.outcome, Ordering::Release);
        if previous & WAITERS != 0 {
            self.once.queue.lock().wake_all(WOKEN);
        }
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish_non_exhaustive()
    }
}
