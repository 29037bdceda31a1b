//! `gort::sync::Mutex`: exclusion, wake-ups, timeouts and starvation mode, on threads and
//! goroutines.

mod sync_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::Mutex;
use sync_support::{join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

/// A counter that detects two holders at once.
#[derive(Default)]
struct Guarded {
    count: u64,
    inside: bool,
}

#[test]
fn hammering_loses_no_increment_and_keeps_exclusion() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let tasks = mode.crowd();
            let rounds = 20_000;
            let mutex = Arc::new(Mutex::new(Guarded::default()));
            let workers = mode.spawn_many(tasks, {
                let mutex = Arc::clone(&mutex);
                move |_| {
                    for _ in 0..rounds {
                        let mut guard = mutex.lock();
                        assert!(!guard.inside, "two holders at once");
                        guard.inside = true;
                        guard.count += 1;
                        guard.inside = false;
                    }
                }
            });
            join_all(workers);
            assert_eq!(mutex.lock().count, (tasks * rounds) as u64, "{mode:?}");
            assert!(!mutex.is_locked());
        });
    }
}

#[test]
fn mutex_held_across_yield_while_others_wait() {
    // The holder yields with the lock held: the waiters must park (not spin their M away) and
    // the holder must be scheduled again to unlock. In goroutine mode all of them share 2 Ms.
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let mutex = Arc::new(Mutex::new(Guarded::default()));
            let rounds = 200;
            let workers = mode.spawn_many(mode.crowd(), {
                let mutex = Arc::clone(&mutex);
                move |_| {
                    for _ in 0..rounds {
                        let mut guard = mutex.lock();
                        assert!(!guard.inside, "two holders at once");
                        guard.inside = true;
                        for _ in 0..3 {
                            mode.yield_now();
                        }
                        guard.count += 1;
                        guard.inside = false;
                    }
                }
            });
            join_all(workers);
            assert_eq!(mutex.lock().count, (mode.crowd() * rounds) as u64);
        });
    }
}

#[test]
fn every_blocked_locker_is_woken() {
    // Many rounds of: the main task holds the lock while a crowd queues up, then releases it
    // once. A lost wake-up leaves a task parked forever and trips the time limit.
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..200 {
                let mutex = Arc::new(Mutex::new(0usize));
                let held = mutex.lock();
                let workers = mode.spawn_many(mode.crowd(), {
                    let mutex = Arc::clone(&mutex);
                    move |_| *mutex.lock() += 1
                });
                drop(held);
                join_all(workers);
                assert_eq!(*mutex.lock(), mode.crowd());
            }
        });
    }
}

#[test]
fn try_lock_fails_only_while_held() {
    let mutex = Mutex::new(1);
    let guard = mutex.try_lock().unwrap();
    assert!(mutex.try_lock().is_none());
    assert!(mutex.is_locked());
    drop(guard);
    assert!(mutex.try_lock().is_some());
    assert!(!mutex.is_locked());
}

#[test]
fn lock_timeout_expires_then_succeeds() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let mutex = Arc::new(Mutex::new(()));
            let held = mutex.lock();
            let waiter = mode.spawn({
                let mutex = Arc::clone(&mutex);
                move || {
                    let start = Instant::now();
                    let result = mutex.lock_timeout(Duration::from_millis(30)).is_some();
                    (result, start.elapsed())
                }
            });
            let (locked, waited) = waiter.join();
            assert!(!locked, "locked a held mutex");
            assert!(
                waited >= Duration::from_millis(30),
                "gave up early: {waited:?}"
            );
            drop(held);
            assert!(mutex.lock_timeout(Duration::from_millis(30)).is_some());
            // A zero timeout on a free mutex still locks it.
            assert!(mutex.lock_timeout(Duration::ZERO).is_some());
        });
    }
}

#[test]
fn timed_lockers_mixed_with_blocking_lockers_count_exactly() {
    // Timed waiters give up while others queue behind them: every successful lock must be
    // counted once, and giving up must never strand the blocking lockers.
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let mutex = Arc::new(Mutex::new(0u64));
            let successes = Arc::new(AtomicUsize::new(0));
            let workers = mode.spawn_many(mode.crowd(), {
                let mutex = Arc::clone(&mutex);
                let successes = Arc::clone(&successes);
                move |index| {
                    for round in 0..3_000 {
                        if index % 2 == 0 {
                            let timeout = Duration::from_micros((round % 7) as u64 * 20);
                            if let Some(mut guard) = mutex.lock_timeout(timeout) {
                                *guard += 1;
                                successes.fetch_add(1, Ordering::Relaxed);
                            }
                        } else {
                            let mut guard = mutex.lock();
                            *guard += 1;
                            successes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
            join_all(workers);
            assert_eq!(*mutex.lock(), successes.load(Ordering::Relaxed) as u64);
            assert!(successes.load(Ordering::Relaxed) >= mode.crowd() / 2 * 3_000);
        });
    }
}

#[test]
fn starvation_mode_bounds_a_waiters_wait() {
    // Two hammering tasks hold the lock most of the time and relock the moment they unlock, so
    // a parked waiter that is woken finds the lock taken again and loses nearly every race.
    // Starvation mode hands it the lock once it has waited 1 ms, so each wait is bounded by
    // about the threshold plus one critical section and the wake-up latency; the bound below
    // is generous for a loaded 2-CPU machine. Without starvation mode a wait here commonly
    // lasts hundreds of milliseconds.
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let mutex = Arc::new(Mutex::new(0u64));
            let acquisitions = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let hammers = mode.spawn_many(2, {
                let mutex = Arc::clone(&mutex);
                let acquisitions = Arc::clone(&acquisitions);
                let stop = Arc::clone(&stop);
                move |_| {
                    while !stop.load(Ordering::Relaxed) {
                        let mut guard = mutex.lock();
                        acquisitions.fetch_add(1, Ordering::Relaxed);
                        let held_since = Instant::now();
                        while held_since.elapsed() < Duration::from_micros(100) {
                            *guard = std::hint::black_box(*guard + 1);
                        }
                        // No yield: a goroutine is not preempted, so after its unlock it relocks
                        // before anyone else runs, unless the lock is handed off.
                        drop(guard);
                    }
                }
            });
            let victim = mode.spawn({
                let mutex = Arc::clone(&mutex);
                let acquisitions = Arc::clone(&acquisitions);
                move || {
                    let mut longest = Duration::ZERO;
                    for _ in 0..40 {
                        // Let the hammers own the lock again before each attempt, so the
                        // victim does not simply barge in after its own unlock.
                        let seen = acquisitions.load(Ordering::Relaxed);
                        while acquisitions.load(Ordering::Relaxed) < seen + 3 {
                            mode.yield_now();
                        }
                        let start = Instant::now();
                        drop(mutex.lock());
                        longest = longest.max(start.elapsed());
                    }
                    longest
                }
            });
            let longest = victim.join();
            stop.store(true, Ordering::Relaxed);
            join_all(hammers);
            assert!(
                longest < Duration::from_millis(100),
                "{mode:?}: waited {longest:?}"
            );
        });
    }
}

#[test]
fn guard_can_be_released_elsewhere() {
    // Go lets any goroutine unlock; the guard is Send.
    let mutex: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(7)));
    let guard = mutex.lock();
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert_eq!(*mutex.try_lock().expect("unlocked by the other thread"), 7);
}

#[test]
fn panic_while_locked_does_not_poison() {
    let mutex = Arc::new(Mutex::new(1));
    let result = std::thread::spawn({
        let mutex = Arc::clone(&mutex);
        move || {
            let _guard = mutex.lock();
            panic!("boom");
        }
    })
    .join();
    assert!(result.is_err());
    assert!(!mutex.is_locked());
    *mutex.lock() += 1;
    assert_eq!(*mutex.lock(), 2);
}

#[test]
fn owned_access_and_formatting() {
    let mut mutex = Mutex::new(vec![1]);
    mutex.get_mut().push(2);
    assert_eq!(format!("{mutex:?}"), "Mutex { data: [1, 2], .. }");
    let guard = mutex.lock();
    assert_eq!(format!("{guard:?}"), "[1, 2]");
    drop(guard);
    let held = Mutex::new(0);
    let _guard = held.lock();
    assert_eq!(format!("{held:?}"), "Mutex { data: <locked>, .. }");
    assert_eq!(mutex.into_inner(), vec![1, 2]);
    assert_eq!(*Mutex::<u8>::default().lock(), 0);
    assert_eq!(*Mutex::from(3).lock(), 3);
}

#[test]
fn unsized_data() {
    let mutex: Box<Mutex<[u32]>> = Box::new(Mutex::new([1, 2, 3]));
    mutex.lock()[0] = 10;
    assert_eq!(mutex.lock().iter().sum::<u32>(), 15);
}
