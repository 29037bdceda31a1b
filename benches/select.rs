//! Select costs, gort beside its peers (anchors' f and f0), one task doing all the work:
//!
//! - `select_ready`: send i into A (capacity 1), then a 2-way select over A and B, where B is
//!   never ready. ns per iteration (send + select).
//! - `select_baseline_recv`: the same loop with a plain receive; select cost ≈ f − f0.
//! - `select_timeout_default`: the select has a timeout arm that never fires: gort's
//!   `default(1h)`, crossbeam's `default(1h)`. The cost of arming and disarming a timeout.
//! - `select_timeout_after`: the timeout arm is a fresh one-hour timer channel each time:
//!   gort `recv(time::after(1h))`, crossbeam `recv(after(1h))`, tokio `sleep(1h)` (Go's
//!   `time.After` twin).
//! - `select_timeout_reused`: one timer, re-armed to one hour each iteration (gort
//!   `Timer::reset`; Go's `Stop` + `Reset` twin).
//!
//! Peers: tokio `select!` over two `mpsc::channel(1)` receivers (random branch order, its
//! default), may `select!` (one coroutine per arm; in a child process, as may reads its worker
//! count once), crossbeam-channel `select!` on an OS thread.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use support::{arm_id, child, runtimes, PROCS};

const HOUR: Duration = Duration::from_secs(3600);

fn main() {
    child::serve_if_child(child_dispatch);
    let mut criterion = support::criterion();

    for (group_name, workload) in [
        ("select_ready", Workload::Select),
        ("select_baseline_recv", Workload::Recv),
    ] {
        let mut group = criterion.benchmark_group(group_name);
        for procs in PROCS {
            group.bench_function(arm_id(procs, "gort"), |b| {
                b.iter_custom(|n| gort_loop(procs, workload, n))
            });
            if procs == 1 {
                let rt = runtimes::tokio_current_thread();
                group.bench_function(arm_id(1, "tokio_ct"), |b| {
                    b.iter_custom(|n| tokio_loop(&rt, workload, n))
                });
            }
            let rt = runtimes::tokio_multi_thread(procs);
            group.bench_function(arm_id(procs, "tokio_mt"), |b| {
                b.iter_custom(|n| tokio_loop(&rt, workload, n))
            });
            drop(rt);
            let child_workload = match workload {
                Workload::Select => "may_select",
                _ => "may_recv",
            };
            group.bench_function(arm_id(procs, "may"), |b| {
                b.iter_custom(|n| child::measure_in_child(child_workload, &[procs as u64, n]))
            });
            group.bench_function(arm_id(procs, "crossbeam"), |b| {
                b.iter_custom(|n| crossbeam_loop(workload, n))
            });
        }
        group.finish();
    }

    let mut group = criterion.benchmark_group("select_timeout_default");
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|n| gort_loop(procs, Workload::TimeoutDefault, n))
        });
    }
    group.bench_function(arm_id(1, "crossbeam"), |b| {
        b.iter_custom(|n| crossbeam_loop(Workload::TimeoutDefault, n))
    });
    group.finish();

    let mut group = criterion.benchmark_group("select_timeout_after");
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|n| gort_loop(procs, Workload::TimeoutAfter, n))
        });
        if procs == 1 {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("tokio runtime");
            group.bench_function(arm_id(1, "tokio_ct"), |b| {
                b.iter_custom(|n| tokio_loop(&rt, Workload::TimeoutAfter, n))
            });
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(procs)
            .enable_time()
            .build()
            .expect("tokio runtime");
        group.bench_function(arm_id(procs, "tokio_mt"), |b| {
            b.iter_custom(|n| tokio_loop(&rt, Workload::TimeoutAfter, n))
        });
    }
    group.bench_function(arm_id(1, "crossbeam"), |b| {
        b.iter_custom(|n| crossbeam_loop(Workload::TimeoutAfter, n))
    });
    group.finish();

    let mut group = criterion.benchmark_group("select_timeout_reused");
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|n| gort_loop(procs, Workload::TimeoutReused, n))
        });
    }
    group.finish();

    criterion.final_summary();
}

/// What each iteration does after sending i into A.
#[derive(Clone, Copy, Debug)]
enum Workload {
    /// Select over A and B (B never ready).
    Select,
    /// Plain receive from A.
    Recv,
    /// Select over A and a one-hour `default(timeout)`.
    TimeoutDefault,
    /// Select over A and a fresh one-hour timer channel.
    TimeoutAfter,
    /// Select over A and one timer re-armed to one hour.
    TimeoutReused,
}

fn child_dispatch(workload: &str, args: &[u64]) -> Duration {
    match (workload, args) {
        ("may_select", &[procs, n]) => may_loop(procs as usize, true, n),
        ("may_recv", &[procs, n]) => may_loop(procs as usize, false, n),
        other => panic!("unknown child workload {other:?}"),
    }
}

fn check(sum: u64, n: u64) {
    assert_eq!(sum, n * n.saturating_sub(1) / 2, "loop sum");
    black_box(sum);
}

fn gort_loop(procs: usize, workload: Workload, n: u64) -> Duration {
    gort::set_maxprocs(procs).expect("setting gort's maxprocs");
    let driver = gort::spawn(move || {
        let (a_tx, a_rx) = gort::chan::<u64>(1);
        let (_b_tx, b_rx) = gort::chan::<u64>(1);
        let timer = gort::time::Timer::new(HOUR);
        let mut sum = 0;
        let start = Instant::now();
        for i in 0..n {
            a_tx.send(i).unwrap();
            match workload {
                Workload::Select => gort::select! {
                    recv(a_rx) -> v => sum += v.unwrap(),
                    recv(b_rx) -> v => sum += v.unwrap() + 1,
                },
                Workload::Recv => sum += a_rx.recv().unwrap(),
                Workload::TimeoutDefault => gort::select! {
                    recv(a_rx) -> v => sum += v.unwrap(),
                    default(HOUR) => panic!("a one-hour timeout fired"),
                },
                Workload::TimeoutAfter => gort::select! {
                    recv(a_rx) -> v => sum += v.unwrap(),
                    recv(gort::time::after(HOUR)) -> _ => panic!("a one-hour timeout fired"),
                },
                Workload::TimeoutReused => {
                    timer.reset(HOUR);
                    gort::select! {
                        recv(a_rx) -> v => sum += v.unwrap(),
                        recv(timer) -> _ => panic!("a one-hour timeout fired"),
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        check(sum, n);
        elapsed
    });
    driver.join().expect("driver panicked")
}

fn tokio_loop(rt: &tokio::runtime::Runtime, workload: Workload, n: u64) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let (a_tx, mut a_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (_b_tx, mut b_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let mut sum = 0;
            let start = Instant::now();
            for i in 0..n {
                a_tx.send(i).await.unwrap();
                match workload {
                    Workload::Select => tokio::select! {
                        v = a_rx.recv() => sum += v.unwrap(),
                        v = b_rx.recv() => sum += v.unwrap() + 1,
                    },
                    Workload::Recv => sum += a_rx.recv().await.unwrap(),
                    Workload::TimeoutAfter => tokio::select! {
                        v = a_rx.recv() => sum += v.unwrap(),
                        _ = tokio::time::sleep(HOUR) => panic!("a one-hour timeout fired"),
                    },
                    other => unreachable!("no tokio arm for {other:?}"),
                }
            }
            let elapsed = start.elapsed();
            check(sum, n);
            elapsed
        })
        .await
        .expect("driver panicked")
    })
}

fn may_loop(procs: usize, select: bool, n: u64) -> Duration {
    runtimes::configure_may(procs);
    let driver = runtimes::may_go(move || {
        let (a_tx, a_rx) = may::sync::mpsc::channel::<u64>();
        let (_b_tx, b_rx) = may::sync::mpsc::channel::<u64>();
        let mut sum = 0;
        let start = Instant::now();
        for i in 0..n {
            a_tx.send(i).unwrap();
            if select {
                let mut got = 0;
                may::select!(
                    v = a_rx.recv() => got = v.unwrap(),
                    v = b_rx.recv() => got = v.unwrap() + 1
                );
                sum += got;
            } else {
                sum += a_rx.recv().unwrap();
            }
        }
        let elapsed = start.elapsed();
        check(sum, n);
        elapsed
    });
    driver.join().expect("driver panicked")
}

fn crossbeam_loop(workload: Workload, n: u64) -> Duration {
    use crossbeam_channel::{after, bounded, select};
    let (a_tx, a_rx) = bounded::<u64>(1);
    let (_b_tx, b_rx) = bounded::<u64>(1);
    let mut sum = 0;
    let start = Instant::now();
    for i in 0..n {
        a_tx.send(i).unwrap();
        match workload {
            Workload::Select => select! {
                recv(a_rx) -> v => sum += v.unwrap(),
                recv(b_rx) -> v => sum += v.unwrap() + 1,
            },
            Workload::Recv => sum += a_rx.recv().unwrap(),
            Workload::TimeoutDefault => select! {
                recv(a_rx) -> v => sum += v.unwrap(),
                default(HOUR) => panic!("a one-hour timeout fired"),
            },
            Workload::TimeoutAfter => select! {
                recv(a_rx) -> v => sum += v.unwrap(),
                recv(after(HOUR)) -> _ => panic!("a one-hour timeout fired"),
            },
            Workload::TimeoutReused => unreachable!("crossbeam has no resettable timer"),
        }
    }
    let elapsed = start.elapsed();
    check(sum, n);
    elapsed
}
