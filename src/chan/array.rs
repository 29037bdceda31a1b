//! The buffered flavor (`cap > 0`): a bounded lock-free ring (Dmitry Vyukov's bounded MPMC
//! queue: a stamp per slot says which lap may use it) plus two wait lists for the blocked.
//!
//! # Positions and stamps
//! `head` (next position to receive) and `tail` (next position to send) are `lap | index`:
//! `index < capacity`, and `lap` a multiple of `one_lap`, a power of two above `mark_bit`,
//! itself the smallest power of two above `capacity`. `tail` also carries `mark_bit` once the
//! channel is closed for sending. For the slot of position `p`, its stamp is one of:
//!
//! | stamp                | meaning                                                         |
//! |----------------------|-----------------------------------------------------------------|
//! | `p`                  | free for the sender of position `p` (or reserved, being written)|
//! | `p \| mark_bit`      | reserved by a *lazy* sender (a `select!` send arm) whose value expression has not run yet |
//! | `p + 1`              | holds the value sent at `p`                                     |
//! | `(p + 1) \| mark_bit`| a hole: the lazy sender of `p` gave up; the receiver skips it   |
//! | `p + one_lap`        | received; free for the next lap                                  |
//!
//! A sender reserves `p` by CAS of `tail` from `p`, writes, then publishes `p + 1`; a receiver
//! reserves by CAS of `head`, reads, then frees the slot for the next lap.
//!
//! # Invariants
//! - `head ≤ tail ≤ head + capacity` (in positions, mark bit aside): the ring never holds more
//!   than `capacity` reserved-or-full slots.
//! - Values are received in reservation order (FIFO across all senders): a receiver takes
//!   position `head` or nothing; a later published slot never overtakes an earlier reserved one.
//! - A receiver parks only if, after it linked its entry, the ring was empty (`head == tail`)
//!   or the slot at `head` was lazily reserved. A sender parks only if, after it linked its
//!   entry, the ring was full. (No lost wake-up: see `WaitList`'s ordering note; every publish
//!   or free is followed by a notification.)
//! - Because a receiver may park behind a lazily reserved slot while later slots fill, the
//!   lazy sender's publish (or hole) wakes *every* waiting receiver, not one.
//! - No user code runs between a non-lazy reservation and its publication, so waiting for
//!   it may spin (`Backoff::snooze`); a lazy reservation is never spun on.
//!
//! # Memory ordering
//! Stamp stores are `Release` and stamp loads `Acquire`: a publish pairs with the receiver's
//! load (the value is visible), a free pairs with the next sender's load (the old value was
//! read out). The `head`/`tail` CASes and the re-checks are `SeqCst`: they are the "publish,
//! then look for waiters" / "register, then look again" pairs of `WaitList`. The lazy publish
//! adds a `SeqCst` fence between its stamp store and its look for waiters, pairing with the
//! fence a registering receiver issues before it re-reads the stamp.

use std::cell::UnsafeCell;
use std::mem::{self, MaybeUninit};
use std::ops::Deref;
use std::sync::atomic::{self, AtomicUsize, Ordering};
use std::time::Instant;

use super::backoff::{spinning_may_help, Backoff};
use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use super::waiter::{Waiter, Woken};
use super::waitq::{Entry, WaitList};
use crate::runtime::g::WaitReason;

/// Keeps `head` and `tail` on separate cache lines (128 bytes: adjacent-line prefetch).
#[repr(align(128))]
#[derive(Debug)]
struct CachePadded<T>(T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

struct Slot<T> {
    /// See the module's stamp table.
    stamp: AtomicUsize,
    /// Initialised exactly when the stamp is `p + 1` for the slot's current position `p`.
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Why nothing could be received right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotReceived {
    /// Nothing reserved.
    Empty,
    /// The slot at `head` waits for a lazy sender.
    LazyPending,
    /// Closed and drained.
    Closed,
}

/// Why no slot could be reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotReserved {
    /// `capacity` slots are reserved or full.
    Full,
    /// Closed for sending.
    Closed,
}

/// The buffered channel state.
pub(crate) struct ArrayChannel<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    capacity: usize,
    mark_bit: usize,
    one_lap: usize,
    /// Senders blocked on a full ring.
    senders: WaitList,
    /// Receivers blocked on an empty ring (or behind a lazy reservation).
    receivers: WaitList,
}

// SAFETY: values move between threads through the slots (so `T: Send`); a slot's value is
// only touched by the one party whose CAS reserved its position (stamp protocol above).
unsafe impl<T: Send> Send for ArrayChannel<T> {}
// SAFETY: as above; shared access never hands out `&T`.
unsafe impl<T: Send> Sync for ArrayChannel<T> {}

impl<T> ArrayChannel<T> {
    /// A ring of `capacity > 0` slots.
    pub(crate) fn new(capacity: usize) -> ArrayChannel<T> {
        assert!(capacity > 0, "the buffered flavor needs a capacity");
        let mark_bit = (capacity + 1).next_power_of_two();
        let one_lap = mark_bit.checked_mul(2).expect("channel capacity too large");
        let slots = (0..capacity)
            .map(|index| Slot {
                stamp: AtomicUsize::new(index),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        ArrayChannel {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            slots,
            capacity,
            mark_bit,
            one_lap,
            senders: WaitList::new(),
            receivers: WaitList::new(),
        }
    }

    /// The position after `position`.
    #[inline]
    fn next_position(&self, position: usize) -> usize {
        let index = position & (self.mark_bit - 1);
        if index + 1 < self.capacity {
            position.wrapping_add(1)
        } else {
            (position & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    #[inline]
    fn slot(&self, position: usize) -> &Slot<T> {
        // The mask keeps the index below `mark_bit`; positions keep it below `capacity`.
        &self.slots[position & (self.mark_bit - 1)]
    }

    /// Reserves the slot at `tail`. A `lazy` reservation (a select send arm, whose value
    /// expression runs before the commit) is marked so receivers park rather than spin on it.
    pub(crate) fn reserve(&self, lazy: bool) -> Result<SlotReservation<'_, T>, NotReserved> {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(NotReserved::Closed);
            }
            let slot = self.slot(tail);
            // Acquire: pairs with the Release free in `take`; the old value was read out.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                let next = self.next_position(tail);
                // SeqCst: the "publish, then look for waiters" half of `WaitList`'s pairing.
                match self.tail.compare_exchange_weak(
                    tail,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if lazy {
                            slot.stamp.store(tail | self.mark_bit, Ordering::Relaxed);
                        }
                        return Ok(SlotReservation {
                            channel: self,
                            position: tail,
                            lazy,
                        });
                    }
                    Err(current) => {
                        tail = current;
                        backoff.spin();
                    }
                }
            } else {
                // The slot is not free for this lap: either the ring is full, or another
                // sender moved `tail`, or a receiver is between its CAS and its free.
                let head = self.head.load(Ordering::SeqCst);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(NotReserved::Full);
                }
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the value at `head`, skipping holes.
    pub(crate) fn take(&self) -> Result<T, NotReceived> {
        let mut backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            // Acquire: pairs with the Release publish in `SlotReservation::commit`.
            let stamp = slot.stamp.load(Ordering::Acquire);
            let published = head.wrapping_add(1);
            if stamp & !self.mark_bit == published {
                let next = self.next_position(head);
                // SeqCst: the "free, then look for waiting senders" half of the pairing.
                match self.head.compare_exchange_weak(
                    head,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let value = if stamp == published {
                            // SAFETY: the stamp says the slot holds the value of `head`, and
                            // our CAS made us its only reader.
                            Some(unsafe { slot.value.get().read().assume_init() })
                        } else {
                            None // a hole
                        };
                        // Release: pairs with the Acquire in `reserve` of the next lap.
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        self.senders.notify_one();
                        match value {
                            Some(value) => return Ok(value),
                            None => {
                                head = self.head.load(Ordering::Relaxed);
                                continue;
                            }
                        }
                    }
                    Err(current) => {
                        head = current;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                let tail = self.tail.load(Ordering::SeqCst);
                if tail & !self.mark_bit == head {
                    return Err(if tail & self.mark_bit != 0 {
                        NotReceived::Closed
                    } else {
                        NotReceived::Empty
                    });
                }
                // A non-lazy sender is between its reservation and its publish.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            } else if stamp == head | self.mark_bit {
                return Err(NotReceived::LazyPending);
            } else {
                // Another receiver took `head`; catch up.
                backoff.spin();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Re-check after linking a sender entry: may it park? (False: retry instead.)
    pub(crate) fn sender_must_wait(&self) -> bool {
        atomic::fence(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        if tail & self.mark_bit != 0 {
            return false;
        }
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail
    }

    /// Re-check after linking a receiver entry: may it park? (False: retry instead.)
    pub(crate) fn receiver_must_wait(&self) -> bool {
        // SeqCst fence: pairs with the fence of a lazy publish (see the module's ordering).
        atomic::fence(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        if tail & !self.mark_bit == head {
            return tail & self.mark_bit == 0;
        }
        self.slot(head).stamp.load(Ordering::SeqCst) == head | self.mark_bit
    }

    /// Closes the ring for sending and wakes everyone; false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        if tail & self.mark_bit != 0 {
            return false;
        }
        self.senders.notify_all();
        self.receivers.notify_all();
        true
    }

    /// Whether sending is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// Reserved-or-full slots (a snapshot).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) != tail {
                continue;
            }
            let head_index = head & (self.mark_bit - 1);
            let tail_index = tail & (self.mark_bit - 1);
            return if head_index < tail_index {
                tail_index - head_index
            } else if head_index > tail_index {
                self.capacity - head_index + tail_index
            } else if tail & !self.mark_bit == head {
                0
            } else {
                self.capacity
            };
        }
    }

    /// The capacity given at creation.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The wait list of blocked senders.
    pub(crate) fn senders(&self) -> &WaitList {
        &self.senders
    }

    /// The wait list of blocked receivers.
    pub(crate) fn receivers(&self) -> &WaitList {
        &self.receivers
    }

    /// Sends without blocking.
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.reserve(false) {
            Ok(reservation) => {
                reservation.commit(value);
                Ok(())
            }
            Err(NotReserved::Full) => Err(TrySendError::Full(value)),
            Err(NotReserved::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// Sends, parking while the ring is full, until `deadline` if any.
    pub(crate) fn send(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut backoff = Backoff::new();
        let mut may_spin = None;
        loop {
            match self.reserve(false) {
                Ok(reservation) => {
                    reservation.commit(value);
                    return Ok(());
                }
                Err(NotReserved::Closed) => return Err(SendTimeoutError::Closed(value)),
                Err(NotReserved::Full) => {}
            }
            if !backoff.is_completed() && *may_spin.get_or_insert_with(spinning_may_help) {
                backoff.spin();
                continue;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(SendTimeoutError::Timeout(value));
            }
            let waiter = Waiter::new(WaitReason::ChanSend);
            let entry = Entry::new(&waiter, 0, std::ptr::null_mut());
            if park_on(&self.senders, &waiter, &entry, deadline, || {
                self.sender_must_wait()
            }) == Parked::TimedOut
            {
                return Err(SendTimeoutError::Timeout(value));
            }
        }
    }

    /// Receives without blocking.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        self.take().map_err(|reason| match reason {
            NotReceived::Empty | NotReceived::LazyPending => TryRecvError::Empty,
            NotReceived::Closed => TryRecvError::Closed,
        })
    }

    /// Receives, parking while the ring is empty, until `deadline` if any.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut backoff = Backoff::new();
        let mut may_spin = None;
        loop {
            match self.take() {
                Ok(value) => return Ok(value),
                Err(NotReceived::Closed) => return Err(RecvTimeoutError::Closed),
                Err(NotReceived::Empty)
                    if !backoff.is_completed()
                        && *may_spin.get_or_insert_with(spinning_may_help) =>
                {
                    backoff.spin();
                    continue;
                }
                Err(NotReceived::Empty | NotReceived::LazyPending) => {}
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
            let waiter = Waiter::new(WaitReason::ChanRecv);
            let entry = Entry::new(&waiter, 0, std::ptr::null_mut());
            if park_on(&self.receivers, &waiter, &entry, deadline, || {
                self.receiver_must_wait()
            }) == Parked::TimedOut
            {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }
}

/// How a plain blocking operation's park ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parked {
    /// Woken (or the re-check said no need to park): try again.
    Retry,
    /// The deadline passed; the entry is unlinked.
    TimedOut,
}

/// Registers `entry`, re-checks with `must_wait`, parks, and unlinks: the slow path shared
/// by a blocked send and a blocked receive.
fn park_on(
    list: &WaitList,
    waiter: &Waiter,
    entry: &Entry,
    deadline: Option<Instant>,
    must_wait: impl FnOnce() -> bool,
) -> Parked {
    // SAFETY: `entry` lives in this frame until the function returns, and it is unlinked
    // before that: by the claimer when the wait ends with a claim (`Some`), or below.
    unsafe { list.register(entry) };
    let woken: Option<Woken> = if must_wait() {
        waiter.wait(deadline)
    } else {
        waiter.abort()
    };
    match woken {
        // A claimer popped the entry; the outcome for a buffered channel is always Retry.
        Some(_) => Parked::Retry,
        None => {
            // SAFETY: registered with this list only.
            unsafe { list.unregister(entry) };
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                Parked::TimedOut
            } else {
                Parked::Retry
            }
        }
    }
}

/// A reserved slot, to be filled by [`SlotReservation::commit`]. Dropped without a commit
/// (a panicking `select!` send expression), it becomes a hole that receivers skip.
#[derive(Debug)]
pub(crate) struct SlotReservation<'a, T> {
    channel: &'a ArrayChannel<T>,
    position: usize,
    lazy: bool,
}

impl<T> SlotReservation<'_, T> {
    /// Writes `value` and publishes it, waking a waiting receiver.
    pub(crate) fn commit(self, value: T) {
        let channel = self.channel;
        let slot = channel.slot(self.position);
        // SAFETY: our CAS of `tail` reserved this position; nobody else touches the value
        // until the stamp below says it is there.
        unsafe { slot.value.get().write(MaybeUninit::new(value)) };
        // Release: pairs with the Acquire in `take`.
        slot.stamp
            .store(self.position.wrapping_add(1), Ordering::Release);
        let lazy = self.lazy;
        mem::forget(self);
        if lazy {
            atomic::fence(Ordering::SeqCst);
            channel.receivers.notify_all();
        } else {
            channel.receivers.notify_one();
        }
    }
}

impl<T> Drop for SlotReservation<'_, T> {
    fn drop(&mut self) {
        let slot = self.channel.slot(self.position);
        // Release: pairs with the Acquire in `take`, which skips the hole.
        slot.stamp.store(
            self.position.wrapping_add(1) | self.channel.mark_bit,
            Ordering::Release,
        );
        atomic::fence(Ordering::SeqCst);
        self.channel.receivers.notify_all();
    }
}

impl<T> Drop for ArrayChannel<T> {
    fn drop(&mut self) {
        let mut position = *self.head.0.get_mut();
        let tail = *self.tail.0.get_mut() & !self.mark_bit;
        while position != tail {
            let index = position & (self.mark_bit - 1);
            let slot = &mut self.slots[index];
            if *slot.stamp.get_mut() == position.wrapping_add(1) {
                // SAFETY: the stamp says the slot holds the value of `position`, and with
                // `&mut self` nobody else can read it.
                unsafe { slot.value.get_mut().assume_init_drop() };
            }
            position = self.next_position(position);
        }
    }
}

impl<T> std::fmt::Debug for ArrayChannel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayChannel")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}
