//! `gort::sync::Semaphore`: the permit bound holds, FIFO fairness, timeouts, owned permits.

mod sync_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::Semaphore;
use sync_support::{eventually, join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn permits_bound_concurrency_and_all_come_back() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let permits = 3;
            let semaphore = Arc::new(Semaphore::new(permits));
            let inside = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let workers = mode.spawn_many(mode.crowd(), {
                let semaphore = Arc::clone(&semaphore);
                let inside = Arc::clone(&inside);
                let most = Arc::clone(&most);
                move |index| {
                    for round in 0..3_000 {
                        let wanted = 1 + (index + round) % 2;
                        let _permit = semaphore.acquire(wanted);
                        let now = inside.fetch_add(wanted, Ordering::SeqCst) + wanted;
                        assert!(now <= permits, "{now} permits in use");
                        most.fetch_max(now, Ordering::Relaxed);
                        inside.fetch_sub(wanted, Ordering::SeqCst);
                    }
                }
            });
            join_all(workers);
            assert_eq!(semaphore.available_permits(), permits);
            assert!(most.load(Ordering::Relaxed) >= 2);
        });
    }
}

#[test]
fn large_request_is_not_starved_by_small_ones() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let semaphore = Arc::new(Semaphore::new(4));
            let held = semaphore.acquire(1);
            let big = mode.spawn({
                let semaphore = Arc::clone(&semaphore);
                move || drop(semaphore.acquire(4))
            });
            // Once the big request is queued, a small one may not overtake it even though 3
            // permits are free.
            eventually(LIMIT, || semaphore.try_acquire(1).is_none());
            assert_eq!(semaphore.available_permits(), 3);
            drop(held);
            big.join();
            assert_eq!(semaphore.available_permits(), 4);
        });
    }
}

#[test]
fn timed_out_head_lets_the_next_waiter_through() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let semaphore = Arc::new(Semaphore::new(2));
            let held = semaphore.acquire(1);
            let big = mode.spawn({
                let semaphore = Arc::clone(&semaphore);
                move || {
                    semaphore
                        .acquire_timeout(2, Duration::from_millis(40))
                        .is_some()
                }
            });
            eventually(LIMIT, || semaphore.try_acquire(1).is_none());
            // Queued behind the big request; satisfiable as soon as it gives up.
            let small = mode.spawn({
                let semaphore = Arc::clone(&semaphore);
                move || drop(semaphore.acquire(1))
            });
            assert!(!big.join());
            small.join();
            drop(held);
            assert_eq!(semaphore.available_permits(), 2);
        });
    }
}

#[test]
fn mixed_timeouts_conserve_permits() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let semaphore = Arc::new(Semaphore::new(2));
            let workers = mode.spawn_many(mode.crowd(), {
                let semaphore = Arc::clone(&semaphore);
                move |index| {
                    let mut got = 0;
                    for round in 0..2_000u64 {
                        let wanted = 1 + (index % 2);
                        if index % 3 == 0 {
                            if semaphore
                                .acquire_timeout(wanted, Duration::from_micros(round % 4 * 25))
                                .is_some()
                            {
                                got += 1;
                            }
                        } else if index % 3 == 1 {
                            drop(semaphore.acquire(wanted));
                            got += 1;
                        } else if semaphore.try_acquire(wanted).is_some() {
                            got += 1;
                        }
                    }
                    got
                }
            });
            join_all(workers);
            assert_eq!(semaphore.available_permits(), 2);
            assert!(semaphore.try_acquire(2).is_some(), "queue flag left behind");
        });
    }
}

#[test]
fn acquire_timeout_expires() {
    let semaphore = Semaphore::new(1);
    let _held = semaphore.acquire(1);
    let start = Instant::now();
    assert!(semaphore
        .acquire_timeout(1, Duration::from_millis(30))
        .is_none());
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(semaphore.available_permits(), 0);
}

#[test]
fn add_permits_wakes_waiters_and_forget_shrinks() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let semaphore = Arc::new(Semaphore::new(0));
            let waiters = mode.spawn_many(3, {
                let semaphore = Arc::clone(&semaphore);
                move |_| semaphore.acquire_owned(1).forget()
            });
            semaphore.add_permits(3);
            join_all(waiters);
            assert_eq!(semaphore.available_permits(), 0);
            semaphore.add_permits(1);
            let permit = semaphore.try_acquire_owned(1).unwrap();
            assert_eq!(format!("{permit:?}"), "OwnedSemaphorePermit { permits: 1 }");
            drop(permit);
            assert_eq!(
                format!("{semaphore:?}"),
                "Semaphore { available_permits: 1, .. }"
            );
        });
    }
}

#[test]
fn oversized_requests_panic() {
    let semaphore = Semaphore::new(Semaphore::MAX_PERMITS);
    assert!(std::panic::catch_unwind(|| semaphore.add_permits(1)).is_err());
    assert_eq!(semaphore.available_permits(), Semaphore::MAX_PERMITS);
    assert!(std::panic::catch_unwind(|| drop(semaphore.try_acquire(usize::MAX))).is_err());
}
