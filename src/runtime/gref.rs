//! `GRef`: a counted reference to a G, and the recycling of G headers.
//!
//! A G header is a few hundred bytes. Spawning in windows of thousands would otherwise send
//! every header through the allocator's slow paths (glibc's per-thread cache holds seven blocks
//! of a size), so, as Go keeps free Gs on per-P lists, freed headers go to a per-thread cache
//! of raw blocks, which trades batches with a global pool when it runs full or empty. The
//! spawn path then costs no `malloc` in steady state.
//!
//! `GRef` is `Arc<G>` cut down to what the scheduler needs, so that the last drop can recycle
//! the block instead of freeing it.
//!
//! # Invariants
//! - `G::refs` counts the live `GRef`s (and raw pointers made by `into_raw` not yet turned
//!   back by `from_raw`). The G is dropped, and its block recycled, exactly when it reaches 0.
//! - A block in a cache holds no live G.
//!
//! Orderings: as `Arc`: increments are Relaxed (a reference can only be copied from a live
//! one); the decrement is Release, and the thread that sees it reach zero takes an Acquire
//! fence before dropping, so every use by other threads happens-before the drop.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, Ordering};
use std::sync::Mutex;

use super::g::G;
use super::sched::lock;

/// Blocks a thread keeps before handing a batch to the global pool.
const LOCAL_CACHE: usize = 256;
/// Blocks moved between a thread cache and the global pool at once.
const BATCH: usize = LOCAL_CACHE / 2;
/// Blocks the global pool keeps; beyond this, freed blocks go back to the allocator.
const GLOBAL_CACHE: usize = 16 * 1024;

/// A raw, uninitialised G-sized block.
struct Block(NonNull<G>);

// SAFETY: a block holds no value (it is uninitialised memory owned by whoever holds the
// `Block`), so moving it between threads is sound.
unsafe impl Send for Block {}

static GLOBAL: Mutex<Vec<Block>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn layout() -> Layout {
    Layout::new::<G>()
}

fn new_block() -> Block {
    let recycled = LOCAL
        .try_with(|local| {
            let mut local = local.borrow_mut();
            if local.is_empty() {
                let mut global = lock(&GLOBAL);
                let take = global.len().min(BATCH);
                let from = global.len() - take;
                local.extend(global.drain(from..));
            }
            local.pop()
        })
        .ok()
        .flatten();
    recycled.unwrap_or_else(|| {
        // SAFETY: `G` is not zero-sized, so the layout is valid for `alloc`.
        let p = unsafe { alloc(layout()) }.cast::<G>();
        Block(NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout())))
    })
}

fn recycle(block: Block) {
    let kept = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        if local.len() >= LOCAL_CACHE {
            let mut global = lock(&GLOBAL);
            let room = GLOBAL_CACHE.saturating_sub(global.len()).min(BATCH);
            let from = local.len() - room;
            global.extend(local.drain(from..));
            drop(global);
            // Whatever did not fit goes back to the allocator.
            while local.len() >= LOCAL_CACHE {
                let extra = local.pop().expect("non-empty");
                // SAFETY: blocks come from `alloc(layout())` and hold no live G.
                unsafe { dealloc(extra.0.as_ptr().cast(), layout()) };
            }
        }
        local.push(Block(block.0));
    });
    if kept.is_err() {
        // The thread is exiting and its cache is gone.
        // SAFETY: blocks come from `alloc(layout())` and hold no live G.
        unsafe { dealloc(block.0.as_ptr().cast(), layout()) };
    }
}

/// A counted reference to a G.
pub(crate) struct GRef {
    ptr: NonNull<G>,
}

// SAFETY: `G` is `Send + Sync`; a `GRef` is a shared reference with a count, like `Arc<G>`.
unsafe impl Send for GRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for GRef {}

impl GRef {
    /// Builds a G with `make` straight into a (recycled) block; the count starts at 1
    /// (`G::new` sets it). Taking a constructor rather than a `G` lets the compiler write the
    /// 320-byte header in place instead of building it on the stack and copying it.
    #[inline]
    pub(crate) fn new_with(make: impl FnOnce() -> G) -> GRef {
        let block = new_block();
        // SAFETY: the block is valid, aligned, uninitialised memory for one G, owned by us.
        unsafe { ptr::write(block.0.as_ptr(), make()) };
        GRef { ptr: block.0 }
    }

    /// Gives up this reference as a raw pointer (undo with `from_raw`).
    pub(crate) fn into_raw(self) -> *mut G {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Takes back a reference given up by `into_raw`.
    ///
    /// # Safety
    /// `p` came from `into_raw`, and that reference is not taken back twice.
    pub(crate) unsafe fn from_raw(p: *mut G) -> GRef {
        GRef {
            // SAFETY: `into_raw` pointers are non-null (the caller's obligation).
            ptr: unsafe { NonNull::new_unchecked(p) },
        }
    }

    /// A new reference to a G the caller can see.
    ///
    /// # Safety
    /// `g` lives in a `GRef` block (every G does: spawn creates them with `GRef::new_with`) and a
    /// reference to it is alive for the duration of the call.
    pub(crate) unsafe fn from_live(g: &G) -> GRef {
        g.refs.fetch_add(1, Ordering::Relaxed);
        GRef {
            ptr: NonNull::from(g),
        }
    }

    /// The G's address.
    pub(crate) fn as_ptr(&self) -> *const G {
        self.ptr.as_ptr()
    }
}

impl Clone for GRef {
    fn clone(&self) -> GRef {
        // SAFETY: `self` is a live reference, so the G is alive.
        unsafe { GRef::from_live(self) }
    }
}

impl Deref for GRef {
    type Target = G;
    fn deref(&self) -> &G {
        // SAFETY: a live `GRef` keeps its G alive (the count is at least 1).
        unsafe { self.ptr.as_ref() }
    }
}

impl Drop for GRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live `GRef` keeps its G alive until this decrement.
        let refs = unsafe { &self.ptr.as_ref().refs };
        if refs.fetch_sub(1, Ordering::Release) == 1 {
            // Out of line: every hand-off drops a reference, and the destructor inlined here
            // would make each of those callers save and restore registers for it.
            destroy(self.ptr);
        }
    }
}

/// Drops the G whose last reference just went and recycles its block.
#[cold]
#[inline(never)]
fn destroy(g: NonNull<G>) {
    // Pairs with the Release decrements of the other references.
    fence(Ordering::Acquire);
    // SAFETY: the count reached zero: no other reference exists, so we own the G.
    unsafe { ptr::drop_in_place(g.as_ptr()) };
    recycle(Block(g));
}

impl std::fmt::Debug for GRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
