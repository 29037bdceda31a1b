//! The P: a processor, the right to run Gs. There are `maxprocs` of them.
//!
//! A P owns a local run queue (a FIFO `crossbeam_deque::Worker`), a `runnext` slot, a
//! `yielded` slot and a cache of free stacks. An M must hold a P to run Gs.
//!
//! # The order of a P's Gs
//! `runnext` first (a G readied by the running G), then `runq` in FIFO order, then `yielded`:
//! the G that yielded last, kept out of `runq` so that Gs taking turns with `yield_now` rotate
//! through one atomic swap instead of a queue push and pop (`rotate_yielded`; the push and
//! pop were most of what a yield cost above the bare switch). The invariant that keeps the
//! order FIFO: **`yielded` is the tail**. Every G the holder adds to `runq` (`put`, a batch
//! stolen into it: `runq_for_batch`) first moves the `yielded` G into `runq`, ahead of itself.
//!
//! # Who may touch what
//! - `runq` (the `Worker` end) and `stacks`: only the M that holds this P. Holding is
//!   exclusive: a P is either held by exactly one M, or sits in the idle list (then whoever
//!   takes it out of the list holds it), or is retired and drained by its last holder.
//! - `stealer`: anyone, any time (that is what it is for).
//! - `runnext` and `yielded`: only the holder stores a G into them; anyone may take the G out
//!   with `swap` (stealers do, so a G there cannot starve behind a long-running G: `yielded`
//!   once `runq` is empty, `runnext` as a last resort). Each holds a `GRef` leaked with
//!   `GRef::into_raw`; whoever swaps it out owns that reference.
//! - counters: relaxed atomics, written by the holder, read by metrics.

use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use crossbeam_deque::{Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;

use super::g::{GRef, G};
use super::stack::StackCache;

/// Per-P counters, read by `gort::metrics` and tests.
#[derive(Debug, Default)]
pub(crate) struct PCounters {
    /// Gs spawned by Gs running on this P.
    pub(crate) spawned: AtomicU64,
    /// Successful steals by this P's M from other Ps.
    pub(crate) steals: AtomicU64,
    /// Gs taken in those steals.
    pub(crate) stolen: AtomicU64,
}

/// A processor.
///
/// Laid out in three groups of cache lines, so a stealer reading a victim's read-mostly
/// fields does not share a line with what the victim's M writes on every spawn and schedule
/// (with `runnext` beside `stealer`, the spawner's `runnext` swap was where a 2-proc spawn
/// profile spent most of its time in `P::put`: a miss on a line the stealing M had just read).
pub(crate) struct P {
    /// Read by other Ms (stealers, the idle list), written rarely.
    shared: CachePadded<PShared>,
    /// Written by the holder on every spawn or ready; taken by stealers only as a last resort.
    runnext: CachePadded<AtomicPtr<G>>,
    /// The tail of the queue: the last G to yield (see "The order of a P's Gs"). Written by
    /// the holder on every yield; taken by stealers once `runq` is empty.
    yielded: CachePadded<AtomicPtr<G>>,
    /// The holder's own state.
    runq: UnsafeCell<Worker<GRef>>,
    stacks: UnsafeCell<StackCache>,
    /// Statistics.
    pub(crate) counters: PCounters,
}

/// A P's read-mostly fields.
pub(crate) struct PShared {
    /// Index in the scheduler's P table; a P with `id >= maxprocs` is retired.
    pub(crate) id: usize,
    /// The stealing end of `runq`.
    pub(crate) stealer: Stealer<GRef>,
    /// `P_IDLE`, `P_HELD` or `P_RETIRED`. Changed only under the scheduler's idle lock.
    pub(crate) status: AtomicU8,
}

impl std::ops::Deref for P {
    type Target = PShared;
    fn deref(&self) -> &PShared {
        &self.shared
    }
}

/// How long a stealer leaves a victim's `runnext` alone (see `steal_half`).
const RUNNEXT_GRACE: std::time::Duration = std::time::Duration::from_micros(3);

/// In the idle list.
pub(crate) const P_IDLE: u8 = 0;
/// Held by an M.
pub(crate) const P_HELD: u8 = 1;
/// Retired by `set_maxprocs` and drained; in no list, held by nobody.
pub(crate) const P_RETIRED: u8 = 2;

// SAFETY: `runq`'s Worker end and `stacks` are only touched by the M holding the P (see the
// module docs; holding is exclusive and handed over through the idle-list mutex or the
// M-handoff mutex, which order the accesses). Everything else is atomic or `Sync`.
unsafe impl Sync for P {}
// SAFETY: as for `Sync`; the `Worker` itself is `Send`.
unsafe impl Send for P {}

impl P {
    pub(crate) fn new(id: usize) -> P {
        let runq = Worker::new_fifo();
        let stealer = runq.stealer();
        P {
            shared: CachePadded::new(PShared {
                id,
                stealer,
                status: AtomicU8::new(P_RETIRED),
            }),
            runnext: CachePadded::new(AtomicPtr::new(ptr::null_mut())),
            yielded: CachePadded::new(AtomicPtr::new(ptr::null_mut())),
            runq: UnsafeCell::new(runq),
            stacks: UnsafeCell::new(StackCache::new()),
            counters: PCounters::default(),
        }
    }

    /// The local run queue.
    ///
    /// # Safety
    /// The caller holds this P.
    unsafe fn runq(&self) -> &Worker<GRef> {
        // SAFETY: the caller holds the P, so no other thread uses the Worker end.
        unsafe { &*self.runq.get() }
    }

    /// The local run queue, for a batch steal to push into: the `yielded` G is moved into it
    /// first, so the batch queues behind it (the tail invariant).
    ///
    /// # Safety
    /// The caller holds this P.
    pub(crate) unsafe fn runq_for_batch(&self) -> &Worker<GRef> {
        // SAFETY: the caller holds the P.
        let runq = unsafe { self.runq() };
        if let Some(g) = self.take_yielded() {
            runq.push(g);
        }
        runq
    }

    /// The stack cache.
    ///
    /// # Safety
    /// The caller holds this P and does not keep the reference across a point where it could
    /// give the P up.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn stacks(&self) -> &mut StackCache {
        // SAFETY: the caller holds the P (exclusive), see `# Safety`.
        unsafe { &mut *self.stacks.get() }
    }

    /// Queues `g` on this P. With `next`, `g` goes into `runnext` and whatever was there goes
    /// to the back of the queue (Go's `runqput(pp, gp, true)`): the G made runnable by the
    /// running G runs next, which is what makes a channel hand-off cheap.
    ///
    /// # Safety
    /// The caller holds this P.
    #[inline]
    pub(crate) unsafe fn put(&self, g: GRef, next: bool) {
        if next {
            if let Some(old) = fill_slot(&self.runnext, g) {
                // SAFETY: the caller holds the P.
                unsafe { self.runq_for_batch().push(old) };
            }
        } else {
            // SAFETY: the caller holds the P.
            unsafe { self.runq_for_batch().push(g) };
        }
    }

    /// Queues `g`, which has just yielded, at the tail: into `yielded`, moving the G there
    /// before it into `runq`.
    ///
    /// # Safety
    /// The caller holds this P.
    #[inline]
    pub(crate) unsafe fn put_yielded(&self, g: GRef) {
        if let Some(old) = fill_slot(&self.yielded, g) {
            // SAFETY: the caller holds the P.
            unsafe { self.runq().push(old) };
        }
    }

    /// The next G to run after `g` yielded, when `runnext` and `runq` are empty: the G in
    /// `yielded`, with `g` taking its place; `g` itself if there was none. `None` only if a
    /// stealer took `g` meanwhile.
    ///
    /// # Safety
    /// The caller holds this P.
    #[inline]
    pub(crate) unsafe fn rotate_yielded(&self, g: GRef) -> Option<GRef> {
        if self.yielded.load(Ordering::Relaxed).is_null() {
            return Some(g);
        }
        match fill_slot(&self.yielded, g) {
            Some(old) => Some(old),
            // A stealer emptied the slot between the load and the swap: `g` sits there now.
            None => self.take_yielded(),
        }
    }

    /// Takes the G in `yielded`, if any. Anyone may call this (stealers do).
    #[inline]
    fn take_yielded(&self) -> Option<GRef> {
        take_slot(&self.yielded)
    }

    /// Whether `runnext` and `runq` are both empty, as the holder sees them (stealers can only
    /// empty them further).
    ///
    /// # Safety
    /// The caller holds this P.
    #[inline]
    pub(crate) unsafe fn only_yielded_left(&self) -> bool {
        // SAFETY: the caller holds the P.
        self.runnext.load(Ordering::Relaxed).is_null() && unsafe { self.runq() }.is_empty()
    }

    /// Takes the G in `runnext`, if any. Anyone may call this (stealers do).
    pub(crate) fn take_runnext(&self) -> Option<GRef> {
        take_slot(&self.runnext)
    }

    /// Pops the next G from the local queue, then `yielded` (not `runnext`).
    ///
    /// # Safety
    /// The caller holds this P.
    #[inline]
    pub(crate) unsafe fn pop_local(&self) -> Option<GRef> {
        // SAFETY: the caller holds the P.
        unsafe { self.runq().pop() }.or_else(|| self.take_yielded())
    }

    /// Whether this P has nothing queued (a racy hint for idle Ms and stealers).
    pub(crate) fn is_empty(&self) -> bool {
        self.stealer.is_empty()
            && self.runnext.load(Ordering::Relaxed).is_null()
            && self.yielded.load(Ordering::Relaxed).is_null()
    }

    /// Number of Gs in the local queue, `runnext` not included (a racy hint for stealers).
    pub(crate) fn backlog(&self) -> usize {
        self.stealer.len()
    }

    /// Number of Gs queued, `runnext` and `yielded` included (a racy hint for metrics).
    pub(crate) fn len(&self) -> usize {
        self.stealer.len()
            + usize::from(!self.runnext.load(Ordering::Relaxed).is_null())
            + usize::from(!self.yielded.load(Ordering::Relaxed).is_null())
    }

    /// Steals half of `victim`'s queue into this P's queue and returns one G to run; with
    /// nothing in the victim's `runq`, its `yielded` G (a yielder asked for others to run: no
    /// reason to wait). With `take_runnext`, an empty victim's `runnext` is taken as a last
    /// resort.
    ///
    /// # Safety
    /// The caller holds this P (not `victim`).
    pub(crate) unsafe fn steal_half(&self, victim: &P, take_runnext: bool) -> Option<GRef> {
        loop {
            let available = victim.stealer.len();
            if available == 0 {
                break;
            }
            let half = available.div_ceil(2);
            // SAFETY: the caller holds this P.
            let runq = unsafe { self.runq_for_batch() };
            let before = runq.len();
            match victim.stealer.steal_batch_with_limit_and_pop(runq, half) {
                Steal::Success(g) => {
                    let taken = 1 + (runq.len() - before) as u64;
                    self.counters.steals.fetch_add(1, Ordering::Relaxed);
                    self.counters.stolen.fetch_add(taken, Ordering::Relaxed);
                    return Some(g);
                }
                Steal::Empty => break,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
        if let Some(g) = victim.take_yielded() {
            self.counters.steals.fetch_add(1, Ordering::Relaxed);
            self.counters.stolen.fetch_add(1, Ordering::Relaxed);
            return Some(g);
        }
        if take_runnext && !victim.runnext.load(Ordering::Relaxed).is_null() {
            // The G in a running P's `runnext` was usually readied by the G running there, which
            // is about to block (a channel hand-off): its P will run it within a microsecond or
            // two, on a warm cache. Give it that long before taking it (Go's `runqgrab` does the
            // same); only then is the G really stuck behind a long-running one.
            let start = std::time::Instant::now();
            while start.elapsed() < RUNNEXT_GRACE {
                if victim.runnext.load(Ordering::Relaxed).is_null() {
                    return None;
                }
                std::hint::spin_loop();
            }
            if let Some(g) = victim.take_runnext() {
                self.counters.steals.fetch_add(1, Ordering::Relaxed);
                self.counters.stolen.fetch_add(1, Ordering::Relaxed);
                return Some(g);
            }
        }
        None
    }

    /// Moves every G queued here to the global queue (a retiring P's last act), in order.
    ///
    /// # Safety
    /// The caller holds this P.
    pub(crate) unsafe fn drain_to(&self, global: &crossbeam_deque::Injector<GRef>) {
        if let Some(g) = self.take_runnext() {
            global.push(g);
        }
        // SAFETY: the caller holds the P.
        while let Some(g) = unsafe { self.pop_local() } {
            global.push(g);
        }
        // SAFETY: the caller holds the P.
        unsafe { self.stacks().drain() };
    }
}

/// Puts `g` into `slot` (`runnext` or `yielded`) and returns the G that was there. Only the
/// holder of the slot's P may call this.
#[inline]
fn fill_slot(slot: &AtomicPtr<G>, g: GRef) -> Option<GRef> {
    if slot.load(Ordering::Relaxed).is_null() {
        // Only the holder (us) ever stores a G into a slot; others only take one out. So it
        // stays empty until this store, and a plain store does (no locked instruction on the
        // channel hand-off and yield paths). Release: pairs with the Acquire in `take_slot`.
        slot.store(g.into_raw(), Ordering::Release);
        return None;
    }
    // Release only: the G we may get back was stored by a holder of this P, which is us or
    // was ordered before us by the P's hand-over; we only publish `g`.
    let old = slot.swap(g.into_raw(), Ordering::Release);
    // SAFETY: non-null values in a slot come from `GRef::into_raw`, and the swap transferred
    // that reference to us.
    (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
}

/// Takes the G in `slot`, if any. Anyone may call this (stealers do).
#[inline]
fn take_slot(slot: &AtomicPtr<G>) -> Option<GRef> {
    if slot.load(Ordering::Relaxed).is_null() {
        return None;
    }
    // Acquire: pairs with the Release of the store or swap in `fill_slot`, so the G's header
    // is seen as its holder left it.
    let g = slot.swap(ptr::null_mut(), Ordering::Acquire);
    // SAFETY: non-null values in a slot come from `GRef::into_raw`, and the swap moved that
    // reference to us.
    (!g.is_null()).then(|| unsafe { GRef::from_raw(g) })
}

impl Drop for P {
    fn drop(&mut self) {
        drop(self.take_runnext());
        drop(self.take_yielded());
    }
}

impl std::fmt::Debug for P {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P")
            .field("id", &self.id)
            .field("queued", &self.len())
            .finish()
    }
}
