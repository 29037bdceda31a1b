//! Timers as channels: Go's `time.After`, `time.Tick`, `time.NewTimer`, `time.NewTicker`.
//!
//! Every timer here is one entry in the runtime's timer heap (`runtime/timer.rs`): no thread
//! per timer. When it fires, its action (run on a scheduler thread) `try_send`s the time on a
//! capacity-1 channel, which wakes whoever waits on it, a plain receive or a `select!`. A
//! stopped, reset or dropped timer removes its heap entry at once; so does dropping the last
//! receiver of `after`/`tick`, so a `recv(gort::time::after(d))` arm that loses leaves
//! nothing behind. The protocol (generations, draining on stop) is in `channel_timer.rs`.
//!
//! For a timeout in `select!`, `default(duration) => ..` is cheaper still: it arms no timer
//! unless the select actually parks, and then only the park's own deadline.
//!
//! Sleeping is `gort::sleep`.

mod channel_timer;
mod ticker;
mod timer;

use std::time::{Duration, Instant};

use crate::chan::Receiver;

pub use ticker::Ticker;
pub use timer::Timer;

/// A channel that receives the time once, after `duration`: Go's `time.After`.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = gort::chan::<u32>(0);
/// let timed_out = gort::select! {
///     recv(rx) -> _ => false,
///     recv(gort::time::after(Duration::from_millis(2))) -> _ => true,
/// };
/// assert!(timed_out);
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    Timer::new(duration).into_receiver()
}

/// A channel that receives the time every `period`: Go's `time.Tick`. Unlike Go's, it stops
/// when its last receiver is dropped.
///
/// # Panics
/// If `period` is zero.
pub fn tick(period: Duration) -> Receiver<Instant> {
    Ticker::new(period).into_receiver()
}
