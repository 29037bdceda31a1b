//! `gort::pool`: a fixed set of worker goroutines draining a bounded queue of tasks (the
//! user's `pool_create` / `pool_submit` / `pool_wait` / `pool_close` / `pool_stats`).
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use gort::pool::Pool;
//!
//! let pool = Pool::builder().name("etl").workers(4).queue_capacity(64).build();
//! let total = Arc::new(AtomicU64::new(0));
//! for source in 1..=100u64 {
//!     let total = Arc::clone(&total);
//!     pool.submit(move || {
//!         total.fetch_add(source, Ordering::Relaxed);
//!     })
//!     .unwrap();
//! }
//! pool.wait();
//! assert_eq!(total.load(Ordering::Relaxed), 5050);
//! let stats = pool.shutdown(); // close, let the workers finish, final counts
//! assert_eq!(stats.completed, 100);
//! ```
//!
//! # Design
//! - The queue is a gort channel of boxed tasks (`Sender` in the pool, a `Receiver` clone per
//!   worker). A variant that stored small closures inline in the channel slot (no box) was
//!   measured slower (`benches/pool.rs`): moving the larger slot through the channel cost more
//!   than the allocation. A full queue parks a submitting goroutine (or blocks a submitting
//!   thread) and an idle worker parks on the receive: no polling, no lock on the task path.
//! - Each worker runs every task under `catch_unwind`: a panic counts the task as failed
//!   (the panic hook reports it as usual) and the worker goes on with the next task.
//! - Counters (`stats.rs`) are per worker plus one `submitted`, read in an order that makes
//!   every snapshot add up exactly. `wait` parks on a gort `Condvar` until a snapshot shows
//!   nothing queued or running; a finishing worker looks for waiters only through one atomic.
//! - `close` closes the channel: queued tasks still run, then the workers see the close and
//!   exit. Dropping the pool closes it and joins the workers, so a pool cannot leak them.
//!
//! Tasks share their worker's goroutine: its [`local!`](crate::local) values persist from one
//! task to the next on the same worker.

mod error;
mod stats;

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::chan::{chan, Receiver, Sender, TrySendError};
use crate::runtime::join::JoinHandle;
use crate::runtime::spawn::spawn_at;
use crate::sync::{Condvar, Mutex};
use stats::Counters;

pub use error::{SubmitError, TrySubmitError};
pub use stats::PoolStats;

/// The queue capacity when the builder is not given one.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// A task as the queue carries it.
trait Task: Send {
    fn run(self: Box<Self>);
    /// Back to `Any`, to hand a refused closure back to the caller with its own type.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<F: FnOnce() + Send + 'static> Task for F {
    fn run(self: Box<Self>) {
        (*self)()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Recovers the closure from a refused task.
fn unbox<F: 'static>(task: Box<dyn Task>) -> F {
    *task
        .into_any()
        .downcast::<F>()
        .expect("a refused task is the closure that was submitted")
}

/// What the pool and its workers share.
struct Shared {
    counters: Counters,
    /// `wait` parks on `idle_changed` under `idle_lock` (see `stats.rs`, idle wake-up).
    idle_lock: Mutex<()>,
    idle_changed: Condvar,
}

impl Shared {
    /// After a task finished or a submission was refused: wakes the waiters if the pool went
    /// idle and someone waits.
    fn wake_if_idle(&self) {
        // SeqCst: the StoreLoad partner of `wait` (the finished count was stored SeqCst).
        if self.counters.waiting.load(Ordering::SeqCst) != 0 && self.counters.is_idle() {
            let _guard = self.idle_lock.lock();
            self.idle_changed.notify_all();
        }
    }
}

/// A fixed set of worker goroutines running submitted closures from a bounded queue.
///
/// `Pool` is `Sync`: share it (`Arc<Pool>`) to submit from several goroutines or threads.
/// Dropping it closes the queue, lets the queued tasks run, and waits for the workers.
///
/// ```
/// let pool = gort::pool::Pool::new(2);
/// let (tx, rx) = gort::chan(10);
/// for i in 0..10 {
///     let tx = tx.clone();
///     pool.submit(move || tx.send(i * i).unwrap()).unwrap();
/// }
/// drop(tx);
/// drop(pool); // waits for every task
/// assert_eq!(rx.iter().sum::<i32>(), 285);
/// ```
pub struct Pool {
    name: Option<String>,
    queue: Sender<Box<dyn Task>>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

/// Configures a [`Pool`]: workers, name, queue capacity.
///
/// ```
/// let pool = gort::pool::Pool::builder().workers(3).name("thumbnails").queue_capacity(10).build();
/// assert_eq!(pool.workers(), 3);
/// assert_eq!(pool.name(), Some("thumbnails"));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    workers: usize,
    name: Option<String>,
    queue_capacity: usize,
}

impl Default for PoolBuilder {
    fn default() -> PoolBuilder {
        PoolBuilder {
            workers: crate::maxprocs(),
            name: None,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

impl PoolBuilder {
    /// How many worker goroutines run tasks (default: [`maxprocs`](crate::maxprocs)).
    pub fn workers(mut self, workers: usize) -> PoolBuilder {
        self.workers = workers;
        self
    }

    /// Names the pool; workers are named `"{name}-{index}"` in reports and dumps.
    pub fn name(mut self, name: impl Into<String>) -> PoolBuilder {
        self.name = Some(name.into());
        self
    }

    /// How many tasks may wait in the queue before `submit` waits (default
    /// [`DEFAULT_QUEUE_CAPACITY`]). 0 makes every `submit` wait for an idle worker.
    pub fn queue_capacity(mut self, capacity: usize) -> PoolBuilder {
        self.queue_capacity = capacity;
        self
    }

    /// Starts the workers.
    ///
    /// # Panics
    /// If `workers` is 0, or a worker goroutine cannot be spawned.
    #[track_caller]
    pub fn build(self) -> Pool {
        assert!(
            self.workers > 0,
            "gort::pool: a pool needs at least one worker"
        );
        // Workers report where the pool was built as their spawn site.
        let site = Location::caller();
        let (queue, tasks) = chan::<Box<dyn Task>>(self.queue_capacity);
        let shared = Arc::new(Shared {
            counters: Counters::new(self.workers),
            idle_lock: Mutex::new(()),
            idle_changed: Condvar::new(),
        });
        let mut workers = Vec::with_capacity(self.workers);
        for index in 0..self.workers {
            let mut builder = crate::Builder::new();
            if let Some(name) = &self.name {
                builder = builder.name(format!("{name}-{index}"));
            }
            let tasks = tasks.clone();
            let shared = Arc::clone(&shared);
            let worker = spawn_at(builder, move || work(index, &tasks, &shared), site)
                .unwrap_or_else(|e| panic!("gort::pool: cannot spawn a worker: {e}"));
            workers.push(worker);
        }
        Pool {
            name: self.name,
            queue,
            shared,
            workers,
        }
    }
}

/// A worker's loop: run tasks until the queue is closed and drained.
fn work(index: usize, tasks: &Receiver<Box<dyn Task>>, shared: &Shared) {
    let counters = shared.counters.worker(index);
    for task in tasks.iter() {
        counters.task_started();
        let panicked = catch_unwind(AssertUnwindSafe(|| task.run())).is_err();
        counters.task_finished(panicked);
        shared.wake_if_idle();
    }
}

impl Pool {
    /// A pool of `workers` goroutines with the default queue capacity.
    ///
    /// ```
    /// let pool = gort::pool::Pool::new(4);
    /// pool.submit(|| println!("hello from a worker")).unwrap();
    /// pool.wait();
    /// ```
    ///
    /// # Panics
    /// If `workers` is 0.
    #[track_caller]
    pub fn new(workers: usize) -> Pool {
        Pool::builder().workers(workers).build()
    }

    /// A builder, to set the name and queue capacity.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// Queues `task`, waiting while the queue is full (parking a goroutine, blocking a plain
    /// thread).
    ///
    /// Submitting from a task of the same pool can deadlock when the queue is full and every
    /// worker is doing the same; use [`try_submit`](Pool::try_submit) there.
    ///
    /// ```
    /// let pool = gort::pool::Pool::builder().workers(1).queue_capacity(1).build();
    /// for _ in 0..5 {
    ///     pool.submit(|| gort::sleep(std::time::Duration::from_millis(1))).unwrap();
    /// }
    /// pool.close();
    /// assert!(pool.submit(|| ()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`SubmitError`], with the closure, if the pool is closed.
    pub fn submit<F>(&self, task: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.shared.counters.submitting();
        match self.queue.send(Box::new(task)) {
            Ok(()) => Ok(()),
            Err(refused) => {
                self.shared.counters.refused();
                self.shared.wake_if_idle();
                Err(SubmitError(unbox(refused.into_inner())))
            }
        }
    }

    /// Queues `task` if there is room now, without waiting.
    ///
    /// ```
    /// use gort::pool::{Pool, TrySubmitError};
    /// let pool = Pool::builder().workers(1).queue_capacity(0).build();
    /// // With no queue, a task is accepted only by an idle worker; retry until one is.
    /// let mut task = || ();
    /// loop {
    ///     match pool.try_submit(task) {
    ///         Ok(()) => break,
    ///         Err(TrySubmitError::Full(back)) => { task = back; gort::yield_now() }
    ///         Err(TrySubmitError::Closed(_)) => unreachable!(),
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`TrySubmitError::Full`] if the queue is full, [`TrySubmitError::Closed`] if the pool
    /// is closed; both give the closure back.
    pub fn try_submit<F>(&self, task: F) -> Result<(), TrySubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.shared.counters.submitting();
        match self.queue.try_send(Box::new(task)) {
            Ok(()) => Ok(()),
            Err(refused) => {
                self.shared.counters.refused();
                self.shared.wake_if_idle();
                Err(match refused {
                    TrySendError::Full(task) => TrySubmitError::Full(unbox(task)),
                    TrySendError::Closed(task) => TrySubmitError::Closed(unbox(task)),
                })
            }
        }
    }

    /// Waits until every task submitted so far has finished (nothing queued or running).
    /// Tasks submitted meanwhile by others are waited for too, so with a steady stream of
    /// concurrent submissions this returns when the stream pauses.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// let pool = gort::pool::Pool::new(3);
    /// let done = Arc::new(AtomicU32::new(0));
    /// for _ in 0..30 {
    ///     let done = Arc::clone(&done);
    ///     pool.submit(move || { done.fetch_add(1, Ordering::Relaxed); }).unwrap();
    /// }
    /// pool.wait();
    /// assert_eq!(done.load(Ordering::Relaxed), 30);
    /// ```
    pub fn wait(&self) {
        let counters = &self.shared.counters;
        if counters.is_idle() {
            return;
        }
        let mut guard = self.shared.idle_lock.lock();
        // SeqCst: the StoreLoad partner of `Shared::wake_if_idle`.
        counters.waiting.fetch_add(1, Ordering::SeqCst);
        while !counters.is_idle() {
            guard = self.shared.idle_changed.wait(guard);
        }
        counters.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Stops accepting tasks; queued and running tasks still run, then the workers exit.
    /// Returns false if the pool was closed already.
    ///
    /// ```
    /// let pool = gort::pool::Pool::new(1);
    /// assert!(pool.close());
    /// assert!(!pool.close());
    /// assert!(pool.is_closed());
    /// ```
    pub fn close(&self) -> bool {
        self.queue.close().is_ok()
    }

    /// Whether [`close`](Pool::close) was called.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Closes the pool, waits for every queued task and for the workers to exit, and returns
    /// the final counts. Dropping the pool does the same, without the counts.
    ///
    /// ```
    /// let pool = gort::pool::Pool::new(2);
    /// pool.submit(|| ()).unwrap();
    /// assert_eq!(pool.shutdown().completed, 1);
    /// ```
    pub fn shutdown(mut self) -> PoolStats {
        self.close_and_join();
        self.stats()
    }

    /// A snapshot of the counters; it always adds up (see [`PoolStats`]).
    ///
    /// ```
    /// let pool = gort::pool::Pool::new(1);
    /// assert_eq!(pool.stats(), gort::pool::PoolStats::default());
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.shared.counters.snapshot()
    }

    /// How many workers the pool runs.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The pool's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn close_and_join(&mut self) {
        self.close();
        // A task that drops the last handle to its own pool must not join its own worker.
        let me = crate::current().map(|g| g.id());
        for worker in self.workers.drain(..) {
            if Some(worker.id()) != me {
                // Workers catch task panics, so a worker itself never panics.
                let _ = worker.join();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close_and_join();
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("workers", &self.workers.len())
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish()
    }
}
