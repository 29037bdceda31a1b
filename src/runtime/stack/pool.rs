//! The global stack pool: free lists per stack size, the slabs new stacks are carved from, and
//! the trimmer that gives the memory of long-unused free stacks back.
//!
//! # State per size class (a usable size; a process uses a few)
//! - `hot`: free stacks that may still hold resident pages, oldest at the front. Taken from
//!   the back (last in, first out: the most recently used is the most likely to be resident
//!   and in cache), trimmed from the front.
//! - `cold`: free stacks whose usable pages were given back (`MADV_DONTNEED`); used after `hot`.
//! - `unguarded`: slots reserved from a slab whose guard could not be installed (the mapping
//!   limit was hit); retried before fresh slots.
//! - `carving`: the slab fresh slots come from; slots below `next_unused` are handed out.
//! - `low_water`: the fewest stacks `hot` has held since the last review; `to_trim`: how many
//!   of its front stacks the last review decided to give back.
//!
//! # Giving memory back, off every goroutine's path
//! [`give_back`] (a goroutine's exit, through a P's cache) only pushes onto `hot`: no system
//! call, and no allocation once `hot` has had its peak length. When `hot` grows past
//! `hot_limit` it raises [`EXCESS`]. sysmon calls [`trim_excess`] every round (one relaxed load
//! while `EXCESS` is down). Every [`REVIEW_PERIOD`] a review sets
//! `to_trim = low_water - hot_limit`: because `hot` is taken from the back, its front
//! `low_water` stacks are the ones nobody used during the whole period, and only those are
//! trimmed. A pool that is drained and refilled (bursts of goroutines coming and going) keeps
//! its memory; one that sits above its limit for a period gives the excess back. The trimmer
//! then moves up to [`TRIM_BATCH`] stacks out of `hot` under the lock, releases their usable
//! pages after unlocking (the guard below them is left alone), and files them in `cold`; one
//! batch per call keeps sysmon's rounds short.
//!
//! # Invariants
//! - A slot is in exactly one place: a free list, a caller's batch, the trimmer's batch, or a
//!   `Stack`/`StackCache` (the pool no longer knows about those). Slots in `hot`, `cold` and
//!   the trimmer's batch are guarded; slots in `unguarded` and at or above `next_unused` are
//!   not, and are never given out before they are.
//! - Every slot in `cold` had its usable pages released after its last user gave it back; its
//!   guard is intact (`MADV_DONTNEED` covers `[usable_bottom, top)` only, and keeps guard
//!   markers anyway).
//! - `low_water <= hot.len()` and `hot[..low_water]` is unchanged since the last review.
//! - Whenever the lock is released, `EXCESS` is up if some class has
//!   `hot.len() > hot_limit` or `to_trim > 0` (it may stay up a little longer: a hint).
//! - After a review and the batches it starts, `hot.len() <= hot_limit` for every class whose
//!   `hot` was not taken from during the period: the resident memory of free stacks is bounded
//!   by `hot_limit` stacks per class plus what was in use within the last period.
//!
//! # Locks
//! `POOL` is held for list operations and for mapping a new slab (`mmap` + `madvise`, rare:
//! once per growing slab). It is never held for installing guards or giving memory back, the
//! per-stack system calls: slots are reserved (moved out of the slab or a free list) under the
//! lock and worked on after it is released. `TRIMMER` (the review clock) is taken before
//! `POOL`, never after; it makes trimmers take turns (sysmon, and tests calling in directly).
//! `EXCESS` is written only under `POOL`, and read relaxed outside it as a hint: a stale value
//! delays a trim by a round, and the state it summarises is read again under the lock.
//!
//! # Why slabs are never unmapped
//! A slab can only be unmapped when all of its slots are free at once; tracking that costs a
//! count per slab on every get and put, and scattered survivors would keep most slabs anyway.
//! Address space is not the scarce resource (`MAP_NORESERVE`, 47 bits), resident memory is,
//! and that is returned with `MADV_DONTNEED` beyond `hot_limit`. So the mapped size stays at
//! the peak number of stacks ever alive, which is the bound.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::slab;
use super::{guard_size, StackSlot};

/// Slots in a size class's first slab; each further slab doubles, up to [`MAX_SLAB_SLOTS`] and
/// [`MAX_SLAB_BYTES`].
const FIRST_SLAB_SLOTS: usize = 64;
const MAX_SLAB_SLOTS: usize = 4096;
const MAX_SLAB_BYTES: usize = 1 << 30;

/// At most this much address space of free stacks per size class stays resident-capable
/// (`hot`) for long; beyond it, stacks unused for a [`REVIEW_PERIOD`] are trimmed to `cold`.
/// 512 MiB is 2,048 stacks of 256 KiB.
const HOT_POOL_BYTES: usize = 512 << 20;

/// How often the trimmer reviews the pool. A free stack is given back only after sitting
/// unused above the limit for a whole period, so a program that spawns bursts more often than
/// this keeps the pages it keeps reusing (trimming them would cost a system call now and a
/// page fault at the next spawn), and an idle one gets its memory back within two periods.
const REVIEW_PERIOD: Duration = Duration::from_millis(250);

/// Stacks given back per [`trim_excess`] call: 64 `madvise` calls, some 100–300 µs, so that a
/// sysmon round stays short.
const TRIM_BATCH: usize = 64;

/// The most stacks one [`take`] hands out, so its reservation fits a stack-allocated array.
pub(super) const MAX_BATCH: usize = 64;

/// How many free stacks of `usable_size` stay in `hot`: [`HOT_POOL_BYTES`] worth, at least 64
/// and at most 4,096.
fn hot_limit(usable_size: usize) -> usize {
    (HOT_POOL_BYTES / usable_size).clamp(64, 4096)
}

/// The slab fresh slots of one size class are cut from.
#[derive(Debug)]
struct Slab {
    base: usize,
    slot_count: usize,
    /// Slots `[0, next_unused)` have been handed out (or are in `unguarded`).
    next_unused: usize,
}

#[derive(Debug)]
struct SizeClass {
    usable_size: usize,
    /// `hot_limit(usable_size)`, computed once.
    hot_limit: usize,
    hot: VecDeque<StackSlot>,
    cold: Vec<StackSlot>,
    unguarded: Vec<StackSlot>,
    carving: Option<Slab>,
    slabs_mapped: usize,
    /// The fewest stacks `hot` has held since the last review.
    low_water: usize,
    /// Front stacks of `hot` the last review decided to give back, not yet given back.
    to_trim: usize,
    /// Slots ever cut from slabs (for accounting in tests and diagnostics).
    carved: usize,
    /// Stacks whose memory the trimmer gave back, in all.
    trimmed: u64,
}

impl SizeClass {
    fn new(usable_size: usize) -> SizeClass {
        SizeClass {
            usable_size,
            hot_limit: hot_limit(usable_size),
            hot: VecDeque::new(),
            cold: Vec::new(),
            unguarded: Vec::new(),
            carving: None,
            slabs_mapped: 0,
            low_water: 0,
            to_trim: 0,
            carved: 0,
            trimmed: 0,
        }
    }

    fn slot_size(&self) -> usize {
        guard_size() + self.usable_size
    }

    /// Whether the trimmer has something to look at in this class.
    fn has_excess(&self) -> bool {
        self.hot.len() > self.hot_limit || self.to_trim > 0
    }

    /// Reserves one fresh slot (unguarded), mapping a new slab when the current one is used up.
    fn reserve_fresh(&mut self) -> io::Result<StackSlot> {
        let slot_size = self.slot_size();
        let slab = match &mut self.carving {
            Some(slab) if slab.next_unused < slab.slot_count => slab,
            _ => {
                let slot_count = (FIRST_SLAB_SLOTS << self.slabs_mapped.min(16))
                    .min(MAX_SLAB_SLOTS)
                    .min(MAX_SLAB_BYTES / slot_size)
                    .max(1);
                let base = slab::map_slab(slot_count * slot_size)?;
                self.slabs_mapped += 1;
                self.carving.insert(Slab {
                    base,
                    slot_count,
                    next_unused: 0,
                })
            }
        };
        let index = slab.next_unused;
        slab.next_unused += 1;
        self.carved += 1;
        Ok(StackSlot {
            top: slab.base + (index + 1) * slot_size,
            usable_size: self.usable_size,
        })
    }
}

/// Every size class. Few in practice (the default size and the odd `Builder::stack_size`), so a
/// linear search is fine.
static POOL: Mutex<Vec<SizeClass>> = Mutex::new(Vec::new());

/// Up while some class has more than `hot_limit` stacks in `hot` or stacks left to trim (see
/// the module docs: written under `POOL`, read as a hint).
static EXCESS: AtomicBool = AtomicBool::new(false);

/// The trimmer's own state: when the next review is due (`None`: at the next call), and
/// whether the last review or batch left stacks to trim (else a round between reviews does
/// not take the pool's lock).
#[derive(Debug)]
struct Trimmer {
    next_review: Option<Instant>,
    pending: bool,
}

static TRIMMER: Mutex<Trimmer> = Mutex::new(Trimmer {
    next_review: None,
    pending: false,
});

/// Takes the pool lock. The pool's state is consistent between statements (a panic can only
/// come from an allocation failure inside a list push), so a poisoned lock is still usable.
fn lock() -> MutexGuard<'static, Vec<SizeClass>> {
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the trimmer's lock (before the pool's; poisoning is harmless, as for [`lock`]).
fn lock_trimmer() -> MutexGuard<'static, Trimmer> {
    TRIMMER.lock().unwrap_or_else(PoisonError::into_inner)
}

fn class_of(classes: &mut Vec<SizeClass>, usable_size: usize) -> &mut SizeClass {
    let index = match classes
        .iter()
        .position(|class| class.usable_size == usable_size)
    {
        Some(index) => index,
        None => {
            classes.push(SizeClass::new(usable_size));
            classes.len() - 1
        }
    };
    &mut classes[index]
}

/// Appends between 1 and `wanted` (at most [`MAX_BATCH`]) guarded stacks of `usable_size` (a
/// rounded size) to `out`: free ones first, then fresh ones from the slab.
///
/// # Errors
/// When not even one stack could be had: the mapping or guard error.
pub(super) fn take(usable_size: usize, wanted: usize, out: &mut Vec<StackSlot>) -> io::Result<()> {
    let wanted = wanted.clamp(1, MAX_BATCH);
    let already = out.len();
    let mut to_guard = [StackSlot {
        top: 0,
        usable_size,
    }; MAX_BATCH];
    let mut to_guard_count = 0;
    let mut reserve_error = None;
    {
        let mut classes = lock();
        let class = class_of(&mut classes, usable_size);
        while out.len() - already < wanted {
            let Some(slot) = class.hot.pop_back() else {
                break;
            };
            out.push(slot);
        }
        class.low_water = class.low_water.min(class.hot.len());
        while out.len() - already < wanted {
            let Some(slot) = class.cold.pop() else {
                break;
            };
            out.push(slot);
        }
        while out.len() - already + to_guard_count < wanted {
            let slot = match class.unguarded.pop() {
                Some(slot) => slot,
                None => match class.reserve_fresh() {
                    Ok(slot) => slot,
                    Err(error) => {
                        reserve_error = Some(error);
                        break;
                    }
                },
            };
            to_guard[to_guard_count] = slot;
            to_guard_count += 1;
        }
    }
    let mut guard_error = None;
    for (index, slot) in to_guard[..to_guard_count].iter().enumerate() {
        // SAFETY: the slot was reserved above under the lock, so nothing else uses it, and its
        // guard is a page-aligned page inside its slab.
        match unsafe { slab::install_guard(slot.guard_lo(), guard_size()) } {
            Ok(()) => out.push(*slot),
            Err(error) => {
                // The limit was hit: keep the remaining reservations for a later attempt.
                lock_class_and(usable_size, |class| {
                    class
                        .unguarded
                        .extend_from_slice(&to_guard[index..to_guard_count])
                });
                guard_error = Some(error);
                break;
            }
        }
    }
    match guard_error.or(reserve_error) {
        Some(error) if out.len() == already => Err(error),
        _ => Ok(()),
    }
}

fn lock_class_and<R>(usable_size: usize, action: impl FnOnce(&mut SizeClass) -> R) -> R {
    let mut classes = lock();
    action(class_of(&mut classes, usable_size))
}

/// Returns free stacks to their size classes' `hot` lists. No system call: a list that grew
/// past its limit only raises [`EXCESS`], and the trimmer gives memory back later.
pub(super) fn give_back(slots: impl IntoIterator<Item = StackSlot>) {
    let mut classes = lock();
    for slot in slots {
        let class = class_of(&mut classes, slot.usable_size);
        class.hot.push_back(slot);
        if class.hot.len() > class.hot_limit && !EXCESS.load(Ordering::Relaxed) {
            EXCESS.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether some free stacks may be waiting to be trimmed (a relaxed hint; sysmon does not go
/// to its deep sleep while it is up, so an idle program still gets its memory back).
pub(super) fn has_excess() -> bool {
    EXCESS.load(Ordering::Relaxed)
}

/// The trimmer's step, for sysmon's every round: nothing (one relaxed load) unless some class
/// is over its limit; a review when one is due; then at most one batch of [`TRIM_BATCH`]
/// stacks given back. Returns whether it gave any memory back (more may follow: call again
/// soon).
pub(super) fn trim_excess() -> bool {
    if !has_excess() {
        return false;
    }
    let mut trimmer = lock_trimmer();
    let now = Instant::now();
    if trimmer.next_review.is_none_or(|due| now >= due) {
        trimmer.next_review = Some(now + REVIEW_PERIOD);
        trimmer.pending = review(&mut lock(), |class| class.low_water);
    }
    trimmer.pending && trim_batch(&mut trimmer) > 0
}

/// Decides how many stacks each class gives back (`qualifying` says how many of a class's
/// front stacks may go: those unused for the whole period), and starts the next period.
/// Returns whether any class has stacks to trim.
fn review(classes: &mut [SizeClass], qualifying: impl Fn(&SizeClass) -> usize) -> bool {
    for class in classes.iter_mut() {
        class.to_trim = qualifying(class).saturating_sub(class.hot_limit);
        class.low_water = class.hot.len();
    }
    let excess = classes.iter().any(SizeClass::has_excess);
    EXCESS.store(excess, Ordering::Relaxed);
    classes.iter().any(|class| class.to_trim > 0)
}

/// Moves up to [`TRIM_BATCH`] stacks that a review chose out of `hot`, gives their usable
/// pages back, and files them in `cold`. Returns how many. The caller holds the trimmer's
/// lock (`trimmer`), so batches never overlap.
fn trim_batch(trimmer: &mut Trimmer) -> usize {
    let mut batch = [StackSlot {
        top: 0,
        usable_size: 0,
    }; TRIM_BATCH];
    let mut count = 0;
    {
        let mut classes = lock();
        for class in classes.iter_mut().filter(|class| class.to_trim > 0) {
            while count < TRIM_BATCH && class.to_trim > 0 && class.hot.len() > class.hot_limit {
                batch[count] = class.hot.pop_front().expect("hot is longer than its limit");
                count += 1;
                class.to_trim -= 1;
            }
            if class.hot.len() <= class.hot_limit {
                // Taken from since the review: what is left is in use again.
                class.to_trim = 0;
            }
            class.low_water = class.low_water.min(class.hot.len());
            if count == TRIM_BATCH {
                break;
            }
        }
        let excess = classes.iter().any(SizeClass::has_excess);
        EXCESS.store(excess, Ordering::Relaxed);
        trimmer.pending = classes.iter().any(|class| class.to_trim > 0);
    }
    for slot in &batch[..count] {
        // SAFETY: the slot was free (in `hot`) and is now held only by this batch, so nobody
        // runs on it or needs its contents; its usable part is page-aligned, and the guard
        // below it is not part of the range.
        unsafe { slab::release_memory(slot.usable_bottom(), slot.usable_size) };
    }
    if count > 0 {
        let mut classes = lock();
        for slot in &batch[..count] {
            let class = class_of(&mut classes, slot.usable_size);
            class.cold.push(*slot);
            class.trimmed += 1;
        }
    }
    count
}

/// Gives back the memory of every free stack beyond its class's limit now, ignoring how
/// recently it was used (tests; the sysmon path is [`trim_excess`]). Returns how many.
#[cfg(test)]
pub(super) fn trim_all_now() -> usize {
    let mut trimmer = lock_trimmer();
    review(&mut lock(), |class| class.hot.len());
    let mut total = 0;
    loop {
        let trimmed = trim_batch(&mut trimmer);
        if trimmed == 0 {
            return total;
        }
        total += trimmed;
    }
}

/// Per size class figures, for tests and diagnostics.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ClassStats {
    pub(super) hot: usize,
    pub(super) cold: usize,
    pub(super) unguarded: usize,
    pub(super) slabs_mapped: usize,
    pub(super) carved: usize,
    pub(super) trimmed: u64,
}

#[cfg(test)]
pub(super) fn stats(usable_size: usize) -> ClassStats {
    let classes = lock();
    classes
        .iter()
        .find(|class| class.usable_size == usable_size)
        .map(|class| ClassStats {
            hot: class.hot.len(),
            cold: class.cold.len(),
            unguarded: class.unguarded.len(),
            slabs_mapped: class.slabs_mapped,
            carved: class.carved,
            trimmed: class.trimmed,
        })
        .unwrap_or_default()
}

/// The tops of every free stack of `usable_size` (`hot` then `cold`), to check that no slot
/// is listed twice.
#[cfg(test)]
pub(super) fn free_tops(usable_size: usize) -> Vec<usize> {
    let classes = lock();
    classes
        .iter()
        .filter(|class| class.usable_size == usable_size)
        .flat_map(|class| class.hot.iter().chain(class.cold.iter()))
        .map(|slot| slot.top)
        .collect()
}

#[cfg(test)]
pub(super) fn hot_limit_for_tests(usable_size: usize) -> usize {
    hot_limit(usable_size)
}

#[cfg(test)]
pub(super) const REVIEW_PERIOD_FOR_TESTS: Duration = REVIEW_PERIOD;
