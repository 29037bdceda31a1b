//! Timers as channels: `after`, `tick`, `Timer` and `Ticker`, alone and in `select!`.

#[path = "chan_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::go;
use gort::time::{after, tick, Ticker, Timer};
use gort::{chan, select, RecvError, RecvTimeoutError};

const D: Duration = Duration::from_millis(10);

both! {
    fn after_delivers_once_after_the_duration() {
        let start = Instant::now();
        let rx = after(D);
        let at = rx.recv().unwrap();
        assert!(at >= start + D, "fired early");
        assert!(start.elapsed() >= D);
        // The timer is done with its channel: a second receive does not wait forever.
        assert_eq!(rx.recv(), Err(RecvError));
    }

    fn after_as_a_select_timeout() {
        let (_tx, rx) = chan::<u8>(0);
        let start = Instant::now();
        select! {
            recv(rx) -> _ => unreachable!(),
            recv(after(D)) -> at => assert!(at.unwrap() >= start + D),
        }
        // A ready arm wins over a pending timer.
        let (tx, rx) = chan::<u8>(1);
        tx.send(1).unwrap();
        select! {
            recv(rx) -> msg => assert_eq!(msg, Ok(1)),
            recv(after(Duration::from_secs(60))) -> _ => unreachable!(),
        }
    }

    fn a_stopped_timer_never_delivers() {
        let timer = Timer::new(D);
        assert!(timer.stop(), "stopped before firing");
        assert!(!timer.stop(), "already stopped");
        assert_eq!(timer.receiver().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout));
    }

    fn stop_discards_a_fired_but_unreceived_value() {
        let timer = Timer::new(Duration::from_millis(1));
        common::pause(5 * D); // long past the deadline: the value waits in the channel
        assert!(timer.stop(), "the value was not received: stop prevented its delivery");
        assert!(timer.receiver().try_recv().is_err(), "no stale value after stop");
    }

    fn stop_after_receiving_returns_false() {
        let timer = Timer::new(Duration::from_millis(1));
        timer.receiver().recv().unwrap();
        assert!(!timer.stop());
    }

    fn reset_moves_the_deadline() {
        let start = Instant::now();
        let timer = Timer::new(Duration::from_secs(3600));
        assert!(timer.reset(D), "it was armed");
        let at = timer.receiver().recv().unwrap();
        assert!(at >= start + D);
        assert!(at < start + Duration::from_secs(60));
        // Reset after it fired and was received: fires again, once.
        assert!(!timer.reset(D));
        timer.receiver().recv().unwrap();
        assert_eq!(timer.receiver().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout));
    }

    fn a_timer_is_a_select_arm() {
        let timer = Timer::new(D);
        let (_tx, rx) = chan::<u8>(0);
        select! {
            recv(rx) -> _ => unreachable!(),
            recv(timer) -> at => assert!(at.is_ok()),
        }
    }

    fn a_ticker_ticks_until_stopped() {
        // `start` before the ticker: ticks are due from the ticker's creation.
        let start = Instant::now();
        let ticker = Ticker::new(D);
        let mut last = start;
        for n in 1..=5u32 {
            let at = ticker.receiver().recv().unwrap();
            assert!(at >= start + D * n, "tick {n} came early");
            assert!(at >= last);
            last = at;
        }
        ticker.stop();
        assert_eq!(ticker.receiver().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout));
        let restarted = Instant::now();
        ticker.reset(Duration::from_millis(2));
        assert!(ticker.receiver().recv().unwrap() >= restarted + Duration::from_millis(2));
    }

    fn a_slow_receiver_misses_ticks_instead_of_getting_a_burst() {
        let ticker = Ticker::new(Duration::from_millis(2));
        common::pause(Duration::from_millis(30));
        let waiting = ticker.receiver().try_iter().count();
        assert_eq!(waiting, 1, "the channel holds one tick");
    }

    fn tick_stops_when_its_receiver_is_dropped() {
        let ticks = tick(Duration::from_millis(1));
        ticks.recv().unwrap();
        ticks.recv().unwrap();
        drop(ticks); // the runtime timer is cancelled (counted in tests/time_leak.rs)
    }

    fn many_timers_fire() {
        let handles: Vec<_> = (0..50u64).map(|i| {
            go(move || {
                let start = Instant::now();
                let duration = Duration::from_millis(i % 10 + 1);
                let at = after(duration).recv().unwrap();
                assert!(at >= start + duration);
            })
        }).collect();
        handles.into_iter().for_each(common::Handle::join);
    }
}
