//! The completion signal of the spawn workloads: tasks are spawned in windows (spawn `size`,
//! wait for all of them, repeat; the naive workload is one big window). Every task adds to
//! the window's counter and counts the window down; the task that takes the count to zero
//! wakes the spawner through the runtime's own signal (tokio `Notify`, may `SyncFlag`, …).
//!
//! Orderings: `finish_one`'s AcqRel decrement is the Release that `is_done`'s Acquire load
//! pairs with, so a spawner that sees zero also sees every task's counter increment.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Shared by the spawner and its tasks, which capture it by reference (`&'static`, see
/// [`Window::leak`]), as Go's closures capture `&counter` and `&wg`: no per-task reference
/// count, whose increment on the spawner's core and decrement on the runner's would move a
/// cache line between cores on every task, a cost Go's twin does not pay.
#[derive(Debug)]
pub struct Window<Signal> {
    counter: AtomicU64,
    remaining: AtomicUsize,
    /// How the last task wakes the spawner.
    pub signal: Signal,
}

impl<Signal> Window<Signal> {
    /// A window of `size` tasks.
    pub fn new(size: usize, signal: Signal) -> Self {
        Window {
            counter: AtomicU64::new(0),
            remaining: AtomicUsize::new(size),
            signal,
        }
    }

    /// A window leaked for the rest of the process, so tasks can borrow it for `'static`
    /// (one small allocation per measurement). Set its size with [`Window::start`].
    pub fn leak(signal: Signal) -> &'static Self {
        Box::leak(Box::new(Window::new(0, signal)))
    }

    /// Starts the next window of `size` tasks (the previous one must be done). The counter
    /// keeps adding up across windows.
    pub fn start(&self, size: usize) {
        debug_assert!(
            self.is_done(),
            "a window starts once the previous one is done"
        );
        self.remaining.store(size, Ordering::Relaxed);
    }

    /// Records one task's work (the shared `fetch_add`) and counts the window down. Returns
    /// true for exactly one task: the last, which must then fire `signal`.
    pub fn finish_one(&self) -> bool {
        self.counter.fetch_add(1, Ordering::Relaxed);
        self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Whether every task of the window has finished.
    pub fn is_done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    /// How many tasks counted (checked against the window size once done).
    pub fn count(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }
}

/// The sizes of the windows that run `total` tasks at most `window` at a time.
pub fn sizes(total: u64, window: u64) -> impl Iterator<Item = usize> {
    let mut remaining = total;
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        let size = remaining.min(window);
        remaining -= size;
        Some(size as usize)
    })
}
