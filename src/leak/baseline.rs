//! The tracker's baseline: fixed, or a moving floor that follows a drifting "normal".
//!
//! # Why a moving floor
//! The user's tracker takes its baseline once, at start; in a long-running program the normal
//! number of goroutines drifts (more connections at noon, a cache that grew a worker pool),
//! and a fixed baseline then reports the new normal as a leak forever. The adaptive baseline
//! is the *lowest count seen over the last `window`*:
//! - A burst of short-lived goroutines does not move it: the floor only rises once the count
//!   has stayed above the old level for a whole window, which is what a new normal looks like.
//! - It falls at once when the count falls, so a program that sheds load is judged against
//!   its quieter level immediately.
//! - A leak is growth: while a leak grows faster than `leak_threshold` per window, the count
//!   stays more than the threshold above the floor of a window ago, and every check reports
//!   it. A leak slower than that is absorbed into the floor — so the report also shows the
//!   baseline at start, and `max_goroutines` stays an absolute ceiling that no drift moves.
//!
//! A mean (or an exponentially weighted one) was rejected: it follows a leak upwards by
//! construction, and a single burst moves it.
//!
//! # The structure
//! A monotonic deque: samples `(time, count)` with counts strictly increasing from front to
//! back. Adding a sample drops every sample at the back with a count not below it (it can
//! never be the minimum again), and samples older than the window leave at the front; the
//! front is the minimum. Amortised O(1) per check, and at most one sample per check in memory.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the [`Tracker`](crate::leak::Tracker) decides what count is normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// The count when the tracker was created, forever (the user's original tracker).
    Fixed,
    /// The lowest count seen over the last `window` (the module docs explain the choice).
    MovingFloor {
        /// How long a new level must hold before it becomes the baseline.
        window: Duration,
    },
}

impl Default for Baseline {
    /// A moving floor over 15 minutes.
    fn default() -> Baseline {
        Baseline::MovingFloor {
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// The state behind a [`Baseline`].
#[derive(Debug, Clone)]
pub(crate) struct BaselineState {
    kind: Baseline,
    initial: usize,
    samples: VecDeque<(Instant, usize)>,
}

impl BaselineState {
    pub(crate) fn new(kind: Baseline, initial: usize, at: Instant) -> BaselineState {
        BaselineState {
            kind,
            initial,
            samples: VecDeque::from([(at, initial)]),
        }
    }

    /// The baseline at start.
    pub(crate) fn initial(&self) -> usize {
        self.initial
    }

    /// Records the count seen at `at` and returns the baseline to judge it against.
    pub(crate) fn observe(&mut self, count: usize, at: Instant) -> usize {
        match self.kind {
            Baseline::Fixed => self.initial,
            Baseline::MovingFloor { window } => {
                while self.samples.back().is_some_and(|&(_, c)| c >= count) {
                    self.samples.pop_back();
                }
                self.samples.push_back((at, count));
                while self
                    .samples
                    .front()
                    .is_some_and(|&(t, _)| at.saturating_duration_since(t) > window)
                {
                    self.samples.pop_front();
                }
                self.samples.front().map_or(count, |&(_, c)| c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(window_secs: u64) -> (BaselineState, Instant) {
        let t0 = Instant::now();
        let state = BaselineState::new(
            Baseline::MovingFloor {
                window: Duration::from_secs(window_secs),
            },
            100,
            t0,
        );
        (state, t0)
    }

    #[test]
    fn a_burst_does_not_move_the_floor() {
        let (mut b, t0) = floor(60);
        assert_eq!(b.observe(5_000, t0 + Duration::from_secs(10)), 100);
        assert_eq!(b.observe(100, t0 + Duration::from_secs(20)), 100);
        assert_eq!(b.observe(110, t0 + Duration::from_secs(75)), 100);
        // Once every older sample has left the window, the floor is the lowest recent one.
        assert_eq!(b.observe(120, t0 + Duration::from_secs(130)), 110);
    }

    #[test]
    fn a_new_level_held_for_a_window_becomes_the_baseline() {
        let (mut b, t0) = floor(60);
        for s in (10..=60).step_by(10) {
            assert_eq!(b.observe(300, t0 + Duration::from_secs(s)), 100, "t={s}");
        }
        // The start sample (100) is now older than the window.
        assert_eq!(b.observe(300, t0 + Duration::from_secs(70)), 300);
        // And it falls at once when the count falls.
        assert_eq!(b.observe(150, t0 + Duration::from_secs(80)), 150);
    }

    #[test]
    fn a_fast_leak_stays_above_the_floor() {
        // +100 goroutines every 10 s with a 60 s window: the floor lags 500-600 behind.
        let (mut b, t0) = floor(60);
        let mut last_gap = 0;
        for i in 1..=30u64 {
            let count = 100 + 100 * i as usize;
            let base = b.observe(count, t0 + Duration::from_secs(10 * i));
            last_gap = count - base;
        }
        assert!(last_gap >= 500, "gap {last_gap}");
    }

    #[test]
    fn fixed_never_moves() {
        let t0 = Instant::now();
        let mut b = BaselineState::new(Baseline::Fixed, 7, t0);
        assert_eq!(b.observe(1_000, t0 + Duration::from_secs(3_600)), 7);
        assert_eq!(b.initial(), 7);
    }
}
