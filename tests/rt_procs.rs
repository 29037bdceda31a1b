//! GOMAXPROCS and work stealing: parallelism across threads, resizing under load.
mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn zero_procs_is_rejected_clearly() {
    let err = gort::set_maxprocs(0).unwrap_err();
    assert_eq!(err, gort::MaxProcsError::Zero);
    assert!(err.to_string().contains("at least 1"));
    assert!(matches!(
        gort::set_maxprocs(gort::MAX_PROCS + 1),
        Err(gort::MaxProcsError::TooMany(_))
    ));
    assert!(gort::maxprocs() >= 1);
}

#[test]
fn cpu_bound_goroutines_spawned_by_one_run_on_two_threads_and_are_stolen() {
    let _serial = support::serial();
    let old = gort::set_maxprocs(2).unwrap();
    let steals_before = gort::metrics().steals;
    // All workers are spawned by one goroutine, onto its own P: the other P must steal them.
    // Each worker spins until it has seen another worker running on a different thread at
    // the same time (or a generous deadline passes, which fails the test).
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let running = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(AtomicBool::new(false));
    let (t2, r2, o2) = (threads.clone(), running.clone(), overlap.clone());
    gort::run(move || {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (threads, running, overlap) = (t2.clone(), r2.clone(), o2.clone());
                gort::go!(move || {
                    threads.lock().unwrap().insert(std::thread::current().id());
                    if running.fetch_add(1, Ordering::SeqCst) >= 1 {
                        overlap.store(true, Ordering::SeqCst);
                    }
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !overlap.load(Ordering::SeqCst) && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(
        overlap.load(Ordering::SeqCst),
        "two goroutines never ran at once"
    );
    assert!(
        threads.lock().unwrap().len() >= 2,
        "all goroutines ran on one thread"
    );
    assert!(
        gort::metrics().steals > steals_before,
        "no steal was counted"
    );
    gort::set_maxprocs(old).unwrap();
}

#[test]
fn set_maxprocs_up_and_down_under_load_loses_nothing() {
    let _serial = support::serial();
    let old = gort::maxprocs();
    const GOROUTINES: usize = 2_000;
    const YIELDS: usize = 50;
    let steps = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..GOROUTINES)
        .map(|_| {
            let (steps, finished) = (steps.clone(), finished.clone());
            gort::go!(move || {
                for _ in 0..YIELDS {
                    steps.fetch_add(1, Ordering::Relaxed);
                    gort::yield_now();
                }
                finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let mut resizes = 0;
    let sizes = [1, 3, 2, 4, 1, 2];
    while finished.load(Ordering::SeqCst) < GOROUTINES {
        let n = sizes[resizes % sizes.len()];
        gort::set_maxprocs(n).unwrap();
        assert_eq!(gort::maxprocs(), n);
        resizes += 1;
        std::thread::yield_now();
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(steps.load(Ordering::Relaxed), GOROUTINES * YIELDS);
    assert!(resizes > 0);
    gort::set_maxprocs(old).unwrap();
    let m = gort::metrics();
    assert_eq!(m.procs, old);
    assert_eq!(m.local_queue_lengths.len(), old);
}

#[test]
fn growing_procs_puts_idle_threads_to_work() {
    let _serial = support::serial();
    let old = gort::set_maxprocs(1).unwrap();
    gort::set_maxprocs(2).unwrap();
    let ids = Arc::new(Mutex::new(HashSet::new()));
    let ids2 = ids.clone();
    let barrier = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let (ids, barrier) = (ids2.clone(), barrier.clone());
            gort::go!(move || {
                barrier.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(10);
                while barrier.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                ids.lock().unwrap().insert(std::thread::current().id());
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(ids.lock().unwrap().len(), 2);
    gort::set_maxprocs(old).unwrap();
}

#[test]
fn maxprocs_bounds_how_many_goroutines_run_at_once() {
    let _serial = support::serial();
    let old = gort::maxprocs();
    for round in 0..20 {
        // Alternate so that shrinking happens while Ms are still spinning on the extra P.
        gort::set_maxprocs(2).unwrap();
        let warm: Vec<_> = (0..4).map(|_| gort::go!(gort::yield_now)).collect();
        for h in warm {
            h.join().unwrap();
        }
        gort::set_maxprocs(1).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let (running, max) = (running.clone(), max.clone());
                gort::go!(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_millis(3) {
                        std::hint::spin_loop();
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(
            max.load(Ordering::SeqCst),
            1,
            "round {round}: more goroutines ran at once than maxprocs = 1"
        );
    }
    gort::set_maxprocs(old).unwrap();
}
