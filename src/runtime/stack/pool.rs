//! The global stack pool: free lists per stack size, and the slabs new stacks are carved from.
//!
//! # State per size class (a usable size; a process uses a few)
//! - `hot`: free stacks that may still hold resident pages, reused last-in first-out.
//! - `cold`: free stacks whose usable pages were given back (`MADV_DONTNEED`); used after `hot`.
//! - `unguarded`: slots reserved from a slab whose guard could not be installed (the mapping
//!   limit was hit); retried before fresh slots.
//! - `carving`: the slab fresh slots come from; slots below `next_unused` are handed out.
//!
//! # Invariants
//! - A slot is in exactly one place: a free list, a caller's batch, or a `Stack`/`StackCache`
//!   (the pool no longer knows about those). Slots in `hot` and `cold` are guarded; slots in
//!   `unguarded` and at or above `next_unused` are not, and are never given out before they are.
//! - `hot.len() <= hot_limit(usable_size) + TRIM_HYSTERESIS` whenever the lock is released.
//!
//! # Lock
//! `POOL` is held for list operations and for mapping a new slab (`mmap` + `madvise`, rare:
//! once per growing slab). It is never held for installing guards or giving memory back, the
//! per-stack system calls: slots are reserved (moved out of the slab or a free list) under the
//! lock and worked on after it is released.
//!
//! # Why slabs are never unmapped
//! A slab can only be unmapped when all of its slots are free at once; tracking that costs a
//! count per slab on every get and put, and scattered survivors would keep most slabs anyway.
//! Address space is not the scarce resource (`MAP_NORESERVE`, 47 bits), resident memory is,
//! and that is returned with `MADV_DONTNEED` beyond `hot_limit`. So the mapped size stays at
//! the peak number of stacks ever alive, which is the bound.

use std::collections::VecDeque;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::slab;
use super::{guard_size, StackSlot};

/// Slots in a size class's first slab; each further slab doubles, up to [`MAX_SLAB_SLOTS`] and
/// [`MAX_SLAB_BYTES`].
const FIRST_SLAB_SLOTS: usize = 64;
const MAX_SLAB_SLOTS: usize = 4096;
const MAX_SLAB_BYTES: usize = 1 << 30;

/// At most this much address space of free stacks per size class stays resident-capable
/// (`hot`); beyond it stacks are trimmed to `cold`. 512 MiB is 2,048 stacks of 256 KiB.
const HOT_POOL_BYTES: usize = 512 << 20;
/// Trimming waits for this many stacks over the limit, so that a pool hovering at the limit
/// does not make one `madvise` per freed stack.
const TRIM_HYSTERESIS: usize = 256;

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
    hot: VecDeque<StackSlot>,
    cold: Vec<StackSlot>,
    unguarded: Vec<StackSlot>,
    carving: Option<Slab>,
    slabs_mapped: usize,
}

impl SizeClass {
    fn new(usable_size: usize) -> SizeClass {
        SizeClass {
            usable_size,
            hot: VecDeque::new(),
            cold: Vec::new(),
            unguarded: Vec::new(),
            carving: None,
            slabs_mapped: 0,
        }
    }

    fn slot_size(&self) -> usize {
        guard_size() + self.usable_size
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
        Ok(StackSlot {
            top: slab.base + (index + 1) * slot_size,
            usable_size: self.usable_size,
        })
    }
}

/// Every size class. Few in practice (the default size and the odd `Builder::stack_size`), so a
/// linear search is fine.
static POOL: Mutex<Vec<SizeClass>> = Mutex::new(Vec::new());

/// Takes the pool lock. The pool's state is consistent between statements (a panic can only
/// come from an allocation failure inside a list push), so a poisoned lock is still usable.
fn lock() -> MutexGuard<'static, Vec<SizeClass>> {
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
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
            let Some(slot) = class.hot.pop_back().or_else(|| class.cold.pop()) else {
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

/// Returns free stacks to their size classes' `hot` lists, trimming a list that grew past its
/// limit: the oldest stacks beyond the limit give their pages back and move to `cold`.
pub(super) fn give_back(slots: impl IntoIterator<Item = StackSlot>) {
    let mut trimmed: Vec<StackSlot> = Vec::new();
    {
        let mut classes = lock();
        for slot in slots {
            let class = class_of(&mut classes, slot.usable_size);
            class.hot.push_back(slot);
            let limit = hot_limit(class.usable_size);
            if class.hot.len() > limit + TRIM_HYSTERESIS {
                let excess = class.hot.len() - limit;
                trimmed.extend(class.hot.drain(..excess));
            }
        }
    }
    if trimmed.is_empty() {
        return;
    }
    for slot in &trimmed {
        // SAFETY: the slot is free (it was in `hot`) and now held only by this function, so
        // nobody runs on it or needs its contents; its usable part is page-aligned.
        unsafe { slab::release_memory(slot.usable_bottom(), slot.usable_size) };
    }
    let mut classes = lock();
    for slot in trimmed {
        class_of(&mut classes, slot.usable_size).cold.push(slot);
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
        })
        .unwrap_or_default()
}

#[cfg(test)]
pub(super) fn hot_limit_for_tests(usable_size: usize) -> usize {
    hot_limit(usable_size)
}

#[cfg(test)]
pub(super) const TRIM_HYSTERESIS_FOR_TESTS: usize = TRIM_HYSTERESIS;
