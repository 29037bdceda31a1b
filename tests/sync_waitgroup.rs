//! `gort::sync::WaitGroup`: fan-out, many waiters, reuse, timeouts and misuse panics.

mod sync_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::WaitGroup;
use sync_support::{join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|message| message.to_string())
            .unwrap(),
    }
}

#[test]
fn wait_sees_every_task_finished() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..50 {
                let wg = WaitGroup::new();
                let finished = Arc::new(AtomicUsize::new(0));
                let tasks = 64;
                let mut handles = Vec::new();
                for _ in 0..tasks {
                    let token = wg.enter();
                    let finished = Arc::clone(&finished);
                    handles.push(mode.spawn(move || {
                        // Relaxed on purpose: `done` must publish it to `wait`.
                        finished.fetch_add(1, Ordering::Relaxed);
                        drop(token);
                    }));
                }
                wg.wait();
                assert_eq!(finished.load(Ordering::Relaxed), tasks);
                assert_eq!(wg.count(), 0);
                join_all(handles);
            }
        });
    }
}

#[test]
fn many_waiters_are_all_released() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..100 {
                let wg = WaitGroup::new();
                let gate = wg.enter();
                let waiters = mode.spawn_many(mode.crowd(), {
                    let wg = wg.clone();
                    move |_| wg.wait()
                });
                gate.done();
                join_all(waiters);
            }
        });
    }
}

#[test]
fn reuse_across_phases_with_concurrent_waiters() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let wg = WaitGroup::new();
            for phase in 0..200 {
                let finished = Arc::new(AtomicUsize::new(0));
                let workers = 4;
                wg.add(workers as isize);
                let waiters = mode.spawn_many(3, {
                    let wg = wg.clone();
                    let finished = Arc::clone(&finished);
                    move |_| {
                        wg.wait();
                        finished.load(Ordering::Relaxed)
                    }
                });
                let doers = mode.spawn_many(workers, {
                    let wg = wg.clone();
                    let finished = Arc::clone(&finished);
                    move |_| {
                        finished.fetch_add(1, Ordering::Relaxed);
                        wg.done();
                    }
                });
                for seen in join_all(waiters) {
                    assert_eq!(seen, workers, "phase {phase}: released early");
                }
                join_all(doers);
            }
        });
    }
}

#[test]
fn timed_waits_report_truthfully() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for round in 0..300u64 {
                let wg = WaitGroup::new();
                let finished = Arc::new(AtomicUsize::new(0));
                let doers = 3;
                wg.add(doers);
                let waiters = mode.spawn_many(3, {
                    let wg = wg.clone();
                    let finished = Arc::clone(&finished);
                    move |index| {
                        let timeout = Duration::from_micros((round % 4) * 50 + index as u64 * 10);
                        let zero = wg.wait_timeout(timeout);
                        (zero, finished.load(Ordering::Relaxed))
                    }
                });
                let workers = mode.spawn_many(doers as usize, {
                    let wg = wg.clone();
                    let finished = Arc::clone(&finished);
                    move |_| {
                        finished.fetch_add(1, Ordering::Relaxed);
                        wg.done();
                    }
                });
                for (zero, seen) in join_all(waiters) {
                    if zero {
                        assert_eq!(seen, doers as usize, "reported zero before all were done");
                    }
                }
                join_all(workers);
                assert!(wg.wait_timeout(Duration::ZERO));
            }
        });
    }
}

#[test]
fn wait_timeout_expires_while_tasks_run() {
    let wg = WaitGroup::new();
    let token = wg.enter();
    let start = Instant::now();
    assert!(!wg.wait_timeout(Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    drop(token);
    assert!(wg.wait_timeout(Duration::from_millis(30)));
}

#[test]
fn done_below_zero_panics_with_gos_message() {
    let wg = WaitGroup::new();
    let payload = std::panic::catch_unwind(|| wg.done()).unwrap_err();
    assert_eq!(panic_message(payload), "sync: negative WaitGroup counter");
    // The failed call left the counter unchanged; the group still works.
    assert_eq!(wg.count(), 0);
    wg.add(1);
    let payload = std::panic::catch_unwind(|| wg.add(-2)).unwrap_err();
    assert_eq!(panic_message(payload), "sync: negative WaitGroup counter");
    assert_eq!(wg.count(), 1);
    wg.done();
    wg.wait();
}

#[test]
fn counter_overflow_panics() {
    let wg = WaitGroup::new();
    wg.add(i32::MAX as isize);
    let payload = std::panic::catch_unwind(|| wg.add(1)).unwrap_err();
    assert_eq!(panic_message(payload), "sync: WaitGroup counter overflow");
    assert_eq!(wg.count(), i32::MAX as usize);
    let payload = std::panic::catch_unwind(|| WaitGroup::new().add(isize::MAX)).unwrap_err();
    assert_eq!(panic_message(payload), "sync: WaitGroup counter overflow");
}

#[test]
fn token_calls_done_when_its_task_panics() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let wg = WaitGroup::new();
            let token = wg.enter();
            let task = mode.spawn(move || {
                let _token = token;
                if std::hint::black_box(true) {
                    panic!("task failed");
                }
            });
            wg.wait();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.join()));
            assert!(outcome.is_err());
        });
    }
}

#[test]
fn go_counts_the_goroutine_and_returns_its_result() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let wg = WaitGroup::new();
            let finished = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..100usize)
                .map(|index| {
                    let finished = Arc::clone(&finished);
                    wg.go(move || {
                        finished.fetch_add(1, Ordering::Relaxed);
                        index * 2
                    })
                })
                .collect();
            wg.wait();
            assert_eq!(finished.load(Ordering::Relaxed), 100);
            let results: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(results, (0..100).map(|index| index * 2).collect::<Vec<_>>());
            // A panicking task still counts down.
            let failed = wg.go(|| panic!("task failed"));
            wg.wait();
            assert!(failed.join().is_err());
        });
    }
}

#[test]
fn debug_shows_the_count() {
    let wg = WaitGroup::new();
    let token = wg.enter();
    assert_eq!(format!("{wg:?}"), "WaitGroup { count: 1, .. }");
    assert!(format!("{token:?}").starts_with("WaitGroupToken"));
}
