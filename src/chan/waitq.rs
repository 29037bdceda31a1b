//! The wait queue of a channel: an intrusive FIFO of [`Entry`] nodes (Go's `waitq` of sudogs).
//!
//! An `Entry` is one (waiter, operation) pair: a plain blocked `send` links one, a `select!`
//! links one per arm, all pointing at the same [`Waiter`]. Entries live in the blocked
//! party's own frame (a goroutine's stack does not move), so linking allocates nothing.
//!
//! # Invariants (each queue is guarded by one lock, named by its owner)
//! - A linked entry is alive and does not move: the owner unlinks it (under the lock) before
//!   its frame dies, or a claimer unlinked it first.
//! - `entry.linked` ⇔ the entry is reachable from exactly one queue's `head`.
//! - Only the holder of the queue's lock reads or writes `prev`, `next`, `linked`, and only
//!   it follows an entry's `waiter` pointer without having claimed the waiter.
//! - A claimer unlinks every entry it inspects, whether its claim won or not, so entries of
//!   waiters that another channel claimed (or that aborted) drain out of the queue.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomPinned;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};

use super::spinlock::{SpinGuard, SpinLock};
use super::waiter::{Claim, Waiter, Wake};

/// One (waiter, operation) node in a wait queue.
pub(crate) struct Entry {
    /// The waiter this operation belongs to.
    waiter: NonNull<Waiter>,
    /// The operation's index within the waiter's select (0 for plain operations).
    arm: usize,
    /// Where the value moves: a receiver's empty `Option<T>` slot, an eager sender's filled
    /// one, or null (a lazy send arm, or a buffered channel that never hands off directly).
    packet: *mut (),
    prev: Cell<*const Entry>,
    next: Cell<*const Entry>,
    linked: Cell<bool>,
    _pinned: PhantomPinned,
}

impl Entry {
    /// An unlinked entry for operation `arm` of `waiter`.
    #[inline]
    pub(crate) fn new(waiter: &Waiter, arm: usize, packet: *mut ()) -> Entry {
        Entry {
            waiter: NonNull::from(waiter),
            arm,
            packet,
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
            _pinned: PhantomPinned,
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("arm", &self.arm)
            .field("lazy", &self.packet.is_null())
            .finish()
    }
}

/// A claimed entry, popped from its queue: the right to end its waiter's wait, plus the
/// packet to move the value through.
#[derive(Debug)]
pub(crate) struct ClaimedEntry {
    /// Ends the wait (see [`Claim`]).
    pub(crate) claim: Claim,
    /// The entry's packet (null for a lazy send arm).
    pub(crate) packet: *mut (),
}

/// An intrusive FIFO of entries. Not synchronised itself: its owner keeps it under a lock.
pub(crate) struct WaitQueue {
    head: *const Entry,
    tail: *const Entry,
    len: usize,
}

// SAFETY: the queue holds raw pointers to entries in other threads' frames; every access
// to them goes through `&mut WaitQueue`, which the owner only hands out under its lock, and
// the entries stay alive while linked (module invariants).
unsafe impl Send for WaitQueue {}

impl WaitQueue {
    /// An empty queue.
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    /// Whether no entry is linked.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Number of linked entries (stale ones included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Links `entry` at the back.
    ///
    /// # Safety
    /// `entry` must not be linked, must stay alive and in place until it is unlinked (by
    /// [`WaitQueue::remove`] or a pop), and its waiter must stay alive as long.
    #[inline]
    pub(crate) unsafe fn push_back(&mut self, entry: &Entry) {
        debug_assert!(!entry.linked.get());
        entry.prev.set(self.tail);
        entry.next.set(ptr::null());
        if self.tail.is_null() {
            self.head = entry;
        } else {
            // SAFETY: `tail` is linked, hence alive (module invariant), and we hold the lock.
            unsafe { (*self.tail).next.set(entry) };
        }
        self.tail = entry;
        entry.linked.set(true);
        self.len += 1;
    }

    /// Unlinks `entry` if it is linked (a claimer may have unlinked it already).
    ///
    /// # Safety
    /// If `entry` is linked, it must be linked in this queue.
    #[inline]
    pub(crate) unsafe fn remove(&mut self, entry: &Entry) {
        if !entry.linked.get() {
            return;
        }
        let prev = entry.prev.get();
        let next = entry.next.get();
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: a linked neighbour is alive, and we hold the lock.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
        entry.linked.set(false);
        self.len -= 1;
    }

    #[inline]
    fn pop_front(&mut self) -> Option<&Entry> {
        // SAFETY: `head` is null or a linked entry, alive while linked; the returned borrow
        // is tied to `&mut self`, i.e. to the lock hold, during which its owner (who must
        // take this lock to finish unregistering) cannot free it.
        let entry = unsafe { self.head.as_ref()? };
        // SAFETY: `entry` is linked in this queue.
        unsafe { self.remove(entry) };
        Some(entry)
    }

    /// Pops entries until one's waiter is claimed; stale entries (aborted waiters, or
    /// selects another channel claimed) are unlinked on the way.
    #[inline]
    pub(crate) fn claim_front(&mut self) -> Option<ClaimedEntry> {
        while let Some(entry) = self.pop_front() {
            // SAFETY: the entry was linked under the lock we still hold, so its waiter is
            // alive (module invariant).
            if let Some(claim) = unsafe { Waiter::try_claim(entry.waiter, entry.arm) } {
                return Some(ClaimedEntry {
                    claim,
                    packet: entry.packet,
                });
            }
        }
        None
    }

    /// Whether some linked entry of a waiter other than `except` could still be claimed.
    pub(crate) fn has_waiting(&self, except: Option<&Waiter>) -> bool {
        let except = except.map_or(ptr::null(), |waiter| waiter as *const Waiter);
        let mut cursor = self.head;
        // SAFETY: every entry reachable from `head` is linked, hence alive, and `&self`
        // means the owner's lock is held; so are their waiters.
        while let Some(entry) = unsafe { cursor.as_ref() } {
            if !ptr::eq(entry.waiter.as_ptr(), except) {
                // SAFETY: as above.
                if unsafe { entry.waiter.as_ref() }.is_waiting() {
                    return true;
                }
            }
            cursor = entry.next.get();
        }
        false
    }
}

impl fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue").field("len", &self.len).finish()
    }
}

/// A wait queue under its own lock, with a lock-free "anyone there?" flag so that the fast
/// paths of the buffered flavor skip the lock when nobody waits (crossbeam's `SyncWaker`).
///
/// # Memory ordering
/// `has_waiters` is stored `SeqCst` under the lock by [`WaitList::register`]; the registering
/// side then re-checks the channel with `SeqCst` loads. A notifier first publishes its change
/// with a `SeqCst` read-modify-write (or fence) and then loads `has_waiters` with `SeqCst`.
/// In the single total order of `SeqCst` operations one of the two comes first, so either the
/// registering side sees the change (and does not park) or the notifier sees the flag.
pub(crate) struct WaitList {
    queue: SpinLock<WaitQueue>,
    has_waiters: AtomicBool,
}

impl WaitList {
    /// An empty list.
    pub(crate) const fn new() -> WaitList {
        WaitList {
            queue: SpinLock::new(WaitQueue::new()),
            has_waiters: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> SpinGuard<'_, WaitQueue> {
        self.queue.lock()
    }

    /// Links `entry`. The caller must re-check its condition afterwards (see the ordering
    /// note) before it parks.
    ///
    /// # Safety
    /// As [`WaitQueue::push_back`]; and the caller unregisters it from this list only.
    pub(crate) unsafe fn register(&self, entry: &Entry) {
        let mut queue = self.lock();
        // SAFETY: forwarded from our caller.
        unsafe { queue.push_back(entry) };
        // SeqCst: see the type's ordering note (pairs with the notifier's SeqCst load).
        self.has_waiters.store(true, Ordering::SeqCst);
    }

    /// Unlinks `entry` if it is still linked.
    ///
    /// # Safety
    /// `entry` was registered (if at all) with this list and no other.
    pub(crate) unsafe fn unregister(&self, entry: &Entry) {
        let mut queue = self.lock();
        // SAFETY: forwarded from our caller.
        unsafe { queue.remove(entry) };
        self.has_waiters.store(!queue.is_empty(), Ordering::SeqCst);
    }

    /// Whether some entry is linked, as the notifier sees it (the `SeqCst` load of the
    /// ordering note).
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.has_waiters.load(Ordering::SeqCst)
    }

    /// Wakes one waiter with [`Wake::Retry`], if any. Call after publishing a change with a
    /// `SeqCst` operation.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.has_waiters() {
            self.notify_one_slow();
        }
    }

    #[cold]
    fn notify_one_slow(&self) {
        let claimed = {
            let mut queue = self.lock();
            let claimed = queue.claim_front();
            self.has_waiters.store(!queue.is_empty(), Ordering::SeqCst);
            claimed
        };
        // Woken outside the lock.
        if let Some(claimed) = claimed {
            claimed.claim.finish(Wake::Retry);
        }
    }

    /// Wakes every waiter linked now with [`Wake::Retry`] (one lock hold per waiter, so no
    /// wake-up happens under the lock; later arrivals re-check the channel themselves).
    pub(crate) fn notify_all(&self) {
        if !self.has_waiters() {
            return;
        }
        let mut budget = self.lock().len();
        while budget > 0 {
            let claimed = {
                let mut queue = self.lock();
                budget = budget.min(queue.len());
                let claimed = queue.claim_front();
                self.has_waiters.store(!queue.is_empty(), Ordering::SeqCst);
                claimed
            };
            match claimed {
                Some(claimed) => claimed.claim.finish(Wake::Retry),
                None => break,
            }
            budget = budget.saturating_sub(1);
        }
    }
}

impl fmt::Debug for WaitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("has_waiters", &self.has_waiters.load(Ordering::Relaxed))
            .finish()
    }
}
