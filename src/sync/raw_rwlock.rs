//! `RawRwLock`: the lock word and wait queue behind [`RwLock`](super::RwLock) (Go's
//! `sync.RWMutex`).
//!
//! # State word (`state: AtomicUsize`)
//! - `WRITER`: a writer owns the lock.
//! - `WRITER_WAITING`: at least one writer is queued. New readers do not enter while it is set
//!   (Go's rule), so a stream of readers cannot starve a writer.
//! - `PARKED`: the queue is not empty.
//! - `state >> READER_SHIFT`: the number of readers holding the lock.
//!
//! The uncontended paths are one CAS each: read lock (`readers + 1` when neither `WRITER` nor
//! `WRITER_WAITING`), read unlock (`fetch_sub`), write lock (`0 → WRITER`), write unlock
//! (`WRITER → 0`).
//!
//! # Queue discipline
//! Blocked readers and writers wait in one FIFO queue. Whenever the lock may have become
//! available (write unlock, last read unlock, a waiter timing out) the *dispatcher*, under the
//! queue lock, grants ownership from the front: a writer at the head gets the lock once no
//! reader or writer holds it; readers at the head are admitted one after another while no writer
//! holds it, stopping at the first queued writer. Readers that arrived after a writer thus wait
//! for it, and the readers queued behind a writer all enter together when it unlocks: writers
//! and reader batches alternate, and neither side starves.
//!
//! # Invariants (whenever the queue lock is free)
//! - `PARKED` ⟺ the queue is not empty; `WRITER_WAITING` ⟺ the queue holds a writer
//!   (`queued_writers > 0`, the count kept under the queue lock).
//! - If the queue is not empty, the lock is held (by a writer or by readers): every transition
//!   to "free" with `PARKED` set runs the dispatcher, which grants the head.
//! - A granted waiter is already counted in the state word (`WRITER` set, or its reader added)
//!   before it is woken; it never has to re-acquire.
//!
//! # Memory ordering
//! - Lock CASes are `Acquire`, unlocks `Release`; they pair with each other through the word.
//! - The dispatcher's state updates are `AcqRel`: they acquire the releases of the unlocks that
//!   made the lock available (the `fetch_sub`s of readers form a release sequence), and the wait
//!   queue's `Release` status store passes that on to the granted waiter's `Acquire` load.
//! - The queue-bit updates are made under the queue lock and carry no data.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::spin::Spin;
use super::waitq::{token, Position, QueueGuard, WaitQueue, WaitResult};
use crate::runtime::g::WaitReason;

const WRITER: usize = 1;
const WRITER_WAITING: usize = 2;
const PARKED: usize = 4;
const READER_SHIFT: u32 = 3;
const ONE_READER: usize = 1 << READER_SHIFT;
const READERS_MASK: usize = !(ONE_READER - 1);

/// Grant: the lock is yours (your reader is counted, or `WRITER` is set for you).
const GRANTED: NonZeroUsize = token(1);

/// What a queued waiter wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// A reader-writer lock without data; see the module documentation.
pub(crate) struct RawRwLock {
    state: AtomicUsize,
    /// Queued readers and writers; the extra state counts the queued writers.
    queue: WaitQueue<Access, usize>,
}

impl RawRwLock {
    /// An unlocked lock.
    pub(crate) const fn new() -> Self {
        RawRwLock {
            state: AtomicUsize::new(0),
            queue: WaitQueue::new(0),
        }
    }

    /// Takes a read lock if no writer holds it or waits for it.
    #[inline]
    pub(crate) fn try_read(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & (WRITER | WRITER_WAITING) != 0 {
                return false;
            }
            // Acquire: pairs with the Release of the last write unlock.
            match self.state.compare_exchange_weak(
                state,
                state + ONE_READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => state = current,
            }
        }
    }

    /// Takes a read lock, parking until `deadline` (or forever) while writers hold or await it.
    #[inline]
    pub(crate) fn read(&self, deadline: Option<Instant>) -> bool {
        self.try_read() || self.read_slow(deadline)
    }

    /// Releases a read lock. The caller must hold one.
    #[inline]
    pub(crate) fn read_unlock(&self) {
        // Release: pairs with the Acquire of the next writer (directly, or via the dispatcher).
        let previous = self.state.fetch_sub(ONE_READER, Ordering::Release);
        debug_assert!(
            previous & READERS_MASK != 0,
            "gort: read unlock without a reader"
        );
        if previous & READERS_MASK == ONE_READER && previous & PARKED != 0 {
            self.dispatch(&mut self.queue.lock());
        }
    }

    /// Takes the write lock if nobody holds it and nobody is queued.
    #[inline]
    pub(crate) fn try_write(&self) -> bool {
        // Acquire: pairs with the Release of the previous unlock.
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the write lock, parking until `deadline` (or forever) while it is held.
    #[inline]
    pub(crate) fn write(&self, deadline: Option<Instant>) -> bool {
        self.try_write() || self.write_slow(deadline)
    }

    /// Releases the write lock. The caller must hold it.
    #[inline]
    pub(crate) fn write_unlock(&self) {
        // Release: pairs with the Acquire of the next lock.
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            let mut queue = self.queue.lock();
            // Release: pairs with the dispatcher's or a fast-path reader's Acquire.
            self.state.fetch_and(!WRITER, Ordering::Release);
            self.dispatch(&mut queue);
        }
    }

    /// Whether a writer holds the lock at this instant (a snapshot).
    pub(crate) fn is_write_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITER != 0
    }

    /// How many readers hold the lock at this instant (a snapshot).
    pub(crate) fn reader_count(&self) -> usize {
        self.state.load(Ordering::Relaxed) >> READER_SHIFT
    }

    #[cold]
    fn read_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = Spin::new();
        loop {
            if self.try_read() {
                return true;
            }
            if self.state.load(Ordering::Relaxed) & PARKED == 0 && spin.spin() {
                continue;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            let result = self.queue.wait(
                Access::Read,
                WaitReason::RwLockRead,
                deadline,
                |_queue| {
                    // Queue only while a writer holds or awaits the lock; PARKED makes sure
                    // the unlock that lets us in runs the dispatcher.
                    let mut state = self.state.load(Ordering::Relaxed);
                    loop {
                        if state & (WRITER | WRITER_WAITING) == 0 {
                            return None;
                        }
                        match self.state.compare_exchange_weak(
                            state,
                            state | PARKED,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => return Some(Position::Back),
                            Err(current) => state = current,
                        }
                    }
                },
                || {},
                |queue| self.dispatch(queue),
            );
            match result {
                WaitResult::NotQueued => spin.reset(),
                WaitResult::Woken(_) => return true,
                WaitResult::TimedOut => return false,
            }
        }
    }

    #[cold]
    fn write_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = Spin::new();
        loop {
            let state = self.state.load(Ordering::Relaxed);
            if state == 0 && self.try_write() {
                return true;
            }
            if state & PARKED == 0 && spin.spin() {
                continue;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            let result = self.queue.wait(
                Access::Write,
                WaitReason::RwLockWrite,
                deadline,
                |queue| {
                    let mut state = self.state.load(Ordering::Relaxed);
                    loop {
                        // Free and nobody ahead of us: take it instead of queueing.
                        if state & (WRITER | READERS_MASK) == 0 && queue.is_empty() {
                            return None;
                        }
                        match self.state.compare_exchange_weak(
                            state,
                            state | PARKED | WRITER_WAITING,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => {
                                *queue.state() += 1;
                                return Some(Position::Back);
                            }
                            Err(current) => state = current,
                        }
                    }
                },
                || {},
                |queue| {
                    *queue.state() -= 1;
                    self.dispatch(queue);
                },
            );
            match result {
                // Free with an empty queue: the loop takes it.
                WaitResult::NotQueued => spin.reset(),
                WaitResult::Woken(_) => return true,
                WaitResult::TimedOut => return false,
            }
        }
    }

    /// Grants the lock to as many queued waiters as can have it now, front first, then brings
    /// `PARKED` and `WRITER_WAITING` up to date. Runs under the queue lock.
    fn dispatch(&self, queue: &mut QueueGuard<'_, Access, usize>) {
        queue.wake_front_while(|&access, queued_writers| {
            // AcqRel: acquire the unlocks that freed the lock, and publish the grant.
            let granted = self
                .state
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| match access {
                    Access::Write if state & (WRITER | READERS_MASK) == 0 => Some(state | WRITER),
                    Access::Read if state & WRITER == 0 => Some(state + ONE_READER),
                    _ => None,
                });
            granted.ok()?;
            if access == Access::Write {
                *queued_writers -= 1;
            }
            Some(GRANTED)
        });
        let parked = if queue.is_empty() { 0 } else { PARKED };
        let writer_waiting = if *queue.state() > 0 {
            WRITER_WAITING
        } else {
            0
        };
        // Relaxed: queue bits carry no data (module ordering rules).
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| {
                Some((state & !(PARKED | WRITER_WAITING)) | parked | writer_waiting)
            });
    }
}

impl std::fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRwLock")
            .field("write_locked", &self.is_write_locked())
            .field("readers", &self.reader_count())
            .finish_non_exhaustive()
    }
}
