//! `gort::context`: Go's `context` package, shaped for Rust.
//!
//! A [`Context`] carries a cancellation signal, an optional deadline and request-scoped
//! values down a call tree and across goroutines. It is cheap to clone (two reference counts)
//! and immutable: `with_cancel`, `with_timeout`, `with_deadline` and `with_value` derive a
//! child, and cancelling a context cancels every context derived from it, at once.
//!
//! ```
//! use std::time::Duration;
//! use gort::context::{Context, ContextError};
//!
//! let (ctx, cancel) = Context::background().with_cancel();
//! let worker = gort::go!({
//!     let ctx = ctx.clone();
//!     move || {
//!         let mut rounds = 0;
//!         loop {
//!             gort::select! {
//!                 recv(ctx.done()) => return (rounds, ctx.err()),
//!                 default(Duration::from_millis(1)) => rounds += 1,
//!             }
//!         }
//!     }
//! });
//! gort::sleep(Duration::from_millis(5));
//! cancel.cancel();
//! let (_rounds, err) = worker.join().unwrap();
//! assert_eq!(err, Some(ContextError::Canceled));
//! ```
//!
//! # Design
//! - A context is two optional links: the nearest cancellable node (`cancel.rs`: error state,
//!   done channel, children, deadline timer) and the newest value node (`value.rs`). Deriving
//!   a value shares the cancel node; deriving a cancellable context shares the value chain.
//!   `background()` has neither and allocates nothing.
//! - `done()` is a real channel, made on first use and closed on cancel, so it works in
//!   `select!` next to any other channel; a context that can never be cancelled hands out one
//!   shared channel that never closes.
//! - A deadline is one entry in the runtime's timer heap (`runtime/timer.rs`), removed when the
//!   context is cancelled or dropped; it fires on a scheduler thread and cancels the subtree.
//! - A child cancelled or dropped leaves its parent's child list, so a long-lived parent (a
//!   server's root context) does not accumulate dead children.
//! - Unlike Go, dropping a [`CancelHandle`] does not cancel (so `let (ctx, _) = ..` does not
//!   cancel on the spot); use [`CancelHandle::drop_guard`] for cancel-on-scope-exit.
//!
//! Waiting (`done().recv()`, [`sleep_ctx`], [`Context::recv`]) parks the
//! calling goroutine, or blocks a plain thread.

mod cancel;
mod ops;
mod value;

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::chan::{Channel, Receiver};
use cancel::CancelNode;
pub(crate) use cancel::FinishHook;
use value::ValueNode;

pub use ops::{sleep_ctx, ContextRecvError, ContextSendError};

/// Why a context is done: Go's `context.Canceled` and `context.DeadlineExceeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Cancelled through a [`CancelHandle`] (its own or an ancestor's).
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// A cancellation signal, deadline and set of values, passed down a call tree: Go's
/// `context.Context`. See the [module docs](crate::context).
///
/// ```
/// use std::time::Duration;
/// use gort::context::Context;
///
/// let (ctx, _cancel) = Context::background()
///     .with_value("user", String::from("ana"))
///     .with_timeout(Duration::from_secs(30));
/// assert_eq!(ctx.value::<String>("user").map(String::as_str), Some("ana"));
/// assert!(ctx.deadline().is_some());
/// assert_eq!(ctx.err(), None);
/// ```
#[derive(Clone, Default)]
pub struct Context {
    cancel: Option<Arc<CancelNode>>,
    values: Option<Arc<dyn ValueNode>>,
}

/// Cancels the context made with it, and every context derived from that one: Go's
/// `CancelFunc`. Cloning shares the same target; cancelling twice does nothing more.
///
/// Dropping it does **not** cancel; the context is then cancelled only by an ancestor or its
/// deadline, and leaves its parent when every clone of it is gone.
#[derive(Clone)]
pub struct CancelHandle {
    node: Arc<CancelNode>,
}

/// Cancels its context when dropped (from [`CancelHandle::drop_guard`]): Go's
/// `defer cancel()`.
#[must_use = "the context is cancelled when the guard is dropped"]
pub struct CancelGuard {
    handle: Option<CancelHandle>,
}

impl Context {
    /// The root context: never cancelled, no deadline, no values (Go's `context.Background()`).
    /// Costs nothing to make or clone.
    ///
    /// ```
    /// let ctx = gort::context::Context::background();
    /// assert!(!ctx.is_done());
    /// assert_eq!(ctx.deadline(), None);
    /// ```
    pub fn background() -> Context {
        Context::default()
    }

    /// A child context and the handle that cancels it (Go's `context.WithCancel`).
    ///
    /// ```
    /// use gort::context::{Context, ContextError};
    /// let (parent, cancel_parent) = Context::background().with_cancel();
    /// let (child, _cancel_child) = parent.with_cancel();
    /// cancel_parent.cancel();
    /// assert_eq!(child.err(), Some(ContextError::Canceled));
    /// ```
    pub fn with_cancel(&self) -> (Context, CancelHandle) {
        self.derive(None)
    }

    /// A child context cancelled with [`ContextError::DeadlineExceeded`] after `timeout`
    /// (Go's `context.WithTimeout`). Costs one runtime timer, no thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gort::context::{Context, ContextError};
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(5));
    /// assert_eq!(ctx.done().recv(), Err(gort::RecvError)); // closed at the deadline
    /// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelHandle) {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.with_deadline(deadline),
            None => self.with_cancel(),
        }
    }

    /// A child context cancelled with [`ContextError::DeadlineExceeded`] at `deadline`, or at
    /// its parent's deadline if that is earlier (Go's `context.WithDeadline`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use gort::context::Context;
    /// let soon = Instant::now() + Duration::from_secs(10);
    /// let (parent, _c1) = Context::background().with_deadline(soon);
    /// let (child, _c2) = parent.with_deadline(soon + Duration::from_secs(50));
    /// assert_eq!(child.deadline(), Some(soon)); // the earlier one wins
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelHandle) {
        self.derive(Some(deadline))
    }

    fn derive(&self, deadline: Option<Instant>) -> (Context, CancelHandle) {
        let node = CancelNode::new(self.cancel.as_ref(), deadline);
        let ctx = Context {
            cancel: Some(Arc::clone(&node)),
            values: self.values.clone(),
        };
        (ctx, CancelHandle { node })
    }

    /// A child context carrying `value` under `key` (Go's `context.WithValue`). A key is any
    /// `PartialEq` value: a string, or better a private unit type that no other code can name.
    ///
    /// ```
    /// use gort::context::Context;
    /// #[derive(PartialEq)]
    /// struct RequestId;
    /// let ctx = Context::background().with_value(RequestId, 42u64);
    /// assert_eq!(ctx.value::<u64>(RequestId), Some(&42));
    /// ```
    pub fn with_value<K, V>(&self, key: K, value: V) -> Context
    where
        K: PartialEq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        Context {
            cancel: self.cancel.clone(),
            values: Some(Arc::new(value::Entry {
                parent: self.values.clone(),
                key,
                value,
            })),
        }
    }

    /// The value stored under the newest key of `key`'s type equal to `key`, if it is a `V`
    /// (a newer value shadows older ones under the same key; a value of another type under
    /// the nearest matching key gives `None`).
    ///
    /// ```
    /// use gort::context::Context;
    /// let ctx = Context::background().with_value("depth", 1u32).with_value("depth", 2u32);
    /// assert_eq!(ctx.value::<u32>("depth"), Some(&2));
    /// assert_eq!(ctx.value::<String>("depth"), None);
    /// assert_eq!(ctx.value::<u32>("missing"), None);
    /// ```
    pub fn value<V: 'static>(&self, key: impl PartialEq + Any) -> Option<&V> {
        value::lookup(self.values.as_ref(), &key)
    }

    /// A channel closed when the context is cancelled (Go's `ctx.Done()`): use it in
    /// `select!` as `recv(ctx.done())`, or `ctx.done().recv()` to wait. A context that can
    /// never be cancelled (background, values only) returns a channel that never closes.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::Context::background().with_cancel();
    /// cancel.cancel();
    /// let outcome = gort::select! {
    ///     recv(ctx.done()) => "cancelled",
    ///     default => "still running",
    /// };
    /// assert_eq!(outcome, "cancelled");
    /// ```
    pub fn done(&self) -> &Receiver<()> {
        match &self.cancel {
            Some(node) => node.done(),
            None => never_done(),
        }
    }

    /// Why the context is done, or `None` while it is not (Go's `ctx.Err()`).
    ///
    /// ```
    /// use gort::context::{Context, ContextError};
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.cancel.as_ref().and_then(|node| node.error())
    }

    /// Whether the context is done (`err().is_some()`), without waiting.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::Context::background().with_cancel();
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// When the context will be cancelled by a deadline, its own or an ancestor's (Go's
    /// `ctx.Deadline()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (ctx, _cancel) = gort::context::Context::background().with_timeout(Duration::from_secs(1));
    /// assert!(ctx.deadline().is_some());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.cancel.as_ref().and_then(|node| node.deadline())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        value::drop_chain(self.values.take());
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .field("values", &value::chain_len(self.values.as_ref()))
            .finish()
    }
}

impl CancelHandle {
    /// Cancels the context and its descendants with [`ContextError::Canceled`]: their done
    /// channels close and every waiter wakes. Does nothing if it was done already (the first
    /// reason is kept).
    ///
    /// ```
    /// use gort::context::{Context, ContextError};
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let waiter = gort::go!({
    ///     let ctx = ctx.clone();
    ///     move || ctx.done().recv().is_err()
    /// });
    /// cancel.cancel();
    /// assert!(waiter.join().unwrap());
    /// ```
    pub fn cancel(&self) {
        self.node.cancel(ContextError::Canceled);
    }

    /// A guard that cancels when dropped, for cancel-on-scope-exit (Go's `defer cancel()`).
    ///
    /// ```
    /// use gort::context::Context;
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// {
    ///     let _guard = cancel.drop_guard();
    ///     assert!(!ctx.is_done());
    /// }
    /// assert!(ctx.is_done());
    /// ```
    pub fn drop_guard(self) -> CancelGuard {
        CancelGuard { handle: Some(self) }
    }

    /// Runs `hook` once, when the context finishes: cancelled (by this handle, an ancestor or
    /// a deadline) or dropped without being cancelled; at once if it is cancelled already.
    /// The hook runs on the thread that finished it, with no context lock held. One hook per
    /// context, set by the code that made it (`signal::notify_context` ends its subscription
    /// there).
    pub(crate) fn on_finish(&self, hook: FinishHook) {
        self.node.set_on_finish(hook);
    }

    /// A handle that cancels the same context without keeping it alive.
    pub(crate) fn downgrade(&self) -> WeakCancelHandle {
        WeakCancelHandle {
            node: Arc::downgrade(&self.node),
        }
    }

    /// Whether the context is still live (not cancelled).
    pub(crate) fn is_live(&self) -> bool {
        self.node.error().is_none()
    }
}

/// A [`CancelHandle`] that does not keep its context alive (crate-internal: the signal
/// registry holds one per `notify_context`, so dropping the context ends the subscription).
#[derive(Clone)]
pub(crate) struct WeakCancelHandle {
    node: Weak<CancelNode>,
}

impl WeakCancelHandle {
    /// The handle, if the context still exists.
    pub(crate) fn upgrade(&self) -> Option<CancelHandle> {
        self.node.upgrade().map(|node| CancelHandle { node })
    }

    /// Whether both point to the same context (tests).
    #[cfg(test)]
    pub(crate) fn same_context(&self, other: &WeakCancelHandle) -> bool {
        self.node.ptr_eq(&other.node)
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("err", &self.node.error())
            .finish()
    }
}

impl CancelGuard {
    /// Gives the handle back without cancelling.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::Context::background().with_cancel();
    /// let cancel = cancel.drop_guard().disarm();
    /// assert!(!ctx.is_done());
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    pub fn disarm(mut self) -> CancelHandle {
        self.handle
            .take()
            .expect("a guard holds its handle until dropped")
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.cancel();
        }
    }
}

impl fmt::Debug for CancelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelGuard")
            .field("armed", &self.handle.is_some())
            .finish()
    }
}

/// The shared done channel of contexts that cannot be cancelled: never closed (its one
/// phantom sender is never released) and never sent on.
fn never_done() -> &'static Receiver<()> {
    static NEVER: OnceLock<Receiver<()>> = OnceLock::new();
    NEVER.get_or_init(|| Receiver {
        channel: Arc::new(Channel::new(0)),
    })
}

#[cfg(test)]
mod tests;
