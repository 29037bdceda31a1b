//! The buffered flavor (`cap > 0`): a bounded lock-free ring (Dmitry Vyukov's bounded MPMC
//! queue: a stamp per slot says which lap may use it) plus two wait lists for the blocked.
//! This file owns the ring; the parking `send`/`recv` built on it are in `array/blocking.rs`.
//! `reserve` and `take` inline their uncontended case (one load, one stamp check, one CAS)
//! into every caller and keep the retry loops out of line, so a send or receive that finds
//! room or a value costs about sixty instructions.
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

use super::backoff::Backoff;
use super::error::{TryRecvError, TrySendError};
use super::waitq::WaitList;

mod blocking;

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
    ///
    /// The uncontended case (the slot at `tail` is free for this lap and our CAS wins) is
    /// inlined into the callers; everything else goes to `reserve_contended`.
    #[inline]
    pub(crate) fn reserve(&self, lazy: bool) -> Result<SlotReservation<'_, T>, NotReserved> {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail & self.mark_bit == 0 {
            let slot = self.slot(tail);
            // Acquire: pairs with the Release free in `take`; the old value was read out.
            if slot.stamp.load(Ordering::Acquire) == tail
                // SeqCst: the "publish, then look for waiters" half of `WaitList`'s pairing.
                && self
                    .tail
                    .compare_exchange(
                        tail,
                        self.next_position(tail),
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return Ok(self.reserved(slot, tail, lazy));
            }
        }
        self.reserve_contended(lazy)
    }

    /// The reservation of `position`, whose CAS of `tail` just won; a lazy one is marked in
    /// the slot's stamp first.
    #[inline]
    fn reserved(&self, slot: &Slot<T>, position: usize, lazy: bool) -> SlotReservation<'_, T> {
        if lazy {
            slot.stamp
                .store(position | self.mark_bit, Ordering::Relaxed);
        }
        SlotReservation {
            channel: self,
            position,
            lazy,
        }
    }

    /// `reserve`'s loop: full, closed, or racing other senders (or a receiver between its CAS
    /// and its free).
    #[inline(never)]
    fn reserve_contended(&self, lazy: bool) -> Result<SlotReservation<'_, T>, NotReserved> {
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
                    Ok(_) => return Ok(self.reserved(slot, tail, lazy)),
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
    ///
    /// The uncontended case (the slot at `head` holds its value and our CAS wins) is inlined
    /// into the callers; holes, an empty ring and races go to `take_contended`.
    #[inline]
    pub(crate) fn take(&self) -> Result<T, NotReceived> {
        let head = self.head.load(Ordering::Relaxed);
        let slot = self.slot(head);
        // Acquire: pairs with the Release publish in `SlotReservation::commit`.
        if slot.stamp.load(Ordering::Acquire) == head.wrapping_add(1)
            // SeqCst: the "free, then look for waiting senders" half of the pairing.
            && self
                .head
                .compare_exchange(
                    head,
                    self.next_position(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            // SAFETY: the stamp says the slot holds the value of `head` (not a hole: the mark
            // bit is clear), and our CAS made us its only reader.
            let value = unsafe { slot.value.get().read().assume_init() };
            // Release: pairs with the Acquire in `reserve` of the next lap.
            slot.stamp
                .store(head.wrapping_add(self.one_lap), Ordering::Release);
            self.senders.notify_one();
            return Ok(value);
        }
        self.take_contended()
    }

    /// `take`'s loop: holes to skip, an empty ring, a write in progress, racing receivers.
    #[inline(never)]
    fn take_contended(&self) -> Result<T, NotReceived> {
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

    /// Select's peek: whether `take` would find something now (a value, a hole to skip, or
    /// the close). A non-lazy write in progress counts as not yet.
    #[inline]
    pub(crate) fn may_take(&self) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        // Acquire: as in `take`.
        let stamp = self.slot(head).stamp.load(Ordering::Acquire);
        if stamp & !self.mark_bit == head.wrapping_add(1) {
            return true;
        }
        let tail = self.tail.load(Ordering::Relaxed);
        tail & self.mark_bit != 0 && tail & !self.mark_bit == head
    }

    /// Select's peek: whether `reserve` would succeed now (room, or the close).
    #[inline]
    pub(crate) fn may_reserve(&self) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        tail & self.mark_bit != 0
            || self.head.load(Ordering::Relaxed).wrapping_add(self.one_lap) != tail
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
    #[inline]
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

    /// Receives without blocking.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        self.take().map_err(|reason| match reason {
            NotReceived::Empty | NotReceived::LazyPending => TryRecvError::Empty,
            NotReceived::Closed => TryRecvError::Closed,
        })
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
    #[inline]
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
