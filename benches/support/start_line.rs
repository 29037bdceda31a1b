//! A countdown that green threads step on once each and a plain OS thread waits on: the
//! memory bench's "every task has started" signal. Counting down never blocks (only the last
//! step takes the lock, briefly), so it is safe to call from inside any runtime's task.
//!
//! Orderings: the AcqRel decrement orders each task's start before the last step; the mutex
//! hands that on to the waiter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Counts `count` starts; [`wait`](Self::wait) returns once all have happened.
#[derive(Debug)]
pub struct StartLine {
    remaining: AtomicUsize,
    all_started: Mutex<bool>,
    wake: Condvar,
}

impl StartLine {
    /// A start line for `count` tasks.
    pub fn new(count: usize) -> Self {
        StartLine {
            remaining: AtomicUsize::new(count),
            all_started: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    /// Records one task's start; the last one wakes the waiter.
    pub fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.all_started.lock().expect("start line poisoned") = true;
            self.wake.notify_all();
        }
    }

    /// Blocks the calling OS thread until every task has counted down.
    pub fn wait(&self) {
        let mut all_started = self.all_started.lock().expect("start line poisoned");
        while !*all_started {
            all_started = self.wake.wait(all_started).expect("start line poisoned");
        }
    }
}
