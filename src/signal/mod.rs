//! Signals for goroutines (Go's `os/signal`): [`notify`] delivers the chosen signals as values
//! on a channel, which a goroutine receives beside its other work in `select!`, and
//! [`notify_context`] gives a [`Context`] cancelled at the first of them, for graceful
//! shutdown. [`stop`] ends a channel subscription.
//!
//! ```
//! use gort::signal::{self, Signal};
//!
//! let signals = signal::notify(&[Signal::User1]);
//! let (jobs_tx, jobs) = gort::chan::<u32>(0);
//! let worker = gort::go!(move || {
//!     let mut done = 0;
//!     loop {
//!         gort::select! {
//!             recv(jobs) -> job => done += job.unwrap(),
//!             recv(signals) -> signal => return (done, signal.unwrap()),
//!         }
//!     }
//! });
//! jobs_tx.send(1).unwrap();
//! jobs_tx.send(2).unwrap();
//! // SAFETY: raise(3) only sends a signal to this process, which is subscribed to it.
//! unsafe { libc::raise(libc::SIGUSR1) };
//! assert_eq!(worker.join().unwrap(), (3, Signal::User1));
//! ```
//!
//! # How a signal reaches a goroutine
//! When a subscription first wants a signal, gort installs its handler (through
//! signal-hook-registry, which chains handlers). The handler is async-signal-safe: if some
//! subscription wants the signal, it records it in an atomic set and writes to an eventfd
//! registered with the runtime's netpoller; otherwise it applies the signal's default action
//! on the spot. The M that polls sees the eventfd like a readable socket and calls the
//! registry's `dispatch`, which offers each recorded signal to every subscription that wants
//! it: a `try_send` on a [`notify`] channel (which wakes a goroutine waiting in `recv` or
//! `select!`), a cancel of a [`notify_context`] context (which closes its `done()` channel).
//! While a subscription exists it counts as a netpoller waiter, so an idle runtime blocks in
//! the poller and a signal wakes it; with none, signals cost the runtime nothing.
//!
//! # Subscriptions and the default action
//! - A subscription ends when every [`Receiver`] of its channel is dropped, or at [`stop`];
//!   a [`notify_context`] subscription ends when its context is cancelled (by the signal,
//!   its [`CancelHandle`], its parent or a deadline) or dropped.
//! - A signal that arrives when no subscription wants it gets the signal's default action
//!   (for `Interrupt` and `Terminate`, the process ends), as after Go's `signal.Stop`. So a
//!   second Ctrl-C during a graceful shutdown started by [`notify_context`] ends the process.
//! - Several subscriptions may want one signal: each gets it. Clones of one [`Receiver`]
//!   share one subscription: each signal goes to one of them.
//! - A channel buffers up to 64 signals; one that arrives when the buffer is full is lost
//!   (Go's rule: the runtime never blocks sending to a full channel). signal-hook also
//!   merges repeats of one signal that arrive before they are read, as the kernel does.
//!
//! `handler.rs` states the handler's protocol (no signal is lost between the handler and the
//! last subscription ending); `registry.rs` the subscriptions' invariants, the lock rules and
//! how each subscription ends with its owner.

mod handler;
mod kind;
mod registry;

pub use kind::Signal;
pub(crate) use registry::dispatch;

use crate::chan::{self, Receiver};
use crate::context::{CancelHandle, Context};
use registry::Delivery;

/// Signals a [`notify`] channel buffers; past it, a signal is lost.
const CHANNEL_CAPACITY: usize = 64;

/// Delivers the given signals on the returned channel instead of their default action (Go's
/// `signal.Notify`); an empty list means every [`Signal`], as in Go. Receive with `recv`, in
/// `select!` (`recv(signals) -> signal => …`), or with a `for` loop. The subscription lasts
/// until every clone of the receiver is dropped, or [`stop`].
///
/// Go's `<-sigChan` to wait for Ctrl-C or `kill`:
///
/// ```
/// use gort::signal::{notify, Signal};
/// let signals = notify(&[Signal::Interrupt, Signal::Terminate, Signal::User1]);
/// let waiter = gort::go!(move || signals.recv());
/// // SAFETY: raise(3) only sends a signal to this process, which is subscribed to it.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// assert_eq!(waiter.join().unwrap(), Ok(Signal::User1));
/// ```
///
/// # Panics
/// If the signal machinery cannot be set up (the process is out of file descriptors on
/// first use).
pub fn notify(signals: &[Signal]) -> Receiver<Signal> {
    let id = registry::next_id();
    let (sender, receiver) = chan::chan_with_receivers_gone_hook(
        CHANNEL_CAPACITY,
        Box::new(move || registry::unsubscribe(id)),
    );
    registry::subscribe(id, Signal::mask_of(signals), Delivery::Channel(sender));
    receiver
}

/// Ends the subscription of a [`notify`] channel (Go's `signal.Stop`): once `stop` returns,
/// nothing more is sent on it, and signals it wanted get their default action again unless
/// another subscription wants them. The channel is then closed: the receiver gets the
/// signals already buffered, then [`RecvError`](crate::RecvError). Stopping a channel twice
/// does nothing more; dropping every receiver stops it too.
///
/// ```
/// use gort::signal::{self, Signal};
/// let signals = signal::notify(&[Signal::User2]);
/// signal::stop(&signals);
/// assert_eq!(signals.recv(), Err(gort::RecvError));
/// ```
pub fn stop(receiver: &Receiver<Signal>) {
    registry::unsubscribe_channel(receiver);
}

/// A child of `parent` cancelled at the first of the given signals (Go's
/// `signal.NotifyContext`), or when `parent` is, or by the returned handle; an empty list
/// means every [`Signal`]. Wait for it with `ctx.done()` (in `select!` beside other work) and
/// pass it down to the code that must stop.
///
/// The subscription ends as soon as the context is cancelled, whatever the cause, or
/// dropped: after the first signal, the next one gets its default action (a second Ctrl-C
/// ends the process), as after Go's `stop()`. Cancelling through the handle is Go's `stop()`.
/// If `parent` is cancelled already, nothing is subscribed.
///
/// ```
/// use gort::context::{Context, ContextError};
/// use gort::signal::{notify_context, Signal};
///
/// let (ctx, stop) = notify_context(&Context::background(), &[Signal::User2]);
/// let (jobs_tx, jobs) = gort::chan::<u32>(0);
/// let server = gort::go!({
///     let ctx = ctx.clone();
///     move || {
///         let mut served = 0;
///         loop {
///             gort::select! {
///                 recv(ctx.done()) => return (served, ctx.err()),
///                 recv(jobs) -> job => served += job.unwrap(),
///             }
///         }
///     }
/// });
/// jobs_tx.send(5).unwrap();
/// // SAFETY: raise(3) only sends a signal to this process, which is subscribed to it.
/// unsafe { libc::raise(libc::SIGUSR2) };
/// assert_eq!(server.join().unwrap(), (5, Some(ContextError::Canceled)));
/// stop.cancel(); // Go's `defer stop()`: already done by the signal, harmless
/// ```
///
/// # Panics
/// As [`notify`].
pub fn notify_context(parent: &Context, signals: &[Signal]) -> (Context, CancelHandle) {
    let (ctx, handle) = parent.with_cancel();
    if !handle.is_live() {
        return (ctx, handle);
    }
    let id = registry::next_id();
    registry::subscribe(
        id,
        Signal::mask_of(signals),
        Delivery::Context(handle.downgrade()),
    );
    // After `subscribe`: a cancel (or a signal) in between runs the hook at once, here.
    handle.on_finish(Box::new(move || registry::unsubscribe(id)));
    (ctx, handle)
}

#[cfg(test)]
mod tests;
