//! `Group`: Go's `errgroup` — fallible goroutines sharing a [`Context`], the first error
//! cancelling the rest.
//!
//! # Invariants
//! - Every spawned task holds a `WaitGroup` token until its closure has returned (or
//!   panicked) and its outcome is recorded, so `wait` sees every outcome.
//! - `first_error` is written at most once (the first failure), under its mutex; the context
//!   is cancelled after that write, so a task that observes the cancellation and fails in turn
//!   cannot take the first place.
//! - With a limit, a task holds one semaphore permit from before it is spawned until it
//!   finishes, so at most `limit` tasks exist at once.
//!
//! The mutexes are `std` ones held for a single store, never across a park.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use crate::context::{CancelHandle, Context};
use crate::runtime::sched::lock;
use crate::sync::{OwnedSemaphorePermit, Semaphore, WaitGroup};

/// A set of fallible goroutines working on one job: Go's `errgroup.Group`.
///
/// Each task gets a clone of the group's [`Context`]. The first task to fail (return `Err`
/// or panic) cancels that context, so the others can stop early; [`wait`](Group::wait)
/// waits for all of them and returns the first error (or resumes the first panic). With
/// [`with_limit`](Group::with_limit), `spawn` waits while that many tasks are running.
///
/// ```
/// use std::time::Duration;
/// use gort::Group;
///
/// let group = Group::new();
/// for id in 0..5u32 {
///     group.spawn(move |ctx| {
///         if id == 3 {
///             return Err(format!("task {id} failed"));
///         }
///         // Well-behaved tasks stop when a sibling failed.
///         match gort::sleep_ctx(&ctx, Duration::from_secs(60)) {
///             Ok(()) => Ok(()),
///             Err(_cancelled) => Ok(()),
///         }
///     });
/// }
/// assert_eq!(group.wait(), Err("task 3 failed".to_string()));
/// ```
pub struct Group<E> {
    ctx: Context,
    cancel: CancelHandle,
    shared: Arc<Shared<E>>,
    limit: Option<Arc<Semaphore>>,
}

struct Shared<E> {
    running: WaitGroup,
    first_error: Mutex<Option<Failure<E>>>,
}

enum Failure<E> {
    Error(E),
    Panic(Box<dyn Any + Send>),
}

impl<E: Send + 'static> Group<E> {
    /// A group whose context derives from [`Context::background`].
    pub fn new() -> Group<E> {
        Group::with_context(&Context::background())
    }

    /// A group whose context derives from `parent`: cancelling `parent` cancels the tasks'
    /// context too (Go's `errgroup.WithContext`).
    ///
    /// ```
    /// use gort::context::{Context, ContextError};
    /// let (parent, cancel) = Context::background().with_cancel();
    /// let group: gort::Group<()> = gort::Group::with_context(&parent);
    /// cancel.cancel();
    /// assert_eq!(group.context().err(), Some(ContextError::Canceled));
    /// ```
    pub fn with_context(parent: &Context) -> Group<E> {
        let (ctx, cancel) = parent.with_cancel();
        Group {
            ctx,
            cancel,
            shared: Arc::new(Shared {
                running: WaitGroup::new(),
                first_error: Mutex::new(None),
            }),
            limit: None,
        }
    }

    /// Limits how many tasks run at once: `spawn` waits for a free place (Go's `SetLimit`).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let group = gort::Group::<()>::new().with_limit(2);
    /// let running = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..10 {
    ///     let running = Arc::clone(&running);
    ///     group.spawn(move |_ctx| {
    ///         assert!(running.fetch_add(1, Ordering::SeqCst) < 2);
    ///         gort::yield_now();
    ///         running.fetch_sub(1, Ordering::SeqCst);
    ///         Ok(())
    ///     });
    /// }
    /// group.wait().unwrap();
    /// ```
    ///
    /// # Panics
    /// If `limit` is 0, or tasks were spawned already.
    pub fn with_limit(mut self, limit: usize) -> Group<E> {
        assert!(limit > 0, "gort::Group: the limit must be at least 1");
        assert!(
            self.shared.running.count() == 0,
            "gort::Group: set the limit before spawning tasks"
        );
        self.limit = Some(Arc::new(Semaphore::new(limit)));
        self
    }

    /// The context the tasks receive; it is cancelled by the first failure and when `wait`
    /// returns.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Spawns `task` with a clone of the group's context, waiting first for a free place if
    /// the group has a limit (Go's `g.Go`).
    ///
    /// ```
    /// let group = gort::Group::<std::io::Error>::new();
    /// group.spawn(|_ctx| Ok(()));
    /// assert!(group.wait().is_ok());
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, task: F)
    where
        F: FnOnce(Context) -> Result<(), E> + Send + 'static,
    {
        let permit = self.limit.as_ref().map(|limit| limit.acquire_owned(1));
        self.start(task, permit);
    }

    /// Spawns `task` only if the limit allows one more now; otherwise gives it back (Go's
    /// `g.TryGo`).
    ///
    /// ```
    /// let group = gort::Group::<()>::new().with_limit(1);
    /// let (release, wait_for_release) = gort::chan::<()>(0);
    /// group.spawn(move |_ctx| { let _ = wait_for_release.recv(); Ok(()) });
    /// assert!(group.try_spawn(|_ctx| Ok(())).is_err()); // the one place is taken
    /// drop(release);
    /// group.wait().unwrap();
    /// ```
    ///
    /// # Errors
    /// The task, if the group is at its limit.
    #[track_caller]
    pub fn try_spawn<F>(&self, task: F) -> Result<(), F>
    where
        F: FnOnce(Context) -> Result<(), E> + Send + 'static,
    {
        let permit = match &self.limit {
            Some(limit) => match limit.try_acquire_owned(1) {
                Some(permit) => Some(permit),
                None => return Err(task),
            },
            None => None,
        };
        self.start(task, permit);
        Ok(())
    }

    #[track_caller]
    fn start<F>(&self, task: F, permit: Option<OwnedSemaphorePermit>)
    where
        F: FnOnce(Context) -> Result<(), E> + Send + 'static,
    {
        let token = self.shared.running.enter();
        let ctx = self.ctx.clone();
        let cancel = self.cancel.clone();
        let shared = Arc::clone(&self.shared);
        drop(crate::spawn(move || {
            let failure = match catch_unwind(AssertUnwindSafe(|| task(ctx))) {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(Failure::Error(error)),
                Err(panic) => Some(Failure::Panic(panic)),
            };
            if let Some(failure) = failure {
                let mut first = lock(&shared.first_error);
                if first.is_none() {
                    *first = Some(failure);
                }
                drop(first);
                cancel.cancel();
            }
            drop(permit);
            drop(token);
        }));
    }

    /// Waits for every task spawned so far, cancels the context, and returns the first error;
    /// if the first failure was a panic, resumes it here. The error is returned once: a later
    /// `wait` returns `Ok` unless a new task failed.
    ///
    /// ```
    /// let group = gort::Group::new();
    /// group.spawn(|_ctx| Err("disk full"));
    /// group.spawn(|_ctx| Ok(()));
    /// assert_eq!(group.wait(), Err("disk full"));
    /// ```
    ///
    /// # Errors
    /// The first error a task returned.
    pub fn wait(&self) -> Result<(), E> {
        self.shared.running.wait();
        self.cancel.cancel();
        match lock(&self.shared.first_error).take() {
            None => Ok(()),
            Some(Failure::Error(error)) => Err(error),
            Some(Failure::Panic(panic)) => resume_unwind(panic),
        }
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Group<E> {
        Group::new()
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("running", &self.shared.running.count())
            .field("limited", &self.limit.is_some())
            .field("ctx", &self.ctx)
            .finish()
    }
}
