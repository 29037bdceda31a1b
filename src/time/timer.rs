//! `Timer`: one value on a channel after a duration, with `stop` and `reset` (Go's
//! `time.NewTimer`).

use std::fmt;
use std::time::{Duration, Instant};

use super::channel_timer::ChannelTimer;
use crate::chan::Receiver;
use crate::select::private::SelectReceiver;

/// Sends the current time on its channel once, after a duration: Go's `time.Timer`.
///
/// No thread per timer: it is an entry in the runtime's timer heap. `stop`, `reset` and
/// drop remove that entry, so a stopped or dropped timer leaves nothing behind. After
/// `stop` or `reset` returns, no value from before can be received (Go 1.23's rule).
///
/// ```
/// use std::time::Duration;
/// use gort::time::Timer;
///
/// let timer = Timer::new(Duration::from_millis(5));
/// let (_tx, never) = gort::chan::<()>(0);
/// gort::select! {
///     recv(never) -> _ => unreachable!(),
///     recv(timer) -> at => assert!(at.is_ok()), // a Timer is a receive arm itself
/// }
///
/// let timer = Timer::new(Duration::from_secs(3600));
/// assert!(timer.stop(), "stopped before it fired");
/// assert!(timer.receiver().try_recv().is_err());
/// ```
pub struct Timer {
    inner: ChannelTimer,
}

impl Timer {
    /// A timer that fires once `duration` has passed.
    pub fn new(duration: Duration) -> Timer {
        Timer {
            inner: ChannelTimer::new(Instant::now().checked_add(duration), None),
        }
    }

    /// A timer that fires at `deadline` (at once if it has passed).
    pub fn at(deadline: Instant) -> Timer {
        Timer {
            inner: ChannelTimer::new(Some(deadline), None),
        }
    }

    /// The channel the time arrives on (Go's `t.C`).
    pub fn receiver(&self) -> &Receiver<Instant> {
        self.inner.receiver()
    }

    /// Stops the timer and discards a value it sent that nobody received. Returns true if
    /// that prevented a delivery, false if the value was already received or the timer was
    /// stopped before.
    pub fn stop(&self) -> bool {
        self.inner.stop()
    }

    /// Stops the timer (as `stop`, whose result it returns) and starts it again for
    /// `duration` from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = gort::time::Timer::new(Duration::from_secs(3600));
    /// timer.reset(Duration::from_millis(1));
    /// assert!(timer.receiver().recv().is_ok());
    /// ```
    pub fn reset(&self, duration: Duration) -> bool {
        self.inner.reset(Instant::now().checked_add(duration), None)
    }

    /// Turns the timer into its channel alone: the timer keeps running, and dropping the
    /// last receiver stops it. `time::after` is `Timer::new(d).into_receiver()`.
    pub fn into_receiver(self) -> Receiver<Instant> {
        self.inner.into_receiver()
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timer").field(&self.inner).finish()
    }
}

impl SelectReceiver for Timer {
    type Item = Instant;
    fn select_receiver(&self) -> Option<&Receiver<Instant>> {
        Some(self.receiver())
    }
}
