//! `Barrier`: a reusable rendezvous for a fixed number of tasks.
//!
//! All state (`arrived` in the current generation) lives under the wait queue's lock, so the
//! protocol is a plain critical section: each arrival counts itself; the last one resets the
//! count for the next generation and wakes everybody queued, who are exactly the earlier
//! arrivals of this generation (arrivals of the next generation queue only after the reset, and
//! no waiter of this one can leave early: barrier waits have no timeout).

use std::fmt;

use super::waitq::{Position, WaitQueue, WaitResult, WOKEN};
use crate::runtime::g::WaitReason;

/// Makes a fixed number of tasks wait for each other, then lets them all go, over and over
/// (like `std::sync::Barrier`, parking goroutines instead of threads).
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use gort::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let tasks: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = Arc::clone(&barrier);
///         std::thread::spawn(move || barrier.wait().is_leader())
///     })
///     .collect();
/// let leaders = tasks.into_iter().map(|task| task.join().unwrap());
/// assert_eq!(leaders.filter(|&leader| leader).count(), 1);
/// ```
pub struct Barrier {
    parties: usize,
    /// Queued arrivals; the extra state counts arrivals of the current generation.
    queue: WaitQueue<(), usize>,
}

/// Returned by [`Barrier::wait`]: says whether this caller was the generation's leader.
///
/// ```
/// let barrier = gort::sync::Barrier::new(1);
/// assert!(barrier.wait().is_leader());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// True for exactly one caller per generation: the last to arrive.
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Barrier {
    /// A barrier for `parties` tasks. A barrier for 0 or 1 tasks never blocks. Usable in a
    /// `static`.
    ///
    /// ```
    /// let barrier = gort::sync::Barrier::new(0);
    /// assert!(barrier.wait().is_leader());
    /// ```
    pub const fn new(parties: usize) -> Self {
        Barrier {
            parties,
            queue: WaitQueue::new(0),
        }
    }

    /// Parks until `parties` callers (this one included) have called `wait` in the current
    /// generation; then all of them return and the barrier is ready for the next generation.
    /// Exactly one caller per generation gets [`is_leader`](BarrierWaitResult::is_leader).
    ///
    /// ```
    /// use gort::sync::Barrier;
    /// let barrier = Barrier::new(2);
    /// std::thread::scope(|scope| {
    ///     let other = scope.spawn(|| barrier.wait().is_leader());
    ///     let me = barrier.wait().is_leader();
    ///     assert!(me != other.join().unwrap());
    /// });
    /// ```
    pub fn wait(&self) -> BarrierWaitResult {
        let result = self.queue.wait(
            (),
            WaitReason::Barrier,
            None,
            |queue| {
                let arrived = queue.state();
                *arrived += 1;
                if *arrived < self.parties {
                    return Some(Position::Back);
                }
                *arrived = 0;
                queue.wake_all(WOKEN);
                None
            },
            || {},
            |_queue| {},
        );
        BarrierWaitResult {
            leader: result == WaitResult::NotQueued,
        }
    }

    /// The number of tasks each generation waits for.
    ///
    /// ```
    /// assert_eq!(gort::sync::Barrier::new(4).parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .finish_non_exhaustive()
    }
}
