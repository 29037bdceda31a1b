//! `WaitQueue`: the FIFO of parked waiters that every `gort::sync` primitive is built on.
//!
//! This plays the part of Go's `runtime/sema.go`: a primitive keeps its fast path in its own
//! atomic word and falls back to a `WaitQueue` only when it must block. Unlike Go's global
//! semaphore table each primitive owns its queue, which keeps the queue lock uncontended across
//! unrelated objects.
//!
//! # What it owns
//! A doubly linked list of [`Waiter`] nodes plus a small piece of primitive-specific state `S`,
//! both behind one short `std::sync::Mutex` (the *queue lock*). A node lives in the stack frame of
//! the parked caller ([`WaitQueue::wait`]); a goroutine's stack, like a thread's, stays put while
//! it is parked, so no node is ever allocated.
//!
//! # Invariants
//! - `node.status == WAITING` ⟺ the node is linked in exactly one queue. Both halves change
//!   together, and only under the queue lock.
//! - A waker's last access to a node is the `Release` store of its non-`WAITING` status (done
//!   under the queue lock, after cloning the node's `Unparker`). After that store the waiter may
//!   return and its stack frame, node included, may disappear.
//! - The waiter does not leave [`WaitQueue::wait`] while its node is linked: it either sees a
//!   non-`WAITING` status, or takes the queue lock and unlinks the node itself (timeout).
//! - `Unparker::unpark` is called only after the queue lock is released ([`QueueGuard`]'s drop),
//!   so a woken waiter never has to block on the lock its waker still holds.
//!
//! # Lock and memory-ordering rules
//! - The queue lock is held for a bounded number of pointer operations and never across `park`
//!   or `unpark`; no other lock is taken while it is held.
//! - Status store (`Release`, in [`QueueGuard::wake_front`]) pairs with the waiter's status
//!   load (`Acquire`, in [`WaitQueue::wait`]): whatever the waker did before granting (for
//!   example the critical section of a mutex handed off to the waiter) is visible to the waiter.
//! - Park/unpark are a token: an unpark that lands before the waiter parks makes the park return
//!   at once, so the window between unlocking the queue and parking loses nothing. A stale token
//!   only causes a spurious return, and the wait loop re-checks the status.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomPinned;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};
use std::time::Instant;

use crate::runtime::g::WaitReason;
use crate::runtime::park::{park, park_until, Unparker};

/// `Waiter::status` while the node is linked in a queue.
const WAITING: usize = 0;

/// One parked caller. Lives in the stack frame of [`WaitQueue::wait`].
struct Waiter<D> {
    /// Neighbours in the list; read and written only under the queue lock.
    previous: Cell<Option<NonNull<Waiter<D>>>>,
    next: Cell<Option<NonNull<Waiter<D>>>>,
    /// `WAITING`, or the token the waker granted (see the module invariants).
    status: AtomicUsize,
    unparker: Unparker,
    /// What the waiter asks for (permits, reader or writer, ...); immutable once linked.
    data: D,
    /// The list points at this node, so it must never move while linked.
    _pinned: PhantomPinned,
}

/// The list and the primitive's extra state, together behind the queue lock.
struct List<D, S> {
    head: Option<NonNull<Waiter<D>>>,
    tail: Option<NonNull<Waiter<D>>>,
    len: usize,
    state: S,
}

// SAFETY: the raw node pointers are only dereferenced under the queue lock, and each node stays
// alive while linked (module invariants), so moving the list between threads is sound as long
// as the data it exposes (`D`, `S`) may move between threads.
unsafe impl<D: Send, S: Send> Send for List<D, S> {}

/// Where a new waiter joins the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// Behind everyone (FIFO arrival order).
    Back,
    /// Ahead of everyone: a waiter that was woken, lost the race and waits again keeps its turn.
    Front,
}

/// How a [`WaitQueue::wait`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitResult {
    /// The `enqueue` callback declined to wait (the condition changed under the lock).
    NotQueued,
    /// A waker dequeued the caller and granted it this token.
    Woken(NonZeroUsize),
    /// The deadline passed first; the caller unlinked itself and ran the `cancel` callback.
    TimedOut,
}

/// A FIFO of parked goroutines or threads plus the primitive state `S` guarded with it.
pub(crate) struct WaitQueue<D, S = ()> {
    list: StdMutex<List<D, S>>,
}

impl<D, S> WaitQueue<D, S> {
    /// An empty queue whose extra state starts as `state`.
    pub(crate) const fn new(state: S) -> Self {
        WaitQueue {
            list: StdMutex::new(List {
                head: None,
                tail: None,
                len: 0,
                state,
            }),
        }
    }

    /// Takes the queue lock. Wake-ups requested through the guard happen when it is dropped.
    pub(crate) fn lock(&self) -> QueueGuard<'_, D, S> {
        // Nothing panics while the lock is held, but if it ever did the list is still
        // consistent (every mutation is a handful of pointer stores), so ignore poisoning.
        let list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        QueueGuard {
            list: Some(list),
            woken_first: None,
            woken_rest: Vec::new(),
        }
    }

    /// Parks the caller on this queue until a waker grants it a token or `deadline` passes.
    ///
    /// Under the queue lock, `enqueue` decides whether to wait at all (it re-validates the
    /// primitive's condition and may update its state word) and where to join. `queued` runs
    /// once the caller is linked and the queue lock released, before it first parks (a
    /// condition variable unlocks its mutex there, so a notify after that unlock finds the
    /// caller already queued). On timeout the
    /// caller unlinks itself and `cancel` runs under the same lock so the primitive can fix its
    /// state (clear a "waiters present" bit, let others through). A waker that wins the race
    /// with the deadline wins: the caller then reports `Woken`, never drops a grant.
    pub(crate) fn wait(
        &self,
        data: D,
        reason: WaitReason,
        deadline: Option<Instant>,
        enqueue: impl FnOnce(&mut QueueGuard<'_, D, S>) -> Option<Position>,
        queued: impl FnOnce(),
        cancel: impl FnOnce(&mut QueueGuard<'_, D, S>),
    ) -> WaitResult {
        let node = Waiter {
            previous: Cell::new(None),
            next: Cell::new(None),
            status: AtomicUsize::new(WAITING),
            unparker: Unparker::current(),
            data,
            _pinned: PhantomPinned,
        };
        {
            let mut guard = self.lock();
            let Some(position) = enqueue(&mut guard) else {
                return WaitResult::NotQueued;
            };
            guard.link(NonNull::from(&node), position);
        }
        // If anything below unwound, the list would keep a pointer into a dead frame.
        let abort_on_unwind = AbortOnUnwind;
        queued();
        let result = loop {
            // Acquire: pairs with the waker's Release store in `wake_front`.
            if let Some(token) = NonZeroUsize::new(node.status.load(Ordering::Acquire)) {
                break WaitResult::Woken(token);
            }
            match deadline {
                None => park(reason),
                Some(deadline) if Instant::now() < deadline => park_until(reason, deadline),
                Some(_) => {
                    let mut guard = self.lock();
                    // Under the lock the status cannot change under our feet.
                    let status = node.status.load(Ordering::Acquire);
                    if let Some(token) = NonZeroUsize::new(status) {
                        break WaitResult::Woken(token);
                    }
                    guard.unlink(NonNull::from(&node));
                    cancel(&mut guard);
                    break WaitResult::TimedOut;
                }
            }
        };
        std::mem::forget(abort_on_unwind);
        result
    }
}

impl<D, S: Default> Default for WaitQueue<D, S> {
    fn default() -> Self {
        WaitQueue::new(S::default())
    }
}

impl<D, S> fmt::Debug for WaitQueue<D, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue").finish_non_exhaustive()
    }
}

/// Aborts the process if dropped: armed around code that must not unwind with a node linked.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        eprintln!("gort: a parked waiter unwound while still queued; aborting");
        std::process::abort();
    }
}

/// The queue lock held. Dropping it releases the lock, then unparks everyone woken through it.
pub(crate) struct QueueGuard<'a, D, S> {
    list: Option<StdMutexGuard<'a, List<D, S>>>,
    /// Unparkers to use once the lock is released; the first inline so a single wake-up (the
    /// common case: mutex, semaphore) allocates nothing.
    woken_first: Option<Unparker>,
    woken_rest: Vec<Unparker>,
}

impl<D, S> QueueGuard<'_, D, S> {
    fn list(&self) -> &List<D, S> {
        self.list.as_ref().expect("queue guard used after release")
    }

    fn list_mut(&mut self) -> &mut List<D, S> {
        self.list.as_mut().expect("queue guard used after release")
    }

    /// The primitive-specific state kept under the queue lock.
    pub(crate) fn state(&mut self) -> &mut S {
        &mut self.list_mut().state
    }

    /// Number of queued waiters.
    pub(crate) fn len(&self) -> usize {
        self.list().len
    }

    /// Whether nobody is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.list().len == 0
    }

    /// The request of the first waiter, if any.
    pub(crate) fn front(&self) -> Option<&D> {
        self.list().head.map(|head| {
            // SAFETY: a linked node is alive (module invariants) and we hold the queue lock,
            // the only context in which nodes are unlinked; `data` is not written after linking.
            unsafe { &(*head.as_ptr()).data }
        })
    }

    /// Dequeues the first waiter and grants it `token`; it is unparked when the guard drops.
    /// Returns false if the queue was empty.
    pub(crate) fn wake_front(&mut self, token: NonZeroUsize) -> bool {
        let Some(head) = self.list().head else {
            return false;
        };
        self.unlink(head);
        // SAFETY: `head` was linked a moment ago under this lock, so its waiter is still inside
        // `WaitQueue::wait` (it cannot leave before seeing a non-WAITING status).
        let node = unsafe { head.as_ref() };
        let unparker = node.unparker.clone();
        // Release: pairs with the Acquire status load in `WaitQueue::wait`. This is our last
        // access to the node: after it the waiter may return and free its frame.
        node.status.store(token.get(), Ordering::Release);
        if self.woken_first.is_none() {
            self.woken_first = Some(unparker);
        } else {
            self.woken_rest.push(unparker);
        }
        true
    }

    /// Wakes waiters from the front while `grant` returns a token for the front request.
    /// Returns how many were woken.
    pub(crate) fn wake_front_while(
        &mut self,
        mut grant: impl FnMut(&D, &mut S) -> Option<NonZeroUsize>,
    ) -> usize {
        let mut woken = 0;
        loop {
            let list = self.list_mut();
            let Some(head) = list.head else {
                return woken;
            };
            // SAFETY: as in `front`; `data` and `state` are distinct places.
            let data = unsafe { &(*head.as_ptr()).data };
            let Some(token) = grant(data, &mut list.state) else {
                return woken;
            };
            self.wake_front(token);
            woken += 1;
        }
    }

    /// Wakes every queued waiter with `token`. Returns how many were woken.
    pub(crate) fn wake_all(&mut self, token: NonZeroUsize) -> usize {
        let count = self.len();
        self.woken_rest.reserve(count.saturating_sub(1));
        while self.wake_front(token) {}
        count
    }

    /// Links `node` into the list.
    fn link(&mut self, node: NonNull<Waiter<D>>, position: Position) {
        let list = self.list_mut();
        // SAFETY: the caller's node is alive for the whole wait and not yet linked; the nodes
        // we touch as neighbours are linked, hence alive; we hold the queue lock.
        unsafe {
            let waiter = node.as_ref();
            match position {
                Position::Back => {
                    waiter.previous.set(list.tail);
                    waiter.next.set(None);
                    match list.tail {
                        Some(tail) => tail.as_ref().next.set(Some(node)),
                        None => list.head = Some(node),
                    }
                    list.tail = Some(node);
                }
                Position::Front => {
                    waiter.previous.set(None);
                    waiter.next.set(list.head);
                    match list.head {
                        Some(head) => head.as_ref().previous.set(Some(node)),
                        None => list.tail = Some(node),
                    }
                    list.head = Some(node);
                }
            }
        }
        list.len += 1;
    }

    /// Removes a linked `node` from the list.
    fn unlink(&mut self, node: NonNull<Waiter<D>>) {
        let list = self.list_mut();
        // SAFETY: `node` is linked in this list (callers check its WAITING status under the
        // lock, or took it from `head`), so it and its neighbours are alive; we hold the lock.
        unsafe {
            let waiter = node.as_ref();
            let previous = waiter.previous.get();
            let next = waiter.next.get();
            match previous {
                Some(previous) => previous.as_ref().next.set(next),
                None => list.head = next,
            }
            match next {
                Some(next) => next.as_ref().previous.set(previous),
                None => list.tail = previous,
            }
            waiter.previous.set(None);
            waiter.next.set(None);
        }
        list.len -= 1;
    }
}

impl<D, S> Drop for QueueGuard<'_, D, S> {
    fn drop(&mut self) {
        // Release the queue lock first so the woken waiters never block on it.
        drop(self.list.take());
        if let Some(first) = self.woken_first.take() {
            first.unpark();
        }
        for unparker in self.woken_rest.drain(..) {
            unparker.unpark();
        }
    }
}

/// The token constant `1`, the usual "you have been woken" grant.
pub(crate) const WOKEN: NonZeroUsize = match NonZeroUsize::new(1) {
    Some(token) => token,
    None => unreachable!(),
};

/// Builds a token from a non-zero constant at compile time.
pub(crate) const fn token(value: usize) -> NonZeroUsize {
    match NonZeroUsize::new(value) {
        Some(token) => token,
        None => panic!("a wait token must not be zero"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn woken_waiter_gets_its_token() {
        let queue = Arc::new(WaitQueue::<u32>::new(()));
        let waiter = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                queue.wait(
                    7,
                    WaitReason::Park,
                    None,
                    |_| Some(Position::Back),
                    || {},
                    |_| {},
                )
            })
        };
        loop {
            let mut guard = queue.lock();
            if guard.front() == Some(&7) {
                assert!(guard.wake_front(token(42)));
                break;
            }
            drop(guard);
            std::thread::yield_now();
        }
        assert_eq!(waiter.join().unwrap(), WaitResult::Woken(token(42)));
        assert!(queue.lock().is_empty());
    }

    #[test]
    fn timeout_unlinks_and_cancels() {
        let queue = WaitQueue::<(), u32>::new(0);
        let deadline = Instant::now() + Duration::from_millis(5);
        let result = queue.wait(
            (),
            WaitReason::Park,
            Some(deadline),
            |_| Some(Position::Back),
            || {},
            |guard| *guard.state() += 1,
        );
        assert_eq!(result, WaitResult::TimedOut);
        assert!(Instant::now() >= deadline);
        let mut guard = queue.lock();
        assert!(guard.is_empty());
        assert_eq!(*guard.state(), 1);
    }

    #[test]
    fn declined_enqueue_does_not_wait() {
        let queue = WaitQueue::<(), ()>::new(());
        let result = queue.wait((), WaitReason::Park, None, |_| None, || {}, |_| {});
        assert_eq!(result, WaitResult::NotQueued);
    }

    #[test]
    fn front_position_and_ordered_wake_all() {
        // Waiters enqueued in a known order are woken front to back.
        let queue = Arc::new(WaitQueue::<usize>::new(()));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut threads = Vec::new();
        for index in 0..4 {
            let shared = Arc::clone(&queue);
            let order = Arc::clone(&order);
            threads.push(std::thread::spawn(move || {
                let position = if index == 3 {
                    Position::Front
                } else {
                    Position::Back
                };
                let result = shared.wait(
                    index,
                    WaitReason::Park,
                    None,
                    |_| Some(position),
                    || {},
                    |_| {},
                );
                order.lock().unwrap().push(index);
                result
            }));
            while queue.lock().len() != index + 1 {
                std::thread::yield_now();
            }
        }
        let mut seen = Vec::new();
        {
            let mut guard = queue.lock();
            guard.wake_front_while(|&data, _| {
                seen.push(data);
                Some(WOKEN)
            });
        }
        assert_eq!(seen, vec![3, 0, 1, 2]);
        for thread in threads {
            assert_eq!(thread.join().unwrap(), WaitResult::Woken(WOKEN));
        }
    }
}
