//! `gort::pool`: exact stats (also under concurrent snapshots), blocking and refused
//! submissions, close/drop semantics, panicking tasks, `wait` on threads and goroutines.

mod sync_support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::pool::{Pool, PoolStats, TrySubmitError};
use sync_support::{eventually, Mode, MODES};

const LIMIT: Duration = Duration::from_secs(60);

fn adds_up(stats: &PoolStats) -> bool {
    stats.submitted == stats.queued + stats.running + stats.completed + stats.failed
}

#[test]
fn stats_add_up_exactly_with_panicking_tasks() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let pool = Pool::builder().workers(4).queue_capacity(16).build();
            let sum = Arc::new(AtomicU64::new(0));
            for i in 0..10_000u64 {
                let sum = Arc::clone(&sum);
                pool.submit(move || {
                    if i % 7 == 0 {
                        panic!("task {i} fails on purpose");
                    }
                    sum.fetch_add(i, Ordering::Relaxed);
                })
                .unwrap();
            }
            pool.wait();
            let failed = (0..10_000u64).filter(|i| i % 7 == 0).count() as u64;
            let expected: u64 = (0..10_000u64).filter(|i| i % 7 != 0).sum();
            assert_eq!(sum.load(Ordering::Relaxed), expected);
            let stats = pool.stats();
            assert_eq!(
                stats,
                PoolStats {
                    submitted: 10_000,
                    queued: 0,
                    running: 0,
                    completed: 10_000 - failed,
                    failed,
                }
            );
            assert_eq!(pool.shutdown(), stats);
        });
    }
}

#[test]
fn concurrent_snapshots_always_add_up_and_never_go_back() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let pool = Arc::new(Pool::builder().workers(3).queue_capacity(8).build());
            let submitters: Vec<_> = (0..4)
                .map(|_| {
                    let pool = Arc::clone(&pool);
                    mode.spawn(move || {
                        for i in 0..2_000u32 {
                            pool.submit(move || {
                                if i % 100 == 0 {
                                    gort::yield_now();
                                }
                            })
                            .unwrap();
                        }
                    })
                })
                .collect();
            let watcher = {
                let pool = Arc::clone(&pool);
                mode.spawn(move || {
                    let mut last = PoolStats::default();
                    let mut snapshots = 0;
                    while last.completed < 8_000 {
                        let now = pool.stats();
                        assert!(adds_up(&now), "{now:?}");
                        assert!(now.submitted >= last.submitted, "{last:?} -> {now:?}");
                        assert!(now.completed >= last.completed, "{last:?} -> {now:?}");
                        assert!(now.running <= 3, "more running than workers: {now:?}");
                        last = now;
                        snapshots += 1;
                        mode.yield_now_if_goroutine();
                    }
                    snapshots
                })
            };
            sync_support::join_all(submitters);
            pool.wait();
            assert!(watcher.join() > 0);
            let stats = pool.stats();
            assert_eq!(
                (
                    stats.submitted,
                    stats.completed,
                    stats.queued,
                    stats.running
                ),
                (8_000, 8_000, 0, 0)
            );
        });
    }
}

#[test]
fn submit_waits_while_the_queue_is_full_and_try_submit_gives_the_closure_back() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let pool = Arc::new(Pool::builder().workers(1).queue_capacity(2).build());
            let (release_tx, release_rx) = gort::chan::<()>(0);
            // The worker is busy until released; two more fill the queue.
            for _ in 0..3 {
                let release_rx = release_rx.clone();
                pool.submit(move || release_rx.recv().unwrap()).unwrap();
            }
            eventually(LIMIT, || pool.stats().running == 1);
            assert_eq!(pool.stats().queued, 2);
            let (back_tx, back_rx) = gort::chan(1);
            match pool.try_submit(move || back_tx.send(7).unwrap()) {
                Err(TrySubmitError::Full(task)) => task(),
                other => panic!("expected Full, got {other:?}"),
            }
            assert_eq!(
                back_rx.recv(),
                Ok(7),
                "the closure handed back is the one submitted"
            );
            let submitted = Arc::new(AtomicUsize::new(0));
            let blocked = {
                let pool = Arc::clone(&pool);
                let submitted = Arc::clone(&submitted);
                mode.spawn(move || {
                    pool.submit(|| ()).unwrap();
                    submitted.store(1, Ordering::SeqCst);
                })
            };
            // It stays blocked while nothing leaves the queue (checked a while; the release
            // below is what lets it through).
            for _ in 0..20 {
                gort::sleep(Duration::from_millis(1));
                assert_eq!(submitted.load(Ordering::SeqCst), 0, "submit did not wait");
            }
            for _ in 0..3 {
                release_tx.send(()).unwrap();
            }
            blocked.join();
            pool.wait();
            assert_eq!(pool.stats().completed, 4);
        });
    }
}

#[test]
fn close_runs_queued_tasks_and_refuses_new_ones() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let pool = Pool::builder().workers(2).queue_capacity(100).build();
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..100 {
                let ran = Arc::clone(&ran);
                pool.submit(move || {
                    gort::yield_now();
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
            assert!(pool.close());
            assert!(pool.is_closed());
            let (back_tx, back_rx) = gort::chan(1);
            let err = pool
                .submit(move || back_tx.send("refused").unwrap())
                .unwrap_err();
            (err.into_inner())();
            assert_eq!(back_rx.recv(), Ok("refused"));
            assert!(pool.try_submit(|| ()).unwrap_err().is_closed());
            pool.wait();
            assert_eq!(ran.load(Ordering::SeqCst), 100);
            let stats = pool.stats();
            assert_eq!((stats.submitted, stats.completed), (100, 100));
        });
    }
}

#[test]
fn dropping_the_pool_waits_for_every_task() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..20 {
                let ran = Arc::new(AtomicUsize::new(0));
                let pool = Pool::builder().workers(3).queue_capacity(4).build();
                for _ in 0..50 {
                    let ran = Arc::clone(&ran);
                    pool.submit(move || {
                        gort::yield_now();
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                }
                drop(pool);
                assert_eq!(ran.load(Ordering::SeqCst), 50);
            }
        });
    }
}

#[test]
fn a_panicking_task_does_not_stop_its_worker() {
    let pool = Pool::new(1);
    pool.submit(|| panic!("first task panics")).unwrap();
    let (tx, rx) = gort::chan(1);
    pool.submit(move || tx.send("second task ran").unwrap())
        .unwrap();
    assert_eq!(rx.recv(), Ok("second task ran"));
    pool.wait();
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.failed), (1, 1));
}

#[test]
fn many_waiters_and_refused_submissions_never_hang_wait() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for round in 0..50 {
                let pool = Arc::new(Pool::builder().workers(2).queue_capacity(4).build());
                for _ in 0..10 {
                    pool.submit(gort::yield_now).unwrap();
                }
                if round % 2 == 0 {
                    pool.close();
                }
                let waiters: Vec<_> = (0..4)
                    .map(|_| {
                        let pool = Arc::clone(&pool);
                        mode.spawn(move || pool.wait())
                    })
                    .collect();
                // Refused (closed) or accepted submissions racing the waiters.
                let racer = {
                    let pool = Arc::clone(&pool);
                    mode.spawn(move || {
                        for _ in 0..20 {
                            let _ = pool.try_submit(|| ());
                            mode.yield_now_if_goroutine();
                        }
                    })
                };
                racer.join();
                sync_support::join_all(waiters);
                pool.wait();
                let stats = pool.stats();
                assert!(
                    adds_up(&stats) && stats.queued == 0 && stats.running == 0,
                    "{stats:?}"
                );
            }
        });
    }
}

#[test]
fn a_task_may_drop_the_last_handle_to_its_own_pool() {
    Mode::Goroutines.run(LIMIT, || {
        let pool = Arc::new(Pool::new(2));
        let (tx, rx) = gort::chan(1);
        let inner = Arc::clone(&pool);
        pool.submit(move || {
            gort::sleep(Duration::from_millis(2));
            drop(inner); // the last handle, once the outer one is gone
            tx.send(()).unwrap();
        })
        .unwrap();
        drop(pool);
        assert_eq!(rx.recv(), Ok(()));
    });
}

#[test]
fn workers_are_named_after_the_pool() {
    let pool = Pool::builder().name("etl").workers(2).build();
    let (tx, rx) = gort::chan(1);
    pool.submit(move || {
        tx.send(gort::current().unwrap().name().map(str::to_owned))
            .unwrap()
    })
    .unwrap();
    let name = rx.recv().unwrap().unwrap();
    assert!(name == "etl-0" || name == "etl-1", "{name}");
}
