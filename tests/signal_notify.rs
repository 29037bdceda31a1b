//! gort::signal in this process: delivery on a channel to goroutines waiting in `recv` or in
//! `select!`, several subscriptions, a full channel, `stop`, `notify_context`. Each test uses
//! its own signals, so they can run in parallel; none raises a signal it could be left
//! without a subscription for (`tests/signal_default.rs` checks default actions in child
//! processes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::context::{Context, ContextError};
use gort::signal::{self, notify, notify_context, Signal};
use gort::{GState, RecvError, TryRecvError, WaitReason};

const LONG: Duration = Duration::from_secs(10);

fn raise(signal: Signal) {
    // SAFETY: raise(3) sends a signal to this process; each test subscribes first.
    assert_eq!(unsafe { libc::raise(signal.number()) }, 0);
}

/// Waits (bounded) until `g` is parked for `reason`.
fn wait_for_state(g: &gort::Goroutine, reason: WaitReason) {
    let deadline = Instant::now() + LONG;
    while g.state() != GState::Waiting(reason) {
        assert!(
            Instant::now() < deadline,
            "{g:?} never waited: {:?}",
            g.state()
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_signal_wakes_a_goroutine_waiting_in_recv() {
    let signals = notify(&[Signal::User1]);
    let (tx, rx) = std::sync::mpsc::channel();
    let got_first = Arc::new(AtomicBool::new(false));
    let g1 = got_first.clone();
    let h = gort::go!(move || {
        tx.send(gort::current().unwrap()).unwrap();
        let first = signals.recv();
        g1.store(true, Ordering::SeqCst);
        let second = signals.recv();
        (first, second)
    });
    let g = rx.recv().unwrap();
    wait_for_state(&g, WaitReason::ChanRecv);
    raise(Signal::User1);
    // The second one once the goroutine has taken the first and waits again (two raises
    // before the first is read would be merged into one, as the kernel merges signals).
    let deadline = Instant::now() + LONG;
    while !got_first.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the first signal never arrived");
        std::thread::yield_now();
    }
    wait_for_state(&g, WaitReason::ChanRecv);
    raise(Signal::User1);
    assert_eq!(h.join().unwrap(), (Ok(Signal::User1), Ok(Signal::User1)));
}

#[test]
fn a_signal_wakes_a_goroutine_waiting_in_select_beside_other_work() {
    let signals = notify(&[Signal::User2]);
    // The other arm: a channel whose sender lives but never sends.
    let (_work_tx, work) = gort::chan::<u32>(0);
    let (tx, rx) = std::sync::mpsc::channel();
    let h = gort::go!(move || {
        tx.send(gort::current().unwrap()).unwrap();
        gort::select! {
            recv(work) -> job => Err(job),
            recv(signals) -> signal => Ok(signal),
        }
    });
    let g = rx.recv().unwrap();
    wait_for_state(&g, WaitReason::Select);
    raise(Signal::User2);
    assert_eq!(h.join().unwrap(), Ok(Ok(Signal::User2)));
}

#[test]
fn every_subscription_gets_the_signal_and_a_dropped_one_stops() {
    let a = notify(&[Signal::Hangup, Signal::WindowChange]);
    let b = notify(&[Signal::WindowChange]);
    raise(Signal::WindowChange);
    assert_eq!(a.recv_timeout(LONG), Ok(Signal::WindowChange));
    assert_eq!(b.recv_timeout(LONG), Ok(Signal::WindowChange));
    drop(b);
    raise(Signal::WindowChange); // SIGWINCH's default action is to ignore it
    assert_eq!(a.recv_timeout(LONG), Ok(Signal::WindowChange));
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(a.capacity(), 64);
}

#[test]
fn recv_timeout_times_out_without_a_signal() {
    let s = notify(&[Signal::Alarm]);
    let took = gort::go!(move || {
        let start = Instant::now();
        assert!(s
            .recv_timeout(Duration::from_millis(20))
            .unwrap_err()
            .is_timeout());
        start.elapsed()
    })
    .join()
    .unwrap();
    assert!(took >= Duration::from_millis(20));
}

#[test]
fn a_full_channel_loses_signals_and_never_blocks_the_dispatcher() {
    // SIGCHLD's default action is to ignore it, and this test binary starts no children.
    let full = notify(&[Signal::Child]);
    let witness = notify(&[Signal::Child]);
    for round in 1..=70 {
        raise(Signal::Child);
        // One raise at a time: the witness has it once it was dispatched (repeats raised
        // before a dispatch would be merged into one).
        assert_eq!(witness.recv_timeout(LONG), Ok(Signal::Child));
        // `full` is offered it in the same dispatch, maybe just after the witness.
        let deadline = Instant::now() + LONG;
        while full.len() < round.min(64) {
            assert!(
                Instant::now() < deadline,
                "round {round}: {} kept",
                full.len()
            );
            std::thread::yield_now();
        }
    }
    // The last dispatch may still be offering to `full`: a new subscription waits for it (a
    // dispatch holds the registry while it offers, and subscribing takes the registry).
    drop(notify(&[Signal::Child]));
    // Past the capacity the dispatcher went on (the witness got every round); the extra
    // signals were lost, not queued somewhere.
    assert_eq!(full.try_iter().count(), 64);
    raise(Signal::Child);
    assert_eq!(full.recv_timeout(LONG), Ok(Signal::Child));
    assert_eq!(witness.recv_timeout(LONG), Ok(Signal::Child));
    assert_eq!(full.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn stop_closes_the_channel_and_a_for_loop_ends() {
    // Quit is never raised here: stopping leaves SIGQUIT to its default action.
    let signals = notify(&[Signal::Quit]);
    let clone = signals.clone();
    let counter = gort::go!(move || clone.iter().count());
    signal::stop(&signals);
    assert_eq!(counter.join().unwrap(), 0);
    assert_eq!(signals.recv(), Err(RecvError));
}

#[test]
fn notify_context_is_cancelled_by_a_signal_for_every_waiter() {
    let (ctx, stop) = notify_context(&Context::background(), &[Signal::Interrupt]);
    assert_eq!(ctx.err(), None);
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let ctx = ctx.clone();
            gort::go!(move || {
                let _ = ctx.done().recv();
                ctx.err()
            })
        })
        .collect();
    raise(Signal::Interrupt);
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(ContextError::Canceled));
    }
    // Go's `stop()`: nothing more to do (the signal ended the subscription).
    stop.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn notify_context_follows_its_parent_and_carries_its_values() {
    let (parent, cancel_parent) = Context::background()
        .with_value("request", 7u32)
        .with_cancel();
    let (ctx, _stop) = notify_context(&parent, &[Signal::Terminate]);
    assert_eq!(ctx.value::<u32>("request"), Some(&7));
    let waiter = gort::go!({
        let ctx = ctx.clone();
        move || ctx.done().recv()
    });
    cancel_parent.cancel();
    assert_eq!(waiter.join().unwrap(), Err(RecvError));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(Signal::Terminate.to_string(), "terminated");
}
