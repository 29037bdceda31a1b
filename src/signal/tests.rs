//! Internal checks of the registry: every way a subscription ends takes it out of the list.
//! Only `WindowChange` is raised here (its default action is to ignore it), so a failure can
//! never kill the test process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{notify, notify_context, registry, stop, Signal};
use crate::context::{Context, ContextError};

fn raise(signal: Signal) {
    // SAFETY: raise(3) only sends a signal to this process; SIGWINCH is ignored by default.
    assert_eq!(unsafe { libc::raise(signal.number()) }, 0);
}

#[test]
fn the_last_receiver_dropped_unsubscribes() {
    let signals = notify(&[Signal::Hangup]);
    let clone = signals.clone();
    // The channel's memory lives while the registry holds its sender or we a receiver.
    let channel = Arc::downgrade(&signals.channel);
    assert!(registry::is_subscribed(&signals));
    drop(signals);
    assert!(registry::is_subscribed(&clone), "a clone still receives");
    drop(clone);
    assert!(
        channel.upgrade().is_none(),
        "the registry still holds the sender"
    );
}

#[test]
fn stop_unsubscribes_keeps_what_was_buffered_and_closes() {
    let signals = notify(&[Signal::WindowChange]);
    raise(Signal::WindowChange);
    let deadline = Instant::now() + Duration::from_secs(10);
    while signals.is_empty() {
        assert!(Instant::now() < deadline, "the signal never arrived");
        std::thread::yield_now();
    }
    stop(&signals);
    assert!(!registry::is_subscribed(&signals));
    assert_eq!(signals.recv(), Ok(Signal::WindowChange));
    assert_eq!(signals.recv(), Err(crate::RecvError));
    stop(&signals); // twice: nothing more
}

#[test]
fn a_notify_context_subscription_ends_with_its_context() {
    // Cancelled through its handle (Go's `stop()`).
    let (ctx, handle) = notify_context(&Context::background(), &[Signal::Quit]);
    assert!(registry::is_context_subscribed(&handle.downgrade()));
    handle.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert!(!registry::is_context_subscribed(&handle.downgrade()));

    // Cancelled by its parent.
    let (parent, cancel_parent) = Context::background().with_cancel();
    let (ctx, handle) = notify_context(&parent, &[Signal::Quit]);
    assert!(registry::is_context_subscribed(&handle.downgrade()));
    cancel_parent.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert!(!registry::is_context_subscribed(&handle.downgrade()));

    // A parent cancelled already: nothing subscribed.
    let (ctx, handle) = notify_context(&parent, &[Signal::Quit]);
    assert!(ctx.is_done());
    assert!(!registry::is_context_subscribed(&handle.downgrade()));

    // Dropped without being cancelled (a weak handle keeps its address from being reused).
    let (ctx, handle) = notify_context(&Context::background(), &[Signal::Quit]);
    let child = ctx.with_cancel();
    let weak = handle.downgrade();
    drop((ctx, handle));
    assert!(
        registry::is_context_subscribed(&weak),
        "a child keeps it alive"
    );
    drop(child);
    assert!(!registry::is_context_subscribed(&weak));
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_signal_cancels_the_notify_context_and_ends_the_subscription() {
    let (ctx, handle) = notify_context(&Context::background(), &[Signal::WindowChange]);
    let waiter = crate::go!({
        let ctx = ctx.clone();
        move || ctx.done().recv()
    });
    raise(Signal::WindowChange);
    assert_eq!(waiter.join().unwrap(), Err(crate::RecvError));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert!(!registry::is_context_subscribed(&handle.downgrade()));
}
