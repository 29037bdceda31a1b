//! `OnceCell<T>`: a value written once, then shared; built on [`Once`].
//!
//! Invariant: `value` is initialised exactly when `once` is completed. It is written only by the
//! single runner of `once` (before its `Release` completion) and read only after an `Acquire`
//! observation of completion, or through `&mut self`.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;

use super::once::Once;

/// A cell written at most once, whose readers park while another goroutine initialises it
/// (like `std::sync::OnceLock`, but parking goroutines, not threads).
///
/// If the initialising closure panics (or [`get_or_try_init`](OnceCell::get_or_try_init)'s
/// returns an error) the cell stays empty and the next caller tries again; nothing is poisoned.
///
/// # Example
/// ```
/// use gort::sync::OnceCell;
///
/// static GREETING: OnceCell<String> = OnceCell::new();
///
/// let value = GREETING.get_or_init(|| "hello".to_string());
/// assert_eq!(value, "hello");
/// // Later initialisers never run.
/// assert_eq!(GREETING.get_or_init(|| unreachable!()), "hello");
/// ```
pub struct OnceCell<T> {
    once: Once,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `&OnceCell<T>` hands out `&T` on any thread (needs `T: Sync`) and lets whichever
// thread initialises it move a `T` in (needs `T: Send`); the `Once` makes the write race-free.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: moving the cell moves the `T` inside.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> OnceCell<T> {
    /// An empty cell. Usable in a `static`.
    pub const fn new() -> Self {
        OnceCell {
            once: Once::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if the cell has been initialised.
    ///
    /// ```
    /// let cell = gort::sync::OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.get_or_init(|| 1);
    /// assert_eq!(cell.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: completed (observed with Acquire) means initialised and never written
            // again while shared (module invariant).
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// Mutable access to the value, if initialised.
    ///
    /// ```
    /// let mut cell = gort::sync::OnceCell::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            // SAFETY: initialised (module invariant) and `&mut self` is exclusive.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Returns the value, running `init` to produce it if the cell is empty. Racing callers
    /// park while one of them initialises.
    ///
    /// # Panics
    /// Propagates a panic of `init`; the cell then stays empty.
    ///
    /// ```
    /// let cell = gort::sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init(|| 92), 92);
    /// assert_eq!(*cell.get_or_init(|| 0), 92);
    /// ```
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(init())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_init`](OnceCell::get_or_init) for a fallible initialiser: on `Err` the
    /// cell stays empty and the error is returned; a later call tries again.
    ///
    /// ```
    /// let cell = gort::sync::OnceCell::new();
    /// assert_eq!(cell.get_or_try_init(|| Err("not yet")), Err("not yet"));
    /// assert_eq!(cell.get_or_try_init(|| Ok::<_, &str>(5)), Ok(&5));
    /// ```
    pub fn get_or_try_init<E>(&self, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        let mut init = Some(init);
        let mut error = None;
        self.once.run_once(&mut || {
            let Some(init) = init.take() else {
                return false;
            };
            match init() {
                Ok(value) => {
                    // SAFETY: we are the single runner of `once` and it is not complete, so no
                    // one else reads or writes `value` until our Release completion.
                    unsafe { (*self.value.get()).write(value) };
                    true
                }
                Err(failure) => {
                    error = Some(failure);
                    false
                }
            }
        });
        match error {
            Some(error) => Err(error),
            None => Ok(self.get().expect("a completed OnceCell holds a value")),
        }
    }

    /// Stores `value` if the cell is empty; otherwise hands it back.
    ///
    /// ```
    /// let cell = gort::sync::OnceCell::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initialiser runs once"));
        match value {
            Some(value) => Err(value),
            None => Ok(()),
        }
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut cell = gort::sync::OnceCell::from("x");
    /// assert_eq!(cell.take(), Some("x"));
    /// assert_eq!(cell.get(), None);
    /// ```
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_inner()
    }

    /// Consumes the cell, returning the value if it was initialised.
    ///
    /// ```
    /// let cell = gort::sync::OnceCell::new();
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.into_inner(), Some(3));
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        let initialised = self.once.is_completed();
        // Replace the state so `Drop` does not drop the value we move out.
        self.once = Once::new();
        // SAFETY: completed means initialised; the fresh `Once` above makes `Drop` skip it.
        initialised.then(|| unsafe { self.value.get_mut().assume_init_read() })
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: initialised (module invariant), dropped once, never used again.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T> From<T> for OnceCell<T> {
    fn from(value: T) -> Self {
        let cell = OnceCell::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: Clone> Clone for OnceCell<T> {
    fn clone(&self) -> Self {
        match self.get() {
            Some(value) => OnceCell::from(value.clone()),
            None => OnceCell::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(value) => f.debug_tuple("OnceCell").field(value).finish(),
            None => f.write_str("OnceCell(<uninit>)"),
        }
    }
}
