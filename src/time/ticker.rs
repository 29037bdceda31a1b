//! `Ticker`: the time on a channel every period (Go's `time.NewTicker`).

use std::fmt;
use std::time::{Duration, Instant};

use super::channel_timer::ChannelTimer;
use crate::chan::Receiver;
use crate::select::private::SelectReceiver;

/// Sends the current time on its channel every period: Go's `time.Ticker`.
///
/// The channel holds one tick; a receiver that falls behind misses ticks rather than
/// getting a burst (Go's rule). `stop`, `reset` and drop remove the runtime timer entry.
///
/// ```
/// use std::time::Duration;
/// let ticker = gort::time::Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 {
///     ticker.receiver().recv().unwrap();
/// }
/// ticker.stop();
/// ```
pub struct Ticker {
    inner: ChannelTimer,
}

impl Ticker {
    /// A ticker with period `period`; the first tick comes one period from now.
    ///
    /// # Panics
    /// If `period` is zero (Go panics on a non-positive period too).
    pub fn new(period: Duration) -> Ticker {
        assert!(
            !period.is_zero(),
            "gort::time::Ticker: the period must be positive"
        );
        Ticker {
            inner: ChannelTimer::new(Instant::now().checked_add(period), Some(period)),
        }
    }

    /// The channel the ticks arrive on (Go's `t.C`).
    pub fn receiver(&self) -> &Receiver<Instant> {
        self.inner.receiver()
    }

    /// Stops the ticker; no tick from before can be received afterwards.
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// Stops the ticker and restarts it with period `period`, first tick one period from now.
    ///
    /// # Panics
    /// If `period` is zero.
    pub fn reset(&self, period: Duration) {
        assert!(
            !period.is_zero(),
            "gort::time::Ticker: the period must be positive"
        );
        self.inner
            .reset(Instant::now().checked_add(period), Some(period));
    }

    /// Turns the ticker into its channel alone; dropping the last receiver stops it.
    pub fn into_receiver(self) -> Receiver<Instant> {
        self.inner.into_receiver()
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ticker").field(&self.inner).finish()
    }
}

impl SelectReceiver for Ticker {
    type Item = Instant;
    fn select_receiver(&self) -> Option<&Receiver<Instant>> {
        Some(self.receiver())
    }
}
