//! The arms of a select: one receive or send operation each, type-erased behind [`Arm`] so
//! that one loop (`run.rs`) drives any mix of channel types.
//!
//! An arm *fires* when its operation is done (receive: the value or the close is in
//! `result`) or reserved (send: a slot, a waiting receiver or a waiting delivery is held in
//! `reservation`, and the value is produced only then, by [`SendArm::complete`]). A send arm
//! that does not fire never evaluates its value: it stays with the caller. A reservation
//! dropped without completion gives its slot or its receiver back (see the flavors).

use std::cell::UnsafeCell;
use std::fmt;

use crate::chan::waiter::{Waiter, Wake};
use crate::chan::waitq::Entry;
use crate::chan::zero::{Blocking, DeliveryTarget, ReceiverClaim, RecvFailure};
use crate::chan::{
    Flavor, NotReceived, NotReserved, Receiver, RecvError, SendError, Sender, SlotReservation,
};

/// One operation of a select, as `run` sees it.
pub(crate) trait Arm {
    /// Fires now if the operation can proceed without blocking (never, if disabled: a
    /// `None` channel).
    fn try_fire(&mut self) -> bool;

    /// Links an entry for `waiter`, operation number `position`; true if the arm may be
    /// ready already (the caller then aborts the wait and tries again). A disabled arm links
    /// nothing and says false.
    ///
    /// # Safety
    /// The arm must stay in place, and `waiter` alive, until [`Arm::unregister`] returns or
    /// a claim of `waiter` for `position` was observed.
    unsafe fn register(&mut self, waiter: &Waiter, position: usize) -> bool;

    /// Unlinks the entry if it is still linked, and forgets it.
    fn unregister(&mut self);

    /// The wait ended with a claim for this arm (its entry was unlinked by the claimer):
    /// acts on it; true if the arm fired.
    fn accept(&mut self, wake: Wake) -> bool;

    /// Whether the arm fired (and its result was not taken yet).
    fn has_fired(&self) -> bool;

    /// Drops an untaken result or reservation (a reservation gives its slot or receiver back).
    fn discard(&mut self);

    /// The address of the channel, or null if disabled (to match `SelectedOperation` calls).
    fn channel_address(&self) -> *const ();

    /// Whether this is a send arm.
    fn is_send(&self) -> bool;

    /// Type-erased pointer to the arm itself, for a typed downcast once the channel matched.
    fn as_erased(&mut self) -> *mut ();
}

/// A mutable reference to an arm plus its index in the order the user wrote the arms.
#[doc(hidden)]
pub struct ArmRef<'r> {
    pub(crate) arm: &'r mut (dyn Arm + 'r),
    pub(crate) index: usize,
}

impl fmt::Debug for ArmRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmRef")
            .field("index", &self.index)
            .finish()
    }
}

/// What a `recv(..)` arm accepts: a receiver, or an optional one (`None` disables the arm,
/// Go's nil channel).
#[doc(hidden)]
pub trait SelectReceiver {
    /// The value type.
    type Item;
    /// The receiver, if the arm is enabled.
    fn select_receiver(&self) -> Option<&Receiver<Self::Item>>;
}

impl<T> SelectReceiver for Receiver<T> {
    type Item = T;
    fn select_receiver(&self) -> Option<&Receiver<T>> {
        Some(self)
    }
}

impl<T> SelectReceiver for Option<Receiver<T>> {
    type Item = T;
    fn select_receiver(&self) -> Option<&Receiver<T>> {
        self.as_ref()
    }
}

impl<T> SelectReceiver for Option<&Receiver<T>> {
    type Item = T;
    fn select_receiver(&self) -> Option<&Receiver<T>> {
        *self
    }
}

impl<R: SelectReceiver + ?Sized> SelectReceiver for &R {
    type Item = R::Item;
    fn select_receiver(&self) -> Option<&Receiver<R::Item>> {
        (**self).select_receiver()
    }
}

impl<R: SelectReceiver + ?Sized> SelectReceiver for &mut R {
    type Item = R::Item;
    fn select_receiver(&self) -> Option<&Receiver<R::Item>> {
        (**self).select_receiver()
    }
}

/// What a `send(..)` arm accepts: a sender, or an optional one (`None` disables the arm).
#[doc(hidden)]
pub trait SelectSender {
    /// The value type.
    type Item;
    /// The sender, if the arm is enabled.
    fn select_sender(&self) -> Option<&Sender<Self::Item>>;
}

impl<T> SelectSender for Sender<T> {
    type Item = T;
    fn select_sender(&self) -> Option<&Sender<T>> {
        Some(self)
    }
}

impl<T> SelectSender for Option<Sender<T>> {
    type Item = T;
    fn select_sender(&self) -> Option<&Sender<T>> {
        self.as_ref()
    }
}

impl<T> SelectSender for Option<&Sender<T>> {
    type Item = T;
    fn select_sender(&self) -> Option<&Sender<T>> {
        *self
    }
}

impl<S: SelectSender + ?Sized> SelectSender for &S {
    type Item = S::Item;
    fn select_sender(&self) -> Option<&Sender<S::Item>> {
        (**self).select_sender()
    }
}

impl<S: SelectSender + ?Sized> SelectSender for &mut S {
    type Item = S::Item;
    fn select_sender(&self) -> Option<&Sender<S::Item>> {
        (**self).select_sender()
    }
}

/// A `recv(..)` arm.
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    receiver: Option<&'a Receiver<T>>,
    /// Where an unbuffered sender puts the value while this arm is registered.
    packet: UnsafeCell<Option<T>>,
    /// Set when the arm fires.
    result: Option<Result<T, RecvError>>,
    /// Linked while registered.
    entry: Option<Entry>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `source` (disabled if it holds no receiver).
    pub fn new<S: SelectReceiver<Item = T> + ?Sized>(source: &'a S) -> RecvArm<'a, T> {
        RecvArm {
            receiver: source.select_receiver(),
            packet: UnsafeCell::new(None),
            result: None,
            entry: None,
        }
    }

    /// The arm as `run` takes it.
    pub fn as_arm(&mut self) -> ArmRef<'_> {
        ArmRef {
            arm: self,
            index: 0,
        }
    }

    /// Whether the arm fired.
    pub fn fired(&self) -> bool {
        self.result.is_some()
    }

    /// The received value (or the close) of an arm that fired.
    ///
    /// # Panics
    /// If the arm did not fire.
    pub fn received(&mut self) -> Result<T, RecvError> {
        self.result
            .take()
            .expect("select: the receive arm did not fire")
    }
}

impl<T> Arm for RecvArm<'_, T> {
    fn try_fire(&mut self) -> bool {
        let Some(receiver) = self.receiver else {
            return false;
        };
        let result = match receiver.channel.flavor() {
            Flavor::Array(array) => match array.take() {
                Ok(value) => Ok(value),
                Err(NotReceived::Closed) => Err(RecvError),
                Err(NotReceived::Empty | NotReceived::LazyPending) => return false,
            },
            Flavor::Zero(zero) => match zero.recv(Blocking::No) {
                Ok(value) => Ok(value),
                Err(RecvFailure::Closed) => Err(RecvError),
                Err(RecvFailure::Empty | RecvFailure::Timeout) => return false,
            },
        };
        self.result = Some(result);
        true
    }

    unsafe fn register(&mut self, waiter: &Waiter, position: usize) -> bool {
        let Some(receiver) = self.receiver else {
            return false;
        };
        debug_assert!(self.entry.is_none());
        match receiver.channel.flavor() {
            Flavor::Array(array) => {
                let entry = self
                    .entry
                    .insert(Entry::new(waiter, position, std::ptr::null_mut()));
                // SAFETY: the entry lives in this arm, which stays in place (our contract)
                // until `unregister` or a claim, both of which unlink it first.
                unsafe { array.receivers().register(entry) };
                !array.receiver_must_wait()
            }
            Flavor::Zero(zero) => {
                let entry =
                    self.entry
                        .insert(Entry::new(waiter, position, self.packet.get().cast()));
                // SAFETY: as above; the packet is this arm's empty `Option<T>`.
                unsafe { zero.register(entry, waiter, false) }
            }
        }
    }

    fn unregister(&mut self) {
        let (Some(receiver), Some(entry)) = (self.receiver, self.entry.as_ref()) else {
            return;
        };
        match receiver.channel.flavor() {
            // SAFETY: the entry was registered with this list only.
            Flavor::Array(array) => unsafe { array.receivers().unregister(entry) },
            // SAFETY: the entry was registered with this channel as a receiver only.
            Flavor::Zero(zero) => unsafe { zero.unregister(entry, false) },
        }
        self.entry = None;
    }

    fn accept(&mut self, wake: Wake) -> bool {
        self.entry = None;
        match wake {
            Wake::Completed => {
                let value = self
                    .packet
                    .get_mut()
                    .take()
                    .expect("a completed receive fills the packet");
                self.result = Some(Ok(value));
                true
            }
            Wake::Closed => {
                self.result = Some(Err(RecvError));
                true
            }
            Wake::Retry => self.try_fire(),
            Wake::Deliver(_) => unreachable!("only send arms are asked to deliver"),
        }
    }

    fn has_fired(&self) -> bool {
        self.fired()
    }

    fn discard(&mut self) {
        self.result = None;
    }

    fn channel_address(&self) -> *const () {
        self.receiver.map_or(std::ptr::null(), |receiver| {
            std::sync::Arc::as_ptr(&receiver.channel).cast()
        })
    }

    fn is_send(&self) -> bool {
        false
    }

    fn as_erased(&mut self) -> *mut () {
        (self as *mut Self).cast()
    }
}

impl<T> fmt::Debug for RecvArm<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvArm")
            .field("enabled", &self.receiver.is_some())
            .field("fired", &self.fired())
            .finish()
    }
}

/// What a send arm holds once it fired; the value comes later.
enum SendReservation<'a, T> {
    /// A reserved slot of a buffered channel.
    Slot(SlotReservation<'a, T>),
    /// A waiting receiver of an unbuffered channel, claimed.
    Receiver(ReceiverClaim<T>),
    /// A receiver that claimed this arm while it waited, and waits for the value.
    Delivery(DeliveryTarget<T>),
    /// The channel is closed: the value will come back in `SendError`.
    Closed,
}

/// A `send(..)` arm.
#[doc(hidden)]
pub struct SendArm<'a, T> {
    sender: Option<&'a Sender<T>>,
    reservation: Option<SendReservation<'a, T>>,
    /// Linked while registered (lazy: no packet).
    entry: Option<Entry>,
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending on `source` (disabled if it holds no sender).
    pub fn new<S: SelectSender<Item = T> + ?Sized>(source: &'a S) -> SendArm<'a, T> {
        SendArm {
            sender: source.select_sender(),
            reservation: None,
            entry: None,
        }
    }

    /// The arm as `run` takes it.
    pub fn as_arm(&mut self) -> ArmRef<'_> {
        ArmRef {
            arm: self,
            index: 0,
        }
    }

    /// Whether the arm fired.
    pub fn fired(&self) -> bool {
        self.reservation.is_some()
    }

    /// Sends `value` through the reservation of an arm that fired (the value expression of
    /// a `send` arm is evaluated only here, once the arm was chosen).
    ///
    /// # Errors
    /// `SendError(value)` if the arm fired because the channel is closed.
    ///
    /// # Panics
    /// If the arm did not fire.
    pub fn complete(&mut self, value: T) -> Result<(), SendError<T>> {
        match self
            .reservation
            .take()
            .expect("select: the send arm did not fire")
        {
            SendReservation::Slot(slot) => slot.commit(value),
            SendReservation::Receiver(receiver) => receiver.give(value),
            SendReservation::Delivery(delivery) => delivery.give(value),
            SendReservation::Closed => return Err(SendError(value)),
        }
        Ok(())
    }
}

impl<T> Arm for SendArm<'_, T> {
    fn try_fire(&mut self) -> bool {
        let Some(sender) = self.sender else {
            return false;
        };
        let reservation = match sender.channel.flavor() {
            Flavor::Array(array) => match array.reserve(true) {
                Ok(slot) => SendReservation::Slot(slot),
                Err(NotReserved::Closed) => SendReservation::Closed,
                Err(NotReserved::Full) => return false,
            },
            Flavor::Zero(zero) => match zero.claim_receiver() {
                Ok(receiver) => SendReservation::Receiver(receiver),
                Err(true) => SendReservation::Closed,
                Err(false) => return false,
            },
        };
        self.reservation = Some(reservation);
        true
    }

    unsafe fn register(&mut self, waiter: &Waiter, position: usize) -> bool {
        let Some(sender) = self.sender else {
            return false;
        };
        debug_assert!(self.entry.is_none());
        let entry = self
            .entry
            .insert(Entry::new(waiter, position, std::ptr::null_mut()));
        match sender.channel.flavor() {
            Flavor::Array(array) => {
                // SAFETY: the entry lives in this arm, which stays in place (our contract)
                // until `unregister` or a claim, both of which unlink it first.
                unsafe { array.senders().register(entry) };
                !array.sender_must_wait()
            }
            // SAFETY: as above; a null packet marks the lazy sender.
            Flavor::Zero(zero) => unsafe { zero.register(entry, waiter, true) },
        }
    }

    fn unregister(&mut self) {
        let (Some(sender), Some(entry)) = (self.sender, self.entry.as_ref()) else {
            return;
        };
        match sender.channel.flavor() {
            // SAFETY: the entry was registered with this list only.
            Flavor::Array(array) => unsafe { array.senders().unregister(entry) },
            // SAFETY: the entry was registered with this channel as a sender only.
            Flavor::Zero(zero) => unsafe { zero.unregister(entry, true) },
        }
        self.entry = None;
    }

    fn accept(&mut self, wake: Wake) -> bool {
        self.entry = None;
        match wake {
            Wake::Deliver(delivery) => {
                // SAFETY: the pointer comes from a `Deliver` outcome for this arm's entry,
                // i.e. from a receiver of this very channel (same `T`); used once.
                let target = unsafe { DeliveryTarget::new(delivery) };
                self.reservation = Some(SendReservation::Delivery(target));
                true
            }
            Wake::Closed => {
                self.reservation = Some(SendReservation::Closed);
                true
            }
            Wake::Retry => self.try_fire(),
            Wake::Completed => unreachable!("a lazy send arm has no packet to take from"),
        }
    }

    fn has_fired(&self) -> bool {
        self.fired()
    }

    fn discard(&mut self) {
        self.reservation = None;
    }

    fn channel_address(&self) -> *const () {
        self.sender.map_or(std::ptr::null(), |sender| {
            std::sync::Arc::as_ptr(&sender.channel).cast()
        })
    }

    fn is_send(&self) -> bool {
        true
    }

    fn as_erased(&mut self) -> *mut () {
        (self as *mut Self).cast()
    }
}

impl<T> fmt::Debug for SendArm<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendArm")
            .field("enabled", &self.sender.is_some())
            .field("fired", &self.fired())
            .finish()
    }
}
