//! The live-G registry: the exact live count, the walk over live Gs, and goroutine ids.
//!
//! There is no list to update on spawn and exit: every G's block stays in the G allocator's
//! chunk list for life (Go's `allgs`, `gref.rs`), and a live G keeps itself alive with a
//! reference of its own, dropped by its M once it has finished (`spawn.rs`). That reference
//! is what keeps a G parked forever alive (as in Go, a goroutine blocked on a channel nobody
//! will touch again is leaked, not destroyed under its own feet). A walk (goroutine dumps,
//! the leak tracker, the deadlock detector) visits every block, keeps the Gs it can take a
//! reference to, and skips the finished ones (`Dead`: a finishing G marks itself so before
//! its own reference can go, so a Dead G is never counted alive again).
//!
//! # The live count
//! `live = Σ per-P counters + the plain threads' counter`. A spawn adds one to the spawning
//! P's counter; a finish takes one from the finishing P's. Only the M holding a P writes its
//! counter (a load and a store, no locked instruction; the P's hand-offs between Ms order the
//! writes), so a spawn and a finish cost no read-modify-write. Spawns from plain threads (no
//! P) use the shared counter, with an atomic add. A G spawned on one P and finished on another
//! leaves the first above and the second below by one: only the sum means anything.
//!
//! *Exactness*: a finishing G takes its one from its P's counter before it publishes its
//! result (the Release in `JoinSlot::complete`); a joiner reads the counters after its Acquire
//! of that result, so it sees the decrement: once `join` returns, the G is not counted. Gs
//! spawned or finishing concurrently with a read may or may not be counted.
//!
//! Goroutine ids come from a global counter handed out in blocks to each thread, so
//! spawning does not bounce one cache line between cores.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};

use super::g::{GRef, GState, G};
use super::p::P;
use super::sched::{sched, MAX_PROCS};

const ID_BLOCK: u64 = 1024;

/// One P's share of the live count, alone in its cache lines (two Ps' Ms write theirs at the
/// same time).
#[repr(align(128))]
struct LiveCounter(AtomicIsize);

/// Indexed by P id.
static LIVE_PER_P: [LiveCounter; MAX_PROCS] =
    [const { LiveCounter(AtomicIsize::new(0)) }; MAX_PROCS];
/// Gs spawned from plain threads (or from a G inside `blocking`, which holds no P).
static LIVE_FROM_THREADS: AtomicIsize = AtomicIsize::new(0);

/// Adds `delta` to the live count on behalf of the caller, which holds `p` if it is `Some`.
#[inline]
fn add_live(p: Option<&P>, delta: isize) {
    match p {
        Some(p) => {
            // Written only by the M holding `p`: a load and a store (module docs).
            let counter = &LIVE_PER_P[p.id].0;
            counter.store(counter.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
        }
        None => {
            LIVE_FROM_THREADS.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// Counts a spawned G (the caller holds `p`, if any).
#[inline]
pub(crate) fn spawned(p: Option<&P>) {
    add_live(p, 1);
}

/// Uncounts a finishing G; called by the G itself, before it publishes its result.
#[inline]
pub(crate) fn finished(p: Option<&P>) {
    add_live(p, -1);
}

/// The number of live Gs (spawned and not finished).
pub(crate) fn live() -> usize {
    let s = sched();
    // Ps are created in id order and never dropped: the created ones are a prefix.
    let per_p: isize = (0..MAX_PROCS)
        .map_while(|id| s.p_if_created(id))
        .map(|p| LIVE_PER_P[p.id].0.load(Ordering::Relaxed))
        .sum();
    (per_p + LIVE_FROM_THREADS.load(Ordering::Relaxed)).max(0) as usize
}

/// Calls `f` on every live G (spawned, not finished) without stopping the world and with no
/// lock held while `f` runs. A G spawned or finished during the walk may or may not be seen;
/// none is seen twice.
pub(crate) fn for_each(mut f: impl FnMut(GRef)) {
    super::gref::for_each_alive(|g| {
        if g.state() != GState::Dead {
            f(g);
        }
        true
    });
}

/// Whether some live G satisfies `pred` (`pred` must be short and take no lock): the
/// deadlock detector's scan, made under the scheduler's idle lock. Every reference the walk
/// takes is moved into `visited`, for the caller to drop once it holds no lock: the last
/// reference to a finished G may be among them, and dropping that drops the G's result (user
/// code).
pub(crate) fn find(mut pred: impl FnMut(&G) -> bool, visited: &mut Vec<GRef>) -> bool {
    let mut found = false;
    super::gref::for_each_alive(|g| {
        found = g.state() != GState::Dead && pred(&g);
        visited.push(g);
        !found
    });
    found
}

static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static ID_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh goroutine id (never 0, never reused).
pub(crate) fn next_goroutine_id() -> u64 {
    ID_RANGE.with(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}
