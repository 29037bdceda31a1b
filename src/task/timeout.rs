//! [`timeout`]: run a closure in a new goroutine and wait for it up to a duration.

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::chan::{chan, RecvTimeoutError};

/// [`timeout`] gave up waiting: the closure did not finish in time (it goes on running).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `f` in a new goroutine and waits up to `duration` for its result (the user's
/// `timeout(ms, fn)`).
///
/// On time, returns `Ok` with the result; if `f` panicked, the panic is resumed here, as if
/// `f` had been called directly. On timeout, returns [`Elapsed`] and **the goroutine keeps
/// running** until `f` returns (its result is then dropped): a goroutine cannot be killed from
/// outside, in Go or here, because stopping code at an arbitrary point would skip its
/// destructors and leave its locks held.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gort::timeout(Duration::from_secs(5), || 6 * 7), Ok(42));
/// let slow = gort::timeout(Duration::from_millis(5), || gort::sleep(Duration::from_millis(50)));
/// assert_eq!(slow, Err(gort::Elapsed));
/// ```
///
/// To make the work actually stop, give it a [`Context`](crate::Context) with a deadline
/// (here a little after the caller's) and let it check: it then returns soon after the
/// timeout instead of running on.
///
/// ```
/// use std::time::Duration;
/// use gort::context::Context;
///
/// let limit = Duration::from_millis(10);
/// let (ctx, _cancel) = Context::background().with_timeout(limit * 3);
/// let (stopped_tx, stopped_rx) = gort::chan(1);
/// let outcome = gort::timeout(limit, move || {
///     let mut steps = 0u64;
///     // Each step waits at most 1 ms and stops as soon as the context is done.
///     while gort::sleep_ctx(&ctx, Duration::from_millis(1)).is_ok() {
///         steps += 1;
///     }
///     stopped_tx.send(ctx.err()).unwrap();
///     steps
/// });
/// assert_eq!(outcome, Err(gort::Elapsed));
/// // The goroutine noticed the deadline and stopped by itself.
/// assert_eq!(stopped_rx.recv().unwrap(), Some(gort::context::ContextError::DeadlineExceeded));
/// ```
///
/// # Errors
/// [`Elapsed`] if `f` has not returned within `duration`.
#[track_caller]
pub fn timeout<F, T>(duration: Duration, f: F) -> Result<T, Elapsed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (result_tx, result_rx) = chan(1);
    // The goroutine's JoinHandle is dropped: the result comes back on the channel, and on
    // timeout nobody joins it (it is detached, like Go's `go f()`).
    drop(crate::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(f));
        // Fails only if the caller gave up; the result is then dropped here.
        let _ = result_tx.send(outcome);
    }));
    match result_rx.recv_timeout(duration) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => resume_unwind(panic),
        Err(RecvTimeoutError::Timeout) => Err(Elapsed),
        Err(RecvTimeoutError::Closed) => unreachable!("the goroutine always sends its outcome"),
    }
}
