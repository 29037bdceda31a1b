//! `Mutex<T>` and its RAII guard: the data-owning face of [`RawMutex`].
//!
//! The lock algorithm (fast path, spinning, starvation mode) lives in `raw_mutex.rs`; this file
//! only ties the data to the lock. Invariant: `data` is accessed only through a `MutexGuard`,
//! and a `MutexGuard` exists only while `raw` is locked by it, or through `&mut self`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::raw_mutex::RawMutex;

/// A mutual-exclusion lock that parks the goroutine, not the thread: Go's `sync.Mutex` with the
/// data inside, like `std::sync::Mutex`.
///
/// [`lock`](Mutex::lock) returns a [`MutexGuard`]; the mutex unlocks when the guard is dropped,
/// so a forgotten unlock is impossible. Inside a goroutine a blocked `lock` parks only that
/// goroutine and its thread runs others; on a plain thread it blocks the thread.
///
/// - **Fast path**: an uncontended lock and unlock are one atomic compare-and-swap each.
/// - **Spinning**: a locker spins briefly before parking when nobody is queued yet.
/// - **Starvation mode** (as in Go): a waiter queued for more than 1 ms gets the lock handed to
///   it directly at the next unlock, and newcomers queue behind it instead of barging in, so
///   every waiter's wait is bounded.
///
/// # No poisoning
/// Unlike `std::sync::Mutex`, a panic while the lock is held does not poison it: the guard
/// unlocks during unwinding and the next `lock` succeeds. A goroutine's panic is caught and
/// reported by the runtime where it happened; poisoning would turn that one panic into a cascade
/// of panics in every goroutine that touches the mutex afterwards, which Go programs never see.
/// Code that must not observe half-finished updates should restore its invariants before
/// anything that can panic, as in Go.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use gort::sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         std::thread::spawn(move || {
///             for _ in 0..1000 {
///                 *counter.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// for worker in workers {
///     worker.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 4000);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one owner at a time, on whatever thread locks it;
// moving it (or the `T` inside) between threads only needs `T: Send`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: `&Mutex<T>` lets any thread obtain `&mut T`, one at a time (exclusion by `raw`), so
// sharing it needs `T: Send` and not `T: Sync`, exactly as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`. Usable in a `static`.
    ///
    /// ```
    /// static HITS: gort::sync::Mutex<u64> = gort::sync::Mutex::new(0);
    /// *HITS.lock() += 1;
    /// assert_eq!(*HITS.lock(), 1);
    /// ```
    pub const fn new(value: T) -> Self {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the data. No lock is needed: nobody else can hold it.
    ///
    /// ```
    /// let mutex = gort::sync::Mutex::new(vec![1, 2]);
    /// assert_eq!(mutex.into_inner(), vec![1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the caller until it is available, and returns the guard.
    ///
    /// Locking a mutex the caller already holds deadlocks (the mutex is not re-entrant).
    ///
    /// ```
    /// let mutex = gort::sync::Mutex::new(String::from("go"));
    /// mutex.lock().push_str("rt");
    /// assert_eq!(*mutex.lock(), "gort");
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard::new(self)
    }

    /// Locks the mutex only if it is free right now.
    ///
    /// ```
    /// let mutex = gort::sync::Mutex::new(1);
    /// let guard = mutex.try_lock().expect("free");
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| MutexGuard::new(self))
    }

    /// Locks the mutex, waiting at most `timeout`; `None` if it could not be locked in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mutex = gort::sync::Mutex::new(());
    /// let held = mutex.lock();
    /// assert!(mutex.lock_timeout(Duration::from_millis(10)).is_none());
    /// drop(held);
    /// assert!(mutex.lock_timeout(Duration::from_millis(10)).is_some());
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.lock_deadline(deadline),
            None => Some(self.lock()),
        }
    }

    /// Locks the mutex, waiting until `deadline` at the latest; `None` if it could not be
    /// locked in time.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mutex = gort::sync::Mutex::new(5);
    /// let guard = mutex.lock_deadline(Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(*guard, 5);
    /// ```
    pub fn lock_deadline(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.raw.lock_until(deadline).then(|| MutexGuard::new(self))
    }

    /// Whether the mutex is locked at this instant. Only a snapshot: by the time the caller
    /// looks at the answer it may have changed.
    ///
    /// ```
    /// let mutex = gort::sync::Mutex::new(0);
    /// let guard = mutex.lock();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Mutable access without locking: `&mut self` proves nobody else can hold the mutex.
    ///
    /// ```
    /// let mut mutex = gort::sync::Mutex::new(1);
    /// *mutex.get_mut() += 1;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => debug.field("data", &&*guard),
            None => debug.field("data", &format_args!("<locked>")),
        };
        debug.finish_non_exhaustive()
    }
}

/// Proof of holding a [`Mutex`]; gives access to the data and unlocks when dropped.
///
/// The guard may be sent to another thread or goroutine and dropped there (Go lets any
/// goroutine unlock a mutex), so it is `Send` when `T: Send`.
///
/// ```
/// let mutex = gort::sync::Mutex::new(vec![1]);
/// {
///     let mut guard = mutex.lock();
///     guard.push(2);
/// } // unlocked here
/// assert_eq!(mutex.lock().len(), 2);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Opts out of the automatic `Send`/`Sync`, which would not require `T: Sync` for `Sync`.
    _not_auto: PhantomData<*const ()>,
}

// SAFETY: the guard is the lock's ownership plus `&mut T`; unlocking `RawMutex` from another
// thread is allowed, so sending the guard needs only what sending `&mut T` needs: `T: Send`.
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: `&MutexGuard` only hands out `&T`, so sharing it needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Wraps a mutex the caller has just locked.
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _not_auto: PhantomData,
        }
    }

    /// The mutex this guard holds, for [`Condvar`](super::Condvar).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this mutex is locked by it, so no `&mut T`
        // exists elsewhere (module invariant).
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this mutex is locked by it, and `&mut self`
        // makes this the only access through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
