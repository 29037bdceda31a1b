//! The signal registry: the live subscriptions, and [`dispatch`], which the netpoller calls
//! when a handler has recorded a wanted signal (`handler.rs` owns the handler's side).
//!
//! # What it owns
//! `REGISTRY` holds the live subscriptions, the signals whose handler is installed, and
//! whether the handler's eventfd exists. A subscription is the mask of the signals it wants
//! and its delivery: the `Sender` of a `notify` channel, or a weak cancel handle of a
//! `notify_context` context.
//!
//! # Invariants
//! - *Wanted*: the handler's `WANTED` set is the union of the listed subscriptions' masks; it
//!   is stored under `REGISTRY` with every change of the list.
//! - *Counted*: each listed subscription counts as one netpoller waiter, so an idle runtime
//!   blocks in the poller (where a recorded signal wakes it) and the deadlock detector knows a
//!   signal may still come. `subscribe` adds the count with the entry; the one `remove` that
//!   takes the entry out takes the count back. No subscription: no waiter, no cost.
//! - *Ends with its owner*: a channel subscription is listed only while a receiver of its
//!   channel lives and `stop` was not called on it (the channel's receivers-gone hook
//!   unsubscribes); a context subscription only while its context is live (the context's
//!   finish hook, run on any cancel or on drop, unsubscribes). Between the owner's end and
//!   its hook's `remove`, `dispatch` sees the end itself (the channel is closed, the context
//!   cancelled or gone) and counts the subscription as not wanting the signal.
//! - *Default action*: a signal no subscription wants gets the default action it would have
//!   had without gort (for `SIGINT` and `SIGTERM`, the process ends): in the handler when
//!   nothing wants it on arrival, here when what wanted it ended before it was dispatched
//!   (`settle` dispatches what is left when a signal stops being wanted).
//! - *Never blocks*: `dispatch` only `try_send`s; a full channel loses the signal, as Go's
//!   runtime never blocks sending to a full channel.
//! - *Stop is final*: `dispatch` sends under `REGISTRY` and `stop` removes under it, so after
//!   `stop` returns nothing is sent on that channel again.
//!
//! # Locks
//! `REGISTRY` is a short `std` mutex, held to add or remove a subscription and, in
//! `dispatch`, to take the recorded signals and offer each (a `try_send` never blocks and
//! takes no lock of ours; it may unpark a receiver). It is never held across a park, a
//! context cancel (which runs the finish hook, which takes `REGISTRY`), the drop of a strong
//! context handle (which may drop the context: same hook), the drop of a removed `Sender`
//! (it closes the channel and wakes its receivers), the wait for running handlers, the poke
//! that makes an M poll for a new subscription (it may start the runtime), or a default
//! action. The handler takes no lock (it runs inside a signal handler).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{handler, Signal};
use crate::chan::{Receiver, Sender, TrySendError};
use crate::context::{CancelHandle, WeakCancelHandle};
use crate::netpoll;
use crate::runtime::sched::lock;

/// How a subscription receives its signals.
pub(super) enum Delivery {
    /// `notify`: sent on the channel.
    Channel(Sender<Signal>),
    /// `notify_context`: the first one cancels the context.
    Context(WeakCancelHandle),
}

impl Delivery {
    /// Offers `signal`; true if this subscription wants it (a full channel wants it: the
    /// signal is lost, not passed to the default action). A context to cancel goes to
    /// `cancels`, and so does one to drop: both happen after `REGISTRY` is released.
    fn offer(&self, signal: Signal, cancels: &mut Vec<CancelHandle>) -> bool {
        match self {
            Delivery::Channel(sender) => match sender.try_send(signal) {
                Ok(()) | Err(TrySendError::Full(_)) => true,
                // Every receiver is gone; the hook is about to unsubscribe.
                Err(TrySendError::Closed(_)) => false,
            },
            Delivery::Context(weak) => match weak.upgrade() {
                Some(handle) => {
                    let live = handle.is_live();
                    cancels.push(handle);
                    live
                }
                None => false,
            },
        }
    }
}

/// One subscription.
struct Subscription {
    id: u64,
    /// The `Signal::bit`s it wants.
    mask: u32,
    delivery: Delivery,
}

/// The subscriptions, and what is installed.
struct SignalRegistry {
    /// The handler's eventfd exists and is registered with the netpoller.
    wake_fd_ready: bool,
    /// `Signal::bit`s whose handler is installed (for the life of the process).
    installed: u32,
    subscriptions: Vec<Subscription>,
}

impl SignalRegistry {
    /// The union of the listed masks (the handler's `WANTED`).
    fn wanted(&self) -> u32 {
        self.subscriptions.iter().fold(0, |mask, s| mask | s.mask)
    }
}

static REGISTRY: Mutex<SignalRegistry> = Mutex::new(SignalRegistry {
    wake_fd_ready: false,
    installed: 0,
    subscriptions: Vec::new(),
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh subscription id (taken before the subscription exists, for the hook that ends it).
pub(super) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Lists a subscription to the signals in `mask` and installs their handlers.
///
/// # Panics
/// If the handler's eventfd cannot be made or registered (out of file descriptors), or a
/// handler cannot be installed.
pub(super) fn subscribe(id: u64, mask: u32, delivery: Delivery) {
    let poller = netpoll::poller();
    add(poller, id, mask, delivery);
    // After `REGISTRY` is released (it may start the runtime, or wake an idle M).
    poller.ensure_polled();
}

/// `subscribe`'s part under `REGISTRY`.
fn add(poller: &netpoll::Poller, id: u64, mask: u32, delivery: Delivery) {
    let mut registry = lock(&REGISTRY);
    if !registry.wake_fd_ready {
        handler::create_wake_fd(poller)
            .unwrap_or_else(|e| panic!("gort: cannot set up signal delivery: {e}"));
        registry.wake_fd_ready = true;
    }
    // Counted, listed and wanted before any handler exists: a signal from then on is ours.
    poller.waiter_added();
    registry
        .subscriptions
        .push(Subscription { id, mask, delivery });
    handler::set_wanted(registry.wanted());
    for signal in Signal::ALL.into_iter() {
        if mask & !registry.installed & signal.bit() != 0 {
            handler::install(signal).unwrap_or_else(|e| {
                panic!("gort: cannot install a handler for signal {signal}: {e}")
            });
            registry.installed |= signal.bit();
        }
    }
}

/// Ends subscription `id`, if it is still listed (each hook may run after `stop` did it).
pub(super) fn unsubscribe(id: u64) {
    let removed = remove(|s| s.id == id);
    drop(removed);
}

/// Ends the channel subscription that sends to `receiver`'s channel; false if there is none.
pub(super) fn unsubscribe_channel(receiver: &Receiver<Signal>) -> bool {
    let removed = remove(|s| match &s.delivery {
        Delivery::Channel(sender) => Arc::ptr_eq(&sender.channel, &receiver.channel),
        Delivery::Context(_) => false,
    });
    // The sender's drop (here, outside the lock) closes the channel: its receivers drain it,
    // then see the close.
    removed.is_some()
}

/// Takes the first subscription matching `which` out of the list, with its waiter count,
/// and settles the signals nobody wants any more.
fn remove(which: impl Fn(&Subscription) -> bool) -> Option<Subscription> {
    let (removed, unwanted_now) = {
        let mut registry = lock(&REGISTRY);
        let index = registry.subscriptions.iter().position(which)?;
        let removed = registry.subscriptions.swap_remove(index);
        let before = handler::set_wanted(registry.wanted());
        netpoll::poller().waiter_abandoned();
        (removed, before & !registry.wanted())
    };
    if unwanted_now != 0 {
        settle();
    }
    Some(removed)
}

/// Some signals stopped being wanted: waits for the handlers that may still record them,
/// then dispatches what they recorded (to the remaining subscriptions, or the default
/// action). Without it, such a signal could sit in the pending set with nobody polling.
fn settle() {
    handler::wait_for_handlers();
    dispatch();
}

/// Called by the netpoller when the handler's eventfd is readable (and by `settle`): offers
/// every recorded signal to the subscriptions that want it, or gives it its default action
/// if none does any more.
pub(crate) fn dispatch() {
    let mut cancels: Vec<CancelHandle> = Vec::new();
    let mut unwanted: Vec<Signal> = Vec::new();
    {
        let registry = lock(&REGISTRY);
        let pending = handler::take_pending();
        for signal in Signal::ALL.into_iter().filter(|s| pending & s.bit() != 0) {
            let mut wanted = false;
            for subscription in registry.subscriptions.iter() {
                if subscription.mask & signal.bit() != 0 {
                    wanted |= subscription.delivery.offer(signal, &mut cancels);
                }
            }
            if !wanted {
                unwanted.push(signal);
            }
        }
    }
    // Each cancel runs its context's finish hook, which unsubscribes it.
    for handle in cancels {
        handle.cancel();
    }
    for signal in unwanted {
        // What wanted it is gone: what the signal would have done without gort.
        let _ = signal_hook::low_level::emulate_default_handler(signal.number());
    }
}

/// Whether `receiver`'s channel has a listed subscription (tests).
#[cfg(test)]
pub(super) fn is_subscribed(receiver: &Receiver<Signal>) -> bool {
    lock(&REGISTRY)
        .subscriptions
        .iter()
        .any(|s| match &s.delivery {
            Delivery::Channel(sender) => Arc::ptr_eq(&sender.channel, &receiver.channel),
            Delivery::Context(_) => false,
        })
}

/// Whether the context of `handle` has a listed subscription (tests: a weak handle keeps
/// the context's address from being reused).
#[cfg(test)]
pub(super) fn is_context_subscribed(handle: &WeakCancelHandle) -> bool {
    lock(&REGISTRY)
        .subscriptions
        .iter()
        .any(|s| match &s.delivery {
            Delivery::Context(weak) => weak.same_context(handle),
            Delivery::Channel(_) => false,
        })
}
