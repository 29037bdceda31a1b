//! The unbuffered flavor (`cap == 0`): a rendezvous. A send completes only when a receiver
//! takes the value, by direct hand-off between the two parties' frames (no buffer).
//!
//! One lock guards both wait queues and the closed flag. An operation that finds a waiting
//! counterpart claims it (CAS on its [`Waiter`]), unlocks, moves the value through the
//! counterpart's packet, and wakes it; otherwise it links its own entry and parks.
//!
//! # Packets
//! - A waiting receiver's packet is an empty `Option<T>` in its frame; the sender fills it.
//! - A waiting plain sender's packet is its value, `Some(T)`; the receiver empties it.
//! - A waiting `select!` send arm is *lazy*: its value expression has not run (if the arm
//!   loses, the value stays with the caller). Its entry has no packet. A receiver that claims
//!   it puts a [`Delivery`] in its own frame and parks until the sender's goroutine, woken
//!   with `DELIVER`, has evaluated the value and filled the delivery (or given up: then the
//!   receiver simply tries again).
//!
//! # Invariants (under `state`'s lock)
//! - At most one of `senders` and `receivers` holds a waiting entry, except when one select
//!   waits on both ends of this channel (it never matches itself: `has_waiting` skips it).
//! - `closed` ⇒ both queues are empty of waiting entries once `close` returns, and no entry
//!   is linked afterwards (registration checks `closed` under the same lock hold).
//! - A packet is touched only by its owner, or by the one claimer of its waiter between the
//!   claim and the final store (see `waiter.rs`).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use super::spinlock::{SpinGuard, SpinLock};
use super::waiter::{Claim, Waiter, Wake, Woken};
use super::waitq::{ClaimedEntry, Entry, WaitQueue};
use crate::runtime::g::WaitReason;
use crate::runtime::park::{park, Unparker};

/// The two wait queues and the closed flag, under one lock.
#[derive(Debug)]
struct ZeroState {
    senders: WaitQueue,
    receivers: WaitQueue,
    closed: bool,
}

/// The unbuffered channel state.
pub(crate) struct ZeroChannel<T> {
    state: SpinLock<ZeroState>,
    /// A lock-free summary of `state` for `select!`'s readiness peek: `SENDERS_WAITING`,
    /// `RECEIVERS_WAITING`, `CLOSED`. Rewritten (Relaxed) at the end of every lock hold; a
    /// peek may be stale, and only decides which arm to try first.
    summary: AtomicU8,
    _values: PhantomData<T>,
}

const SENDERS_WAITING: u8 = 1;
const RECEIVERS_WAITING: u8 = 2;
const CLOSED: u8 = 4;

/// The lock guard of a `ZeroChannel`: releasing it refreshes the channel's `summary`.
struct ZeroGuard<'a> {
    state: SpinGuard<'a, ZeroState>,
    summary: &'a AtomicU8,
}

impl std::ops::Deref for ZeroGuard<'_> {
    type Target = ZeroState;
    fn deref(&self) -> &ZeroState {
        &self.state
    }
}

impl std::ops::DerefMut for ZeroGuard<'_> {
    fn deref_mut(&mut self) -> &mut ZeroState {
        &mut self.state
    }
}

impl Drop for ZeroGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Branch-free: this runs at every unlock, and which queue holds a waiter flips with
        // every hand-off of a ping-pong (unpredictable branches).
        let summary = (u8::from(!self.state.senders.is_empty()) * SENDERS_WAITING)
            | (u8::from(!self.state.receivers.is_empty()) * RECEIVERS_WAITING)
            | (u8::from(self.state.closed) * CLOSED);
        self.summary.store(summary, Ordering::Relaxed);
    }
}

/// Whether an operation may park, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocking {
    /// `try_*`: never park.
    No,
    /// Park, until the deadline if there is one.
    Until(Option<Instant>),
}

/// Why an unbuffered send failed; the value comes back.
#[derive(Debug)]
pub(crate) enum SendFailure<T> {
    /// Non-blocking, and no receiver was waiting.
    Full(T),
    /// The deadline passed.
    Timeout(T),
    /// Closed.
    Closed(T),
}

/// Why an unbuffered receive returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvFailure {
    /// Non-blocking, and no sender was waiting.
    Empty,
    /// The deadline passed.
    Timeout,
    /// Closed.
    Closed,
}

// SAFETY: values cross threads through packets (`T: Send`); the state is under its lock.
unsafe impl<T: Send> Send for ZeroChannel<T> {}
// SAFETY: as above; shared access never hands out `&T`.
unsafe impl<T: Send> Sync for ZeroChannel<T> {}

impl<T> ZeroChannel<T> {
    /// A fresh, open rendezvous channel.
    pub(crate) fn new() -> ZeroChannel<T> {
        ZeroChannel {
            state: SpinLock::new(ZeroState {
                senders: WaitQueue::new(),
                receivers: WaitQueue::new(),
                closed: false,
            }),
            summary: AtomicU8::new(0),
            _values: PhantomData,
        }
    }

    #[inline]
    fn lock(&self) -> ZeroGuard<'_> {
        ZeroGuard {
            state: self.state.lock(),
            summary: &self.summary,
        }
    }

    /// Select's peek: whether a receive might proceed now (a sender waits, or closed).
    #[inline]
    pub(crate) fn may_recv(&self) -> bool {
        self.summary.load(Ordering::Relaxed) & (SENDERS_WAITING | CLOSED) != 0
    }

    /// Select's peek: whether a send might proceed now (a receiver waits, or closed).
    #[inline]
    pub(crate) fn may_send(&self) -> bool {
        self.summary.load(Ordering::Relaxed) & (RECEIVERS_WAITING | CLOSED) != 0
    }

    /// Sends `value`, handing it to a waiting receiver or parking until one comes.
    #[inline]
    pub(crate) fn send(&self, value: T, blocking: Blocking) -> Result<(), SendFailure<T>> {
        let mut state = self.lock();
        if let Some(receiver) = state.receivers.claim_front() {
            drop(state);
            // SAFETY: a receiver entry of this channel has an `Option<T>` packet that its
            // owner keeps alive until our claim ends.
            unsafe { give(receiver, value) };
            return Ok(());
        }
        self.send_slow(state, value, blocking)
    }

    /// `send` with no receiver waiting at the first look (out of line: the hand-off above
    /// stays small).
    #[inline(never)]
    fn send_slow(
        &self,
        first_hold: ZeroGuard<'_>,
        mut value: T,
        blocking: Blocking,
    ) -> Result<(), SendFailure<T>> {
        // `send` found no receiver under this hold: no second look before parking.
        let mut state = first_hold;
        loop {
            if state.closed {
                return Err(SendFailure::Closed(value));
            }
            let deadline = match blocking {
                Blocking::No => return Err(SendFailure::Full(value)),
                Blocking::Until(deadline) => deadline,
            };
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(SendFailure::Timeout(value));
            }
            let waiter = Waiter::for_one_entry(WaitReason::ChanSend, deadline);
            let packet = UnsafeCell::new(Some(value));
            let entry = Entry::new(&waiter, 0, packet.get().cast());
            // SAFETY: `entry` and `waiter` live in this frame; the entry is unlinked before
            // the frame dies: by its claimer (when `wait` returns `Some`) or below.
            unsafe { state.senders.push_back(&entry) };
            drop(state);
            let woken = waiter.wait(deadline);
            if woken.is_none() {
                // SAFETY: linked (if at all) in `senders` of this channel.
                unsafe { self.lock().senders.remove(&entry) };
            }
            if let Some(Woken {
                wake: Wake::Completed,
                ..
            }) = woken
            {
                return Ok(());
            }
            // Not taken: the value is still in the packet (the claimer's final store, seen
            // by `wait`, ordered any access it made).
            value = packet
                .into_inner()
                .expect("an untaken send keeps its value");
            match woken {
                Some(Woken {
                    wake: Wake::Closed, ..
                }) => return Err(SendFailure::Closed(value)),
                None => return Err(SendFailure::Timeout(value)),
                Some(_) => {}
            }
            // Woken to retry (a claim dropped while unwinding): look for a receiver again.
            state = self.lock();
            if let Some(receiver) = state.receivers.claim_front() {
                drop(state);
                // SAFETY: a receiver entry of this channel has an `Option<T>` packet that its
                // owner keeps alive until our claim ends.
                unsafe { give(receiver, value) };
                return Ok(());
            }
        }
    }

    /// Receives a value from a waiting sender, or parks until one comes.
    pub(crate) fn recv(&self, blocking: Blocking) -> Result<T, RecvFailure> {
        loop {
            let mut state = self.lock();
            if let Some(sender) = state.senders.claim_front() {
                drop(state);
                // SAFETY: a sender entry of this channel has an `Option<T>` packet (or none,
                // if lazy) kept alive until our claim ends.
                match unsafe { take(sender) } {
                    Some(value) => return Ok(value),
                    None => continue, // a lazy sender gave up; look again
                }
            }
            if state.closed {
                return Err(RecvFailure::Closed);
            }
            let deadline = match blocking {
                Blocking::No => return Err(RecvFailure::Empty),
                Blocking::Until(deadline) => deadline,
            };
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(RecvFailure::Timeout);
            }
            let waiter = Waiter::for_one_entry(WaitReason::ChanRecv, deadline);
            let packet: UnsafeCell<Option<T>> = UnsafeCell::new(None);
            let entry = Entry::new(&waiter, 0, packet.get().cast());
            // SAFETY: as in `send`.
            unsafe { state.receivers.push_back(&entry) };
            drop(state);
            let woken = waiter.wait(deadline);
            if woken.is_none() {
                // SAFETY: linked (if at all) in `receivers` of this channel.
                unsafe { self.lock().receivers.remove(&entry) };
            }
            match woken {
                Some(Woken {
                    wake: Wake::Completed,
                    ..
                }) => {
                    return Ok(packet
                        .into_inner()
                        .expect("a completed receive's packet is full"));
                }
                Some(Woken {
                    wake: Wake::Closed, ..
                }) => return Err(RecvFailure::Closed),
                Some(Woken {
                    wake: Wake::Retry | Wake::Deliver(_),
                    ..
                }) => continue,
                None => return Err(RecvFailure::Timeout),
            }
        }
    }

    /// Closes the channel and wakes every waiter with `Closed`; false if already closed.
    pub(crate) fn close(&self) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.closed = true;
        loop {
            let claimed = state
                .receivers
                .claim_front()
                .or_else(|| state.senders.claim_front());
            let Some(claimed) = claimed else { return true };
            // Wake outside the lock; `closed` keeps new entries out meanwhile.
            drop(state);
            claimed.claim.finish(Wake::Closed);
            state = self.lock();
        }
    }

    /// Whether the channel is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Select, send arm: claims a waiting receiver without sending yet (the arm's value
    /// expression runs after the select chose it). `Err(true)`: closed; `Err(false)`: none.
    pub(crate) fn claim_receiver(&self) -> Result<ReceiverClaim<T>, bool> {
        let mut state = self.lock();
        match state.receivers.claim_front() {
            Some(receiver) => Ok(ReceiverClaim {
                receiver,
                _values: PhantomData,
            }),
            None => Err(state.closed),
        }
    }

    /// Select: links `entry` in the queue of its direction, and says whether the arm may be
    /// ready already (a counterpart other than `waiter` is waiting; or the channel is closed,
    /// and then the entry is not linked).
    ///
    /// # Safety
    /// As [`WaitQueue::push_back`]. A receiving `entry`'s packet is an `Option<T>` slot
    /// (empty); a sending one's packet is null (lazy).
    pub(crate) unsafe fn register(&self, entry: &Entry, waiter: &Waiter, sending: bool) -> bool {
        let mut state = self.lock();
        if state.closed {
            return true; // not linked: a closed channel keeps its queues empty
        }
        let state = &mut *state;
        let (own, other) = if sending {
            (&mut state.senders, &state.receivers)
        } else {
            (&mut state.receivers, &state.senders)
        };
        // SAFETY: forwarded from our caller.
        unsafe { own.push_back(entry) };
        other.has_waiting(Some(waiter))
    }

    /// Select: unlinks `entry` if still linked.
    ///
    /// # Safety
    /// `entry` was registered (if at all) with this channel in direction `sending`.
    pub(crate) unsafe fn unregister(&self, entry: &Entry, sending: bool) {
        let mut state = self.lock();
        let queue = if sending {
            &mut state.senders
        } else {
            &mut state.receivers
        };
        // SAFETY: forwarded from our caller.
        unsafe { queue.remove(entry) };
    }
}

impl<T> std::fmt::Debug for ZeroChannel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZeroChannel")
            .field("state", &*self.lock())
            .finish()
    }
}

/// Hands `value` to a claimed waiting receiver and wakes it.
///
/// # Safety
/// `receiver` is a claimed receiver entry of a channel of `T` (its packet: an empty
/// `Option<T>` kept alive until the claim ends).
unsafe fn give<T>(receiver: ClaimedEntry, value: T) {
    let packet = receiver.packet.cast::<Option<T>>();
    // SAFETY: the caller's contract; our claim gives exclusive access to the packet.
    unsafe { packet.write(Some(value)) };
    receiver.claim.finish(Wake::Completed);
}

/// Takes the value of a claimed waiting sender and wakes it; `None` if the sender was a lazy
/// select arm that gave up (after it was asked to deliver).
///
/// # Safety
/// `sender` is a claimed sender entry of a channel of `T` (its packet: a full `Option<T>`,
/// or null for a lazy arm).
unsafe fn take<T>(sender: ClaimedEntry) -> Option<T> {
    if sender.packet.is_null() {
        return receive_delivery(sender.claim);
    }
    let packet = sender.packet.cast::<Option<T>>();
    // SAFETY: the caller's contract; our claim gives exclusive access to the packet.
    let value = unsafe { (*packet).take() };
    debug_assert!(value.is_some(), "an eager sender's packet holds its value");
    sender.claim.finish(Wake::Completed);
    value
}

const PENDING: u8 = 0;
const READY: u8 = 1;
const ABANDONED: u8 = 2;

/// Where a lazy send arm delivers its value to the receiver that claimed it. Lives in the
/// receiver's frame; the receiver parks until `state` leaves `PENDING`.
struct Delivery<T> {
    /// `PENDING`, then `READY` (value written) or `ABANDONED`, stored `Release` by the
    /// deliverer (pairs with the receiver's `Acquire` load).
    state: AtomicU8,
    value: UnsafeCell<Option<T>>,
    /// The receiver's unparker, taken by the deliverer before its final store.
    unparker: UnsafeCell<Option<Unparker>>,
}

/// Asks the claimed lazy sender to deliver, then parks until it has.
fn receive_delivery<T>(claim: Claim) -> Option<T> {
    let delivery = Delivery::<T> {
        state: AtomicU8::new(PENDING),
        value: UnsafeCell::new(None),
        unparker: UnsafeCell::new(Some(Unparker::current())),
    };
    claim.deliver(ptr::from_ref(&delivery).cast());
    loop {
        // Acquire: pairs with the Release store in `DeliveryTarget::end`.
        match delivery.state.load(Ordering::Acquire) {
            PENDING => park(WaitReason::ChanRecv),
            READY => return delivery.value.into_inner(),
            _ => return None,
        }
    }
}

/// A waiting receiver, claimed by a select send arm that has not evaluated its value yet.
/// Dropped without [`ReceiverClaim::give`], the receiver retries.
#[derive(Debug)]
pub(crate) struct ReceiverClaim<T> {
    receiver: ClaimedEntry,
    _values: PhantomData<fn(T)>,
}

impl<T> ReceiverClaim<T> {
    /// Hands the value over and wakes the receiver.
    pub(crate) fn give(self, value: T) {
        // SAFETY: the claim came from `claim_receiver` of a channel of `T`.
        unsafe { give(self.receiver, value) }
    }
}

/// A receiver waiting for this (lazy) send arm's value: the `Deliver` outcome. Dropped
/// without [`DeliveryTarget::give`], the receiver is told to try again.
#[derive(Debug)]
pub(crate) struct DeliveryTarget<T> {
    delivery: NonNull<()>,
    _values: PhantomData<fn(T)>,
}

impl<T> DeliveryTarget<T> {
    /// Wraps the pointer of a `Deliver` outcome.
    ///
    /// # Safety
    /// `delivery` came from a `Deliver` outcome of an entry of a channel of `T`, and the
    /// target is used (given or dropped) once.
    pub(crate) unsafe fn new(delivery: *const ()) -> DeliveryTarget<T> {
        DeliveryTarget {
            delivery: NonNull::new(delivery.cast_mut()).expect("a delivery packet"),
            _values: PhantomData,
        }
    }

    /// Delivers the value and wakes the receiver.
    pub(crate) fn give(self, value: T) {
        let delivery = self.delivery.cast::<Delivery<T>>();
        // SAFETY: the receiver keeps the delivery alive while `PENDING`; until our final
        // store we are its only writer.
        unsafe { *delivery.as_ref().value.get() = Some(value) };
        self.end(READY);
    }

    fn end(self, outcome: u8) {
        let delivery = self.delivery.cast::<Delivery<T>>();
        std::mem::forget(self);
        // SAFETY: as in `give`: alive and ours until the store below.
        let delivery = unsafe { delivery.as_ref() };
        // SAFETY: we are the only party touching the unparker before the final store.
        let unparker = unsafe { (*delivery.unparker.get()).take() };
        // Release: pairs with the Acquire in `receive_delivery`; after it, hands off.
        delivery.state.store(outcome, Ordering::Release);
        if let Some(unparker) = unparker {
            unparker.unpark();
        }
    }
}

impl<T> Drop for DeliveryTarget<T> {
    fn drop(&mut self) {
        let target = DeliveryTarget::<T> {
            delivery: self.delivery,
            _values: PhantomData,
        };
        target.end(ABANDONED);
    }
}
