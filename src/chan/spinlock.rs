//! `SpinLock`: the lock around a channel's wait queues.
//!
//! Its critical sections are a few dozen instructions (link or unlink an entry, one CAS on a
//! waiter) and never park, unpark or run user code, so a spin lock fits: taking it is one
//! atomic swap and releasing it one plain store, where `std::sync::Mutex` pays a second
//! atomic read-modify-write to release (it must look for sleepers). A holder preempted by the
//! OS makes the others back off to `yield_now` ([`Backoff::snooze`]) rather than burn.
//!
//! # Memory ordering
//! The swap that takes the lock is `Acquire`; the store that releases it is `Release`:
//! everything written under the lock happens-before the next holder's critical section.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use super::backoff::Backoff;

/// A test-and-test-and-set lock around a `T`.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one holder at a time (the swap), so sharing
// the lock shares `T` only by moving access between threads: `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning (then yielding the thread) while another holds it.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        // Acquire: pairs with the Release store in `SpinGuard::drop`.
        if !self.locked.swap(true, Ordering::Acquire) {
            return SpinGuard { lock: self };
        }
        self.lock_contended()
    }

    #[cold]
    fn lock_contended(&self) -> SpinGuard<'_, T> {
        let mut backoff = Backoff::new();
        loop {
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            // Acquire: as in `lock`.
            if !self.locked.swap(true, Ordering::Acquire) {
                return SpinGuard { lock: self };
            }
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinLock")
            .field("value", &*self.lock())
            .finish()
    }
}

/// Access to the value while the lock is held; dropping it releases the lock.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard's existence means we hold the lock: nobody else accesses the value.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the Acquire swap of the next holder.
        self.lock.locked.store(false, Ordering::Release);
    }
}
