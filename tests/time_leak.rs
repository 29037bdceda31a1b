//! A stopped or dropped timer leaves nothing behind: the runtime's pending-timer count
//! (`gort::metrics().timers`) returns to its baseline. One test in this file, so that no
//! other test's timers move the count.

use std::time::Duration;

use gort::time::{after, tick, Ticker, Timer};
use gort::{chan, select};

fn pending_timers() -> usize {
    gort::metrics().timers
}

fn churn() {
    let baseline = pending_timers();
    let (tx, rx) = chan::<u32>(1);
    // Go's classic leak: a fresh `time.After` per loop iteration whose select the other
    // arm wins. Here each losing timer is cancelled when its receiver is dropped.
    for i in 0..10_000 {
        tx.send(i).unwrap();
        select! {
            recv(rx) -> msg => assert_eq!(msg, Ok(i)),
            recv(after(Duration::from_secs(3600))) -> _ => unreachable!(),
        }
    }
    assert_eq!(pending_timers(), baseline, "after()");

    for _ in 0..1000 {
        let timer = Timer::new(Duration::from_secs(3600));
        timer.reset(Duration::from_secs(7200));
        drop(timer);
        let ticker = Ticker::new(Duration::from_secs(3600));
        ticker.reset(Duration::from_secs(1800));
        drop(ticker);
        drop(tick(Duration::from_secs(3600)));
        let stopped = Timer::new(Duration::from_secs(3600));
        stopped.stop();
        assert_eq!(pending_timers(), baseline, "Timer/Ticker/tick");
        std::mem::forget(stopped.receiver().clone()); // even a leaked receiver holds no timer
    }

    // A select timeout that does not fire arms nothing that outlives it.
    for i in 0..10_000 {
        tx.send(i).unwrap();
        select! {
            recv(rx) -> msg => assert_eq!(msg, Ok(i)),
            default(Duration::from_secs(3600)) => unreachable!(),
        }
    }
    assert_eq!(pending_timers(), baseline, "default(timeout)");
}

#[test]
fn stopped_and_dropped_timers_leave_nothing_behind() {
    churn();
    let _ = gort::Config::new().procs(2).init();
    gort::run(churn);
}
