//! `Sender<T>`: the sending end (Go's `chan<- T`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::channel::Channel;
use super::error::{CloseError, SendError, SendTimeoutError, TrySendError};

/// The sending end of a channel, made by [`chan`](crate::chan()). Cloning it adds a sender;
/// when the last one is dropped, the channel closes (receivers drain what is buffered, then
/// see [`RecvError`](crate::RecvError)).
///
/// Blocking operations park the calling goroutine (its processor runs other goroutines
/// meanwhile), or block the thread when called outside a goroutine, so a channel can link a
/// goroutine and a plain thread.
///
/// ```
/// let (tx, rx) = gort::chan::<u32>(0);
/// let worker = std::thread::spawn(move || {
///     for i in 0..3 {
///         tx.send(i).unwrap(); // waits for the receiver each time: unbuffered
///     }
///     // `tx` dropped here: the channel closes
/// });
/// let got: Vec<u32> = rx.iter().collect();
/// assert_eq!(got, [0, 1, 2]);
/// worker.join().unwrap();
/// ```
pub struct Sender<T> {
    pub(crate) channel: Arc<Channel<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full (or, unbuffered, until a receiver
    /// takes it). Fails, giving the value back, if the channel is closed or every receiver
    /// is gone, including while it waits.
    ///
    /// ```
    /// let (tx, rx) = gort::chan(1);
    /// tx.send("ready").unwrap();
    /// assert_eq!(rx.recv(), Ok("ready"));
    /// drop(rx);
    /// assert_eq!(tx.send("lost?").unwrap_err().into_inner(), "lost?");
    /// ```
    ///
    /// # Errors
    /// [`SendError`] with the value when the channel is closed.
    #[inline(always)]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.channel
            .send(value, None)
            .map_err(|error| SendError(error.into_inner()))
    }

    /// Sends without waiting: Go's `select { case ch <- v: default: }`.
    ///
    /// ```
    /// use gort::TrySendError;
    /// let (tx, _rx) = gort::chan(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    ///
    /// # Errors
    /// [`TrySendError::Full`] if it would wait (unbuffered: no receiver is waiting),
    /// [`TrySendError::Closed`] if the channel is closed; both carry the value.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.channel.try_send(value)
    }

    /// Sends, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = gort::chan::<i32>(0);
    /// let err = tx.send_timeout(7, Duration::from_millis(1)).unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    ///
    /// # Errors
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], with the value.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.send_deadline(value, deadline),
            None => self.send(value).map_err(SendTimeoutError::from),
        }
    }

    /// Sends, waiting until `deadline` at most.
    ///
    /// # Errors
    /// As [`Sender::send_timeout`].
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.channel.send(value, Some(deadline))
    }

    /// Closes the channel for everyone: blocked and later sends fail with their value,
    /// receivers get what is buffered, then [`RecvError`](crate::RecvError). Go's `close(ch)`.
    ///
    /// ```
    /// let (tx, rx) = gort::chan(2);
    /// tx.send(1).unwrap();
    /// tx.close().unwrap();
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    ///
    /// # Errors
    /// [`CloseError`] if the channel was already closed (Go panics there).
    pub fn close(&self) -> Result<(), CloseError> {
        self.channel.close()
    }

    /// Whether sends fail now: the channel was closed, or every receiver was dropped.
    pub fn is_closed(&self) -> bool {
        self.channel.is_closed_for_sending()
    }

    /// Values waiting in the buffer (always 0 when unbuffered): Go's `len(ch)`.
    pub fn len(&self) -> usize {
        self.channel.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true when unbuffered: a send must wait for a receiver).
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// The buffer capacity given to [`chan`](crate::chan()): Go's `cap(ch)`.
    pub fn capacity(&self) -> usize {
        self.channel.capacity()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.channel.counter().acquire_sender();
        Sender {
            channel: Arc::clone(&self.channel),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.channel.release_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
