//! A G's entry closure, stored inside the G header when it is small.
//!
//! Spawning should cost one allocation (the G). Most closures passed to `go!` capture a few
//! handles, so a slot of `INLINE_BYTES` inside the header holds them without a `Box`; larger
//! (or over-aligned) ones are boxed and the slot holds the box. The slot is type-erased: one
//! pointer to a static table of two functions, made for the closure's type at spawn, knows
//! how to run or drop what is stored.
//!
//! Where the slot lives: spawn fills it in place in the G header (`G::set_entry`); when an M
//! first runs the G, it moves the slot once into the top reserve of the G's stack
//! ([`EntrySlot::move_to_stack`]) and the coroutine runs it there, so the slot is never
//! copied along with the header or into the coroutine closure.
//!
//! # Invariant
//! `vtable` is not `EMPTY` exactly while the slot holds a live closure of the type its
//! functions were made for. Swapping in `EMPTY` transfers the closure out (it is read, then
//! run); `Drop` drops a closure that never ran.

use std::mem::{align_of, size_of, MaybeUninit};
use std::ptr::{self, NonNull};

use super::stack::{Stack, OVERFLOW_RECORD_BYTES, TOP_RESERVE};

/// Bytes available for a closure stored inline.
const INLINE_BYTES: usize = 64;

/// Pointer-aligned: a closure that needs more (a captured `u128`) is boxed.
#[repr(C, align(8))]
struct Storage([MaybeUninit<u8>; INLINE_BYTES]);

/// How to run or drop what a slot holds: one per closure type and storage kind.
struct EntryVtable {
    call: unsafe fn(*mut Storage),
    drop: unsafe fn(*mut Storage),
}

/// The vtables for closures of type `F`, as promoted constants (`&'static`, no allocation).
struct VtablesFor<F>(std::marker::PhantomData<F>);

impl<F: FnOnce()> VtablesFor<F> {
    const INLINE: EntryVtable = EntryVtable {
        call: call_inline::<F>,
        drop: drop_inline::<F>,
    };
    const BOXED: EntryVtable = EntryVtable {
        call: call_boxed::<F>,
        drop: drop_boxed::<F>,
    };
}

/// The vtable of an empty slot (its closure ran, or was dropped): does nothing. A sentinel
/// rather than an `Option`, so running a closure needs no branch.
static EMPTY: EntryVtable = EntryVtable {
    call: do_nothing,
    drop: do_nothing,
};

/// # Safety
/// None: touches nothing.
unsafe fn do_nothing(_: *mut Storage) {}

/// A type-erased `FnOnce() + Send + 'static`: one pointer and the inline storage.
pub(crate) struct EntrySlot {
    vtable: &'static EntryVtable,
    storage: Storage,
}

fn fits_inline<F>() -> bool {
    size_of::<F>() <= INLINE_BYTES && align_of::<F>() <= align_of::<Storage>()
}

/// # Safety
/// `p` holds a live `F` (inline), which the caller gives up.
unsafe fn call_inline<F: FnOnce()>(p: *mut Storage) {
    // SAFETY: the caller guarantees `p` holds a live F and gives it up to us.
    let f = unsafe { ptr::read(p.cast::<F>()) };
    f();
}

/// # Safety
/// `p` holds a live `F` (inline), which the caller gives up.
unsafe fn drop_inline<F>(p: *mut Storage) {
    // SAFETY: as above.
    unsafe { ptr::drop_in_place(p.cast::<F>()) };
}

/// # Safety
/// `p` holds a live `Box<F>`, which the caller gives up.
unsafe fn call_boxed<F: FnOnce()>(p: *mut Storage) {
    // SAFETY: the caller guarantees `p` holds a live Box<F> and gives it up to us.
    let f = unsafe { ptr::read(p.cast::<Box<F>>()) };
    f();
}

/// # Safety
/// `p` holds a live `Box<F>`, which the caller gives up.
unsafe fn drop_boxed<F>(p: *mut Storage) {
    // SAFETY: as above.
    unsafe { ptr::drop_in_place(p.cast::<Box<F>>()) };
}

impl EntrySlot {
    /// An empty slot (its storage left uninitialised), to be filled in place with
    /// [`EntrySlot::fill`]: spawn builds the G header in its block first and then writes the
    /// closure straight into the header, so the closure is copied once, at its own size,
    /// instead of the whole slot being moved along with the header.
    pub(crate) const fn empty() -> EntrySlot {
        EntrySlot {
            vtable: &EMPTY,
            storage: Storage([MaybeUninit::uninit(); INLINE_BYTES]),
        }
    }

    /// A slot holding `f`.
    #[cfg(test)]
    pub(crate) fn new<F: FnOnce() + Send + 'static>(f: F) -> EntrySlot {
        let mut slot = EntrySlot::empty();
        slot.fill(f);
        slot
    }

    /// Stores `f` in this empty slot.
    #[inline]
    pub(crate) fn fill<F: FnOnce() + Send + 'static>(&mut self, f: F) {
        debug_assert!(ptr::eq(self.vtable, &EMPTY), "a slot is filled once");
        let p = &mut self.storage as *mut Storage;
        if fits_inline::<F>() {
            // SAFETY: `fits_inline` checked size and alignment; the storage is ours and empty.
            unsafe { ptr::write(p.cast::<F>(), f) };
            self.vtable = &VtablesFor::<F>::INLINE;
        } else {
            // SAFETY: a Box is pointer-sized and pointer-aligned, which always fits.
            unsafe { ptr::write(p.cast::<Box<F>>(), Box::new(f)) };
            self.vtable = &VtablesFor::<F>::BOXED;
        }
    }

    /// Moves the slot at `slot` (in a G header) into the top reserve of the G's new stack,
    /// above the overflow record, and returns where it now lies. The G's coroutine closure
    /// then carries a pointer, not the slot: the slot is copied once here instead of into
    /// the closure, onto the coroutine's stack and into its first frame.
    ///
    /// # Safety
    /// `slot` points to a valid slot, which the caller gives up (it must not be run or
    /// dropped there again); `stack` is the caller's and its reserve holds nothing else there.
    pub(crate) unsafe fn move_to_stack(slot: *mut EntrySlot, stack: &Stack) -> NonNull<EntrySlot> {
        const {
            assert!(size_of::<EntrySlot>() <= TOP_RESERVE - OVERFLOW_RECORD_BYTES);
            assert!(align_of::<EntrySlot>() <= 16);
        };
        // SAFETY: the reserve starts 16-byte aligned and `OVERFLOW_RECORD_BYTES` is a multiple
        // of 16, so this is aligned for a slot and (checked above) inside the reserve.
        let at = unsafe { stack.reserved_top().add(OVERFLOW_RECORD_BYTES) }.cast::<EntrySlot>();
        // SAFETY: `slot` is valid and given up by the caller; `at` is writable memory of the
        // caller's stack that nothing else uses.
        unsafe { ptr::copy_nonoverlapping(slot, at, 1) };
        // SAFETY: a stack's top is never at address zero.
        unsafe { NonNull::new_unchecked(at) }
    }

    /// Runs the closure (once; later calls do nothing).
    pub(crate) fn run(&mut self) {
        let vtable = std::mem::replace(&mut self.vtable, &EMPTY);
        // SAFETY: the slot holds the closure `vtable` was made for, or nothing if `vtable` is
        // `EMPTY` (the module invariant); emptying the slot gives the closure up to `call`.
        unsafe { (vtable.call)(&mut self.storage) };
    }
}

impl Drop for EntrySlot {
    fn drop(&mut self) {
        // SAFETY: the slot holds the closure `vtable` was made for (it never ran), or nothing
        // and `vtable` is `EMPTY` (module invariant).
        unsafe { (self.vtable.drop)(&mut self.storage) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn small_and_large_closures_run_once_and_drop_once() {
        let runs = Arc::new(AtomicUsize::new(0));
        let small = {
            let r = runs.clone();
            move || {
                r.fetch_add(1, Ordering::SeqCst);
            }
        };
        let big_data = [1u64; 32];
        let large = {
            let r = runs.clone();
            move || {
                r.fetch_add(big_data.iter().sum::<u64>() as usize, Ordering::SeqCst);
            }
        };
        let mut a = EntrySlot::new(small);
        let mut b = EntrySlot::new(large);
        a.run();
        a.run();
        b.run();
        assert_eq!(runs.load(Ordering::SeqCst), 33);
        // Never run: dropped, releasing what it captured.
        let c = EntrySlot::new({
            let r = runs.clone();
            move || drop(r)
        });
        assert_eq!(Arc::strong_count(&runs), 2);
        drop(c);
        assert_eq!(Arc::strong_count(&runs), 1);
        drop((a, b));
    }
}
