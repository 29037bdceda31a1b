//! Goroutine stacks: fixed-size, guarded, carved from large slabs and pooled.
//!
//! A goroutine runs on a [`Stack`]: `usable_size` bytes of read-write memory with a guard page
//! directly below it. Stacks do not grow (unlike Go's), so a goroutine that recurses past its
//! stack hits the guard and [`overflow`](super::overflow) reports it and aborts, the way Rust's
//! std does for threads.
//!
//! # Where the memory comes from, and where it goes back
//! [`slab`] maps large `MAP_NORESERVE` regions and cuts them into slots
//! `[guard page][usable stack]`; [`pool`] hands slots out and takes them back, one free list
//! per stack size. Each P owns a [`StackCache`] of default-size stacks so that the steady state
//! (a goroutine exits, another is spawned) takes no lock and makes no system call. A stack
//! going back to the pool never makes a system call either, however many pile up: memory is
//! given back (`madvise(MADV_DONTNEED)` on the usable part, the guard stays) by sysmon, which
//! calls [`trim_excess`] each round, for free stacks that sat unused beyond the pool's bound
//! for a whole review period (see [`pool`]). Slabs are never unmapped.
//!
//! # Invariants
//! - A `Stack` value is the only owner of its slot: a slot is in at most one place at a time
//!   (a `Stack`, a `StackCache`, one of the pool's free lists, or a batch the pool or its
//!   trimmer is working on with the lock released).
//! - `guard_lo < guard_hi == usable_bottom < top`, `top` and `usable_bottom` page-aligned, and
//!   the bytes `[guard_lo, guard_hi)` fault on any access for as long as the process lives
//!   (trimming releases `[usable_bottom, top)` only).
//! - Only free slots are trimmed: memory is never released under a running or parked goroutine.
//! - Every slot in a `StackCache` has `usable_size == cache.cached_size`.
//!
//! # Locks
//! The pool's mutex is taken once per batch of [`CACHE_BATCH`] stacks by a `StackCache`, once
//! per call by [`alloc`] / dropping a `Stack`, and twice per batch by the trimmer (which also
//! holds its own lock, taken before the pool's, so that trimmers take turns). No lock is held
//! while running user code, and no system call is made under the pool's lock except mapping
//! a new slab.

mod pool;
mod slab;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod trim_tests;

use std::io;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};

use corosensei::stack::StackPointer;

/// Usable bytes of a goroutine stack unless the spawner asks otherwise.
///
/// Chosen by measurement (`cargo run [--release] --example stack_probe`, Rust 1.95, x86-64):
/// the high-water mark of code run on a fresh coroutine, each workload in a fresh process.
///
/// | workload                                   | debug    | release  |
/// |--------------------------------------------|----------|----------|
/// | `format!` / `println!` / `eprintln!`       | 3.8 KiB  | 2.6 KiB  |
/// | `std::fs` create, write, read back         | 1.9 KiB  | 1.0 KiB  |
/// | recursion 100 deep, 4-word argument        | 15.2 KiB | 4.9 KiB  |
/// | sort 10k + `BTreeMap` + `HashMap`          | 12.2 KiB | 5.3 KiB  |
/// | first panic + `catch_unwind`               | 22.4 KiB | 21.7 KiB |
/// | first `Backtrace::force_capture` + Display | 21.2 KiB | 20.5 KiB |
/// | first panic with `RUST_BACKTRACE=1`        | 22.4 KiB | 21.7 KiB |
/// | `"localhost:80".to_socket_addrs()` (glibc) | 5.5 KiB  | 4.9 KiB  |
/// | `thread::spawn` + `join`                   | 5.5 KiB  | 3.9 KiB  |
///
/// The deepest ordinary thing is the first panic of a process (lazy panic-hook and debug-info
/// set-up, about 22 KiB); later panics need about 10 KiB. 256 KiB gives more than ten times
/// that, and room for about 1,700 frames of the small recursion above in a debug build, where
/// frames are three times bigger than in release. Go grows stacks instead; we cannot, so we err
/// on the generous side and let `GORT_STACK_SIZE` or `Builder::stack_size` shrink it.
///
/// A bigger default costs address space (`MAP_NORESERVE`) and page tables, not memory: 100,000
/// goroutines suspended after doing nothing (`measure_resident_bytes_per_minimal_goroutine_stack`
/// in `stack/tests.rs`, Linux 6.18) keep 4,096 resident bytes of stack each at every size, plus
/// page tables of 136 bytes (64 KiB stacks), 521 bytes (256 KiB) or 2,060 bytes (1 MiB): one
/// 4 KiB page-table page maps 2 MiB, so it is shared by fewer stacks as they grow.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest usable stack [`parse_stack_size`] accepts; [`alloc`] rounds smaller requests up
/// to it. Below this even formatting a panic message can overflow.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// Bytes at the top of every stack kept out of the coroutine's reach. When the M first runs a
/// G it writes two things there ([`Stack::reserved_top`]): the overflow handler's description
/// of the goroutine (the first [`OVERFLOW_RECORD_BYTES`]), so that record costs the G header
/// nothing, and, above it, the entry closure's slot moved out of the header (`entry.rs`), so
/// the coroutine closure holds a pointer rather than the slot itself. A multiple of the
/// coroutine's stack alignment (16).
pub(crate) const TOP_RESERVE: usize = 160;

/// The part of [`TOP_RESERVE`] for the overflow record; the entry slot follows it.
pub(crate) const OVERFLOW_RECORD_BYTES: usize = 64;

/// The largest usable stack (Go's limit for a 64-bit goroutine stack, too).
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// Stacks a [`StackCache`] holds at most.
const CACHE_CAPACITY: usize = 64;

/// Stacks moved between a [`StackCache`] and the pool per lock acquisition.
const CACHE_BATCH: usize = CACHE_CAPACITY / 2;

/// The system page size, read once (0 until then).
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The system page size. Relaxed: every thread computes the same value, so a racing first
/// call at worst asks `sysconf` twice.
pub(crate) fn page_size() -> usize {
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = usize::try_from(size)
        .ok()
        .filter(|size| size.is_power_of_two())
        .unwrap_or(4096);
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

/// Bytes of guard below every stack: one page. Rust functions probe their frames a page at a
/// time (stack probes), so a frame can never jump over a single guard page.
fn guard_size() -> usize {
    page_size()
}

/// Rounds a requested usable size up to whole pages, and at least [`MIN_STACK_SIZE`].
///
/// # Errors
/// `InvalidInput` when `size` exceeds [`MAX_STACK_SIZE`].
pub(crate) fn round_stack_size(size: usize) -> io::Result<usize> {
    if size > MAX_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gort: a goroutine stack of {size} bytes exceeds the maximum of {}",
                format_size(MAX_STACK_SIZE)
            ),
        ));
    }
    let page = page_size();
    Ok(size.max(MIN_STACK_SIZE).next_multiple_of(page))
}

/// Validates a requested usable size (as given to `Builder::stack_size` or `Config`) and
/// rounds it up to whole pages.
///
/// # Errors
/// `InvalidInput` when `size` is outside [`MIN_STACK_SIZE`]..=[`MAX_STACK_SIZE`].
pub(crate) fn checked_stack_size(size: usize) -> io::Result<usize> {
    if size < MIN_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gort: a goroutine stack of {size} bytes is below the minimum of {}",
                format_size(MIN_STACK_SIZE)
            ),
        ));
    }
    round_stack_size(size)
}

/// The usable size of stacks that [`StackCache::new`] caches: [`DEFAULT_STACK_SIZE`] unless
/// configured with [`set_default_stack_size`].
static DEFAULT_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_STACK_SIZE);

/// Sets the runtime's default usable stack size (from `Config` or `GORT_STACK_SIZE`), before
/// the Ps' caches are made. Relaxed: the runtime's start-up publishes it to the threads that
/// create caches (they are spawned after it, or take the scheduler's lock).
///
/// # Errors
/// As [`checked_stack_size`]; the default is then unchanged.
pub(crate) fn set_default_stack_size(size: usize) -> io::Result<()> {
    DEFAULT_SIZE.store(checked_stack_size(size)?, Ordering::Relaxed);
    Ok(())
}

/// The runtime's default usable stack size (see [`set_default_stack_size`]).
pub(crate) fn default_stack_size() -> usize {
    DEFAULT_SIZE.load(Ordering::Relaxed)
}

/// One stack's place in a slab, without ownership (it is `Copy`; the pool and caches keep
/// these, a [`Stack`] owns one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StackSlot {
    /// One past the highest usable byte; page-aligned.
    top: usize,
    /// Bytes from the guard to `top`; a whole number of pages.
    usable_size: usize,
}

impl StackSlot {
    /// The lowest usable byte, where the guard ends.
    fn usable_bottom(self) -> usize {
        self.top - self.usable_size
    }

    /// The first byte of the guard.
    fn guard_lo(self) -> usize {
        self.usable_bottom() - guard_size()
    }
}

/// A goroutine stack: owns one guarded slot. Dropping it gives the slot back to the global
/// pool (a [`StackCache`] takes it back without the pool's lock).
#[derive(Debug)]
pub(crate) struct Stack {
    slot: StackSlot,
}

impl Stack {
    /// Usable bytes, from the top down to the guard.
    pub(crate) fn usable_size(&self) -> usize {
        self.slot.usable_size
    }

    /// `(lo, hi)`: the guard's bytes `[lo, hi)`, directly below the usable part.
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        (self.slot.guard_lo(), self.slot.usable_bottom())
    }

    /// Usable size and guard, to keep after the stack itself has gone into a coroutine.
    pub(crate) fn bounds(&self) -> StackBounds {
        let (guard_lo, guard_hi) = self.guard_range();
        StackBounds {
            usable_size: self.usable_size(),
            guard_lo,
            guard_hi,
        }
    }

    /// The [`TOP_RESERVE`] bytes at the top of the stack, above the coroutine's frames:
    /// writable by whoever owns the stack, and never touched by the coroutine itself.
    pub(crate) fn reserved_top(&self) -> *mut u8 {
        (self.top() - TOP_RESERVE) as *mut u8
    }

    /// One past the highest usable byte (the coroutine's frames start `TOP_RESERVE` below).
    pub(crate) fn top(&self) -> usize {
        self.slot.top
    }

    /// Gives up ownership without returning the slot anywhere.
    fn into_slot(self) -> StackSlot {
        ManuallyDrop::new(self).slot
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        pool::give_back(std::iter::once(self.slot));
    }
}

// `base()` is the slot's page-aligned top less `TOP_RESERVE` (a multiple of 16, so still
// STACK_ALIGNMENT-aligned) and `limit()` its page-aligned guard start.
// SAFETY: the bytes between them (the `usable_size >= MIN_STACK_SIZE` usable bytes but the
// top reserve) are read-write memory owned by this value alone, and the guard page below
// faults on every access (installed before the slot is first handed out, never removed).
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.top() - TOP_RESERVE).expect("a stack top is never zero")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.slot.guard_lo()).expect("a guard is never at address zero")
    }
}

/// Where a stack's usable part and guard lie (a copy of [`Stack::bounds`]); all zero for a
/// goroutine that has no stack yet, which no fault address matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StackBounds {
    /// Usable bytes.
    pub(crate) usable_size: usize,
    /// First byte of the guard.
    pub(crate) guard_lo: usize,
    /// One past the guard: the lowest usable byte.
    pub(crate) guard_hi: usize,
}

/// A P's private cache of stacks of one size (the default), so that spawning reuses the stack
/// of a goroutine that just exited without a lock or a system call.
///
/// Owner-only: the P that owns it is the only one to touch it, so it needs no lock.
#[derive(Debug)]
pub(crate) struct StackCache {
    /// Usable size of every cached stack (already rounded).
    cached_size: usize,
    /// Free stacks, reused last-in first-out (the most recently used is the most likely to be
    /// resident and in cache). Capacity [`CACHE_CAPACITY`], allocated once.
    stacks: Vec<StackSlot>,
}

impl StackCache {
    /// An empty cache for stacks of the runtime's default size ([`default_stack_size`]).
    pub(crate) fn new() -> StackCache {
        StackCache {
            cached_size: default_stack_size(),
            stacks: Vec::with_capacity(CACHE_CAPACITY),
        }
    }

    #[cfg(test)]
    /// An empty cache for stacks of `cached_size` usable bytes (rounded like [`alloc`]).
    ///
    /// # Errors
    /// `InvalidInput` when `cached_size` exceeds [`MAX_STACK_SIZE`].
    pub(crate) fn with_size(cached_size: usize) -> io::Result<StackCache> {
        Ok(StackCache {
            cached_size: round_stack_size(cached_size)?,
            stacks: Vec::with_capacity(CACHE_CAPACITY),
        })
    }

    #[cfg(test)]
    /// The usable size of the stacks this cache keeps.
    pub(crate) fn cached_size(&self) -> usize {
        self.cached_size
    }

    /// A stack of at least `size` usable bytes: from this cache when `size` rounds to the
    /// cached size (refilled from the pool in a batch when empty), else from the pool.
    ///
    /// # Errors
    /// As [`alloc`].
    pub(crate) fn get(&mut self, size: usize) -> io::Result<Stack> {
        // The common case, the default size, needs no rounding.
        if size != self.cached_size && round_stack_size(size)? != self.cached_size {
            return alloc(size);
        }
        if let Some(slot) = self.stacks.pop() {
            return Ok(Stack { slot });
        }
        pool::take(self.cached_size, CACHE_BATCH, &mut self.stacks)?;
        let slot = self
            .stacks
            .pop()
            .expect("pool::take returned Ok with no stack");
        Ok(Stack { slot })
    }

    /// Takes back a stack whose goroutine has finished. When the cache is full, the older half
    /// goes back to the pool in one batch.
    pub(crate) fn put(&mut self, stack: Stack) {
        if stack.usable_size() != self.cached_size {
            drop(stack);
            return;
        }
        if self.stacks.len() == CACHE_CAPACITY {
            pool::give_back(self.stacks.drain(..CACHE_BATCH));
        }
        self.stacks.push(stack.into_slot());
    }

    /// Gives every cached stack back to the pool (for a P that is being retired).
    pub(crate) fn drain(&mut self) {
        if !self.stacks.is_empty() {
            pool::give_back(self.stacks.drain(..));
        }
    }

    #[cfg(test)]
    /// Stacks currently cached.
    pub(crate) fn len(&self) -> usize {
        self.stacks.len()
    }
}

impl Drop for StackCache {
    fn drop(&mut self) {
        self.drain();
    }
}

/// A stack of at least `size` usable bytes (rounded up to pages and to [`MIN_STACK_SIZE`])
/// from the global pool, for callers with no P.
///
/// # Errors
/// `InvalidInput` for a size above [`MAX_STACK_SIZE`]; `OutOfMemory` when no memory or no
/// mapping is left (the message says which limit was hit and how to raise it).
pub(crate) fn alloc(size: usize) -> io::Result<Stack> {
    let size = round_stack_size(size)?;
    let mut taken = Vec::with_capacity(1);
    pool::take(size, 1, &mut taken)?;
    Ok(Stack {
        slot: taken.pop().expect("pool::take returned Ok with no stack"),
    })
}

/// The stack pool's trimmer, called by sysmon every round: nothing but one relaxed load unless
/// free stacks piled up beyond the pool's bound; then, every review period, it picks those
/// unused for the whole period and gives their memory back, a batch per call. Returns whether
/// it gave memory back this time (more may follow: call again soon).
pub(crate) fn trim_excess() -> bool {
    pool::trim_excess()
}

/// Whether the pool may hold free stacks to trim (a relaxed hint): sysmon stays awake for
/// [`trim_excess`] while it is up.
pub(crate) fn has_excess() -> bool {
    pool::has_excess()
}

/// Gives a stack back to the global pool (the same as dropping it).
#[allow(dead_code)] // For callers with no P; the scheduler itself goes through `StackCache`.
pub(crate) fn free(stack: Stack) {
    drop(stack);
}

/// How guard pages are installed on this kernel: `"MADV_GUARD_INSTALL"` (Linux ≥ 6.13: no
/// extra mapping per stack) or `"mprotect(PROT_NONE)"` (two mappings per stack, so
/// `vm.max_map_count` caps the number of stacks). Probed once, on first use.
#[allow(dead_code)] // For diagnostics (dumps, metrics) and tests.
pub(crate) fn guard_mode() -> &'static str {
    slab::guard_mode().name()
}

/// Parses a stack size such as `"65536"`, `"64k"`, `"64KiB"`, `"1m"` or `"1MiB"` (units are
/// binary and case-insensitive: `k`/`kb`/`kib` = 1024, `m`/`mb`/`mib` = 1024², `g`/`gb`/`gib`
/// = 1024³), for `GORT_STACK_SIZE` and configuration.
///
/// # Errors
/// A message naming the input when it is malformed or outside
/// [`MIN_STACK_SIZE`]..=[`MAX_STACK_SIZE`].
pub(crate) fn parse_stack_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    let malformed = || {
        format!("gort: cannot parse stack size {text:?}: expected a number of bytes with an optional unit, like 65536, 64k, 64KiB or 1MiB")
    };
    if digits.is_empty() {
        return Err(malformed());
    }
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(malformed()),
    };
    let too_big = || {
        format!(
            "gort: stack size {text:?} exceeds the maximum of {}",
            format_size(MAX_STACK_SIZE)
        )
    };
    let count: usize = digits.parse().map_err(|_| too_big())?;
    let bytes = count.checked_mul(multiplier).ok_or_else(too_big)?;
    if bytes > MAX_STACK_SIZE {
        return Err(too_big());
    }
    if bytes < MIN_STACK_SIZE {
        return Err(format!(
            "gort: stack size {text:?} is below the minimum of {}",
            format_size(MIN_STACK_SIZE)
        ));
    }
    Ok(bytes)
}

/// `"64 KiB"`, or `"2 MiB"` for a whole number of MiB (the form the overflow report uses).
pub(crate) fn format_size(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}
