//! A context deadline set from a plain thread before any goroutine exists must still fire:
//! the runtime has no M yet, so adding the timer has to start one. One test per process (the
//! point is that nothing else started the runtime first).

use std::time::{Duration, Instant};

use gort::context::Context;

#[test]
fn a_deadline_fires_before_any_goroutine_was_spawned() {
    let start = Instant::now();
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(10));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ctx.done().recv());
    });
    let outcome = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the deadline never fired: nobody runs timers before the first goroutine");
    assert_eq!(outcome, Err(gort::RecvError));
    assert!(start.elapsed() >= Duration::from_millis(10));
}
