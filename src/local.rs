//! Goroutine-local storage: `gort::local!` and [`LocalKey`], the replacement for
//! `thread_local!` inside goroutines.
//!
//! A goroutine can resume on another OS thread after any blocking call, so a `thread_local!`
//! read before a `recv` and after it may be two different values. A `local!` value belongs to
//! the goroutine instead: it is created lazily on first access in that goroutine, follows it
//! across threads, and is dropped when the goroutine finishes. Outside a goroutine (a plain
//! thread, a timer callback) the same key falls back to one value per thread, dropped when the
//! thread exits, as `thread_local!` would.
//!
//! # What it owns
//! - [`LocalTable`]: the values of one goroutine (a field of the G header) or of one thread (a
//!   `thread_local!` fallback): a boxed slice of slots indexed by key (two words in the G
//!   header, reallocated when a key past its end is first used).
//! - [`LocalKey`]: a static with the initialiser and the key's index, assigned on first use
//!   from a global counter.
//!
//! # Invariants
//! - *Single owner*: a goroutine's table is touched only by that goroutine while it runs (found
//!   through `current_g`, which names the G running on the calling thread) and by its entry
//!   wrapper when it finishes, which runs in the same goroutine. A thread's table is touched
//!   only by its thread. So no two threads ever access one table.
//! - *Index ↔ type*: a key's index is assigned once (CAS from 0) and never reused; every value
//!   stored at that index was made by that key's initialiser (or `set`), so it has type `T`.
//! - *Stable values*: a slot goes empty → initialising → full (`value` non-null) and never
//!   leaves full until the table is destroyed; each value is boxed, so a `&T` handed to a
//!   `with` closure stays valid while the slot vector grows (an initialiser or the closure
//!   may touch other keys).
//! - *No borrow across user code*: the slot vector is borrowed mutably only for a few
//!   instructions, never while an initialiser, a `with` closure or a destructor runs.
//! - *Destroyed is final*: once a table starts destroying its values, every access to it
//!   fails with [`AccessError`]; no value is created after destruction, so none is leaked.
//!
//! # Memory ordering
//! Only the key index is shared between threads; it is a plain number published with a
//! `Relaxed` CAS (no data is published with it). Values themselves never cross threads except
//! with their goroutine, and a goroutine's move between threads is ordered by the scheduler.
//!
//! # Cost
//! An access is `current_g()` (a call and a thread-local read, the same accessor the runtime
//! uses), one bounds check and one load: about 3 ns where a `thread_local!` access costs 1.5
//! (`benches/local.rs`). The difference is the non-inlined accessor, which keeps a
//! thread-local address from being cached across a goroutine switch.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::runtime::join::AnyResult;
use crate::runtime::m;

/// Declares goroutine-local statics: one value per goroutine (per thread outside goroutines).
///
/// Same syntax as `thread_local!`; each static is a [`LocalKey`]. The initialiser runs lazily,
/// the first time a goroutine touches the key, and the value is dropped when the goroutine
/// finishes.
///
/// ```
/// use std::cell::Cell;
/// gort::local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
///
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         gort::go!(|| {
///             for _ in 0..3 {
///                 REQUESTS.set(REQUESTS.get() + 1);
///                 gort::yield_now(); // may resume on another thread: the value follows
///             }
///             REQUESTS.get()
///         })
///     })
///     .collect();
/// for h in handles {
///     assert_eq!(h.join().unwrap(), 3); // each goroutine counted its own
/// }
/// ```
#[macro_export]
macro_rules! local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = {
            fn __gort_local_init() -> $t {
                $init
            }
            $crate::LocalKey::__new(__gort_local_init)
        };
    };
}

/// A goroutine-local value's key, declared with [`local!`](crate::local).
///
/// Each goroutine that touches the key gets its own value, made by the key's initialiser on
/// first access and dropped when the goroutine finishes; a plain thread gets one per thread.
/// Unlike a `thread_local!`, the value stays the same when the goroutine resumes on another OS
/// thread after a blocking call.
///
/// Values need not be `Send`: they never leave their goroutine, and a goroutine moves between
/// threads as a whole, like the values on its stack.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// 0 while unassigned, else the table index plus one.
    index: AtomicUsize,
}

/// A goroutine-local value was accessed while its goroutine's (or thread's) values were being
/// destroyed, or after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot access a goroutine-local value during or after its destruction")
    }
}

impl std::error::Error for AccessError {}

/// Hands out key indices; index `n` is stored as `n + 1` in `LocalKey::index`.
static NEXT_INDEX: AtomicUsize = AtomicUsize::new(0);

impl<T: 'static> LocalKey<T> {
    /// Used by [`local!`](crate::local); not a stable API.
    #[doc(hidden)]
    pub const fn __new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
        }
    }

    /// Runs `f` with a reference to the calling goroutine's value, creating it first if needed.
    ///
    /// ```
    /// gort::local! { static NAME: String = String::from("anonymous"); }
    /// let len = gort::go!(|| NAME.with(|name| name.len())).join().unwrap();
    /// assert_eq!(len, 9);
    /// ```
    ///
    /// # Panics
    /// If the value is being destroyed or was destroyed (from another local's destructor; see
    /// [`try_with`](LocalKey::try_with)), or if the initialiser accesses this same key.
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("gort::local!: {e}"),
        }
    }

    /// Like [`with`](LocalKey::with), but returns [`AccessError`] instead of panicking when the
    /// goroutine's (or thread's) values are being or have been destroyed.
    ///
    /// ```
    /// gort::local! { static ID: u64 = 7; }
    /// assert_eq!(ID.try_with(|id| *id), Ok(7));
    /// ```
    ///
    /// # Errors
    /// [`AccessError`] during or after destruction.
    ///
    /// # Panics
    /// If the initialiser accesses this same key.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let value = self.get_or_init(|| (self.init)())?.0;
        // SAFETY: `value` points into a boxed `T` in a Full slot of the calling goroutine's or
        // thread's table; slots stay Full until the table is destroyed, which happens only when
        // the goroutine or thread finishes, not while it runs this closure (module invariants).
        Ok(f(unsafe { &*value }))
    }

    /// The value's address, creating it with `init` if the slot is empty. The flag says
    /// whether `init` was used.
    #[inline]
    fn get_or_init(
        &'static self,
        init: impl FnOnce() -> T,
    ) -> Result<(*const T, bool), AccessError> {
        let index = self.index();
        with_current_table(|table| match table.get(index) {
            Some(value) => Ok((value.cast::<T>(), false)),
            None => table.initialize(index, init).map(|value| (value, true)),
        })
    }

    fn index(&self) -> usize {
        match self.index.load(Ordering::Relaxed) {
            0 => self.assign_index(),
            stored => stored - 1,
        }
    }

    #[cold]
    fn assign_index(&self) -> usize {
        let fresh = NEXT_INDEX.fetch_add(1, Ordering::Relaxed) + 1;
        // Relaxed: the index is a plain number; nothing else is published with it. A loser
        // of the race adopts the winner's index (its own is never used: a harmless hole).
        match self
            .index
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            Err(winner) => winner - 1,
        }
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the calling goroutine's value (without running the initialiser if it had none).
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static DEPTH: Cell<u32> = Cell::new(0); }
    /// DEPTH.set(3);
    /// assert_eq!(DEPTH.get(), 3);
    /// ```
    ///
    /// # Panics
    /// As [`with`](LocalKey::with).
    pub fn set(&'static self, value: T) {
        let mut value = Some(value);
        let (cell, fresh) = self
            .get_or_init(|| Cell::new(value.take().expect("taken once")))
            .unwrap_or_else(|e| panic!("gort::local!: {e}"));
        if !fresh {
            // SAFETY: as in `try_with`: a Full slot's value lives as long as its table.
            unsafe { &*cell }.set(value.take().expect("not used by the initialiser"));
        }
    }

    /// A copy of the calling goroutine's value.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static HITS: Cell<u64> = Cell::new(1); }
    /// assert_eq!(gort::go!(|| HITS.get()).join().unwrap(), 1);
    /// ```
    ///
    /// # Panics
    /// As [`with`](LocalKey::with).
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the value, leaving `T::default()`.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static LAST: Cell<Option<u8>> = Cell::new(Some(1)); }
    /// assert_eq!(LAST.take(), Some(1));
    /// assert_eq!(LAST.take(), None);
    /// ```
    ///
    /// # Panics
    /// As [`with`](LocalKey::with).
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the value, returning the old one.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static MODE: Cell<char> = Cell::new('a'); }
    /// assert_eq!(MODE.replace('b'), 'a');
    /// assert_eq!(MODE.get(), 'b');
    /// ```
    ///
    /// # Panics
    /// As [`with`](LocalKey::with).
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with a shared borrow of the value.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static TRAIL: RefCell<Vec<u8>> = RefCell::new(vec![1, 2]); }
    /// assert_eq!(TRAIL.with_borrow(|trail| trail.len()), 2);
    /// ```
    ///
    /// # Panics
    /// As [`with`](LocalKey::with), or if the value is mutably borrowed.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Runs `f` with a mutable borrow of the value.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static TRAIL: RefCell<Vec<u8>> = RefCell::new(Vec::new()); }
    /// TRAIL.with_borrow_mut(|trail| trail.push(9));
    /// assert_eq!(TRAIL.with_borrow(|trail| trail.clone()), [9]);
    /// ```
    ///
    /// # Panics
    /// As [`with`](LocalKey::with), or if the value is already borrowed.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets the value (without running the initialiser if there was none).
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static USER: RefCell<String> = RefCell::new(String::new()); }
    /// USER.set("ana".to_owned());
    /// assert_eq!(USER.with_borrow(|u| u.clone()), "ana");
    /// ```
    ///
    /// # Panics
    /// As [`with_borrow_mut`](LocalKey::with_borrow_mut).
    pub fn set(&'static self, value: T) {
        let mut value = Some(value);
        let (cell, fresh) = self
            .get_or_init(|| RefCell::new(value.take().expect("taken once")))
            .unwrap_or_else(|e| panic!("gort::local!: {e}"));
        if !fresh {
            // SAFETY: as in `try_with`: a Full slot's value lives as long as its table.
            *unsafe { &*cell }.borrow_mut() = value.take().expect("not used by the initialiser");
        }
    }

    /// Takes the value, leaving `T::default()`.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static BUF: RefCell<Vec<u8>> = RefCell::new(vec![4]); }
    /// assert_eq!(BUF.take(), [4]);
    /// assert!(BUF.take().is_empty());
    /// ```
    ///
    /// # Panics
    /// As [`with_borrow_mut`](LocalKey::with_borrow_mut).
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the value, returning the old one.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static TAG: RefCell<&'static str> = RefCell::new("x"); }
    /// assert_eq!(TAG.replace("y"), "x");
    /// ```
    ///
    /// # Panics
    /// As [`with_borrow_mut`](LocalKey::with_borrow_mut).
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// One key's slot in a table.
struct Slot {
    /// The value's address while the slot is full, else null: all the hot path reads.
    value: *const (),
    /// The value itself, boxed so that `value` stays valid while the vector grows. Never
    /// read: held so that dropping the slot drops the value.
    #[allow(dead_code)]
    owner: Option<Box<dyn Any>>,
    /// The initialiser is running (a re-entrant access is a bug, reported by a panic).
    initializing: bool,
}

impl Slot {
    const EMPTY: Slot = Slot {
        value: std::ptr::null(),
        owner: None,
        initializing: false,
    };
}

/// The goroutine-local values of one goroutine or thread (see the module invariants).
pub(crate) struct LocalTable {
    /// `ManuallyDrop`: `Drop` below empties a used table itself, and an empty boxed slice
    /// owns no allocation, so the field needs no drop glue (a call on every goroutine exit).
    slots: UnsafeCell<ManuallyDrop<Box<[Slot]>>>,
    destroyed: Cell<bool>,
}

impl LocalTable {
    /// An empty table (no allocation until a key is used).
    #[inline]
    pub(crate) fn new() -> LocalTable {
        LocalTable {
            slots: UnsafeCell::new(ManuallyDrop::new(Box::new([]))),
            destroyed: Cell::new(false),
        }
    }

    /// Whether no key was ever used on this table (it holds no slot, hence no value).
    #[inline]
    fn never_used(&self) -> bool {
        self.with_slots(|slots| slots.is_empty())
    }

    /// Runs `f` with the slots borrowed mutably.
    #[inline]
    fn with_slots<R>(&self, f: impl FnOnce(&mut Box<[Slot]>) -> R) -> R {
        // SAFETY: one thread at a time uses a table (single owner), and no borrow of `slots`
        // is live: every borrow is confined to this call and `f` never runs user code.
        f(unsafe { &mut *self.slots.get() })
    }

    /// The value at `index`, if the slot is full: the hot path. A destroyed table has no
    /// slots left, so it needs no check here (the slow path reports it).
    #[inline]
    fn get(&self, index: usize) -> Option<*const ()> {
        self.with_slots(|slots| slots.get(index).map(|slot| slot.value))
            .filter(|value| !value.is_null())
    }

    /// The slow path of an access to the empty slot `index`: refuse after destruction, catch
    /// a re-entrant initialiser, else fill it with `init()`, run with no borrow held.
    #[cold]
    fn initialize<T: 'static>(
        &self,
        index: usize,
        init: impl FnOnce() -> T,
    ) -> Result<*const T, AccessError> {
        if self.destroyed.get() {
            return Err(AccessError);
        }
        let reentrant = self.with_slots(|slots| {
            if slots.len() <= index {
                let mut grown = Vec::from(std::mem::take(slots));
                grown.resize_with(index + 1, || Slot::EMPTY);
                *slots = grown.into_boxed_slice();
            }
            std::mem::replace(&mut slots[index].initializing, true)
        });
        assert!(
            !reentrant,
            "gort::local!: a value's initialiser accessed the value it initialises"
        );
        // If `init` panics, the slot goes back to empty so a later access may retry.
        let reset = ResetOnUnwind { table: self, index };
        let value: Box<dyn Any> = Box::new(init());
        std::mem::forget(reset);
        debug_assert_eq!((*value).type_id(), TypeId::of::<T>());
        let address = (&*value as *const dyn Any).cast::<()>();
        self.with_slots(|slots| {
            slots[index] = Slot {
                value: address,
                owner: Some(value),
                initializing: false,
            }
        });
        Ok(address.cast::<T>())
    }

    /// Drops every value; from now on every access fails with [`AccessError`].
    fn destroy(&self) {
        self.destroyed.set(true);
        // Moved out first: destructors run with no borrow of the table held, and any access
        // they make finds no slot and then sees `destroyed`.
        let slots = self.with_slots(std::mem::take);
        drop(slots);
    }
}

impl Drop for LocalTable {
    fn drop(&mut self) {
        // A goroutine's table was destroyed (emptied) by its entry wrapper: nothing to do.
        // Otherwise (a thread's table) `destroy` empties it, which leaves nothing for the
        // `ManuallyDrop` field to free.
        if !self.never_used() {
            self.destroy();
        }
    }
}

struct ResetOnUnwind<'a> {
    table: &'a LocalTable,
    index: usize,
}

impl Drop for ResetOnUnwind<'_> {
    fn drop(&mut self) {
        let index = self.index;
        self.table.with_slots(|slots| {
            if let Some(slot) = slots.get_mut(index) {
                *slot = Slot::EMPTY;
            }
        });
    }
}

thread_local! {
    /// The fallback table of a plain thread (or of an M outside any goroutine).
    static THREAD_TABLE: LocalTable = LocalTable::new();
}

/// Runs `f` with the calling goroutine's table, or the thread's outside goroutines.
#[inline]
fn with_current_table<R>(
    f: impl FnOnce(&LocalTable) -> Result<R, AccessError>,
) -> Result<R, AccessError> {
    match m::current_g() {
        Some(g) => f(&g.locals),
        // A thread's table is gone once the thread started tearing its thread-locals down.
        None => THREAD_TABLE.try_with(f).unwrap_or(Err(AccessError)),
    }
}

impl LocalTable {
    /// Destroys a goroutine's values: called by its entry wrapper, on the goroutine, once its
    /// closure has returned or panicked, before the goroutine counts as finished, so a joiner
    /// sees every local dropped. A destructor's panic becomes the goroutine's result unless
    /// the closure itself panicked (whose panic is kept).
    #[inline]
    pub(crate) fn destroy_at_exit(&self, result: AnyResult) -> AnyResult {
        if self.never_used() {
            // Most goroutines never touch a local: no destructor to run, no unwind guard
            // needed (this is on every goroutine's exit path).
            self.destroyed.set(true);
            return result;
        }
        self.destroy_used_at_exit(result)
    }

    #[cold]
    fn destroy_used_at_exit(&self, result: AnyResult) -> AnyResult {
        let destroyed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.destroy()));
        result.and_then(|value| destroyed.map(|()| value))
    }
}
