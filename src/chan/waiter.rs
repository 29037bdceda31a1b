//! `Waiter`: one blocked operation of one goroutine (Go's `sudog`), and the `Claim` that wakes it.
//!
//! A goroutine that must block on a channel operation (or on a whole `select!`) puts one
//! `Waiter` on its own stack, links one [`Entry`](super::waitq::Entry) per channel operation
//! into the channels' wait queues, and parks until some other party moves the waiter's state
//! word out of `WAITING`. Goroutine stacks never move, so the addresses stay valid while it is
//! parked; the waiter outlives every pointer to it by the protocol below.
//!
//! # The state word
//! `state` packs a tag (low 3 bits) and the index of the operation ("arm") it concerns:
//!
//! | tag        | meaning                                                                 | set by        |
//! |------------|-------------------------------------------------------------------------|---------------|
//! | `WAITING`  | registered, nobody has chosen it                                        | owner (init)  |
//! | `ABORTED`  | the owner gave up (deadline, or it found a ready arm itself)            | owner, by CAS |
//! | `CLAIMED`  | one claimer won the CAS from `WAITING` and is finishing the hand-off    | claimer, CAS  |
//! | `COMPLETED`| the claimer moved the value (into or out of the arm's packet)           | claimer       |
//! | `CLOSED`   | the arm's channel was closed; the packet was not touched                | claimer       |
//! | `RETRY`    | the arm may be ready now: the owner must try that arm again             | claimer       |
//! | `DELIVER`  | a receiver waits for this (lazy) send arm to deliver into `delivery`    | claimer       |
//!
//! Transitions: `WAITING → ABORTED` (owner) or `WAITING → CLAIMED` (one claimer, by CAS, so
//! exactly one party ever wins a waiter: the rule that makes a select woken by exactly one
//! channel), then `CLAIMED → COMPLETED | CLOSED | RETRY | DELIVER` (the same claimer). The last
//! four and `ABORTED` are final. A *sole* waiter (a plain blocking send or receive with no
//! deadline: one entry, an owner that never aborts) skips the claiming CAS, as nobody but
//! the one party that pops its entry under the queue lock can claim it
//! ([`Waiter::new_sole`]); it goes from `WAITING` straight to the final tag. The word and its
//! CAS/store protocol live in `waiter/state.rs`, model-checked with loom
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom_`): of an aborting owner and two
//! racing claimers exactly one wins, and the owner is woken and reads the winner's value.
//!
//! # Who may touch a waiter
//! - The owner, always (it only reads `state` and, after a final `DELIVER`, `delivery`).
//! - Anyone holding the lock of a wait queue in which one of its entries is linked may read
//!   `state` and try the claiming CAS.
//! - The single claimer, from its successful CAS until its final store. It takes the
//!   `unparker` out first, so after the final store it never touches the waiter again.
//!
//! The owner returns (and the waiter dies) only after it saw a final state, and after it
//! unlinked each of its entries under that queue's lock (a claimer unlinks the entry it
//! claims itself). So no pointer to a dead waiter is ever followed.
//!
//! # Memory ordering
//! The claimer's final store is `Release`; it pairs with the owner's `Acquire` load in
//! [`Waiter::wait`], so the value written into (or taken out of) the packet and the
//! `delivery` pointer are visible to the owner once it sees the final tag. The claiming CAS
//! is `Acquire` on success: it pairs with nothing stronger than the queue lock, under which
//! the entry (and the unparker put in the waiter before linking) was published.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::time::Instant;

use crate::runtime::g::WaitReason;
use crate::runtime::park::{park, park_until, Unparker};

mod state;

use state::{
    WaitState, ABORTED, CLAIMED, CLOSED, COMPLETED, DELIVER, RETRY, TAG_BITS, TAG_MASK, WAITING,
};

/// How a claimer ended a wait (what the owner must do next for the chosen arm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The value moved: into the arm's packet (a receive) or out of it (an eager send).
    Completed,
    /// The arm's channel was closed; the packet is untouched.
    Closed,
    /// The arm may be ready now; try it again (the buffered flavor's notification).
    Retry,
    /// A receiver waits for this lazy send arm; the pointer is its delivery packet.
    Deliver(*const ()),
}

/// The result of a wait: which arm and how, or nothing if the owner gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Woken {
    /// Index of the operation (0 for a plain send or receive).
    pub(crate) arm: usize,
    /// What the claimer did.
    pub(crate) wake: Wake,
}

/// One parked operation (or select) of one goroutine or thread.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// Tag and arm index; see the module table.
    state: WaitState,
    /// The owner's unparker. Written by the owner before any entry is linked; taken by the
    /// one claimer after its successful CAS; otherwise dropped by the owner.
    unparker: UnsafeCell<Option<Unparker>>,
    /// The delivery packet of a receiver that claimed a lazy send arm. Written by that
    /// claimer before its `Release` store of `DELIVER`, read by the owner after it.
    delivery: UnsafeCell<*const ()>,
    /// Why the owner is parked (for dumps).
    reason: WaitReason,
    /// A *sole* waiter has one entry, in one queue, and an owner that never gives up (no
    /// deadline, no select, no re-check that aborts): the one party that pops that entry
    /// under the queue's lock is its only possible claimer, so the claim needs no CAS (see
    /// [`Waiter::new_sole`]).
    sole: bool,
}

impl Waiter {
    /// A fresh waiter for the calling goroutine (or thread).
    #[inline]
    pub(crate) fn new(reason: WaitReason) -> Waiter {
        Waiter {
            state: WaitState::new(),
            unparker: UnsafeCell::new(Some(Unparker::current())),
            delivery: UnsafeCell::new(std::ptr::null()),
            reason,
            sole: false,
        }
    }

    /// A waiter whose claim skips the CAS: for a plain blocking operation with no deadline.
    ///
    /// The caller promises that the waiter gets exactly one entry, linked in one queue, and
    /// that the owner never aborts (never calls [`Waiter::abort`], never waits with a
    /// deadline). Then `WAITING` can only be left by whoever pops that entry, under the
    /// queue's lock, and that happens once: the claim is exclusive by the lock alone, and
    /// the CAS that arbitrates racing claimers and an aborting owner has nothing to
    /// arbitrate. The owner sees `WAITING` until the claimer's final store, which is the same
    /// Release store as for any waiter. (A channel ping-pong claims a waiter at every
    /// hand-off: this saves one locked instruction each time.)
    #[inline]
    fn new_sole(reason: WaitReason) -> Waiter {
        Waiter {
            sole: true,
            ..Waiter::new(reason)
        }
    }

    /// The waiter of a plain blocking operation that links one entry: sole (no claiming CAS)
    /// when it has no deadline, since its owner then never aborts (see [`Waiter::new_sole`]).
    #[inline]
    pub(crate) fn for_one_entry(reason: WaitReason, deadline: Option<Instant>) -> Waiter {
        match deadline {
            None => Waiter::new_sole(reason),
            Some(_) => Waiter::new(reason),
        }
    }

    /// Whether nobody has claimed the waiter and the owner has not given up.
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load() == WAITING
    }

    /// Parks until a claimer ends the wait, or until `deadline` (then the owner aborts, and
    /// `None` comes back). A claim that won the race with the deadline is still honoured.
    #[inline]
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Woken> {
        loop {
            // Acquire: pairs with the Release final store in `Claim::end`.
            let state = self.state.load();
            match state & TAG_MASK {
                WAITING => match deadline {
                    None => park(self.reason),
                    Some(deadline) => {
                        if let Some(outcome) = self.wait_for_deadline(deadline) {
                            return outcome;
                        }
                    }
                },
                // The claimer is moving the value; it unparks us after its final store.
                CLAIMED => park(self.reason),
                ABORTED => unreachable!("only the owner aborts, and it does not wait after"),
                _ => return Some(self.decode(state)),
            }
        }
    }

    /// One timed wait; `Some(outcome)` once the deadline has passed (out of line: most waits
    /// have no deadline, and this keeps `wait` small).
    #[inline(never)]
    fn wait_for_deadline(&self, deadline: Instant) -> Option<Option<Woken>> {
        if Instant::now() >= deadline {
            return Some(self.abort());
        }
        park_until(self.reason, deadline);
        None
    }

    /// Gives up waiting. Returns `None` if the abort won; if a claimer was first, waits for
    /// it to finish and returns its outcome, which the owner must then honour.
    pub(crate) fn abort(&self) -> Option<Woken> {
        debug_assert!(!self.sole, "a sole waiter's owner never aborts");
        if self.state.try_abort() {
            None
        } else {
            self.wait(None)
        }
    }

    #[inline]
    fn decode(&self, state: usize) -> Woken {
        let arm = state >> TAG_BITS;
        let wake = match state & TAG_MASK {
            COMPLETED => Wake::Completed,
            CLOSED => Wake::Closed,
            RETRY => Wake::Retry,
            DELIVER => {
                // SAFETY: the claimer wrote `delivery` before its Release store of DELIVER,
                // which our Acquire load saw; nobody writes it afterwards.
                Wake::Deliver(unsafe { *self.delivery.get() })
            }
            tag => unreachable!("not a final waiter state: {tag}"),
        };
        Woken { arm, wake }
    }

    /// Tries to become the one claimer of `waiter` for operation `arm`.
    ///
    /// # Safety
    /// `waiter` must be alive: the caller holds the lock of a wait queue in which an entry
    /// pointing to it is (or was, since the caller popped it under the same lock hold) linked.
    #[inline]
    pub(crate) unsafe fn try_claim(waiter: NonNull<Waiter>, arm: usize) -> Option<Claim> {
        // SAFETY: alive by the caller's contract.
        let this = unsafe { waiter.as_ref() };
        if this.sole {
            // Exclusive by the queue lock (see `new_sole`): the entry was linked and popped
            // under it, and the unparker was stored before the link, so the lock orders it.
            debug_assert_eq!(this.state.load(), WAITING, "a sole waiter claimed twice");
        } else if !this.state.try_claim(arm) {
            // Acquire on success: we read the unparker the owner stored before linking (the
            // queue lock already orders it; Acquire keeps the claim self-contained).
            return None;
        }
        // SAFETY: we are the only claimer (by our CAS, or for a sole waiter by the queue
        // lock under which we popped its one entry); the owner does not touch `unparker`
        // until it sees a final state, which only we can store.
        let unparker = unsafe { (*this.unparker.get()).take() };
        Some(Claim {
            waiter,
            unparker,
            arm,
        })
    }
}

// SAFETY: the cells are written only under the protocol in the module docs (owner before
// linking, one claimer between its CAS and its final Release store, owner after an Acquire
// of that store); every other field is atomic or immutable.
unsafe impl Sync for Waiter {}

/// The right, won by CAS, to end one waiter's wait. Ending it is the claimer's duty: a claim
/// dropped without [`Claim::finish`] or [`Claim::deliver`] (say, while unwinding) ends the
/// wait with [`Wake::Retry`], so the owner is never left parked.
#[derive(Debug)]
pub(crate) struct Claim {
    waiter: NonNull<Waiter>,
    unparker: Option<Unparker>,
    arm: usize,
}

impl Claim {
    /// Ends the wait with `wake` (not `Deliver`) and unparks the owner.
    #[inline]
    pub(crate) fn finish(self, wake: Wake) {
        let tag = match wake {
            Wake::Completed => COMPLETED,
            Wake::Closed => CLOSED,
            Wake::Retry => RETRY,
            Wake::Deliver(_) => unreachable!("use Claim::deliver"),
        };
        self.end(tag);
    }

    /// Ends the wait with `DELIVER`: the owner (a lazy send arm) must deliver its value into
    /// `delivery`, a packet the claimer keeps alive until the owner marks it done.
    pub(crate) fn deliver(self, delivery: *const ()) {
        // SAFETY: we are the one claimer (CAS won); the owner reads `delivery` only after
        // seeing the DELIVER tag that `end` stores below with Release.
        unsafe { *self.waiter.as_ref().delivery.get() = delivery };
        self.end(DELIVER);
    }

    /// Consumes the claim without running its `Drop` (the retry-on-unwind net), which would
    /// only find the unparker gone.
    #[inline]
    fn end(self, tag: usize) {
        let mut this = std::mem::ManuallyDrop::new(self);
        this.end_in_place(tag);
    }

    #[inline]
    fn end_in_place(&mut self, tag: usize) {
        // SAFETY: the waiter stays alive until the owner sees a final state, which is the
        // store below; this is our last access to it.
        let state = unsafe { &self.waiter.as_ref().state };
        // Release: pairs with the Acquire load in `Waiter::wait`; publishes the packet.
        state.finish(tag, self.arm);
        if let Some(unparker) = self.unparker.take() {
            unparker.unpark();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.unparker.is_some() {
            self.end_in_place(RETRY);
        }
    }
}
