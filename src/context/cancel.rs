//! The cancellation tree: one [`CancelNode`] per `with_cancel`/`with_timeout`/`with_deadline`.
//!
//! # What it owns
//! A node owns its error state, its lazily made done channel, the weak links to its live
//! children, its place in its parent's child list, its deadline timer, and an optional
//! finish hook (crate-internal: a signal subscription ends with its context).
//!
//! # Invariants
//! - *Once*: `state` goes `LIVE → CANCELED | DEADLINE_EXCEEDED` once, under `inner`'s lock, and
//!   never back. Everything observable about a cancellation (the done channel closed, children
//!   cancelled) follows that store.
//! - *Done channel*: `done` is empty or holds a receiver; its channel is closed ⟺ the node was
//!   cancelled before or while it was made, or `cancel` took it from `inner.done_channel` and
//!   closed it. Both are decided under `inner`'s lock, so a cancel racing `done()` closes it once.
//!   The node never holds a `Sender`: the channel's one (phantom) sender count is never
//!   released, so dropping an uncancelled node never closes a receiver someone cloned out of it.
//! - *Children*: a live node's `children` holds a weak link to each live child that registered;
//!   a child's `slot_in_parent` is `Some(i)` ⟺ it occupies slot `i` of its parent's list. A
//!   cancelled node has an empty list and accepts no child (a new child is cancelled at once).
//! - *Detach*: a child cancelled on its own, or dropped, frees its slot; a child cancelled by
//!   its parent's cascade just forgets its slot (the parent emptied its list). So a long-lived
//!   parent's list holds only live, uncancelled children: no unbounded growth.
//! - *Timer*: `inner.timer` is `Some` only while the node is live and has its own deadline; it
//!   is cancelled on cancel and on drop, and its action holds only a weak link to the node.
//! - *Finish hook*: `inner.on_finish` is `Some` only while the node is live; it runs exactly
//!   once, when the node is cancelled (by any cause) or dropped live, or at once when it is
//!   set on a node cancelled already. It always runs with no lock of this module held, and
//!   before the done channel closes (a waiter woken by the close sees its effects).
//!
//! # Locks
//! Each node's `inner` is a short `std` mutex, never held across a park, an unpark, a channel
//! close, a timer call or another node's lock, except one case: creating a child locks the
//! parent, then writes the new child's slot (the child is not yet reachable by anyone else).
//! A cascade is iterative (a work list, no recursion), so a tree of any depth cancels in
//! constant stack, and so does dropping a long chain of nodes.
//!
//! # Memory ordering
//! `state` is stored with `Release` under the lock and read with `Acquire` by `err()` and
//! `is_done()`: a reader that sees the error sees what the canceller did before cancelling.
//! A waiter on the done channel is ordered by the channel's close.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use super::ContextError;
use crate::chan::{Channel, Receiver};
use crate::runtime::sched::lock;
use crate::runtime::timer::{self, TimerAction, TimerHandle};

const LIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE_EXCEEDED: u8 = 2;

fn encode(error: ContextError) -> u8 {
    match error {
        ContextError::Canceled => CANCELED,
        ContextError::DeadlineExceeded => DEADLINE_EXCEEDED,
    }
}

/// A cancellable context's shared state.
pub(super) struct CancelNode {
    /// The nearest cancellable ancestor, if any.
    parent: Option<Arc<CancelNode>>,
    /// The earliest deadline of this node and its ancestors.
    deadline: Option<Instant>,
    /// `LIVE`, `CANCELED` or `DEADLINE_EXCEEDED` (see the module invariants).
    state: AtomicU8,
    /// The done channel's receiving end, made on the first `done()`.
    done: OnceLock<Receiver<()>>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The done channel, kept to close it, while the node is live and `done()` was called.
    done_channel: Option<Arc<Channel<()>>>,
    children: Children,
    /// Our slot in `parent`'s list, while registered there.
    slot_in_parent: Option<usize>,
    /// Our own deadline's timer, while live.
    timer: Option<TimerHandle>,
    /// Runs once when the node is cancelled or dropped live (see the module invariants).
    on_finish: Option<FinishHook>,
}

/// What a node runs when it finishes: cancelled, or dropped without being cancelled.
pub(crate) type FinishHook = Box<dyn FnOnce() + Send>;

/// A slab of weak links to children; freed slots are reused, so its length is bounded by the
/// most children ever live at once, and it is released whenever it empties.
#[derive(Default)]
struct Children {
    slots: Vec<Option<Weak<CancelNode>>>,
    free: Vec<usize>,
    live: usize,
}

impl Children {
    fn insert(&mut self, child: Weak<CancelNode>) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(child);
                slot
            }
            None => {
                self.slots.push(Some(child));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) {
        if self.slots[slot].take().is_some() {
            self.live -= 1;
            if self.live == 0 {
                *self = Children::default();
            } else {
                self.free.push(slot);
            }
        }
    }
}

impl CancelNode {
    /// A new live node under `parent` with its own `deadline` (if any), registered with the
    /// parent and its timer armed. Returns it already cancelled if the parent is done or the
    /// deadline has passed.
    pub(super) fn new(
        parent: Option<&Arc<CancelNode>>,
        deadline: Option<Instant>,
    ) -> Arc<CancelNode> {
        let inherited = parent.and_then(|p| p.deadline);
        let effective = match (inherited, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A timer only if our deadline is earlier than every ancestor's (theirs cascade).
        let own_deadline = deadline.filter(|d| inherited.is_none_or(|i| *d < i));
        let node = Arc::new(CancelNode {
            parent: parent.cloned(),
            deadline: effective,
            state: AtomicU8::new(LIVE),
            done: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
        });
        if let Some(parent) = parent {
            let mut parent_inner = lock(&parent.inner);
            match parent.error() {
                Some(error) => {
                    drop(parent_inner);
                    node.cancel(error);
                    return node;
                }
                None => {
                    let slot = parent_inner.children.insert(Arc::downgrade(&node));
                    // Nested lock, parent then new child: nobody else can reach the child yet.
                    lock(&node.inner).slot_in_parent = Some(slot);
                }
            }
        }
        if let Some(deadline) = own_deadline {
            if deadline <= Instant::now() {
                node.cancel(ContextError::DeadlineExceeded);
            } else {
                let weak = Arc::downgrade(&node);
                let handle = timer::add(
                    deadline,
                    TimerAction::Call(Arc::new(move || {
                        if let Some(node) = weak.upgrade() {
                            node.cancel(ContextError::DeadlineExceeded);
                        }
                    })),
                );
                let mut inner = lock(&node.inner);
                if node.error().is_none() {
                    inner.timer = Some(handle);
                } else {
                    drop(inner);
                    handle.cancel();
                }
            }
        }
        node
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The error, once cancelled.
    pub(super) fn error(&self) -> Option<ContextError> {
        // Acquire: pairs with the Release store in `cancel_one`.
        match self.state.load(Ordering::Acquire) {
            LIVE => None,
            CANCELED => Some(ContextError::Canceled),
            _ => Some(ContextError::DeadlineExceeded),
        }
    }

    /// The done channel (made on first use; closed already if the node is cancelled).
    pub(super) fn done(&self) -> &Receiver<()> {
        if let Some(receiver) = self.done.get() {
            return receiver;
        }
        let mut inner = lock(&self.inner);
        // Under `inner`'s lock: no other initialiser, and `cancel_one` cannot slip between
        // the state check and storing the channel (module invariant "Done channel").
        self.done.get_or_init(|| {
            let channel = Arc::new(Channel::new(0));
            if self.error().is_some() {
                let _ = channel.close();
            } else {
                inner.done_channel = Some(Arc::clone(&channel));
            }
            Receiver { channel }
        })
    }

    /// Sets the hook run when this node finishes (cancelled, or dropped live); runs it now if
    /// the node is cancelled already. One hook per node: its creator sets it.
    pub(super) fn set_on_finish(&self, hook: FinishHook) {
        let mut inner = lock(&self.inner);
        if self.state.load(Ordering::Relaxed) == LIVE {
            debug_assert!(inner.on_finish.is_none(), "one finish hook per context");
            inner.on_finish = Some(hook);
        } else {
            drop(inner);
            hook();
        }
    }

    /// Cancels this node and, iteratively, every live descendant with the same error.
    pub(super) fn cancel(&self, error: ContextError) {
        let mut descendants = Vec::new();
        if !self.cancel_one(error, true, &mut descendants) {
            return;
        }
        while let Some(node) = descendants.pop() {
            node.cancel_one(error, false, &mut descendants);
        }
    }

    /// Cancels this node only, pushing its live children on `descendants`. `detach`: free our
    /// slot in the parent's list (false in a cascade: the parent emptied its list already).
    /// False if the node was cancelled before.
    fn cancel_one(
        &self,
        error: ContextError,
        detach: bool,
        descendants: &mut Vec<Arc<CancelNode>>,
    ) -> bool {
        let (channel, children, timer, slot, on_finish) = {
            let mut inner = lock(&self.inner);
            if self.state.load(Ordering::Relaxed) != LIVE {
                return false;
            }
            // Release: pairs with the Acquire load in `error`.
            self.state.store(encode(error), Ordering::Release);
            (
                inner.done_channel.take(),
                std::mem::take(&mut inner.children),
                inner.timer.take(),
                inner.slot_in_parent.take(),
                inner.on_finish.take(),
            )
        };
        // First: whoever sees the done channel closed also sees what the hook did.
        if let Some(hook) = on_finish {
            hook();
        }
        if let Some(timer) = timer {
            timer.cancel();
        }
        if let Some(channel) = channel {
            // Wakes every receiver, in `select!` or not. Only we close it (invariant).
            let _ = channel.close();
        }
        descendants.extend(
            children
                .slots
                .into_iter()
                .flatten()
                .filter_map(|w| w.upgrade()),
        );
        if let (true, Some(slot), Some(parent)) = (detach, slot, &self.parent) {
            parent.remove_child(slot);
        }
        true
    }

    fn remove_child(&self, slot: usize) {
        let mut inner = lock(&self.inner);
        // A cancelled parent emptied its list; our slot is gone with it.
        if self.state.load(Ordering::Relaxed) == LIVE {
            inner.children.remove(slot);
        }
    }

    /// Stops the timer, leaves the parent's list and runs the finish hook (on drop).
    fn release(&mut self) {
        let inner = self
            .inner
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let timer = inner.timer.take();
        let slot = inner.slot_in_parent.take();
        let on_finish = inner.on_finish.take();
        if let Some(timer) = timer {
            timer.cancel();
        }
        if let (Some(slot), Some(parent)) = (slot, &self.parent) {
            parent.remove_child(slot);
        }
        if let Some(hook) = on_finish {
            hook();
        }
    }

    /// Live children in the list (tests).
    #[cfg(test)]
    pub(super) fn child_count(&self) -> usize {
        lock(&self.inner).children.live
    }

    /// The deadline timer, while armed (tests).
    #[cfg(test)]
    pub(super) fn timer(&self) -> Option<TimerHandle> {
        lock(&self.inner).timer
    }

    /// Length of the list, free slots included (tests).
    #[cfg(test)]
    pub(super) fn child_slots(&self) -> usize {
        lock(&self.inner).children.slots.len()
    }
}

impl Drop for CancelNode {
    fn drop(&mut self) {
        self.release();
        // Drop the ancestors we held last one by one, not recursively: a chain of any depth
        // drops in constant stack.
        let mut parent = self.parent.take();
        while let Some(node) = parent {
            match Arc::into_inner(node) {
                Some(mut node) => {
                    node.release();
                    parent = node.parent.take();
                }
                None => break,
            }
        }
    }
}
