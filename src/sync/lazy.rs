//! `Lazy<T, F>`: a value computed on first use, built on [`OnceCell`].

use std::fmt;
use std::ops::Deref;

use super::once_cell::OnceCell;

/// A value initialised on first access, typically in a `static` (like `std::sync::LazyLock`,
/// but racing goroutines park instead of blocking their threads).
///
/// The initialiser is an `Fn`, not an `FnOnce`: if it panics, the `Lazy` stays uninitialised
/// and the next access runs it again, just like [`OnceCell`] and [`Once`](super::Once) — a
/// `Lazy` is never poisoned. Plain functions and non-consuming closures are `Fn`.
///
/// # Example
/// ```
/// use std::collections::HashMap;
/// use gort::sync::Lazy;
///
/// static PRIMES: Lazy<HashMap<u32, bool>> =
///     Lazy::new(|| [2, 3, 5, 7].into_iter().map(|prime| (prime, true)).collect());
///
/// assert!(PRIMES.contains_key(&5));
/// assert_eq!(PRIMES.len(), 4);
/// ```
pub struct Lazy<T, F = fn() -> T> {
    cell: OnceCell<T>,
    init: F,
}

impl<T, F: Fn() -> T> Lazy<T, F> {
    /// A `Lazy` that runs `init` on first access.
    pub const fn new(init: F) -> Self {
        Lazy {
            cell: OnceCell::new(),
            init,
        }
    }

    /// Initialises the value if needed and returns it (what `Deref` does).
    ///
    /// # Panics
    /// Propagates a panic of the initialiser; the value then stays uninitialised.
    ///
    /// ```
    /// let lazy = gort::sync::Lazy::new(|| 6 * 7);
    /// assert_eq!(*gort::sync::Lazy::force(&lazy), 42);
    /// ```
    pub fn force(this: &Self) -> &T {
        this.cell.get_or_init(&this.init)
    }

    /// The value if it has been initialised, without initialising it.
    ///
    /// ```
    /// use gort::sync::Lazy;
    /// let lazy = Lazy::new(|| 1);
    /// assert_eq!(Lazy::get(&lazy), None);
    /// let _ = *lazy;
    /// assert_eq!(Lazy::get(&lazy), Some(&1));
    /// ```
    pub fn get(this: &Self) -> Option<&T> {
        this.cell.get()
    }
}

impl<T, F: Fn() -> T> Deref for Lazy<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        Lazy::force(self)
    }
}

impl<T: Default> Default for Lazy<T> {
    fn default() -> Self {
        Lazy::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for Lazy<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell.get() {
            Some(value) => f.debug_tuple("Lazy").field(value).finish(),
            None => f.write_str("Lazy(<uninit>)"),
        }
    }
}
