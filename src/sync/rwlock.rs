//! `RwLock<T>` and its read/write guards: the data-owning face of [`RawRwLock`].
//!
//! The algorithm lives in `raw_rwlock.rs`. Invariant: `data` is reached only through a guard;
//! a read guard exists only while its reader is counted in `raw`, a write guard only while
//! `raw` is write-locked by it.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::raw_rwlock::RawRwLock;

/// A reader-writer lock that parks goroutines, not threads: Go's `sync.RWMutex` with the data
/// inside, like `std::sync::RwLock`.
///
/// Any number of readers, or one writer, hold it at a time. **A waiting writer stops new
/// readers** from entering (Go's rule), so writers do not starve under a steady stream of
/// readers; the readers that queued behind a writer enter together once it is done. Uncontended
/// read and write locking are one atomic operation each.
///
/// Because a queued writer blocks new readers, taking a read lock while already holding one
/// can deadlock (as in Go): do not lock recursively.
///
/// Like [`Mutex`](super::Mutex), it is never poisoned: a panic while holding a guard releases
/// the lock during unwinding (see the `Mutex` documentation for why).
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use gort::sync::RwLock;
///
/// let config = Arc::new(RwLock::new(String::from("v1")));
/// let readers: Vec<_> = (0..4)
///     .map(|_| {
///         let config = Arc::clone(&config);
///         std::thread::spawn(move || config.read().len())
///     })
///     .collect();
/// config.write().push_str(".1");
/// for reader in readers {
///     let length = reader.join().unwrap();
///     assert!(length == 2 || length == 4);
/// }
/// assert_eq!(*config.read(), "v1.1");
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: moving the lock moves the `T` inside.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: `&RwLock<T>` hands out `&T` to many threads at once (needs `T: Sync`) and `&mut T` to
// one at a time (needs `T: Send`), as for `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`. Usable in a `static`.
    ///
    /// ```
    /// static TABLE: gort::sync::RwLock<Vec<u32>> = gort::sync::RwLock::new(Vec::new());
    /// TABLE.write().push(1);
    /// assert_eq!(TABLE.read().len(), 1);
    /// ```
    pub const fn new(value: T) -> Self {
        RwLock {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the data.
    ///
    /// ```
    /// assert_eq!(gort::sync::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, parking while a writer holds the lock or is queued for it.
    ///
    /// ```
    /// let lock = gort::sync::RwLock::new(1);
    /// let first = lock.read();
    /// let second = lock.read(); // readers share
    /// assert_eq!(*first + *second, 2);
    /// ```
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw.read(None);
        RwLockReadGuard::new(self)
    }

    /// Locks for reading only if that is possible right now (no writer holds or awaits it).
    ///
    /// ```
    /// let lock = gort::sync::RwLock::new(0);
    /// let writer = lock.write();
    /// assert!(lock.try_read().is_none());
    /// drop(writer);
    /// assert!(lock.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_read().then(|| RwLockReadGuard::new(self))
    }

    /// Locks for reading, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = gort::sync::RwLock::new(0);
    /// let writer = lock.write();
    /// assert!(lock.read_timeout(Duration::from_millis(5)).is_none());
    /// drop(writer);
    /// assert!(lock.read_timeout(Duration::from_millis(5)).is_some());
    /// ```
    pub fn read_timeout(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.raw.read(deadline).then(|| RwLockReadGuard::new(self))
    }

    /// Locks for writing, parking while anyone holds the lock.
    ///
    /// ```
    /// let lock = gort::sync::RwLock::new(vec![1]);
    /// lock.write().push(2);
    /// assert_eq!(*lock.read(), [1, 2]);
    /// ```
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw.write(None);
        RwLockWriteGuard::new(self)
    }

    /// Locks for writing only if nobody holds the lock or waits for it right now.
    ///
    /// ```
    /// let lock = gort::sync::RwLock::new(0);
    /// let reader = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(reader);
    /// assert!(lock.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw.try_write().then(|| RwLockWriteGuard::new(self))
    }

    /// Locks for writing, waiting at most `timeout`. A writer that gives up lets the readers it
    /// was holding back proceed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = gort::sync::RwLock::new(0);
    /// let reader = lock.read();
    /// assert!(lock.write_timeout(Duration::from_millis(5)).is_none());
    /// drop(reader);
    /// *lock.write_timeout(Duration::from_millis(5)).unwrap() += 1;
    /// ```
    pub fn write_timeout(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.raw
            .write(deadline)
            .then(|| RwLockWriteGuard::new(self))
    }

    /// Whether a writer holds the lock at this instant (a snapshot).
    ///
    /// ```
    /// let lock = gort::sync::RwLock::new(());
    /// let guard = lock.write();
    /// assert!(lock.is_write_locked());
    /// # drop(guard);
    /// ```
    pub fn is_write_locked(&self) -> bool {
        self.raw.is_write_locked()
    }

    /// How many readers hold the lock at this instant (a snapshot).
    ///
    /// ```
    /// let lock = gort::sync::RwLock::new(());
    /// let (_a, _b) = (lock.read(), lock.read());
    /// assert_eq!(lock.reader_count(), 2);
    /// ```
    pub fn reader_count(&self) -> usize {
        self.raw.reader_count()
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds the lock.
    ///
    /// ```
    /// let mut lock = gort::sync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => debug.field("data", &&*guard),
            None => debug.field("data", &format_args!("<locked>")),
        };
        debug.finish_non_exhaustive()
    }
}

/// Shared access to an [`RwLock`]'s data; releases the read lock when dropped.
///
/// ```
/// let lock = gort::sync::RwLock::new(5);
/// let guard = lock.read();
/// assert_eq!(*guard, 5);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Opts out of the automatic `Send`/`Sync`; see the explicit impls.
    _not_auto: PhantomData<*const ()>,
}

// SAFETY: a read guard is a shared `&T` plus a counted reader that any thread may release; both
// may cross threads when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockReadGuard {
            lock,
            _not_auto: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: our reader is counted, so no writer (the only source of `&mut T`) holds the
        // lock until this guard is dropped.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.read_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]'s data; releases the write lock when dropped.
///
/// ```
/// let lock = gort::sync::RwLock::new(5);
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 6);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Opts out of the automatic `Send`/`Sync`; see the explicit impls.
    _not_auto: PhantomData<*const ()>,
}

// SAFETY: the guard is `&mut T` plus the write lock, which any thread may release.
unsafe impl<T: ?Sized + Send> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockWriteGuard {
            lock,
            _not_auto: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the write lock is held by this guard, so nobody else reaches the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held by this guard and `&mut self` makes this the only
        // access through it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
