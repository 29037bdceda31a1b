//! Blocking operations bounded by a context: [`sleep_ctx`], [`Context::recv`] and
//! [`Context::send`]. Each is a `select!` between the operation and `ctx.done()`, with the
//! done arm first (`biased`): once a context is done, these operations report it even when
//! the channel is ready too, so a cancelled loop stops at its next operation.

use std::fmt;
use std::time::Duration;

use super::{Context, ContextError};
use crate::chan::{Receiver, Sender};

/// Sleeps for `duration` unless `ctx` is done first (Go's `select { case <-time.After(d):
/// case <-ctx.Done(): }`). Parks the goroutine (or blocks the thread) and costs one timer.
///
/// ```
/// use std::time::Duration;
/// use gort::context::{Context, ContextError};
///
/// assert_eq!(gort::sleep_ctx(&Context::background(), Duration::from_millis(1)), Ok(()));
///
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(2));
/// let slept = gort::sleep_ctx(&ctx, Duration::from_secs(60));
/// assert_eq!(slept, Err(ContextError::DeadlineExceeded));
/// ```
///
/// # Errors
/// The context's error if it is done before `duration` has passed.
pub fn sleep_ctx(ctx: &Context, duration: Duration) -> Result<(), ContextError> {
    if let Some(error) = ctx.err() {
        return Err(error);
    }
    if ctx.cancel.is_none() {
        crate::sleep(duration);
        return Ok(());
    }
    crate::select! {
        biased;
        recv(ctx.done()) => Err(ctx.err().expect("the done channel closes only on cancel")),
        default(duration) => Ok(()),
    }
}

/// [`Context::recv`] failed: the channel is closed and drained, or the context is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextRecvError {
    /// The channel is closed and empty.
    Closed,
    /// The context is done, for this reason.
    Done(ContextError),
}

impl fmt::Display for ContextRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextRecvError::Closed => f.write_str("receiving on a closed channel"),
            ContextRecvError::Done(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ContextRecvError {}

/// [`Context::send`] failed; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ContextSendError<T> {
    /// The channel is closed (or every receiver is gone).
    Closed(T),
    /// The context is done, for this reason.
    Done(ContextError, T),
}

impl<T> ContextSendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            ContextSendError::Closed(value) | ContextSendError::Done(_, value) => value,
        }
    }
}

impl<T> fmt::Debug for ContextSendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextSendError::Closed(_) => f.write_str("Closed(..)"),
            ContextSendError::Done(error, _) => write!(f, "Done({error:?}, ..)"),
        }
    }
}

impl<T> fmt::Display for ContextSendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextSendError::Closed(_) => f.write_str("sending on a closed channel"),
            ContextSendError::Done(error, _) => error.fmt(f),
        }
    }
}

impl<T> std::error::Error for ContextSendError<T> {}

impl Context {
    /// Receives from `receiver` unless the context is done first: the loop body of a worker
    /// that must stop on cancel, in one call.
    ///
    /// ```
    /// use gort::context::{Context, ContextError, ContextRecvError};
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let (tx, rx) = gort::chan(1);
    /// tx.send(5).unwrap();
    /// assert_eq!(ctx.recv(&rx), Ok(5));
    /// cancel.cancel();
    /// tx.send(6).unwrap();
    /// // A done context wins over a ready channel.
    /// assert_eq!(ctx.recv(&rx), Err(ContextRecvError::Done(ContextError::Canceled)));
    /// ```
    ///
    /// # Errors
    /// [`ContextRecvError::Done`] once the context is done, [`ContextRecvError::Closed`] when
    /// the channel is closed and drained.
    pub fn recv<T>(&self, receiver: &Receiver<T>) -> Result<T, ContextRecvError> {
        if self.cancel.is_none() {
            return receiver.recv().map_err(|_| ContextRecvError::Closed);
        }
        crate::select! {
            biased;
            recv(self.done()) => Err(ContextRecvError::Done(self.done_error())),
            recv(receiver) -> message => message.map_err(|_| ContextRecvError::Closed),
        }
    }

    /// Sends `value` on `sender` unless the context is done first; the value comes back in
    /// the error if it was not sent.
    ///
    /// ```
    /// use gort::context::{Context, ContextError, ContextSendError};
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let (tx, _rx) = gort::chan::<u32>(0); // nobody receives
    /// cancel.cancel();
    /// let err = ctx.send(&tx, 7).unwrap_err();
    /// assert!(matches!(err, ContextSendError::Done(ContextError::Canceled, 7)));
    /// ```
    ///
    /// # Errors
    /// [`ContextSendError::Done`] once the context is done, [`ContextSendError::Closed`] when
    /// the channel is closed; both carry the value.
    pub fn send<T>(&self, sender: &Sender<T>, value: T) -> Result<(), ContextSendError<T>> {
        if self.cancel.is_none() {
            return sender
                .send(value)
                .map_err(|error| ContextSendError::Closed(error.into_inner()));
        }
        // The send arm's value is evaluated only if that arm fires, so it stays here otherwise.
        let mut value = Some(value);
        crate::select! {
            biased;
            recv(self.done()) => Err(ContextSendError::Done(
                self.done_error(),
                value.take().expect("unsent value"),
            )),
            send(sender, value.take().expect("sent once")) -> sent => {
                sent.map_err(|error| ContextSendError::Closed(error.into_inner()))
            }
        }
    }

    /// The error of a context whose done channel fired.
    fn done_error(&self) -> ContextError {
        self.err().expect("the done channel closes only on cancel")
    }
}
