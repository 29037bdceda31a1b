//! gort::signal: delivery to waiting goroutines, several subscriptions, the done handle.
//! Each test uses its own signal, so they can run in parallel in this process.

use std::time::{Duration, Instant};

use gort::signal::{notify, notify_done, Signal};
use gort::{GState, WaitReason};

fn raise(signal: Signal) {
    // SAFETY: raise(3) sends a signal to this process; each test subscribes first.
    assert_eq!(unsafe { libc::raise(signal.number()) }, 0);
}

/// Waits (bounded) until `g` is parked for `reason`.
fn wait_for_state(g: &gort::Goroutine, reason: WaitReason) {
    let deadline = Instant::now() + Duration::from_secs(10);
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
fn a_signal_wakes_a_goroutine_waiting_for_it() {
    let signals = notify(&[Signal::User1]);
    let (tx, rx) = std::sync::mpsc::channel();
    let got_first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let g1 = got_first.clone();
    let h = gort::go!(move || {
        tx.send(gort::current().unwrap()).unwrap();
        let first = signals.recv();
        g1.store(true, std::sync::atomic::Ordering::SeqCst);
        let second = signals.recv();
        (first, second)
    });
    let g = rx.recv().unwrap();
    wait_for_state(&g, WaitReason::ChanRecv);
    raise(Signal::User1);
    // The second one once the goroutine has taken the first and waits again (two raises
    // before the first is read would be merged into one, as the kernel merges signals).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got_first.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the first signal never arrived");
        std::thread::yield_now();
    }
    wait_for_state(&g, WaitReason::ChanRecv);
    raise(Signal::User1);
    assert_eq!(h.join().unwrap(), (Signal::User1, Signal::User1));
}

#[test]
fn every_subscription_gets_the_signal_and_a_dropped_one_stops() {
    let a = notify(&[Signal::Hangup, Signal::WindowChange]);
    let b = notify(&[Signal::WindowChange]);
    raise(Signal::WindowChange);
    assert_eq!(
        a.recv_timeout(Duration::from_secs(10)),
        Some(Signal::WindowChange)
    );
    assert_eq!(
        b.recv_timeout(Duration::from_secs(10)),
        Some(Signal::WindowChange)
    );
    drop(b);
    raise(Signal::WindowChange); // SIGWINCH's default action is to ignore it
    assert_eq!(
        a.recv_timeout(Duration::from_secs(10)),
        Some(Signal::WindowChange)
    );
    assert_eq!(a.try_recv(), None);
    assert_eq!(
        format!("{:?}", a),
        "Receiver { signals: [Hangup, WindowChange] }"
    );
}

#[test]
fn recv_timeout_returns_none_without_a_signal() {
    let s = notify(&[Signal::Alarm]);
    let took = gort::go!(move || {
        let start = Instant::now();
        assert_eq!(s.recv_timeout(Duration::from_millis(20)), None);
        start.elapsed()
    })
    .join()
    .unwrap();
    assert!(took >= Duration::from_millis(20));
}

#[test]
fn the_done_handle_fires_once_for_every_waiter() {
    let done = notify_done(&[Signal::User2]);
    assert!(!done.is_done());
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let d = done.clone();
            gort::go!(move || d.wait())
        })
        .collect();
    raise(Signal::User2);
    for w in waiters {
        assert_eq!(w.join().unwrap(), Signal::User2);
    }
    assert_eq!(done.signal(), Some(Signal::User2));
    assert_eq!(done.wait_timeout(Duration::ZERO), Some(Signal::User2));
    assert_eq!(Signal::User2.to_string(), "user defined signal 2");
}
