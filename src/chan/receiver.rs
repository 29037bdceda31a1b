//! `Receiver<T>`: the receiving end (Go's `<-chan T`), and its iterators (Go's `range ch`).

use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::channel::Channel;
use super::error::{RecvError, RecvTimeoutError, TryRecvError};

/// The receiving end of a channel, made by [`chan`](crate::chan()). Cloning it adds a
/// receiver (each value goes to exactly one of them); when the last one is dropped, the
/// channel closes for sending (blocked and later sends fail with their value).
///
/// A `for` loop over a receiver ends when the channel is closed and drained, like Go's
/// `for v := range ch`:
///
/// ```
/// let (tx, rx) = gort::chan(4);
/// for i in 0..4 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// let mut sum = 0;
/// for v in rx {
///     sum += v;
/// }
/// assert_eq!(sum, 6);
/// ```
pub struct Receiver<T> {
    pub(crate) channel: Arc<Channel<T>>,
}

impl<T> Receiver<T> {
    /// Receives a value, waiting until one is sent. After the channel is closed, returns the
    /// buffered values in order, then [`RecvError`] (Go's `v, ok := <-ch` with `ok == false`).
    ///
    /// ```
    /// let (tx, rx) = gort::chan(0);
    /// let t = std::thread::spawn(move || tx.send(42).unwrap());
    /// assert_eq!(rx.recv(), Ok(42));
    /// t.join().unwrap();
    /// assert_eq!(rx.recv(), Err(gort::RecvError)); // tx dropped: closed
    /// ```
    ///
    /// # Errors
    /// [`RecvError`] once the channel is closed and empty.
    #[inline(always)]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.channel.recv(None).map_err(|_| RecvError)
    }

    /// Receives without waiting. (Unbuffered, when the waiting sender is a `select!` arm
    /// whose value expression has not run yet, this waits for that expression.)
    ///
    /// ```
    /// use gort::TryRecvError;
    /// let (tx, rx) = gort::chan(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if nothing is there, [`TryRecvError::Closed`] once closed and drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.channel.try_recv()
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::<i32>(1);
    /// assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Closed`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_deadline(deadline),
            None => self.recv().map_err(RecvTimeoutError::from),
        }
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    /// As [`Receiver::recv_timeout`].
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.channel.recv(Some(deadline))
    }

    /// A blocking iterator: yields values until the channel is closed and drained.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// A non-blocking iterator: yields the values available now, and stops at the first
    /// `Empty` or `Closed`.
    ///
    /// ```
    /// let (tx, rx) = gort::chan(3);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Whether the senders closed the channel ([`Sender::close`](crate::Sender::close), or
    /// the last sender dropped). Buffered values may still be waiting.
    pub fn is_closed(&self) -> bool {
        self.channel.counter().is_closed_by_senders()
    }

    /// Values waiting in the buffer (always 0 when unbuffered): Go's `len(ch)`.
    pub fn len(&self) -> usize {
        self.channel.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer capacity given to [`chan`](crate::chan()): Go's `cap(ch)`.
    pub fn capacity(&self) -> usize {
        self.channel.capacity()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.channel.counter().acquire_receiver();
        Receiver {
            channel: Arc::clone(&self.channel),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.channel.release_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Blocking iterator over a borrowed [`Receiver`], from [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> FusedIterator for Iter<'_, T> {}

/// Non-blocking iterator over a borrowed [`Receiver`], from [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

/// Blocking iterator that owns its [`Receiver`], from `for v in receiver`.
#[derive(Debug)]
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
