//! `Channel<T>`: what a `Sender` and a `Receiver` share. It picks the flavor once, at
//! creation (static dispatch on an enum, as crossbeam does; the public types never change),
//! and applies the close rules on top of the flavors.

use std::time::Instant;

use super::array::ArrayChannel;
use super::counter::Counter;
use super::error::{CloseError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use super::zero::{Blocking, RecvFailure, SendFailure, ZeroChannel};

/// The flavor of a channel, chosen by its capacity.
// One per channel, inside its `Arc`: boxing the ring would add an indirection to every send.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Flavor<T> {
    /// `cap > 0`: a bounded ring.
    Array(ArrayChannel<T>),
    /// `cap == 0`: a rendezvous.
    Zero(ZeroChannel<T>),
}

/// Runs once, when the last `Receiver` of a channel is dropped (a timer channel cancels its
/// runtime timer there, so an unreceived `time::after` leaves nothing behind).
pub(crate) type ReceiversGoneHook = Box<dyn Fn() + Send + Sync>;

/// The shared state of one channel.
pub(crate) struct Channel<T> {
    counter: Counter,
    flavor: Flavor<T>,
    receivers_gone: Option<ReceiversGoneHook>,
}

impl<T> Channel<T> {
    /// A channel of capacity `capacity` with one sender and one receiver.
    pub(crate) fn new(capacity: usize) -> Channel<T> {
        let flavor = if capacity == 0 {
            Flavor::Zero(ZeroChannel::new())
        } else {
            Flavor::Array(ArrayChannel::new(capacity))
        };
        Channel {
            counter: Counter::new(),
            flavor,
            receivers_gone: None,
        }
    }

    /// As [`Channel::new`], with a hook run when the last receiver is dropped.
    pub(crate) fn with_receivers_gone_hook(capacity: usize, hook: ReceiversGoneHook) -> Channel<T> {
        Channel {
            receivers_gone: Some(hook),
            ..Channel::new(capacity)
        }
    }

    /// The flavor (for select arms).
    pub(crate) fn flavor(&self) -> &Flavor<T> {
        &self.flavor
    }

    /// The handle counts.
    pub(crate) fn counter(&self) -> &Counter {
        &self.counter
    }

    /// Sends, parking until `deadline` (forever if `None`). Always inlined, as the public
    /// `send`/`recv` are: left to the compiler's judgement, some callers (criterion's closures)
    /// kept it out of line and paid a call and a frame on every buffered message.
    #[inline(always)]
    pub(crate) fn send(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        match &self.flavor {
            Flavor::Array(array) => match array.try_send(value) {
                Ok(()) => Ok(()),
                Err(TrySendError::Closed(value)) => Err(SendTimeoutError::Closed(value)),
                Err(TrySendError::Full(value)) => array.send(value, deadline),
            },
            Flavor::Zero(zero) => zero
                .send(value, Blocking::Until(deadline))
                .map_err(|failure| match failure {
                    SendFailure::Closed(value) => SendTimeoutError::Closed(value),
                    SendFailure::Timeout(value) | SendFailure::Full(value) => {
                        SendTimeoutError::Timeout(value)
                    }
                }),
        }
    }

    /// Sends without parking.
    #[inline]
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match &self.flavor {
            Flavor::Array(array) => array.try_send(value),
            Flavor::Zero(zero) => zero
                .send(value, Blocking::No)
                .map_err(|failure| match failure {
                    SendFailure::Closed(value) => TrySendError::Closed(value),
                    SendFailure::Timeout(value) | SendFailure::Full(value) => {
                        TrySendError::Full(value)
                    }
                }),
        }
    }

    /// Receives, parking until `deadline` (forever if `None`). Always inlined (see `send`).
    #[inline(always)]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match &self.flavor {
            Flavor::Array(array) => match array.try_recv() {
                Ok(value) => Ok(value),
                Err(TryRecvError::Closed) => Err(RecvTimeoutError::Closed),
                Err(TryRecvError::Empty) => array.recv(deadline),
            },
            Flavor::Zero(zero) => {
                zero.recv(Blocking::Until(deadline))
                    .map_err(|failure| match failure {
                        RecvFailure::Closed => RecvTimeoutError::Closed,
                        RecvFailure::Timeout | RecvFailure::Empty => RecvTimeoutError::Timeout,
                    })
            }
        }
    }

    /// Receives without parking (an unbuffered receive may still wait for a claimed
    /// `select!` sender to evaluate its value).
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Array(array) => array.try_recv(),
            Flavor::Zero(zero) => zero.recv(Blocking::No).map_err(|failure| match failure {
                RecvFailure::Closed => TryRecvError::Closed,
                RecvFailure::Timeout | RecvFailure::Empty => TryRecvError::Empty,
            }),
        }
    }

    /// Closes the flavor: sends fail from now on, receivers drain then see the close.
    fn close_flavor(&self) {
        match &self.flavor {
            Flavor::Array(array) => array.close(),
            Flavor::Zero(zero) => zero.close(),
        };
    }

    /// `Sender::close`: the first call closes, later ones fail.
    pub(crate) fn close(&self) -> Result<(), CloseError> {
        if self.counter.mark_closed() {
            self.close_flavor();
            Ok(())
        } else {
            Err(CloseError)
        }
    }

    /// A `Sender` was dropped: the last one closes the channel (unless closed already).
    pub(crate) fn release_sender(&self) {
        if self.counter.release_sender() && self.counter.mark_closed() {
            self.close_flavor();
        }
    }

    /// A `Receiver` was dropped: the last one closes the channel for sending, so blocked and
    /// future sends fail with their value instead of waiting forever.
    pub(crate) fn release_receiver(&self) {
        if self.counter.release_receiver() {
            self.close_flavor();
            if let Some(hook) = &self.receivers_gone {
                hook();
            }
        }
    }

    /// Whether sends fail now (closed, or every receiver gone).
    pub(crate) fn is_closed_for_sending(&self) -> bool {
        match &self.flavor {
            Flavor::Array(array) => array.is_closed(),
            Flavor::Zero(zero) => zero.is_closed(),
        }
    }

    /// Values in the buffer (always 0 unbuffered).
    pub(crate) fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Array(array) => array.len(),
            Flavor::Zero(_) => 0,
        }
    }

    /// The capacity (0 unbuffered).
    pub(crate) fn capacity(&self) -> usize {
        match &self.flavor {
            Flavor::Array(array) => array.capacity(),
            Flavor::Zero(_) => 0,
        }
    }
}

impl<T> std::fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("counter", &self.counter)
            .field("flavor", &self.flavor)
            .field("receivers_gone_hook", &self.receivers_gone.is_some())
            .finish()
    }
}

impl<T> std::fmt::Debug for Flavor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flavor::Array(array) => array.fmt(f),
            Flavor::Zero(zero) => zero.fmt(f),
        }
    }
}
