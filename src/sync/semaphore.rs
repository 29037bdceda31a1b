//! `Semaphore`: a fair counting semaphore whose permits come back through RAII guards (Go's
//! `golang.org/x/sync/semaphore.Weighted`, or a buffered channel used as one).
//!
//! # State word (`state: AtomicUsize`)
//! `state >> PERMIT_SHIFT` is the number of available permits; bit `QUEUED` says the queue is
//! not empty. While `QUEUED` is set nobody takes permits on the fast path: they queue behind,
//! so a large request at the head is not starved by a stream of small ones (strict FIFO, as in
//! `x/sync/semaphore`).
//!
//! # Invariants (whenever the queue lock is free)
//! - `QUEUED` ⟺ the queue is not empty.
//! - If the queue is not empty, its head wants more permits than are available: every release
//!   and every cancellation runs the dispatcher, which grants from the head while permits last.
//! - A granted waiter's permits are already subtracted from the state word when it is woken.
//!
//! # Memory ordering
//! Acquiring RMWs are `Acquire` and releasing ones `Release`, pairing through the word; the
//! dispatcher's grant is `AcqRel` and the wait queue's status store (`Release`/`Acquire`) passes
//! the release on to the granted waiter. `QUEUED` changes are made under the queue lock.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::waitq::{Position, QueueGuard, WaitQueue, WaitResult, WOKEN};
use crate::runtime::g::WaitReason;

const QUEUED: usize = 1;
const PERMIT_SHIFT: u32 = 1;

/// A counting semaphore that parks goroutines, not threads.
///
/// [`acquire`](Semaphore::acquire) takes `n` permits, parking while too few are available, and
/// returns a [`SemaphorePermit`] that gives them back when dropped. Waiters are served strictly
/// in arrival order: while anyone is queued, newcomers queue behind them even if enough
/// permits are free, so a large request is never starved by small ones. A request for more
/// permits than the semaphore will ever have therefore blocks everyone behind it.
///
/// # Example
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use gort::sync::Semaphore;
///
/// // At most 2 of the 6 workers are inside at a time.
/// let slots = Arc::new(Semaphore::new(2));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let workers: Vec<_> = (0..6)
///     .map(|_| {
///         let (slots, inside) = (Arc::clone(&slots), Arc::clone(&inside));
///         std::thread::spawn(move || {
///             let _permit = slots.acquire(1);
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///             inside.fetch_sub(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for worker in workers {
///     worker.join().unwrap();
/// }
/// assert_eq!(slots.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    /// Waiters, each tagged with the number of permits it wants.
    queue: WaitQueue<usize>,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> (PERMIT_SHIFT + 1);

    /// A semaphore holding `permits` permits. Usable in a `static`.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// static LIMIT: gort::sync::Semaphore = gort::sync::Semaphore::new(4);
    /// let _permit = LIMIT.acquire(1);
    /// assert_eq!(LIMIT.available_permits(), 3);
    /// ```
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "semaphore permits exceed MAX_PERMITS"
        );
        Semaphore {
            state: AtomicUsize::new(permits << PERMIT_SHIFT),
            queue: WaitQueue::new(()),
        }
    }

    /// The number of permits available right now (a snapshot).
    ///
    /// ```
    /// let semaphore = gort::sync::Semaphore::new(3);
    /// let _two = semaphore.acquire(2);
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) >> PERMIT_SHIFT
    }

    /// Takes `permits` permits, parking until they are available and every earlier waiter has
    /// been served.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let semaphore = gort::sync::Semaphore::new(2);
    /// let permit = semaphore.acquire(2);
    /// assert_eq!(permit.permits(), 2);
    /// drop(permit);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    pub fn acquire(&self, permits: usize) -> SemaphorePermit<'_> {
        self.acquire_raw(permits, None);
        SemaphorePermit {
            semaphore: self,
            permits,
        }
    }

    /// Takes `permits` permits only if that is possible right now without overtaking a queued
    /// waiter.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let semaphore = gort::sync::Semaphore::new(1);
    /// let held = semaphore.try_acquire(1).unwrap();
    /// assert!(semaphore.try_acquire(1).is_none());
    /// drop(held);
    /// assert!(semaphore.try_acquire(1).is_some());
    /// ```
    pub fn try_acquire(&self, permits: usize) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_raw(permits).then(|| SemaphorePermit {
            semaphore: self,
            permits,
        })
    }

    /// Takes `permits` permits, waiting at most `timeout`.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let semaphore = gort::sync::Semaphore::new(1);
    /// let _held = semaphore.acquire(1);
    /// assert!(semaphore.acquire_timeout(1, Duration::from_millis(5)).is_none());
    /// ```
    pub fn acquire_timeout(
        &self,
        permits: usize,
        timeout: Duration,
    ) -> Option<SemaphorePermit<'_>> {
        let deadline = Instant::now().checked_add(timeout);
        self.acquire_raw(permits, deadline)
            .then(|| SemaphorePermit {
                semaphore: self,
                permits,
            })
    }

    /// Like [`acquire`](Semaphore::acquire) on a shared semaphore, returning a permit that owns
    /// a handle to it, so it can move into a goroutine.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let semaphore = Arc::new(gort::sync::Semaphore::new(1));
    /// let permit = semaphore.acquire_owned(1);
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn acquire_owned(self: &Arc<Self>, permits: usize) -> OwnedSemaphorePermit {
        self.acquire_raw(permits, None);
        OwnedSemaphorePermit {
            semaphore: Arc::clone(self),
            permits,
        }
    }

    /// Like [`try_acquire`](Semaphore::try_acquire), returning an owning permit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let semaphore = Arc::new(gort::sync::Semaphore::new(0));
    /// assert!(semaphore.try_acquire_owned(1).is_none());
    /// ```
    pub fn try_acquire_owned(self: &Arc<Self>, permits: usize) -> Option<OwnedSemaphorePermit> {
        self.try_acquire_raw(permits).then(|| OwnedSemaphorePermit {
            semaphore: Arc::clone(self),
            permits,
        })
    }

    /// Adds `permits` new permits, waking waiters they satisfy.
    ///
    /// # Panics
    /// If the total would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let semaphore = gort::sync::Semaphore::new(0);
    /// semaphore.add_permits(2);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, permits: usize) {
        check_request(permits);
        let shifted = permits << PERMIT_SHIFT;
        // Release: pairs with the Acquire of whoever takes these permits.
        let previous = self.state.fetch_add(shifted, Ordering::Release);
        if (previous >> PERMIT_SHIFT) + permits > Self::MAX_PERMITS {
            self.state.fetch_sub(shifted, Ordering::Relaxed);
            panic!("semaphore permits exceed MAX_PERMITS");
        }
        if previous & QUEUED != 0 {
            self.dispatch(&mut self.queue.lock());
        }
    }

    fn try_acquire_raw(&self, permits: usize) -> bool {
        check_request(permits);
        let wanted = permits << PERMIT_SHIFT;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & QUEUED != 0 || state < wanted {
                return false;
            }
            // Acquire: pairs with the Release that returned these permits.
            match self.state.compare_exchange_weak(
                state,
                state - wanted,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => state = current,
            }
        }
    }

    fn acquire_raw(&self, permits: usize, deadline: Option<Instant>) -> bool {
        loop {
            if self.try_acquire_raw(permits) {
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            let result = self.queue.wait(
                permits,
                WaitReason::Semaphore,
                deadline,
                |_queue| {
                    let wanted = permits << PERMIT_SHIFT;
                    let mut state = self.state.load(Ordering::Relaxed);
                    loop {
                        if state & QUEUED == 0 && state >= wanted {
                            return None; // enough permits and nobody ahead: retry the fast path
                        }
                        match self.state.compare_exchange_weak(
                            state,
                            state | QUEUED,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => return Some(Position::Back),
                            Err(current) => state = current,
                        }
                    }
                },
                || {},
                // Leaving may unblock the waiters behind us (we may have been the head).
                |queue| self.dispatch(queue),
            );
            match result {
                WaitResult::NotQueued => {}
                WaitResult::Woken(_) => return true,
                WaitResult::TimedOut => return false,
            }
        }
    }

    fn release(&self, permits: usize) {
        // Release: pairs with the Acquire of whoever takes these permits next.
        let previous = self
            .state
            .fetch_add(permits << PERMIT_SHIFT, Ordering::Release);
        if previous & QUEUED != 0 {
            self.dispatch(&mut self.queue.lock());
        }
    }

    /// Grants permits to waiters from the front while they last, then updates `QUEUED`. Runs
    /// under the queue lock.
    fn dispatch(&self, queue: &mut QueueGuard<'_, usize, ()>) {
        queue.wake_front_while(|&permits, _| {
            let wanted = permits << PERMIT_SHIFT;
            // AcqRel: acquire the releases that returned the permits, publish the grant.
            self.state
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |state| {
                    (state >> PERMIT_SHIFT >= permits).then(|| state - wanted)
                })
                .ok()
                .map(|_| WOKEN)
        });
        if queue.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }
}

/// Rejects requests the state word cannot represent.
fn check_request(permits: usize) {
    assert!(
        permits <= Semaphore::MAX_PERMITS,
        "semaphore request exceeds MAX_PERMITS"
    );
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

/// Permits taken from a [`Semaphore`]; they go back when this is dropped.
///
/// ```
/// let semaphore = gort::sync::Semaphore::new(1);
/// {
///     let _permit = semaphore.acquire(1);
///     assert_eq!(semaphore.available_permits(), 0);
/// }
/// assert_eq!(semaphore.available_permits(), 1);
/// ```
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the semaphore for good (shrinking it).
    ///
    /// ```
    /// let semaphore = gort::sync::Semaphore::new(2);
    /// semaphore.acquire(1).forget();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits taken from an `Arc<Semaphore>`, owning a handle to it so they can move anywhere;
/// they go back when this is dropped.
///
/// ```
/// use std::sync::Arc;
/// let semaphore = Arc::new(gort::sync::Semaphore::new(1));
/// let permit = semaphore.acquire_owned(1);
/// assert_eq!(permit.permits(), 1);
/// ```
#[must_use = "dropping the permit releases it at once"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the semaphore for good (shrinking it).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let semaphore = Arc::new(gort::sync::Semaphore::new(1));
    /// semaphore.acquire_owned(1).forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
