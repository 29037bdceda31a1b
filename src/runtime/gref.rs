//! `GRef`: a counted reference to a G; the G blocks, recycled and kept for life (Go's `allgs`).
//!
//! A G lives in a *block*: its reference count, then the header. Blocks are carved from
//! chunks of `CHUNK_BLOCKS`, allocated when no free block is left and never given back to the
//! allocator, as Go keeps every G it ever made in `allgs` and reuses dead ones (`gfput` /
//! `gfget`). Freed blocks go to a per-thread cache, which trades batches with a global pool
//! when it runs full or empty: the spawn path costs no `malloc` and no lock in steady state.
//!
//! Because no block is ever freed, the list of chunks is also the list of every G: a walker
//! (goroutine dump, leak snapshot, deadlock detector) visits each block and *tries to
//! upgrade* its count, which succeeds exactly for a G that is alive. No registry has to be
//! updated on spawn and exit; a live G keeps itself alive with one reference of its own
//! (see `spawn.rs`) until it finishes.
//!
//! `GRef` is `Arc<G>` cut down to what the scheduler needs, so that the last drop can recycle
//! the block instead of freeing it.
//!
//! # Invariants
//! - `Block::refs` counts the live `GRef`s, the raw pointers made by `into_raw` not yet
//!   turned back by `from_raw`, the G's own reference until its M has seen it finish, and the
//!   *parked reference*: the run-queue reference an M gives up when it commits the G's park
//!   ([`GRef::commit_park`]), which the unpark that wins the token takes back
//!   ([`WakeRef::unpark`]). The G is dropped, and its block recycled, exactly when the count
//!   reaches 0.
//! - The park token lives in the block, beside the count, not in the header: a [`WakeRef`]
//!   (what an `Unparker` holds) is *uncounted*, so it may outlive its G, and the token it
//!   touches must then still be an atomic, valid in every state of the block. It is made with
//!   the chunk, reset by each spawn with an atomic store, and never written otherwise than
//!   atomically. A stale `WakeRef` can thus only leave a token for, or wake, whichever G the
//!   block holds now: a spurious wake-up, which every `park` caller tolerates (`park.rs`).
//! - A block whose count is 0 holds no live G (it is free, or being filled by a spawn);
//!   `refs` is only ever accessed atomically, so a walker may read it at any time.
//! - Chunks are never freed: a pointer to a block stays valid for the life of the process.
//!
//! Orderings: as `Arc`: increments from a live reference are Relaxed; the decrement is
//! Release, and the thread that sees it reach zero takes an Acquire fence before dropping,
//! so every use by other threads happens-before the drop. Spawn publishes a new header with
//! a Release store of its first count; a walker's upgrade (a CAS from a non-zero count) is
//! Acquire, pairing with it, so the walker sees the header fully written.

use std::alloc::{alloc, handle_alloc_error, Layout};
use std::cell::{RefCell, UnsafeCell};
use std::mem::{offset_of, MaybeUninit};
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::g::G;
use super::sched::lock;
use super::token::ParkToken;

/// Blocks a thread keeps before handing a batch to the global pool (256 KiB of blocks): large
/// enough that a spawner fed by another thread's frees takes long sorted runs.
const LOCAL_CACHE: usize = 1024;
/// Blocks moved between a thread cache and the global pool at once.
const BATCH: usize = LOCAL_CACHE / 2;
/// Blocks allocated at once when no free block is left.
const CHUNK_BLOCKS: usize = 64;

/// A G's block: the count, then the header. Cache-line aligned, so a header never shares a
/// line with its neighbour's and the fields read together stay in as few lines as possible.
#[repr(C, align(64))]
struct Block {
    refs: AtomicUsize,
    /// The G's park token (here rather than in the header: see the module invariants).
    park_token: ParkToken,
    g: UnsafeCell<MaybeUninit<G>>,
}

/// A free block, owned by whoever holds this.
struct FreeBlock(NonNull<Block>);

// SAFETY: a free block holds no value (its header is uninitialised or dropped), so moving
// the right to fill it between threads is sound.
unsafe impl Send for FreeBlock {}

/// A chunk of `CHUNK_BLOCKS` blocks, never freed.
#[derive(Clone, Copy)]
struct Chunk(NonNull<Block>);

// SAFETY: a chunk pointer is only an address; what may be done with its blocks is governed by
// their counts (module invariants).
unsafe impl Send for Chunk {}

static GLOBAL: Mutex<Vec<FreeBlock>> = Mutex::new(Vec::new());
/// Every chunk ever allocated (Go's `allgs`, one entry per `CHUNK_BLOCKS` Gs).
static CHUNKS: Mutex<Vec<Chunk>> = Mutex::new(Vec::new());

/// A thread's free blocks; given to the global pool when the thread exits.
struct LocalCache(Vec<FreeBlock>);

impl Drop for LocalCache {
    fn drop(&mut self) {
        lock(&GLOBAL).append(&mut self.0);
    }
}

thread_local! {
    static LOCAL: RefCell<LocalCache> = const { RefCell::new(LocalCache(Vec::new())) };
}

fn chunk_layout() -> Layout {
    Layout::array::<Block>(CHUNK_BLOCKS).expect("a chunk's size fits in memory")
}

/// Allocates a chunk, registers it, and returns its blocks (all free, counts 0).
#[cold]
fn new_chunk() -> impl Iterator<Item = FreeBlock> {
    // SAFETY: `Block` is not zero-sized, so the layout is valid for `alloc`.
    let base = unsafe { alloc(chunk_layout()) }.cast::<Block>();
    let base = NonNull::new(base).unwrap_or_else(|| handle_alloc_error(chunk_layout()));
    for i in 0..CHUNK_BLOCKS {
        // The count and the token are written before any walker can see the chunk (it is
        // registered below, under the lock walkers take) or any `WakeRef` to it can exist.
        // SAFETY: `i` is within the chunk just allocated; these writes make each block a
        // valid free block.
        unsafe {
            let block = base.as_ptr().add(i);
            ptr::write(ptr::addr_of_mut!((*block).refs), AtomicUsize::new(0));
            ptr::write(ptr::addr_of_mut!((*block).park_token), ParkToken::new());
        };
    }
    lock(&CHUNKS).push(Chunk(base));
    // Reversed: caches pop from their end, so a new chunk is handed out in ascending order.
    // SAFETY: `i` is within the chunk.
    (0..CHUNK_BLOCKS)
        .rev()
        .map(move |i| FreeBlock(unsafe { base.add(i) }))
}

fn take_block() -> FreeBlock {
    let taken = LOCAL.try_with(|local| {
        let local = &mut local.borrow_mut().0;
        if local.is_empty() {
            let mut global = lock(&GLOBAL);
            let take = global.len().min(BATCH);
            let from = global.len() - take;
            local.extend(global.drain(from..));
            drop(global);
            // Highest address first, so `pop` hands out ascending addresses: a batch another
            // thread freed comes back in any order, and Gs spawned in a row then sit in a row
            // in memory, where the M that runs them next (often on another core) reads their
            // headers with the hardware prefetcher's help. Unsorted, 2-proc spawn slowed by
            // ~1.5x as the pool's order scrambled over a long run. The stable sort, because a
            // batch is a few ascending runs (frees follow spawn order), which it merges in
            // linear time: ~13 instructions a spawn against ~64 for the unstable sort (1-proc
            // naive spawn, callgrind). std's stable sort takes its scratch space from a 4 KiB
            // stack buffer while that holds half the slice or more; 512 pointers fit in it
            // whole, so refills stay off the allocator (callgrind counted no malloc here).
            const { assert!(BATCH <= 512) };
            local.sort_by_key(|block| std::cmp::Reverse(block.0));
            if local.is_empty() {
                local.extend(new_chunk());
            }
        }
        local.pop().expect("refilled above")
    });
    // A thread whose cache is gone (exiting) takes one straight from a new chunk; the rest of
    // the chunk goes to the global pool.
    taken.unwrap_or_else(|_| {
        let mut blocks = new_chunk();
        let first = blocks.next().expect("a chunk has blocks");
        lock(&GLOBAL).extend(blocks);
        first
    })
}

fn recycle(block: FreeBlock) {
    let kept = LOCAL.try_with(|local| {
        let local = &mut local.borrow_mut().0;
        if local.len() >= LOCAL_CACHE {
            let from = local.len() - BATCH;
            lock(&GLOBAL).extend(local.drain(from..));
        }
        local.push(FreeBlock(block.0));
    });
    if kept.is_err() {
        // The thread is exiting and its cache is gone.
        lock(&GLOBAL).push(block);
    }
}

/// Calls `f` with a reference to every G alive at the moment its block is visited (a G
/// spawned or dropped during the walk may or may not be seen; none is seen twice), until `f`
/// returns false. No lock is held while `f` runs.
pub(crate) fn for_each_alive(mut f: impl FnMut(GRef) -> bool) {
    let chunks: Vec<Chunk> = lock(&CHUNKS).clone();
    for chunk in chunks {
        for i in 0..CHUNK_BLOCKS {
            // SAFETY: chunks are never freed and `i` is within the chunk.
            let block = unsafe { NonNull::new_unchecked(chunk.0.as_ptr().add(i)) };
            if let Some(g) = try_upgrade(block) {
                if !f(g) {
                    return;
                }
            }
        }
    }
}

/// A new reference to the G in `block` if it is alive (its count is not 0).
fn try_upgrade(block: NonNull<Block>) -> Option<GRef> {
    // SAFETY: blocks are never freed, and `refs` is only accessed atomically.
    let refs = unsafe { &block.as_ref().refs };
    let mut count = refs.load(Ordering::Relaxed);
    loop {
        if count == 0 {
            return None;
        }
        // Acquire: pairs with the Release store that published the header (`new_with`).
        match refs.compare_exchange_weak(count, count + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Some(GRef { ptr: block }),
            Err(now) => count = now,
        }
    }
}

/// A counted reference to a G.
pub(crate) struct GRef {
    ptr: NonNull<Block>,
}

// SAFETY: `G` is `Send + Sync`; a `GRef` is a shared reference with a count, like `Arc<G>`.
unsafe impl Send for GRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for GRef {}

impl GRef {
    /// Builds a G with `make` straight into a free block and returns `N` references to it
    /// (the count starts at `N`, with no atomic read-modify-write). Taking a constructor
    /// rather than a `G` lets the compiler write the header in place instead of building it
    /// on the stack and copying it.
    #[inline]
    pub(crate) fn new_with<const N: usize>(make: impl FnOnce() -> G) -> [GRef; N] {
        const { assert!(N > 0) };
        let block = take_block().0;
        // SAFETY: the block is free (count 0): nobody reads its header, so we may write it.
        unsafe { (*block.as_ref().g.get()).write(make()) };
        // A token the block's last G left (or a stale `WakeRef` left since) would only cost
        // the new G a spurious wake-up; clear it anyway.
        // SAFETY: blocks are never freed, and their token is always initialised.
        unsafe { block.as_ref() }.park_token.reset();
        // SAFETY: as above; `refs` is always valid. Release: publishes the header to walkers.
        unsafe { block.as_ref() }.refs.store(N, Ordering::Release);
        [(); N].map(|()| GRef { ptr: block })
    }

    fn block_of(g: *const G) -> NonNull<Block> {
        let block = g
            .cast::<u8>()
            .wrapping_sub(offset_of!(Block, g))
            .cast::<Block>();
        // SAFETY: `g` is the header of a block (every G lives in one), so its block's
        // address is non-null.
        unsafe { NonNull::new_unchecked(block.cast_mut()) }
    }

    /// Gives up this reference as a raw pointer (undo with `from_raw`).
    pub(crate) fn into_raw(self) -> *mut G {
        let p = self.as_ptr().cast_mut();
        std::mem::forget(self);
        p
    }

    /// Takes back a reference given up by `into_raw`.
    ///
    /// # Safety
    /// `p` came from `into_raw`, and that reference is not taken back twice.
    pub(crate) unsafe fn from_raw(p: *mut G) -> GRef {
        GRef {
            ptr: GRef::block_of(p),
        }
    }

    /// A new reference to a G the caller can see.
    ///
    /// # Safety
    /// `g` lives in a block (every G does: spawn creates them with `GRef::new_with`) and a
    /// reference to it is alive for the duration of the call.
    pub(crate) unsafe fn from_live(g: &G) -> GRef {
        let ptr = GRef::block_of(g);
        // SAFETY: the block is live (the caller's obligation).
        unsafe { ptr.as_ref() }.refs.fetch_add(1, Ordering::Relaxed);
        GRef { ptr }
    }

    /// Drops the M's reference to a G whose coroutine has returned, together with the G's
    /// own reference (taken at spawn, see `spawn.rs`): one locked decrement instead of two.
    /// The G marked itself `Dead` before returning, so no walker counts it alive.
    ///
    /// # Safety
    /// The G's coroutine has returned, and this is the reference the caller ran it under; it
    /// is called once per G, so the G's own reference is still counted and given up here only.
    #[inline]
    pub(crate) unsafe fn drop_finished(self) {
        let block = self.ptr;
        std::mem::forget(self);
        // SAFETY: our reference keeps the block's G alive until this decrement. Release, as
        // any decrement (see `Drop`).
        let before = unsafe { block.as_ref() }
            .refs
            .fetch_sub(2, Ordering::Release);
        debug_assert!(before >= 2, "a finished G still holds its own reference");
        if before == 2 {
            destroy(block);
        }
    }

    /// The M, after its G switched out to park: commits the park (see `token.rs`). On success
    /// this reference becomes the *parked reference*, held by the token's `PARKED` state until
    /// the winning [`WakeRef::unpark`] takes it back; the caller must not touch the G again
    /// (it may be running elsewhere already). On failure an unpark came first and left a token
    /// (now consumed): the reference comes back, and the G is to be resumed at once.
    #[inline]
    pub(crate) fn commit_park(self) -> Result<(), GRef> {
        // SAFETY: a live `GRef`'s block is valid, and the token always is.
        if unsafe { self.ptr.as_ref() }.park_token.commit_park() {
            std::mem::forget(self);
            Ok(())
        } else {
            Err(self)
        }
    }

    /// The G's address.
    pub(crate) fn as_ptr(&self) -> *const G {
        // SAFETY: a live `GRef`'s block holds an initialised header.
        unsafe { (*self.ptr.as_ref().g.get()).as_ptr() }
    }

    /// The number of references (Acquire: pairs with the Release decrements, so a caller that
    /// sees 1 sees every other user done with the header).
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        // SAFETY: a live `GRef` keeps its block's G alive.
        unsafe { self.ptr.as_ref() }.refs.load(Ordering::Acquire)
    }
}

impl G {
    /// This G's park token (kept in its block, see the module invariants).
    #[inline]
    pub(crate) fn park_token(&self) -> &ParkToken {
        // SAFETY: every G lives in a block (spawn builds them there), the token is valid for
        // the block's whole life, and the block outlives `self`.
        unsafe { &GRef::block_of(self).as_ref().park_token }
    }
}

/// An uncounted pointer to a G's block, good for one thing: unparking it (what an
/// `Unparker` holds). Copying it costs nothing, and holding it keeps nothing alive: once its
/// G has finished, the block may hold another G, which a stale `unpark` then wakes
/// spuriously (harmless: every `park` caller re-checks its condition). That trade removes a
/// locked increment and decrement from every channel, mutex and timer wait.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct WakeRef {
    block: NonNull<Block>,
}

// SAFETY: a `WakeRef` only ever touches its block's token, atomically; blocks are never freed
// and their token is valid in every state (module invariants). The `GRef` an unpark may
// produce is sound on its own terms (`unpark`).
unsafe impl Send for WakeRef {}
// SAFETY: as for `Send`: shared use is atomic operations on the token.
unsafe impl Sync for WakeRef {}

impl WakeRef {
    /// The wake reference of a G the caller can see.
    #[inline]
    pub(crate) fn of(g: &G) -> WakeRef {
        WakeRef {
            block: GRef::block_of(g),
        }
    }

    /// Gives the G its token: returns the parked reference if this call woke a parked G
    /// (the caller must then queue it), or `None` if it left a token, or one was there.
    #[inline]
    pub(crate) fn unpark(self) -> Option<GRef> {
        // SAFETY: blocks are never freed, and the token is always valid.
        let token = unsafe { &self.block.as_ref().park_token };
        if token.unpark() {
            // Winning `PARKED -> EMPTY` hands us the reference the M gave up in `commit_park`
            // (the token's `PARKED` state held it), so the count already includes it.
            Some(GRef { ptr: self.block })
        } else {
            None
        }
    }
}

impl std::fmt::Debug for WakeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WakeRef({:p})", self.block)
    }
}

impl Clone for GRef {
    fn clone(&self) -> GRef {
        // SAFETY: `self` is a live reference, so the G is alive.
        unsafe { self.ptr.as_ref() }
            .refs
            .fetch_add(1, Ordering::Relaxed);
        GRef { ptr: self.ptr }
    }
}

impl Deref for GRef {
    type Target = G;
    fn deref(&self) -> &G {
        // SAFETY: a live `GRef` keeps its G alive (the count is at least 1), and the header was
        // written before the first reference existed.
        unsafe { (*self.ptr.as_ref().g.get()).assume_init_ref() }
    }
}

impl Drop for GRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live `GRef` keeps its block's G alive until this decrement.
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
fn destroy(block: NonNull<Block>) {
    // Pairs with the Release decrements of the other references.
    fence(Ordering::Acquire);
    // SAFETY: the count reached zero: no other reference exists and no walker can upgrade
    // one, so we own the header.
    unsafe { (*block.as_ref().g.get()).assume_init_drop() };
    recycle(FreeBlock(block));
}

impl std::fmt::Debug for GRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    /// The count, the park token and the header fill one 256-byte block (four cache lines);
    /// `g.rs` documents what the header holds and why.
    #[test]
    fn a_block_is_four_cache_lines() {
        assert_eq!(std::mem::size_of::<Block>(), 256);
        assert!(std::mem::size_of::<G>() <= 240);
    }
}
