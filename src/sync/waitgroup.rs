//! `WaitGroup`: wait for a collection of goroutines to finish (Go's `sync.WaitGroup`).
//!
//! # State word (`state: AtomicU64`)
//! - bits 32..64: the counter, an `i32` (as in Go).
//! - bit 0 (`WAITERS`): someone may be queued in `wait`, so the transition to zero must look at
//!   the queue.
//! - bits 1..32: the *epoch*, the number of zero transitions that released waiters (wrapping).
//!
//! # Protocol
//! A waiter reads the epoch `e`, then under the queue lock sets `WAITERS` with a CAS that also
//! checks the counter is still non-zero and the epoch still `e`, and queues itself tagged `e`.
//! The `add`/`done` that brings the counter to zero with `WAITERS` set replaces the word, in one
//! CAS, by "counter 0, epoch e+1, no `WAITERS`", then under the queue lock wakes every queued
//! waiter whose tag differs from the current epoch. A tag differs exactly when the phase the
//! waiter was waiting for has ended, and older tags are always ahead of newer ones in the FIFO,
//! so the waiters of a finished phase form a prefix of the queue. Waiters of a new phase (after
//! the group is reused) keep waiting.
//!
//! # Invariants
//! - A queued waiter tagged with the current epoch was registered while the counter was
//!   non-zero, and `WAITERS` has been set since its registration (until the next zero transition
//!   clears it and advances the epoch).
//! - Exactly one `add`/`done` wins the CAS that ends an epoch, so each waiter is woken once.
//!
//! # Memory ordering
//! `add`/`done` are `AcqRel` read-modify-writes, so they form one release sequence; the epoch
//! CAS (`AcqRel`) acquires it and the wait queue's `Release` status store hands it to the woken
//! waiter. `wait`'s counter loads are `Acquire` and pair with the `done`s directly. Hence
//! everything a task did before `done` happens-before `wait` returns.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::waitq::{Position, WaitQueue, WaitResult, WOKEN};
use crate::runtime::g::WaitReason;
use crate::runtime::join::JoinHandle;
use crate::runtime::spawn::{spawn_at, Builder};

const WAITERS: u64 = 1;
const EPOCH_SHIFT: u32 = 1;
const EPOCH_MASK: u64 = (1 << 31) - 1;
const COUNTER_SHIFT: u32 = 32;

fn counter(state: u64) -> i32 {
    (state >> COUNTER_SHIFT) as i32
}

fn epoch(state: u64) -> u32 {
    ((state >> EPOCH_SHIFT) & EPOCH_MASK) as u32
}

/// Waits for a collection of tasks to finish: Go's `sync.WaitGroup`.
///
/// The counter goes up with [`add`](WaitGroup::add) (or [`enter`](WaitGroup::enter)) before a
/// task starts and down with [`done`](WaitGroup::done) when it finishes; [`wait`](WaitGroup::wait)
/// parks until the counter is zero. Inside a goroutine `wait` parks only that goroutine.
///
/// A `WaitGroup` is a cheap handle: cloning it gives another handle to the **same** group
/// (an `Arc` inside), so a clone moves into each task without wrapping it in an `Arc` yourself.
/// The group can be reused once a `wait` has returned: start adding again for the next batch.
///
/// Prefer [`enter`](WaitGroup::enter): the [`WaitGroupToken`] it returns calls `done` when
/// dropped, so a task cannot forget it, even when it panics.
///
/// # Example
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use gort::sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// let finished = Arc::new(AtomicUsize::new(0));
/// for _ in 0..8 {
///     let token = wg.enter();
///     let finished = Arc::clone(&finished);
///     std::thread::spawn(move || {
///         finished.fetch_add(1, Ordering::Relaxed);
///         drop(token); // done()
///     });
/// }
/// wg.wait();
/// assert_eq!(finished.load(Ordering::Relaxed), 8);
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: AtomicU64,
    /// Waiters tagged with the epoch they wait to see end.
    queue: WaitQueue<u32>,
}

impl WaitGroup {
    /// A group with a zero counter.
    pub fn new() -> Self {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the counter. When it reaches zero every task
    /// blocked in [`wait`](WaitGroup::wait) is released.
    ///
    /// As in Go, calls with a positive delta that start from zero should happen before the
    /// `wait` they are meant to hold up (typically: `add` before spawning the task).
    ///
    /// # Panics
    /// With `"sync: negative WaitGroup counter"` if the counter would drop below zero (more
    /// `done`s than `add`s), and with `"sync: WaitGroup counter overflow"` if it would exceed
    /// `i32::MAX`. The counter is left unchanged.
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// assert_eq!(wg.count(), 1);
    /// wg.add(-1);
    /// wg.wait(); // returns at once: the counter is zero
    /// ```
    pub fn add(&self, delta: isize) {
        let Ok(delta) = i32::try_from(delta) else {
            panic!("sync: WaitGroup counter overflow");
        };
        let shifted = (delta as i64 as u64) << COUNTER_SHIFT;
        // AcqRel: see the module's memory-ordering rules.
        let previous = self.inner.state.fetch_add(shifted, Ordering::AcqRel);
        let Some(now) = counter(previous).checked_add(delta) else {
            self.inner.state.fetch_sub(shifted, Ordering::AcqRel);
            panic!("sync: WaitGroup counter overflow");
        };
        if now < 0 {
            self.inner.state.fetch_sub(shifted, Ordering::AcqRel);
            panic!("sync: negative WaitGroup counter");
        }
        if now == 0 && previous & WAITERS != 0 {
            self.release(previous.wrapping_add(shifted));
        }
    }

    /// Decrements the counter by one: a task is finished.
    ///
    /// # Panics
    /// With `"sync: negative WaitGroup counter"` if the counter is already zero.
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(1);
    /// let worker = wg.clone();
    /// std::thread::spawn(move || worker.done());
    /// wg.wait();
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// Adds one to the counter and returns a token that calls [`done`](WaitGroup::done) when
    /// dropped: the guard form, so `done` cannot be forgotten. The token owns a handle to the
    /// group and is `Send`: move it into the task.
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// let token = wg.enter();
    /// assert_eq!(wg.count(), 1);
    /// std::thread::spawn(move || {
    ///     let _token = token; // done() when the task ends, even by panicking
    /// });
    /// wg.wait();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn enter(&self) -> WaitGroupToken {
        self.add(1);
        WaitGroupToken {
            group: self.clone(),
        }
    }

    /// Runs `task` in a new goroutine counted by this group: `enter` plus `gort::spawn`, with
    /// the token dropped when the goroutine ends (Go 1.25's `WaitGroup.Go`). The returned
    /// handle gives the task's result or its panic.
    ///
    /// # Panics
    /// If the goroutine cannot be created (see [`gort::spawn`](crate::spawn)); the counter is
    /// then left unchanged.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let wg = gort::sync::WaitGroup::new();
    /// let sum = Arc::new(AtomicUsize::new(0));
    /// for i in 1..=10 {
    ///     let sum = Arc::clone(&sum);
    ///     wg.go(move || sum.fetch_add(i, Ordering::Relaxed));
    /// }
    /// wg.wait();
    /// assert_eq!(sum.load(Ordering::Relaxed), 55);
    /// ```
    #[track_caller]
    pub fn go<F, T>(&self, task: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let token = self.enter();
        let counted = move || {
            let _token = token;
            task()
        };
        // On failure the closure, token included, is dropped: the counter goes back down.
        match spawn_at(Builder::new(), counted, Location::caller()) {
            Ok(handle) => handle,
            Err(error) => panic!("gort: cannot spawn a goroutine: {error}"),
        }
    }

    /// Parks the caller until the counter is zero. Returns at once if it already is.
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.wait(); // nothing to wait for
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Like [`wait`](WaitGroup::wait) but gives up after `timeout`; returns whether the counter
    /// reached zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let wg = gort::sync::WaitGroup::new();
    /// let token = wg.enter();
    /// assert!(!wg.wait_timeout(Duration::from_millis(5)));
    /// drop(token);
    /// assert!(wg.wait_timeout(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// The counter at this instant (a snapshot).
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// let _token = wg.enter();
    /// assert_eq!(wg.count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        counter(self.inner.state.load(Ordering::Relaxed)).max(0) as usize
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let state = &self.inner.state;
        loop {
            // Acquire: pairs with the AcqRel of the `done` that brought the counter to zero.
            let current = state.load(Ordering::Acquire);
            if counter(current) == 0 {
                return true;
            }
            let waiting_for = epoch(current);
            let result = self.inner.queue.wait(
                waiting_for,
                WaitReason::WaitGroup,
                deadline,
                |_queue| {
                    let mut current = state.load(Ordering::Acquire);
                    loop {
                        if counter(current) == 0 || epoch(current) != waiting_for {
                            return None;
                        }
                        match state.compare_exchange_weak(
                            current,
                            current | WAITERS,
                            Ordering::Relaxed,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => return Some(Position::Back),
                            Err(actual) => current = actual,
                        }
                    }
                },
                || {},
                |_queue| {},
            );
            match result {
                WaitResult::Woken(_) => return true,
                WaitResult::NotQueued => continue,
                // The epoch may have ended just before we gave up; then report success.
                // Acquire: pairs with the epoch CAS in `release`.
                WaitResult::TimedOut => return epoch(state.load(Ordering::Acquire)) != waiting_for,
            }
        }
    }

    /// Ends the current epoch if the counter is zero with waiters registered, and wakes them.
    #[cold]
    fn release(&self, mut observed: u64) {
        let state = &self.inner.state;
        loop {
            if counter(observed) != 0 || observed & WAITERS == 0 {
                return;
            }
            let next_epoch = (u64::from(epoch(observed)) + 1) & EPOCH_MASK;
            // AcqRel: acquire the `done`s' release sequence, publish it to the woken waiters.
            match state.compare_exchange(
                observed,
                next_epoch << EPOCH_SHIFT,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => observed = actual,
            }
        }
        let mut queue = self.inner.queue.lock();
        // Read under the queue lock: waiters register under it with the then-current epoch.
        let current = epoch(state.load(Ordering::Relaxed));
        queue.wake_front_while(|&waiting_for, _| (waiting_for != current).then_some(WOKEN));
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

/// One unit of a [`WaitGroup`]'s counter, returned by [`WaitGroup::enter`]; calls
/// [`done`](WaitGroup::done) when dropped.
///
/// ```
/// let wg = gort::sync::WaitGroup::new();
/// let token = wg.enter();
/// token.done(); // the same as drop(token)
/// assert_eq!(wg.count(), 0);
/// ```
#[must_use = "dropping the token at once calls done() immediately"]
pub struct WaitGroupToken {
    group: WaitGroup,
}

impl WaitGroupToken {
    /// Calls `done` now (the same as dropping the token).
    pub fn done(self) {
        drop(self);
    }
}

impl Drop for WaitGroupToken {
    fn drop(&mut self) {
        self.group.done();
    }
}

impl fmt::Debug for WaitGroupToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupToken")
            .field("group", &self.group)
            .finish()
    }
}
