//! A timer made from a plain thread in a process that has not started a goroutine yet (so
//! the runtime has no worker thread) still fires: the timer code starts an M itself. Its own
//! test binary, so nothing else has started the runtime first.

use std::time::{Duration, Instant};

#[test]
fn a_timer_made_before_any_goroutine_fires() {
    assert_eq!(gort::num_goroutines(), 0);
    let start = Instant::now();
    let fired_at = gort::time::after(Duration::from_millis(20))
        .recv_timeout(Duration::from_secs(30))
        .expect("the first timer of the process never fired");
    assert!(fired_at >= start + Duration::from_millis(20));
    // And a ticker, too, from the same plain thread.
    let ticker = gort::time::tick(Duration::from_millis(5));
    for _ in 0..3 {
        ticker
            .recv_timeout(Duration::from_secs(30))
            .expect("a tick never came");
    }
}
