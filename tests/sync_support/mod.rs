//! Shared helpers for the `sync_*` integration tests: run the same test body on plain threads
//! and on goroutines, so every primitive is checked in both worlds.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Where the tasks of a test run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One OS thread per task; blocking parks the thread.
    Threads,
    /// One goroutine per task, on 2 procs (the real target); blocking parks the goroutine.
    Goroutines,
}

/// Every mode the tests run in.
pub const MODES: &[Mode] = &[Mode::Threads, Mode::Goroutines];

/// How many procs the goroutine mode runs on.
pub const PROCS: usize = 2;

/// A started task.
pub enum Task<T> {
    /// A task on its own thread.
    Thread(std::thread::JoinHandle<T>),
    /// A task in a goroutine.
    Goroutine(gort::JoinHandle<T>),
}

impl<T: Send + 'static> Task<T> {
    /// Waits for the task and returns its value; a panic in the task fails the test.
    pub fn join(self) -> T {
        match self {
            Task::Thread(handle) => match handle.join() {
                Ok(value) => value,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Task::Goroutine(handle) => match handle.join() {
                Ok(value) => value,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            },
        }
    }
}

/// Puts the runtime on [`PROCS`] procs (once per test binary).
fn use_test_procs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = gort::Config::new().procs(PROCS).init();
        gort::set_maxprocs(PROCS).expect("valid procs");
    });
}

impl Mode {
    /// Runs a test body in this mode, failing the test if it takes longer than `limit`: on a
    /// fresh thread, or as the main goroutine (so the body's own blocking parks a goroutine).
    pub fn run<T: Send + 'static>(
        self,
        limit: Duration,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        match self {
            Mode::Threads => within(limit, body),
            Mode::Goroutines => {
                use_test_procs();
                within(limit, move || {
                    gort::run(move || {
                        assert!(gort::current().is_some(), "not in a goroutine");
                        body()
                    })
                })
            }
        }
    }

    /// Starts `body` as a task of this mode.
    pub fn spawn<T: Send + 'static>(self, body: impl FnOnce() -> T + Send + 'static) -> Task<T> {
        match self {
            Mode::Threads => Task::Thread(std::thread::spawn(body)),
            Mode::Goroutines => {
                use_test_procs();
                Task::Goroutine(gort::spawn(move || {
                    assert!(gort::current().is_some(), "not in a goroutine");
                    body()
                }))
            }
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
            Mode::Goroutines => gort::yield_now(),
        }
    }

    /// Yields in goroutine mode only: a goroutine that never blocks keeps its processor, while
    /// threads are preempted by the OS anyway.
    pub fn yield_now_if_goroutine(self) {
        match self {
            Mode::Threads => {}
            Mode::Goroutines => gort::yield_now(),
        }
    }

    /// A sensible number of tasks for a hammering test in this mode.
    pub fn crowd(self) -> usize {
        match self {
            Mode::Threads => 8,
            Mode::Goroutines => 64,
        }
    }
}

/// Joins every task, returning their values in order.
pub fn join_all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Vec<T> {
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
        // gort::sleep parks a goroutine and sleeps a plain thread.
        gort::sleep(Duration::from_micros(200));
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
