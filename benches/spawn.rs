//! Spawn + complete of trivial tasks: ns per task, peers side by side.
//!
//! Every task does one `fetch_add` on a shared counter and counts its window down; the task
//! that empties the window wakes the spawner (tokio `Notify`, may `SyncFlag`, gort and Go a
//! `WaitGroup`); the task handles are dropped (fire and forget, Go's `go f()`). Tasks borrow
//! that shared state (`&'static`, leaked once per measurement) as Go's closures capture
//! `&counter` and `&wg`: an `Arc` clone per task would add a reference count that moves
//! between the spawning and the running core on every task, which Go's twin does not pay.
//! The spawning loop runs inside a task of the runtime under test, so spawns take the worker's
//! local path where the runtime has one. One criterion iteration is one task: each sample
//! spawns its iterations in windows (spawn W, wait for all W, repeat).
//!
//! Groups (ids `group/Nproc/peer`, see benches/README.md):
//! - `spawn`: W = 1,000,000, the naive "spawn them all, then wait" (anchors' a). may cannot
//!   hold that many coroutines (~32.7k here), so it has no arm.
//! - `spawn_window_1k`, `spawn_window_10k`: W = 1,000 / 10,000 (anchors' a''). std::thread
//!   appears in the 1k group: spawn 1,000 threads, join them, repeat (anchors' std row).
//! - `spawn_park_wake`: one unit = a task W that spawns a sibling S and blocks until S wakes
//!   it (tokio oneshot, may mpsc, gort join), in windows of 1,000 units: ns per unit.
//!
//! may arms run in a child process each (may's worker count is fixed per process); gort
//! arms share this process's one runtime and switch with `gort::set_maxprocs`.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, SamplingMode};
use may::sync::SyncFlag;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use support::window::{self, Window};
use support::{arm_id, child, runtimes, PROCS};

/// Window of the naive workload: everything at once (bounded so memory stays bounded when
/// criterion asks for more than a million iterations).
const NAIVE_WINDOW: u64 = 1_000_000;
/// Window of the std::thread arm (anchors' batches of 1,000 threads).
const STD_THREAD_WINDOW: u64 = 1_000;
/// Units per window in `spawn_park_wake`.
const PARK_WAKE_WINDOW: u64 = 1_000;

/// (group, window, whether may can hold a window's coroutines alive).
const SPAWN_GROUPS: [(&str, u64, bool); 3] = [
    ("spawn", NAIVE_WINDOW, false),
    ("spawn_window_1k", 1_000, true),
    ("spawn_window_10k", 10_000, true),
];

fn main() {
    child::serve_if_child(child_dispatch);
    let mut criterion = support::criterion();
    for (name, window, may_fits) in SPAWN_GROUPS {
        let mut group = criterion.benchmark_group(name);
        group.sampling_mode(SamplingMode::Flat);
        for procs in PROCS {
            gort_arm(&mut group, procs, |tasks| gort_spawn(tasks, window));
            tokio_arms(&mut group, procs, |rt, tasks| {
                tokio_spawn(rt, tasks, window)
            });
            if may_fits {
                may_arm(&mut group, procs, "may_spawn", window);
            }
            if window == STD_THREAD_WINDOW {
                group.bench_function(arm_id(procs, "std_thread"), |b| {
                    b.iter_custom(|tasks| std_thread_spawn(procs, tasks, window))
                });
            }
        }
        group.finish();
    }

    let mut group = criterion.benchmark_group("spawn_park_wake");
    group.sampling_mode(SamplingMode::Flat);
    for procs in PROCS {
        gort_arm(&mut group, procs, |units| {
            gort_park_wake(units, PARK_WAKE_WINDOW)
        });
        tokio_arms(&mut group, procs, |rt, units| {
            tokio_park_wake(rt, units, PARK_WAKE_WINDOW)
        });
        may_arm(&mut group, procs, "may_park_wake", PARK_WAKE_WINDOW);
    }
    group.finish();

    criterion.final_summary();
}

/// The workloads a child process can run: `<name> <procs> <tasks> <window>`.
fn child_dispatch(workload: &str, args: &[u64]) -> Duration {
    let &[procs, tasks, window] = args else {
        panic!("{workload}: expected procs tasks window")
    };
    runtimes::configure_may(procs as usize);
    match workload {
        "may_spawn" => may_spawn(tasks, window),
        "may_park_wake" => may_park_wake(tasks, window),
        other => panic!("unknown child workload {other}"),
    }
}

/// Adds gort's arm at `procs` (this process's one gort runtime, resized per arm).
fn gort_arm(
    group: &mut BenchmarkGroup<'_, WallTime>,
    procs: usize,
    workload: impl Fn(u64) -> Duration,
) {
    group.bench_function(arm_id(procs, "gort"), |b| {
        b.iter_custom(|n| {
            gort::set_maxprocs(procs).expect("setting gort's maxprocs");
            workload(n)
        })
    });
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

/// Adds may's arm at `procs`; every measurement runs in a child process.
fn may_arm(group: &mut BenchmarkGroup<'_, WallTime>, procs: usize, workload: &str, window: u64) {
    group.bench_function(arm_id(procs, "may"), |b| {
        b.iter_custom(|n| child::measure_in_child(workload, &[procs as u64, n, window]))
    });
}

// ---------------------------------------------------------------------------------------
// gort

fn gort_spawn(tasks: u64, window: u64) -> Duration {
    let spawner = gort::spawn(move || {
        // Borrowed by every task, as Go's twin shares `&counter` and `&wg` (see `Window`).
        let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let wg: &'static gort::sync::WaitGroup = Box::leak(Box::default());
        let start = Instant::now();
        for size in window::sizes(tasks, window) {
            wg.add(size as isize);
            for _ in 0..size {
                // Fire and forget (the handle is dropped): the WaitGroup counts the window down,
                // as Go's WaitGroup and tokio's counter + Notify do in the other arms.
                gort::spawn(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
        }
        let elapsed = start.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), tasks);
        elapsed
    });
    spawner.join().expect("the spawner goroutine panicked")
}

/// A unit: W spawns a sibling S and blocks in `join(S)`. S goes to `runnext`, so on one proc W
/// parks before S runs, and S's exit wakes W.
fn gort_park_wake(units: u64, window: u64) -> Duration {
    let spawner = gort::spawn(move || {
        let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let mut handles = Vec::with_capacity(units.min(window) as usize);
        let start = Instant::now();
        for size in window::sizes(units, window) {
            for _ in 0..size {
                handles.push(gort::spawn(move || {
                    gort::spawn(|| ()).join().expect("the sibling panicked");
                    counter.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for handle in handles.drain(..) {
                handle.join().expect("a waiter panicked");
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), units);
        elapsed
    });
    spawner.join().expect("the spawner goroutine panicked")
}

// ---------------------------------------------------------------------------------------
// tokio

fn tokio_spawn(rt: &Runtime, tasks: u64, window: u64) -> Duration {
    rt.block_on(async move {
        let spawner = tokio::spawn(async move {
            let state = Window::leak(Notify::new());
            let start = Instant::now();
            for size in window::sizes(tasks, window) {
                state.start(size);
                for _ in 0..size {
                    tokio::spawn(async move {
                        if state.finish_one() {
                            state.signal.notify_one();
                        }
                    });
                }
                tokio_wait(state).await;
            }
            let elapsed = start.elapsed();
            assert_eq!(state.count(), tasks);
            elapsed
        });
        spawner.await.expect("the spawner task panicked")
    })
}

fn tokio_park_wake(rt: &Runtime, units: u64, window: u64) -> Duration {
    rt.block_on(async move {
        let spawner = tokio::spawn(async move {
            let state = Window::leak(Notify::new());
            let start = Instant::now();
            for size in window::sizes(units, window) {
                state.start(size);
                for _ in 0..size {
                    tokio::spawn(async move {
                        let (wake, woken) = tokio::sync::oneshot::channel::<()>();
                        tokio::spawn(async move { wake.send(()).expect("the waiter went away") });
                        woken.await.expect("the waker went away");
                        if state.finish_one() {
                            state.signal.notify_one();
                        }
                    });
                }
                tokio_wait(state).await;
            }
            let elapsed = start.elapsed();
            assert_eq!(state.count(), units);
            elapsed
        });
        spawner.await.expect("the spawner task panicked")
    })
}

/// Waits until the window is done. `notify_one` stores a permit when nobody waits yet, so the
/// last task's wake-up cannot fall between the check and the await.
async fn tokio_wait(state: &Window<Notify>) {
    while !state.is_done() {
        state.signal.notified().await;
    }
}

// ---------------------------------------------------------------------------------------
// may (runs in a child process; `runtimes::configure_may` has set the worker count)

fn may_spawn(tasks: u64, window: u64) -> Duration {
    let spawner = runtimes::may_go(move || {
        let start = Instant::now();
        let mut counted = 0;
        for size in window::sizes(tasks, window) {
            // A fired `SyncFlag` stays fired, so each window has its own (this child process
            // exits after one measurement).
            let state = Window::leak(SyncFlag::new());
            state.start(size);
            for _ in 0..size {
                runtimes::may_go(move || {
                    if state.finish_one() {
                        state.signal.fire();
                    }
                });
            }
            may_wait(state);
            counted += state.count();
        }
        let elapsed = start.elapsed();
        assert_eq!(counted, tasks);
        elapsed
    });
    spawner.join().expect("the spawner coroutine panicked")
}

fn may_park_wake(units: u64, window: u64) -> Duration {
    let spawner = runtimes::may_go(move || {
        let start = Instant::now();
        let mut counted = 0;
        for size in window::sizes(units, window) {
            // One `SyncFlag` per window, as in `may_spawn`.
            let state = Window::leak(SyncFlag::new());
            state.start(size);
            for _ in 0..size {
                runtimes::may_go(move || {
                    let (wake, woken) = may::sync::mpsc::channel::<()>();
                    runtimes::may_go(move || wake.send(()).expect("the waiter went away"));
                    woken.recv().expect("the waker went away");
                    if state.finish_one() {
                        state.signal.fire();
                    }
                });
            }
            may_wait(state);
            counted += state.count();
        }
        let elapsed = start.elapsed();
        assert_eq!(counted, units);
        elapsed
    });
    spawner.join().expect("the spawner coroutine panicked")
}

/// Waits until the window is done; a fired `SyncFlag` stays fired, so a fire that comes
/// before the wait is not lost.
fn may_wait(state: &Window<SyncFlag>) {
    while !state.is_done() {
        state.signal.wait();
    }
}

// ---------------------------------------------------------------------------------------
// std::thread: spawn `window` threads, join them all, repeat. At 1 proc the spawner is
// pinned to CPU 0, and the threads it spawns inherit the pin.

fn std_thread_spawn(procs: usize, tasks: u64, window: u64) -> Duration {
    let _pin = (procs == 1)
        .then(|| support::affinity::pin_current_thread_to_cpu0().expect("pinning to CPU 0"));
    let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let start = Instant::now();
    for size in window::sizes(tasks, window) {
        let threads: Vec<_> = (0..size)
            .map(|_| {
                std::thread::spawn(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a spawned thread panicked");
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(counter.load(Ordering::Relaxed), tasks);
    elapsed
}
