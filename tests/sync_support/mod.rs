//! Shared helpers for the `sync_*` integration tests: run the same test body on plain threads
//! and on goroutines, so every primitive is checked in both worlds.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Where the tasks of a test run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One OS thread per task; blocking parks the thread.
    Threads,
}

/// Every mode the tests run in.
pub const MODES: &[Mode] = &[Mode::Threads];

/// A started task.
pub struct Task<T> {
    handle: std::thread::JoinHandle<T>,
}

impl<T> Task<T> {
    /// Waits for the task and returns its value; a panic in the task fails the test.
    pub fn join(self) -> T {
        match self.handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Mode {
    /// Starts `body` as a task of this mode.
    pub fn spawn<T: Send + 'static>(self, body: impl FnOnce() -> T + Send + 'static) -> Task<T> {
        match self {
            Mode::Threads => Task {
                handle: std::thread::spawn(body),
            },
        }
    }

    /// Starts `count` tasks running `body(index)` and returns them in order.
    pub fn spawn_many<T: Send + 'static>(
        self,
        count: usize,
        body: impl Fn(usize) -> T + Send + Sync + Clone + 'static,
    ) -> Vec<Task<T>> {
        (0..count)
            .map(|index| {
                let body = body.clone();
                self.spawn(move || body(index))
            })
            .collect()
    }

    /// Lets other tasks run (`gort::yield_now` in a goroutine).
    pub fn yield_now(self) {
        match self {
            Mode::Threads => std::thread::yield_now(),
        }
    }

    /// Yields in goroutine mode only: a goroutine that never blocks keeps its processor, while
    /// threads are preempted by the OS anyway.
    pub fn yield_now_if_goroutine(self) {
        match self {
            Mode::Threads => {}
        }
    }

    /// A sensible number of tasks for a hammering test in this mode.
    pub fn crowd(self) -> usize {
        match self {
            Mode::Threads => 8,
        }
    }
}

/// Joins every task, returning their values in order.
pub fn join_all<T>(tasks: Vec<Task<T>>) -> Vec<T> {
    tasks.into_iter().map(Task::join).collect()
}

/// Polls `condition` until it holds, failing the test after `limit`. For observing that tasks
/// reached a blocking point (there is no event to wait for); never a stand-in for the
/// synchronisation under test.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs `body` on a fresh thread and fails the test if it has not finished within `limit`
/// (a deadlock or lost wake-up would otherwise hang the whole test binary).
pub fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let _ = sender.send(outcome);
    });
    match receiver.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("not finished within {limit:?}: deadlock or lost wake-up"),
    }
}
