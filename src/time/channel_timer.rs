//! `ChannelTimer`: a runtime timer that sends the time on a channel, once or every period.
//! `Timer`, `Ticker`, `after` and `tick` are thin wrappers around it.
//!
//! # Ownership (no cycle, nothing left behind)
//! - The armed runtime timer's action holds an `Arc<Core>`; `Core` holds the `Sender`.
//! - The channel's "last receiver gone" hook holds only a `Weak<Core>`: dropping every receiver
//!   (an `after(d)` whose select lost, a dropped `Timer`) cancels the runtime timer, which drops
//!   the action, the `Core` and the sender. A fired one-shot drops its action the same way.
//!
//! # Invariants (under `Core::state`'s lock)
//! - `handle.is_some()` ⇔ a runtime timer is armed for the current `generation`.
//! - A firing action whose generation is not current does nothing: `stop` and `reset` bump
//!   the generation, cancel, and drain the channel under the lock, so once they return no
//!   value from before them can be received (Go 1.23's timer guarantee).
//!
//! # Locks
//! `state` is taken before the runtime's timer heap lock (by `stop`, `reset` and a firing
//! action that re-arms a ticker), never the other way: actions run after the heap lock is
//! released. The send itself is a `try_send` on a capacity-1 channel: it never blocks (a tick
//! that finds the previous one unreceived is dropped, as Go's ticker drops ticks).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::chan::{chan_with_receivers_gone_hook, Receiver, Sender};
use crate::runtime::timer::{self, TimerAction, TimerHandle};

struct State {
    /// Bumped by every stop and reset; an action only acts for its own generation.
    generation: u64,
    /// The armed runtime timer, if any.
    handle: Option<TimerHandle>,
    /// `Some` for a ticker.
    period: Option<Duration>,
}

struct Core {
    sender: Sender<Instant>,
    state: Mutex<State>,
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A runtime timer delivering on a channel.
pub(crate) struct ChannelTimer {
    core: Arc<Core>,
    receiver: Receiver<Instant>,
    /// Given away by `into_receiver`: dropping this handle must not stop the timer.
    detached: bool,
}

impl ChannelTimer {
    /// Arms a timer that sends once at `deadline`, or every `period` from `deadline` on
    /// (`None`: a deadline beyond what `Instant` can hold, which never comes).
    pub(crate) fn new(deadline: Option<Instant>, period: Option<Duration>) -> ChannelTimer {
        let mut receiver = None;
        let core = Arc::new_cyclic(|weak: &Weak<Core>| {
            let weak = weak.clone();
            let hook = Box::new(move || {
                if let Some(core) = weak.upgrade() {
                    disarm(&mut core.lock());
                }
            });
            let (sender, channel_receiver) = chan_with_receivers_gone_hook(1, hook);
            receiver = Some(channel_receiver);
            Core {
                sender,
                state: Mutex::new(State {
                    generation: 0,
                    handle: None,
                    period,
                }),
            }
        });
        let receiver = receiver.expect("made with the core");
        {
            let mut state = core.lock();
            arm(&core, &mut state, deadline);
        }
        ChannelTimer {
            core,
            receiver,
            detached: false,
        }
    }

    /// The channel the times arrive on.
    pub(crate) fn receiver(&self) -> &Receiver<Instant> {
        &self.receiver
    }

    /// Gives the receiver away; the timer stays armed until it fires or every receiver is
    /// dropped.
    pub(crate) fn into_receiver(mut self) -> Receiver<Instant> {
        self.detached = true;
        // A clone, so that our own receiver's drop is not the last one.
        self.receiver.clone()
    }

    /// Stops the timer and discards an unreceived value. True if that prevented a delivery
    /// (the timer was armed, or its value was still waiting).
    pub(crate) fn stop(&self) -> bool {
        let mut state = self.core.lock();
        let was_armed = disarm(&mut state);
        let discarded = self.drain();
        was_armed || discarded
    }

    /// Stops, then re-arms for `deadline` (and, for a ticker, the new `period`). Returns what
    /// `stop` would have.
    pub(crate) fn reset(&self, deadline: Option<Instant>, period: Option<Duration>) -> bool {
        let mut state = self.core.lock();
        let was_armed = disarm(&mut state);
        let discarded = self.drain();
        if period.is_some() {
            state.period = period;
        }
        arm(&self.core, &mut state, deadline);
        was_armed || discarded
    }

    /// Empties the channel; true if a value was there.
    fn drain(&self) -> bool {
        let mut discarded = false;
        while self.receiver.try_recv().is_ok() {
            discarded = true;
        }
        discarded
    }
}

impl Drop for ChannelTimer {
    fn drop(&mut self) {
        // Clones of the receiver may outlive us; they then see the last value, or nothing.
        if !self.detached {
            disarm(&mut self.core.lock());
        }
    }
}

/// Bumps the generation and cancels the armed runtime timer; true if it had not fired.
fn disarm(state: &mut State) -> bool {
    state.generation = state.generation.wrapping_add(1);
    state.handle.take().is_some_and(|handle| handle.cancel())
}

/// Arms the runtime timer for `deadline` under the current generation (no deadline: stays
/// disarmed, it would never fire).
fn arm(core: &Arc<Core>, state: &mut State, deadline: Option<Instant>) {
    let Some(deadline) = deadline else { return };
    let generation = state.generation;
    let core_for_action = Arc::clone(core);
    let action = TimerAction::Call(Arc::new(move || {
        fire(&core_for_action, generation, deadline)
    }));
    state.handle = Some(timer::add(deadline, action));
}

/// The action: runs on a scheduler thread when the deadline passes. Short and non-blocking.
fn fire(core: &Arc<Core>, generation: u64, deadline: Instant) {
    let mut state = core.lock();
    if state.generation != generation {
        return; // stopped or reset since this was armed
    }
    state.handle = None;
    let now = Instant::now();
    // Full (an earlier value unreceived): drop this one; closed: nobody listens.
    let _ = core.sender.try_send(now);
    if let Some(period) = state.period {
        arm(core, &mut state, Some(next_tick(deadline, period, now)));
    }
}

/// The next deadline of a ticker that was due at `deadline`: one period later, skipping the
/// periods already missed (Go's ticker catches up by dropping ticks, not by bursting them).
fn next_tick(deadline: Instant, period: Duration, now: Instant) -> Instant {
    let next = deadline + period;
    if next > now {
        return next;
    }
    let behind = now.duration_since(deadline).as_nanos();
    let missed = behind / period.as_nanos().max(1);
    let skip = u32::try_from(missed + 1).unwrap_or(u32::MAX);
    deadline
        .checked_add(period.saturating_mul(skip))
        .unwrap_or(now + period)
}

impl std::fmt::Debug for ChannelTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.core.lock();
        f.debug_struct("ChannelTimer")
            .field("armed", &state.handle.is_some())
            .field("period", &state.period)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::next_tick;
    use std::time::{Duration, Instant};

    #[test]
    fn a_late_ticker_skips_missed_periods() {
        let start = Instant::now();
        let period = Duration::from_millis(10);
        assert_eq!(next_tick(start, period, start), start + period);
        assert_eq!(
            next_tick(start, period, start + Duration::from_millis(35)),
            start + Duration::from_millis(40)
        );
        assert_eq!(
            next_tick(start, period, start + Duration::from_millis(40)),
            start + Duration::from_millis(50)
        );
    }
}
