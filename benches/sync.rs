//! `gort::sync` against its peers: mutex contention, uncontended locking, WaitGroup fan-out.
//!
//! Groups (ids `group/Nproc/peer`, see benches/README.md; the Go twins are in
//! `benches/go/sync.go` with the same names):
//! - `mutex_contended_{2,16,1000}`: N tasks, released together, each lock a shared mutex,
//!   increment one counter and unlock; ns per lock/unlock pair over all of them. Peers: gort
//!   goroutines with `gort::sync::Mutex`, tokio tasks with `tokio::sync::Mutex`, may coroutines
//!   with `may::sync::Mutex`, and for N ≤ 16 OS threads with `std::sync::Mutex` and with
//!   `parking_lot::Mutex`.
//! - `mutex_uncontended`: one task locks and unlocks n times around an increment (no runtime
//!   involved: the fast path only). gort, parking_lot, std, tokio (`try_lock`-free async path
//!   polled in `block_on`), may.
//! - `waitgroup_fanout_10k`: one unit = add 10,000, spawn 10,000 tasks that each count and call
//!   `done`, wait. ns per fan-out (spawns included, as in Go's twin). gort `WaitGroup`, tokio
//!   (the shared `Window` countdown with `Notify`), may (`may::sync::WaitGroup`).
//!
//! One criterion iteration is one lock (mutex groups) or one fan-out. may arms run in child
//! processes (its worker count is fixed per process); gort arms share this process's runtime
//! and switch with `gort::set_maxprocs`.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, SamplingMode, Throughput};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use support::window::Window;
use support::{arm_id, child, runtimes, scale_to, PROCS};

/// Task counts of the contended groups.
const CONTENDERS: [usize; 3] = [2, 16, 1000];
/// OS-thread peers run only up to this many threads.
const MAX_THREADS: usize = 16;
/// Width of one WaitGroup fan-out.
const FANOUT: usize = 10_000;

fn main() {
    child::serve_if_child(child_dispatch);
    let mut criterion = support::criterion();

    for tasks in CONTENDERS {
        let mut group = criterion.benchmark_group(format!("mutex_contended_{tasks}"));
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(1));
        for procs in PROCS {
            group.bench_function(arm_id(procs, "gort"), |b| {
                b.iter_custom(|locks| {
                    gort::set_maxprocs(procs).expect("setting gort's maxprocs");
                    gort_contended(tasks, locks)
                })
            });
            tokio_arms(&mut group, procs, |rt, locks| {
                tokio_contended(rt, tasks, locks)
            });
            group.bench_function(arm_id(procs, "may"), |b| {
                b.iter_custom(|locks| {
                    child::measure_in_child("may_contended", &[procs as u64, tasks as u64, locks])
                })
            });
            if tasks <= MAX_THREADS {
                group.bench_function(arm_id(procs, "std_thread"), |b| {
                    b.iter_custom(|locks| {
                        let mutex = std::sync::Mutex::new(0u64);
                        threads_contended(procs, tasks, locks, mutex, |mutex| {
                            let mut counter = mutex.lock().unwrap();
                            *counter += 1;
                            *counter
                        })
                    })
                });
                group.bench_function(arm_id(procs, "parking_lot_thread"), |b| {
                    b.iter_custom(|locks| {
                        let mutex = parking_lot::Mutex::new(0u64);
                        threads_contended(procs, tasks, locks, mutex, |mutex| {
                            let mut counter = mutex.lock();
                            *counter += 1;
                            *counter
                        })
                    })
                });
            }
        }
        group.finish();
    }

    let mut group = criterion.benchmark_group("mutex_uncontended");
    group.throughput(Throughput::Elements(1));
    group.bench_function(arm_id(1, "gort"), |b| {
        let mutex = gort::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&mutex).lock() += 1)
    });
    group.bench_function(arm_id(1, "parking_lot"), |b| {
        let mutex = parking_lot::Mutex::new(0u64);
        b.iter(|| *black_box(&mutex).lock() += 1)
    });
    group.bench_function(arm_id(1, "std"), |b| {
        let mutex = std::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&mutex).lock().unwrap() += 1)
    });
    group.bench_function(arm_id(1, "tokio_ct"), |b| {
        let rt = runtimes::tokio_current_thread();
        let mutex = tokio::sync::Mutex::new(0u64);
        b.iter_custom(|locks| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..locks {
                    *black_box(&mutex).lock().await += 1;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function(arm_id(1, "may"), |b| {
        let mutex = may::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&mutex).lock().unwrap() += 1)
    });
    group.finish();

    let mut group = criterion.benchmark_group("waitgroup_fanout_10k");
    group.sampling_mode(SamplingMode::Flat);
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|fanouts| {
                gort::set_maxprocs(procs).expect("setting gort's maxprocs");
                gort_fanout(fanouts)
            })
        });
        tokio_arms(&mut group, procs, tokio_fanout);
        group.bench_function(arm_id(procs, "may"), |b| {
            b.iter_custom(|fanouts| {
                child::measure_in_child("may_fanout", &[procs as u64, FANOUT as u64, fanouts])
            })
        });
    }
    group.finish();

    criterion.final_summary();
}

/// The workloads a child process can run: `<name> <procs> <tasks> <count>`.
fn child_dispatch(workload: &str, args: &[u64]) -> Duration {
    let &[procs, tasks, count] = args else {
        panic!("{workload}: expected procs tasks count")
    };
    runtimes::configure_may(procs as usize);
    match workload {
        "may_contended" => may_contended(tasks as usize, count),
        "may_fanout" => may_fanout(tasks as usize, count),
        other => panic!("unknown child workload {other}"),
    }
}

/// Adds tokio's arms at `procs`: current_thread (1 proc only) and multi_thread.
fn tokio_arms(
    group: &mut BenchmarkGroup<'_, WallTime>,
    procs: usize,
    workload: impl Fn(&Runtime, u64) -> Duration,
) {
    if procs == 1 {
        let rt = runtimes::tokio_current_thread();
        group.bench_function(arm_id(1, "tokio_ct"), |b| {
            b.iter_custom(|n| workload(&rt, n))
        });
    }
    let rt = runtimes::tokio_multi_thread(procs);
    group.bench_function(arm_id(procs, "tokio_mt"), |b| {
        b.iter_custom(|n| workload(&rt, n))
    });
}

/// Locks per task so that `tasks` tasks do about `locks` in all (at least one each).
fn split(tasks: usize, locks: u64) -> u64 {
    (locks / tasks as u64).max(1)
}

// ---------------------------------------------------------------------------------------
// gort

fn gort_contended(tasks: usize, locks: u64) -> Duration {
    let per_task = split(tasks, locks);
    let driver = gort::spawn(move || {
        let mutex = Arc::new(gort::sync::Mutex::new(0u64));
        // The gate: everyone waits for it to reach zero, then all start together.
        let gate = gort::sync::WaitGroup::new();
        gate.add(1);
        let finished = gort::sync::WaitGroup::new();
        for _ in 0..tasks {
            let (mutex, gate, token) = (Arc::clone(&mutex), gate.clone(), finished.enter());
            gort::spawn(move || {
                gate.wait();
                for _ in 0..per_task {
                    *mutex.lock() += 1;
                }
                drop(token);
            });
        }
        let start = Instant::now();
        gate.done();
        finished.wait();
        let elapsed = start.elapsed();
        assert_eq!(*mutex.lock(), per_task * tasks as u64);
        elapsed
    });
    let elapsed = driver.join().expect("the driver goroutine panicked");
    scale_to(elapsed, per_task * tasks as u64, locks)
}

fn gort_fanout(fanouts: u64) -> Duration {
    let driver = gort::spawn(move || {
        let counter = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        for _ in 0..fanouts {
            let wg = gort::sync::WaitGroup::new();
            wg.add(FANOUT as isize);
            for _ in 0..FANOUT {
                let (wg, counter) = (wg.clone(), Arc::clone(&counter));
                gort::spawn(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
        }
        let elapsed = start.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), fanouts * FANOUT as u64);
        elapsed
    });
    driver.join().expect("the driver goroutine panicked")
}

// ---------------------------------------------------------------------------------------
// tokio

fn tokio_contended(rt: &Runtime, tasks: usize, locks: u64) -> Duration {
    let per_task = split(tasks, locks);
    let elapsed = rt.block_on(async move {
        let driver = tokio::spawn(async move {
            let mutex = Arc::new(tokio::sync::Mutex::new(0u64));
            // The gate: a write lock held until every task should start.
            let gate = Arc::new(tokio::sync::RwLock::new(()));
            let closed = gate.clone().write_owned().await;
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let (mutex, gate) = (Arc::clone(&mutex), Arc::clone(&gate));
                    tokio::spawn(async move {
                        drop(gate.read().await);
                        for _ in 0..per_task {
                            *mutex.lock().await += 1;
                        }
                    })
                })
                .collect();
            let start = Instant::now();
            drop(closed);
            for handle in handles {
                handle.await.expect("a task panicked");
            }
            let elapsed = start.elapsed();
            assert_eq!(*mutex.lock().await, per_task * tasks as u64);
            elapsed
        });
        driver.await.expect("the driver task panicked")
    });
    scale_to(elapsed, per_task * tasks as u64, locks)
}

fn tokio_fanout(rt: &Runtime, fanouts: u64) -> Duration {
    rt.block_on(async move {
        let driver = tokio::spawn(async move {
            let counter = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            for _ in 0..fanouts {
                let state = Arc::new(Window::new(FANOUT, Notify::new()));
                for _ in 0..FANOUT {
                    let (state, counter) = (Arc::clone(&state), Arc::clone(&counter));
                    tokio::spawn(async move {
                        counter.fetch_add(1, Ordering::Relaxed);
                        if state.finish_one() {
                            state.signal.notify_one();
                        }
                    });
                }
                // `notify_one` leaves a permit if nobody waits yet, so no wake-up is lost.
                while !state.is_done() {
                    state.signal.notified().await;
                }
            }
            let elapsed = start.elapsed();
            assert_eq!(counter.load(Ordering::Relaxed), fanouts * FANOUT as u64);
            elapsed
        });
        driver.await.expect("the driver task panicked")
    })
}

// ---------------------------------------------------------------------------------------
// may (in child processes)

fn may_contended(tasks: usize, locks: u64) -> Duration {
    let per_task = split(tasks, locks);
    let driver = runtimes::may_go(move || {
        let mutex = Arc::new(may::sync::Mutex::new(0u64));
        let gate = Arc::new(may::sync::RwLock::new(()));
        let closed = gate.write().expect("gate poisoned");
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (mutex, gate) = (Arc::clone(&mutex), Arc::clone(&gate));
                runtimes::may_go(move || {
                    drop(gate.read().expect("gate poisoned"));
                    for _ in 0..per_task {
                        *mutex.lock().expect("mutex poisoned") += 1;
                    }
                })
            })
            .collect();
        let start = Instant::now();
        drop(closed);
        for handle in handles {
            handle.join().expect("a coroutine panicked");
        }
        let elapsed = start.elapsed();
        assert_eq!(
            *mutex.lock().expect("mutex poisoned"),
            per_task * tasks as u64
        );
        elapsed
    });
    let elapsed = driver.join().expect("the driver coroutine panicked");
    scale_to(elapsed, per_task * tasks as u64, locks)
}

fn may_fanout(width: usize, fanouts: u64) -> Duration {
    let driver = runtimes::may_go(move || {
        let counter = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        for _ in 0..fanouts {
            let wg = may::sync::WaitGroup::new();
            for _ in 0..width {
                let (wg, counter) = (wg.clone(), Arc::clone(&counter));
                runtimes::may_go(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                    drop(wg);
                });
            }
            wg.wait();
        }
        let elapsed = start.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), fanouts * width as u64);
        elapsed
    });
    driver.join().expect("the driver coroutine panicked")
}

// ---------------------------------------------------------------------------------------
// OS threads

/// `tasks` threads (pinned to CPU 0 at 1 proc), released together by a barrier, each run
/// `increment` (which returns the counter's new value) on the shared `mutex` their share of
/// `locks` times.
fn threads_contended<M: Send + Sync + 'static>(
    procs: usize,
    tasks: usize,
    locks: u64,
    mutex: M,
    increment: fn(&M) -> u64,
) -> Duration {
    let per_task = split(tasks, locks);
    // Threads inherit the spawning thread's CPU mask.
    let _pin = (procs == 1)
        .then(|| support::affinity::pin_current_thread_to_cpu0().expect("pinning to CPU 0"));
    let mutex = Arc::new(mutex);
    let gate = Arc::new(std::sync::Barrier::new(tasks + 1));
    let threads: Vec<_> = (0..tasks)
        .map(|_| {
            let (mutex, gate) = (Arc::clone(&mutex), Arc::clone(&gate));
            std::thread::spawn(move || {
                gate.wait();
                (0..per_task).map(|_| increment(&mutex)).max().unwrap_or(0)
            })
        })
        .collect();
    gate.wait();
    let start = Instant::now();
    let mut highest = 0;
    for thread in threads {
        highest = highest.max(thread.join().expect("a thread panicked"));
    }
    let elapsed = start.elapsed();
    assert_eq!(highest, per_task * tasks as u64, "lost increments");
    scale_to(elapsed, per_task * tasks as u64, locks)
}
