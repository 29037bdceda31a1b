//! `Condvar`: wait for a condition protected by a gort [`Mutex`](super::Mutex) (Go's
//! `sync.Cond`).
//!
//! # Protocol
//! `wait` queues the caller *before* unlocking the mutex (the queue's `queued` hook runs after
//! linking), so a notifier that changes the condition under the mutex, and therefore after that
//! unlock, always finds the waiter queued: no wake-up is lost. After a wake-up (or a timeout,
//! or a spurious return, which cannot happen here but is allowed by the API) the waiter locks
//! the mutex again before returning.
//!
//! # Invariants
//! - `waiters` equals the queue length whenever the queue lock is free (both change under it).
//! - A notification wakes only waiters queued before it: `notify_one` dequeues exactly one,
//!   `notify_all` exactly those present. A waiter that timed out is no longer queued, so a
//!   `notify_one` never goes to a waiter that has already given up.
//!
//! # Memory ordering
//! `waiters` is read `Relaxed` by notifiers to skip the queue lock when nobody waits. That is
//! enough: a waiter increments it (under the queue lock) before it unlocks the mutex, and a
//! notifier that changed the condition did so under the mutex afterwards, so the increment
//! happens-before the notifier's load. The data itself is published by the mutex.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::waitq::{Position, WaitQueue, WaitResult, WOKEN};
use crate::runtime::g::WaitReason;

/// A condition variable working with gort's [`Mutex`](super::Mutex): Go's `sync.Cond`, shaped
/// like `std::sync::Condvar`.
///
/// [`wait`](Condvar::wait) atomically releases the mutex and parks; when notified it re-locks
/// the mutex and returns the guard. Always wait in a loop that re-checks the condition (or use
/// [`wait_while`](Condvar::wait_while)): another task may have changed it again between the
/// notification and the re-lock. One `Condvar` may be used with different mutexes over time.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use gort::sync::{Condvar, Mutex};
///
/// let state = Arc::new((Mutex::new(false), Condvar::new()));
/// let setter = {
///     let state = Arc::clone(&state);
///     std::thread::spawn(move || {
///         let (ready, changed) = &*state;
///         *ready.lock() = true;
///         changed.notify_one();
///     })
/// };
/// let (ready, changed) = &*state;
/// let guard = changed.wait_while(ready.lock(), |ready| !*ready);
/// assert!(*guard);
/// # drop(guard);
/// setter.join().unwrap();
/// ```
pub struct Condvar {
    queue: WaitQueue<()>,
    /// The number of queued waiters (module invariants).
    waiters: AtomicUsize,
}

/// Whether a timed wait on a [`Condvar`] returned because its time ran out.
///
/// ```
/// use std::time::Duration;
/// use gort::sync::{Condvar, Mutex};
/// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
/// let (_guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(1));
/// assert!(result.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout elapsed rather than by a notification.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable with no waiters. Usable in a `static`.
    pub const fn new() -> Self {
        Condvar {
            queue: WaitQueue::new(()),
            waiters: AtomicUsize::new(0),
        }
    }

    /// Releases the mutex behind `guard`, parks until notified, then re-locks it.
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    /// std::thread::scope(|scope| {
    ///     scope.spawn(|| {
    ///         *mutex.lock() = 1;
    ///         condvar.notify_all();
    ///     });
    ///     let mut guard = mutex.lock();
    ///     while *guard == 0 {
    ///         guard = condvar.wait(guard);
    ///     }
    /// });
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until(guard, None).0
    }

    /// Waits while `condition` holds, re-checking it after every wake-up with the mutex held.
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// let (queue, nonempty) = (Mutex::new(vec![1]), Condvar::new());
    /// let guard = nonempty.wait_while(queue.lock(), |items| items.is_empty());
    /// assert_eq!(*guard, [1]);
    /// ```
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Condvar::wait) but gives up after `timeout`. The mutex is re-locked in
    /// both cases.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gort::sync::{Condvar, Mutex};
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(5));
    /// assert!(result.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_until(guard, Instant::now().checked_add(timeout))
    }

    /// Waits while `condition` holds, for at most `timeout` in total. The result says whether
    /// time ran out with the condition still holding.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gort::sync::{Condvar, Mutex};
    /// let (mutex, condvar) = (Mutex::new(false), Condvar::new());
    /// let (guard, result) =
    ///     condvar.wait_timeout_while(mutex.lock(), Duration::from_millis(5), |ready| !*ready);
    /// assert!(result.timed_out() && !*guard);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = Instant::now().checked_add(timeout);
        while condition(&mut *guard) {
            let (relocked, result) = self.wait_until(guard, deadline);
            guard = relocked;
            if result.timed_out() {
                let still = condition(&mut *guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Wakes one waiting task, the one that has waited longest, if any.
    ///
    /// ```
    /// gort::sync::Condvar::new().notify_one(); // no waiter: nothing happens
    /// ```
    pub fn notify_one(&self) {
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut queue = self.queue.lock();
        if queue.wake_front(WOKEN) {
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Wakes every waiting task.
    ///
    /// ```
    /// gort::sync::Condvar::new().notify_all(); // no waiter: nothing happens
    /// ```
    pub fn notify_all(&self) {
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut queue = self.queue.lock();
        let woken = queue.wake_all(WOKEN);
        self.waiters.fetch_sub(woken, Ordering::Relaxed);
    }

    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = guard.mutex();
        let result = self.queue.wait(
            (),
            WaitReason::Condvar,
            deadline,
            |_queue| {
                self.waiters.fetch_add(1, Ordering::Relaxed);
                Some(Position::Back)
            },
            // Queued: now let go of the mutex (the guard's drop unlocks it).
            move || drop(guard),
            |_queue| {
                self.waiters.fetch_sub(1, Ordering::Relaxed);
            },
        );
        let guard = mutex.lock();
        (guard, WaitTimeoutResult(result == WaitResult::TimedOut))
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
