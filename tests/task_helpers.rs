//! Async-style helpers: spawn_many, join_all, join_chan / as_completed / first, timeout.

mod sync_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::context::{Context, ContextError};
use sync_support::MODES;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn spawn_many_and_join_all_keep_the_order() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            let handles = gort::spawn_many(1_000, |i| {
                if i % 3 == 0 {
                    gort::yield_now();
                }
                if i == 500 {
                    panic!("number 500");
                }
                i * 2
            });
            assert_eq!(handles.len(), 1_000);
            let results = gort::join_all(handles);
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Ok(v) => assert_eq!(v, i * 2),
                    Err(e) => {
                        assert_eq!(i, 500);
                        assert_eq!(e.panic_message(), Some("number 500"));
                    }
                }
            }
            assert!(gort::spawn_many(0, |i| i).is_empty());
        });
    }
}

#[test]
fn as_completed_delivers_every_result_once_in_finishing_order() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            // Goroutine i finishes when released; release them in reverse order.
            let gates: Vec<_> = (0..20).map(|_| gort::chan::<()>(0)).collect();
            let handles: Vec<_> = gates
                .iter()
                .enumerate()
                .map(|(i, (_, rx))| {
                    let rx = rx.clone();
                    gort::spawn(move || {
                        let _ = rx.recv();
                        i
                    })
                })
                .collect();
            let completed = gort::as_completed(handles);
            for (i, (tx, _)) in gates.iter().enumerate().rev() {
                tx.send(()).unwrap();
                let (index, result) = completed.recv().unwrap();
                assert_eq!((index, result.unwrap()), (i, i));
            }
            assert_eq!(
                completed.recv().map(|_| ()),
                Err(gort::RecvError),
                "closes after the last"
            );
        });
    }
}

#[test]
fn first_returns_the_fastest_and_the_others_run_on() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            let finished = Arc::new(AtomicUsize::new(0));
            let (release, gate) = gort::chan::<()>(0);
            let slow: Vec<_> = (0..3)
                .map(|_| {
                    let gate = gate.clone();
                    let finished = Arc::clone(&finished);
                    gort::spawn(move || {
                        let _ = gate.recv();
                        finished.fetch_add(1, Ordering::SeqCst);
                        "slow"
                    })
                })
                .collect();
            let mut handles = slow;
            handles.insert(1, gort::spawn(|| "fast"));
            let (index, result) = gort::first(handles).unwrap();
            assert_eq!((index, result.unwrap()), (1, "fast"));
            drop(release); // closes the gate: the losers finish
            sync_support::eventually(LIMIT, || finished.load(Ordering::SeqCst) == 3);
            assert!(gort::first(Vec::<gort::JoinHandle<()>>::new()).is_none());
        });
    }
}

#[test]
fn join_chan_works_in_select_with_a_timeout() {
    let (_keep, never) = gort::chan::<()>(0);
    let stuck = gort::join_chan(gort::spawn(move || {
        let _ = never.recv();
    }));
    let fired = gort::select! {
        recv(stuck) => "joined",
        default(Duration::from_millis(5)) => "timed out",
    };
    assert_eq!(fired, "timed out");
    let quick = gort::join_chan(gort::spawn(|| 5));
    assert_eq!(quick.recv().unwrap().unwrap(), 5);
}

#[test]
fn timeout_returns_elapsed_and_the_goroutine_still_finishes() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            let (finished_tx, finished_rx) = gort::chan(1);
            let (release, gate) = gort::chan::<()>(0);
            let start = Instant::now();
            let outcome = gort::timeout(Duration::from_millis(10), move || {
                let _ = gate.recv(); // held until the test releases it
                finished_tx.send("finished").unwrap();
                7
            });
            assert_eq!(outcome, Err(gort::Elapsed));
            assert!(start.elapsed() >= Duration::from_millis(10));
            drop(release);
            assert_eq!(
                finished_rx.recv(),
                Ok("finished"),
                "the goroutine was not left to finish"
            );
            assert_eq!(gort::timeout(Duration::from_secs(30), || 7), Ok(7));
        });
    }
}

#[test]
fn timeout_resumes_a_panic_in_time() {
    let caught =
        std::panic::catch_unwind(|| gort::timeout(Duration::from_secs(30), || panic!("inner")));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"inner"));
}

#[test]
fn timeout_with_a_context_stops_the_work() {
    let limit = Duration::from_millis(10);
    // The work's own deadline is a little later than the caller's, so the caller's timeout
    // comes first and the work stops shortly after.
    let (ctx, _cancel) = Context::background().with_timeout(limit * 3);
    let (stopped_tx, stopped_rx) = gort::chan(1);
    let outcome = gort::timeout(limit, move || {
        while gort::sleep_ctx(&ctx, Duration::from_millis(1)).is_ok() {}
        stopped_tx.send(ctx.err()).unwrap();
    });
    assert_eq!(outcome, Err(gort::Elapsed));
    assert_eq!(stopped_rx.recv(), Ok(Some(ContextError::DeadlineExceeded)));
}
