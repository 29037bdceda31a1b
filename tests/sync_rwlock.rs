//! `gort::sync::RwLock`: exclusion, writer preference, timeouts and wake-ups.

mod sync_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::RwLock;
use sync_support::{eventually, join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

/// Two fields a writer keeps equal; a reader that sees them differ saw a torn write.
#[derive(Default)]
struct Pair {
    first: u64,
    second: u64,
}

#[test]
fn readers_and_writers_exclude_correctly() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let lock = Arc::new(RwLock::new(Pair::default()));
            let writers_inside = Arc::new(AtomicUsize::new(0));
            let readers_inside = Arc::new(AtomicUsize::new(0));
            let rounds = 5_000;
            let tasks = mode.crowd();
            let workers = mode.spawn_many(tasks, {
                let lock = Arc::clone(&lock);
                let writers_inside = Arc::clone(&writers_inside);
                let readers_inside = Arc::clone(&readers_inside);
                move |index| {
                    let mut writes = 0u64;
                    for round in 0..rounds {
                        if (index + round) % 4 == 0 {
                            let mut guard = lock.write();
                            assert_eq!(writers_inside.fetch_add(1, Ordering::SeqCst), 0);
                            assert_eq!(readers_inside.load(Ordering::SeqCst), 0);
                            guard.first += 1;
                            guard.second += 1;
                            writes += 1;
                            writers_inside.fetch_sub(1, Ordering::SeqCst);
                        } else {
                            let guard = lock.read();
                            readers_inside.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(writers_inside.load(Ordering::SeqCst), 0);
                            assert_eq!(guard.first, guard.second);
                            readers_inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    writes
                }
            });
            let writes: u64 = join_all(workers).into_iter().sum();
            let guard = lock.read();
            assert_eq!((guard.first, guard.second), (writes, writes), "{mode:?}");
            drop(guard);
            assert!(!lock.is_write_locked());
            assert_eq!(lock.reader_count(), 0);
        });
    }
}

#[test]
fn waiting_writer_stops_new_readers_and_goes_first() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let lock = Arc::new(RwLock::new(Vec::new()));
            let first_reader = lock.read();
            let writer = mode.spawn({
                let lock = Arc::clone(&lock);
                move || lock.write().push("writer")
            });
            // Once the writer is queued, a new reader may not enter although only readers hold
            // the lock.
            eventually(LIMIT, || lock.try_read().is_none());
            let late_reader = mode.spawn({
                let lock = Arc::clone(&lock);
                move || {
                    let guard = lock.read();
                    guard.clone()
                }
            });
            drop(first_reader);
            writer.join();
            // The late reader queued behind the writer, so it sees the write.
            assert_eq!(late_reader.join(), vec!["writer"]);
        });
    }
}

#[test]
fn steady_readers_do_not_starve_a_writer() {
    // Readers overlap continuously, so the reader count never drops to zero on its own; the
    // writer still gets in because it stops new readers.
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let lock = Arc::new(RwLock::new(0u64));
            let stop = Arc::new(AtomicBool::new(false));
            let reads = Arc::new(AtomicUsize::new(0));
            let readers = mode.spawn_many(4, {
                let lock = Arc::clone(&lock);
                let stop = Arc::clone(&stop);
                let reads = Arc::clone(&reads);
                move |_| {
                    while !stop.load(Ordering::Relaxed) {
                        let guard = lock.read();
                        let since = Instant::now();
                        while since.elapsed() < Duration::from_micros(50) {
                            std::hint::black_box(*guard);
                        }
                        reads.fetch_add(1, Ordering::Relaxed);
                        drop(guard);
                        mode.yield_now_if_goroutine();
                    }
                }
            });
            let writer = mode.spawn({
                let lock = Arc::clone(&lock);
                let reads = Arc::clone(&reads);
                move || {
                    // Start once the readers are in full swing.
                    while reads.load(Ordering::Relaxed) < 20 {
                        mode.yield_now();
                    }
                    let mut longest = Duration::ZERO;
                    for _ in 0..50 {
                        let start = Instant::now();
                        *lock.write() += 1;
                        longest = longest.max(start.elapsed());
                    }
                    longest
                }
            });
            let longest = writer.join();
            stop.store(true, Ordering::Relaxed);
            join_all(readers);
            assert_eq!(*lock.read(), 50);
            assert!(
                longest < Duration::from_millis(200),
                "{mode:?}: writer waited {longest:?}"
            );
        });
    }
}

#[test]
fn writer_timing_out_lets_held_back_readers_in() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let lock = Arc::new(RwLock::new(()));
            let first_reader = lock.read();
            let writer = mode.spawn({
                let lock = Arc::clone(&lock);
                move || lock.write_timeout(Duration::from_millis(50)).is_some()
            });
            eventually(LIMIT, || lock.try_read().is_none());
            let late_reader = mode.spawn({
                let lock = Arc::clone(&lock);
                move || drop(lock.read())
            });
            // The late reader is blocked by the waiting writer. When the writer gives up, the
            // late reader must get in even though the first reader never unlocks meanwhile.
            assert!(
                !writer.join(),
                "the writer cannot get in while a reader holds the lock"
            );
            late_reader.join();
            assert_eq!(lock.reader_count(), 1);
            drop(first_reader);
            assert!(lock.try_write().is_some());
        });
    }
}

#[test]
fn read_timeout_expires_under_a_writer() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let lock = Arc::new(RwLock::new(1));
            let writer = lock.write();
            let reader = mode.spawn({
                let lock = Arc::clone(&lock);
                move || {
                    let start = Instant::now();
                    let got = lock.read_timeout(Duration::from_millis(30)).is_some();
                    (got, start.elapsed())
                }
            });
            let (got, waited) = reader.join();
            assert!(!got);
            assert!(waited >= Duration::from_millis(30));
            drop(writer);
            assert_eq!(*lock.read_timeout(Duration::from_millis(30)).unwrap(), 1);
            assert!(lock.write_timeout(Duration::ZERO).is_some());
        });
    }
}

#[test]
fn every_blocked_reader_and_writer_is_woken() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..200 {
                let lock = Arc::new(RwLock::new(0usize));
                let held = lock.write();
                let workers = mode.spawn_many(mode.crowd(), {
                    let lock = Arc::clone(&lock);
                    move |index| {
                        if index % 3 == 0 {
                            *lock.write() += 1;
                        } else {
                            drop(lock.read());
                        }
                    }
                });
                drop(held);
                join_all(workers);
                assert_eq!(*lock.read(), mode.crowd().div_ceil(3));
                assert!(lock.try_write().is_some());
            }
        });
    }
}

#[test]
fn mixed_timeouts_never_strand_anyone() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let lock = Arc::new(RwLock::new(0u64));
            let writes = Arc::new(AtomicUsize::new(0));
            let workers = mode.spawn_many(mode.crowd(), {
                let lock = Arc::clone(&lock);
                let writes = Arc::clone(&writes);
                move |index| {
                    for round in 0..2_000u64 {
                        let timeout = Duration::from_micros(round % 5 * 30);
                        match index % 4 {
                            0 => {
                                if let Some(mut guard) = lock.write_timeout(timeout) {
                                    *guard += 1;
                                    writes.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            1 => {
                                *lock.write() += 1;
                                writes.fetch_add(1, Ordering::Relaxed);
                            }
                            2 => drop(lock.read_timeout(timeout)),
                            _ => drop(lock.read()),
                        }
                    }
                }
            });
            join_all(workers);
            assert_eq!(*lock.read(), writes.load(Ordering::Relaxed) as u64);
            assert!(lock.try_write().is_some(), "lock left held or flagged");
        });
    }
}

#[test]
fn formatting_and_owned_access() {
    let mut lock = RwLock::new(vec![1]);
    lock.get_mut().push(2);
    assert_eq!(format!("{lock:?}"), "RwLock { data: [1, 2], .. }");
    let writer = lock.write();
    assert_eq!(format!("{writer:?}"), "[1, 2]");
    drop(writer);
    let held = RwLock::new(0);
    let _writer = held.write();
    assert_eq!(format!("{held:?}"), "RwLock { data: <locked>, .. }");
    assert_eq!(lock.into_inner(), vec![1, 2]);
}
