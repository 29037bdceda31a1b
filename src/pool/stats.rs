//! The pool's counters: a consistent [`PoolStats`] snapshot without a lock on the task path,
//! and the idle check `Pool::wait` parks on.
//!
//! # Invariants
//! - `submitted` counts every task handed to the queue, from just before the hand-over (a
//!   failed hand-over takes its count back). Each worker's `started`, `completed` and `failed`
//!   are written by that worker only (plain load-and-store, no read-modify-write), each task
//!   counted in `started` before it runs and in exactly one of the other two after.
//! - Snapshot: read each worker's `completed` and `failed`, then its `started`; after all
//!   workers, `submitted`. Counters only grow (a `submitted` take-back follows its own increment), so
//!   the later reads are at least the earlier: `finished ≤ started ≤ submitted`, hence
//!   `queued = submitted − started` and `running = started − finished` are never negative and
//!   `submitted = queued + running + completed + failed` holds exactly in every snapshot.
//!
//! # Memory ordering
//! - A worker's `Release` stores pair with the snapshot's `Acquire` loads: seeing a finished
//!   count means seeing the `started` store before it; seeing a `started` count means seeing the
//!   `submitted` increment of that task (submit → channel hand-over → receive → store).
//! - Idle wake-up (`Pool::wait`): a worker stores its finished count (a refused submission
//!   takes its count back), then reads `waiting`; a waiter increments `waiting`, then reads
//!   the counts. All four are `SeqCst`, so one of the two
//!   sees the other (no lost wake-up); the rest happens under the pool's idle mutex.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a pool has done so far, from [`Pool::stats`](crate::pool::Pool::stats).
///
/// A snapshot always adds up: `submitted == queued + running + completed + failed`.
///
/// ```
/// let pool = gort::pool::Pool::new(2);
/// for i in 0..10 {
///     pool.submit(move || if i == 3 { panic!("task {i} failed") }).unwrap();
/// }
/// pool.wait();
/// let stats = pool.stats();
/// assert_eq!((stats.submitted, stats.completed, stats.failed), (10, 9, 1));
/// assert_eq!((stats.queued, stats.running), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Tasks accepted so far.
    pub submitted: u64,
    /// Accepted and waiting for a worker.
    pub queued: u64,
    /// Running now.
    pub running: u64,
    /// Finished normally.
    pub completed: u64,
    /// Finished by panicking.
    pub failed: u64,
}

/// One worker's counters, on their own cache lines (only that worker writes them).
#[repr(align(128))]
#[derive(Default)]
pub(super) struct WorkerCounters {
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
}

/// Increments a counter only its owner writes (no read-modify-write needed).
fn bump(counter: &AtomicU64, order: Ordering) {
    counter.store(counter.load(Ordering::Relaxed) + 1, order);
}

impl WorkerCounters {
    pub(super) fn task_started(&self) {
        // Release: pairs with the snapshot's Acquire (see the module docs).
        bump(&self.started, Ordering::Release);
    }

    /// (completed, failed, started), read finished-first so that `started ≥ finished`, and
    /// re-read while they are more than one task apart (the reader was delayed between the
    /// loads; a worker runs one task at a time), so `running` is this worker's true 0 or 1.
    fn read(&self) -> (u64, u64, u64) {
        let mut attempts = 0;
        loop {
            // Acquire (SeqCst): pairs with the worker's stores (module docs).
            let completed = self.completed.load(Ordering::SeqCst);
            let failed = self.failed.load(Ordering::SeqCst);
            let started = self.started.load(Ordering::Acquire);
            attempts += 1;
            if started - (completed + failed) <= 1 || attempts == 8 {
                return (completed, failed, started);
            }
        }
    }

    pub(super) fn task_finished(&self, panicked: bool) {
        // SeqCst (includes Release): the idle wake-up's store before the `waiting` load.
        let counter = if panicked {
            &self.failed
        } else {
            &self.completed
        };
        bump(counter, Ordering::SeqCst);
    }
}

/// Everything counted for one pool.
pub(super) struct Counters {
    submitted: AtomicU64,
    workers: Box<[WorkerCounters]>,
    /// Callers inside `Pool::wait`.
    pub(super) waiting: AtomicUsize,
}

impl Counters {
    pub(super) fn new(workers: usize) -> Counters {
        Counters {
            submitted: AtomicU64::new(0),
            workers: (0..workers).map(|_| WorkerCounters::default()).collect(),
            waiting: AtomicUsize::new(0),
        }
    }

    pub(super) fn worker(&self, index: usize) -> &WorkerCounters {
        &self.workers[index]
    }

    /// Counts a task about to be handed to the queue.
    pub(super) fn submitting(&self) {
        self.submitted.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes back the count of a task the queue refused.
    pub(super) fn refused(&self) {
        self.submitted.fetch_sub(1, Ordering::SeqCst);
    }

    /// A consistent snapshot (see the module invariants for the read order).
    pub(super) fn snapshot(&self) -> PoolStats {
        let (mut completed, mut failed, mut started) = (0, 0, 0);
        for worker in self.workers.iter() {
            let (worker_completed, worker_failed, worker_started) = worker.read();
            completed += worker_completed;
            failed += worker_failed;
            started += worker_started;
        }
        let submitted = self.submitted.load(Ordering::SeqCst);
        let finished = completed + failed;
        debug_assert!(finished <= started && started <= submitted);
        PoolStats {
            submitted,
            queued: submitted - started,
            running: started - finished,
            completed,
            failed,
        }
    }

    /// Nothing queued or running (every task submitted so far has finished).
    pub(super) fn is_idle(&self) -> bool {
        let stats = self.snapshot();
        stats.queued == 0 && stats.running == 0
    }
}
