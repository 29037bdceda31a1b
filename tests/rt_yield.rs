//! `yield_now` and a P's queue order: yielders take turns in FIFO order, a yielder is not
//! starved by a hand-off pair, and yielders spread over idle procs. These exercise the
//! `yielded` slot at the tail of a P's queue (`src/runtime/p.rs`, "The order of a P's Gs").
mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn yielders_on_one_proc_take_turns_in_fifo_order() {
    let _serial = support::serial();
    let old = gort::set_maxprocs(1).unwrap();
    for yielders in [2usize, 3, 7] {
        const ROUNDS: usize = 300;
        let log = Arc::new(Mutex::new(Vec::with_capacity(yielders * ROUNDS)));
        let log2 = log.clone();
        gort::run(move || {
            let hs: Vec<_> = (0..yielders)
                .map(|who| {
                    let log = log2.clone();
                    gort::go!(move || {
                        for _ in 0..ROUNDS {
                            log.lock().unwrap().push(who);
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        let log = log.lock().unwrap();
        assert_eq!(log.len(), yielders * ROUNDS);
        let first_round: HashSet<_> = log[..yielders].iter().collect();
        assert_eq!(
            first_round.len(),
            yielders,
            "first round: {:?}",
            &log[..yielders]
        );
        // Strict round robin: every G runs exactly once between two turns of any other.
        for i in yielders..log.len() {
            assert_eq!(
                log[i],
                log[i - yielders],
                "{yielders} yielders out of turn at {i}: {:?}",
                &log[i.saturating_sub(2 * yielders)..(i + yielders).min(log.len())]
            );
        }
    }
    gort::set_maxprocs(old).unwrap();
}

#[test]
fn a_yielder_is_not_starved_by_a_hand_off_pair() {
    let _serial = support::serial();
    let old = gort::set_maxprocs(1).unwrap();
    // Two Gs bounce a value through unbuffered channels, each readying the other into
    // `runnext`, while a third yields: it must get a turn each time a `runnext` streak ends
    // (64 hand-offs, about 32 exchanges here). The pair gives up after 200 exchanges per
    // turn the yielder needs, and records that it did (a yielder skipped while the streaks
    // go to the queue's tail took about 500 per turn).
    const YIELDS: usize = 1_000;
    const EXCHANGE_CAP: usize = 200 * YIELDS;
    let starved = gort::run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let exchanges = Arc::new(AtomicUsize::new(0));
        let (to_b, from_a) = gort::chan::<usize>(0);
        let (to_a, from_b) = gort::chan::<usize>(0);
        let (stop_b, exchanges_b) = (stop.clone(), exchanges.clone());
        let b = gort::go!(move || {
            while let Ok(v) = from_a.recv() {
                let exchanged = exchanges_b.fetch_add(1, Ordering::Relaxed) + 1;
                if stop_b.load(Ordering::Relaxed) || exchanged >= EXCHANGE_CAP {
                    break;
                }
                to_a.send(v + 1).unwrap();
            }
        });
        let a = gort::go!(move || {
            let mut v = 0;
            loop {
                if to_b.send(v).is_err() {
                    break;
                }
                match from_b.recv() {
                    Ok(next) => v = next + 1,
                    Err(_) => break,
                }
            }
        });
        let stop_y = stop.clone();
        let yielder = gort::go!(move || {
            for _ in 0..YIELDS {
                gort::yield_now();
            }
            stop_y.store(true, Ordering::Relaxed);
        });
        yielder.join().unwrap();
        b.join().unwrap();
        a.join().unwrap();
        exchanges.load(Ordering::Relaxed) >= EXCHANGE_CAP
    });
    assert!(!starved, "the yielder got no turns while the pair ran");
    gort::set_maxprocs(old).unwrap();
}

#[test]
fn yielders_spawned_by_one_goroutine_spread_over_two_procs() {
    let _serial = support::serial();
    let old = gort::set_maxprocs(2).unwrap();
    // Like `cpu_bound_goroutines_spawned_by_one_run_on_two_threads_and_are_stolen`
    // (rt_procs.rs), but the workers yield in their loop, so on their first P they sit in
    // its `runq` or its `yielded` slot: the other P must still take one.
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let running = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(AtomicBool::new(false));
    let (t2, r2, o2) = (threads.clone(), running.clone(), overlap.clone());
    gort::run(move || {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (threads, running, overlap) = (t2.clone(), r2.clone(), o2.clone());
                gort::go!(move || {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !overlap.load(Ordering::SeqCst) && Instant::now() < deadline {
                        threads.lock().unwrap().insert(std::thread::current().id());
                        if running.fetch_add(1, Ordering::SeqCst) >= 1 {
                            overlap.store(true, Ordering::SeqCst);
                        }
                        for _ in 0..1_000 {
                            std::hint::spin_loop();
                        }
                        running.fetch_sub(1, Ordering::SeqCst);
                        gort::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(
        overlap.load(Ordering::SeqCst),
        "two yielders never ran at once"
    );
    assert!(threads.lock().unwrap().len() >= 2);
    gort::set_maxprocs(old).unwrap();
}
