//! Why a pool refused a task; each error hands the closure back.

use std::fmt;

/// [`Pool::submit`](crate::pool::Pool::submit) failed because the pool is closed. Holds the
/// closure that was not queued.
///
/// ```
/// let pool = gort::pool::Pool::new(1);
/// pool.close();
/// let (tx, rx) = gort::chan(1);
/// let err = pool.submit(move || tx.send("run by the caller").unwrap()).unwrap_err();
/// (err.into_inner())(); // the closure came back: run it here instead
/// assert_eq!(rx.recv(), Ok("run by the caller"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SubmitError<F>(pub F);

impl<F> SubmitError<F> {
    /// The closure that was not queued.
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> fmt::Debug for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubmitError(..)")
    }
}

impl<F> fmt::Display for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("submitting to a closed pool")
    }
}

impl<F> std::error::Error for SubmitError<F> {}

/// [`Pool::try_submit`](crate::pool::Pool::try_submit) failed. Holds the closure that was not
/// queued.
///
/// ```
/// use gort::pool::{Pool, TrySubmitError};
/// let pool = Pool::new(1);
/// pool.close();
/// assert!(matches!(pool.try_submit(|| ()), Err(TrySubmitError::Closed(_))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySubmitError<F> {
    /// The queue is full (with capacity 0: no worker is idle).
    Full(F),
    /// The pool is closed.
    Closed(F),
}

impl<F> TrySubmitError<F> {
    /// The closure that was not queued.
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(task) | TrySubmitError::Closed(task) => task,
        }
    }

    /// Whether the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySubmitError::Full(_))
    }

    /// Whether the pool was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySubmitError::Closed(_))
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySubmitError::Full(_) => "Full(..)",
            TrySubmitError::Closed(_) => "Closed(..)",
        })
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySubmitError::Full(_) => "the pool's queue is full",
            TrySubmitError::Closed(_) => "submitting to a closed pool",
        })
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}
