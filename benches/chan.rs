//! Channel throughput and latency, gort beside its peers (anchors' c and d).
//!
//! - `pingpong`: round trips over two unbuffered channels; the echo side replies v+1 and the
//!   sum is checked. ns per round trip. Peers: tokio `mpsc::channel(1)` (tokio has no
//!   rendezvous channel), may's unbounded `mpsc` (may has no bounded one; one message is in
//!   flight), crossbeam `bounded(0)` and flume `bounded(0)` between two OS threads.
//! - `buffered_1to1`, `buffered_4to4`: capacity 1024, producers send 0..n/p, consumers sum.
//!   ns per message. Peers: tokio `mpsc::channel(1024)` (1→1 only: its receiver is single),
//!   may's unbounded `mpsc`/`mpmc` (no bounded channel), crossbeam and flume `bounded(1024)`
//!   on OS threads.
//!
//! gort arms run inside a driver goroutine at `set_maxprocs(N)`; the OS-thread arms are
//! pinned to CPU 0 at 1 proc and unpinned at 2.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use support::{arm_id, child, runtimes, PROCS};

fn main() {
    child::serve_if_child(child_dispatch);
    let mut criterion = support::criterion();

    let mut group = criterion.benchmark_group("pingpong");
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|n| gort_pingpong(procs, n))
        });
        if procs == 1 {
            let rt = runtimes::tokio_current_thread();
            group.bench_function(arm_id(1, "tokio_ct"), |b| {
                b.iter_custom(|n| tokio_pingpong(&rt, n))
            });
        }
        let rt = runtimes::tokio_multi_thread(procs);
        group.bench_function(arm_id(procs, "tokio_mt"), |b| {
            b.iter_custom(|n| tokio_pingpong(&rt, n))
        });
        drop(rt);
        group.bench_function(arm_id(procs, "may"), |b| {
            b.iter_custom(|n| child::measure_in_child("may_pingpong", &[procs as u64, n]))
        });
        group.bench_function(arm_id(procs, "crossbeam"), |b| {
            b.iter_custom(|n| on_threads(procs, || crossbeam_pingpong(n)))
        });
        group.bench_function(arm_id(procs, "flume"), |b| {
            b.iter_custom(|n| on_threads(procs, || flume_pingpong(n)))
        });
    }
    group.finish();

    for (name, pairs) in [("buffered_1to1", 1), ("buffered_4to4", 4)] {
        let mut group = criterion.benchmark_group(name);
        for procs in PROCS {
            group.bench_function(arm_id(procs, "gort"), |b| {
                b.iter_custom(|n| gort_buffered(procs, pairs, n))
            });
            if pairs == 1 {
                if procs == 1 {
                    let rt = runtimes::tokio_current_thread();
                    group.bench_function(arm_id(1, "tokio_ct"), |b| {
                        b.iter_custom(|n| tokio_buffered(&rt, n))
                    });
                }
                let rt = runtimes::tokio_multi_thread(procs);
                group.bench_function(arm_id(procs, "tokio_mt"), |b| {
                    b.iter_custom(|n| tokio_buffered(&rt, n))
                });
            }
            group.bench_function(arm_id(procs, "may_unbounded"), |b| {
                b.iter_custom(|n| {
                    child::measure_in_child("may_buffered", &[procs as u64, pairs, n])
                })
            });
            group.bench_function(arm_id(procs, "crossbeam"), |b| {
                b.iter_custom(|n| on_threads(procs, || crossbeam_buffered(pairs, n)))
            });
            group.bench_function(arm_id(procs, "flume"), |b| {
                b.iter_custom(|n| on_threads(procs, || flume_buffered(pairs, n)))
            });
        }
        group.finish();
    }
    criterion.final_summary();
}

fn child_dispatch(workload: &str, args: &[u64]) -> Duration {
    match (workload, args) {
        ("may_pingpong", &[procs, n]) => may_pingpong(procs as usize, n),
        ("may_buffered", &[procs, pairs, n]) => may_buffered(procs as usize, pairs, n),
        other => panic!("unknown child workload {other:?}"),
    }
}

/// Runs an OS-thread arm pinned to CPU 0 (1 proc) or unpinned (2 procs).
fn on_threads(procs: usize, arm: impl FnOnce() -> Duration) -> Duration {
    let _pin = (procs == 1)
        .then(|| support::affinity::pin_current_thread_to_cpu0().expect("pinning to CPU 0"));
    arm()
}

fn check_pingpong(sum: u64, n: u64) {
    assert_eq!(sum, n * (n + 1) / 2, "ping-pong sum");
    black_box(sum);
}

/// The sum the consumers of a buffered run must see: each of `pairs` producers sends 0..per.
fn buffered_sum(pairs: u64, per: u64) -> u64 {
    pairs * (per * per.saturating_sub(1) / 2)
}

fn gort_pingpong(procs: usize, n: u64) -> Duration {
    gort::set_maxprocs(procs).expect("setting gort's maxprocs");
    let driver = gort::spawn(move || {
        let (ping_tx, ping_rx) = gort::chan::<u64>(0);
        let (pong_tx, pong_rx) = gort::chan::<u64>(0);
        let echo = gort::spawn(move || {
            for value in ping_rx {
                pong_tx.send(value + 1).unwrap();
            }
        });
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..n {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv().unwrap();
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.join().expect("echo panicked");
        check_pingpong(sum, n);
        elapsed
    });
    driver.join().expect("driver panicked")
}

fn tokio_pingpong(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let echo = tokio::spawn(async move {
                while let Some(value) = ping_rx.recv().await {
                    pong_tx.send(value + 1).await.unwrap();
                }
            });
            let start = Instant::now();
            let mut sum = 0;
            for i in 0..n {
                ping_tx.send(i).await.unwrap();
                sum += pong_rx.recv().await.unwrap();
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            echo.await.expect("echo panicked");
            check_pingpong(sum, n);
            elapsed
        })
        .await
        .expect("driver panicked")
    })
}

fn may_pingpong(procs: usize, n: u64) -> Duration {
    runtimes::configure_may(procs);
    let driver = runtimes::may_go(move || {
        let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
        let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
        let echo = runtimes::may_go(move || {
            while let Ok(value) = ping_rx.recv() {
                pong_tx.send(value + 1).unwrap();
            }
        });
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..n {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv().unwrap();
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.join().expect("echo panicked");
        check_pingpong(sum, n);
        elapsed
    });
    driver.join().expect("driver panicked")
}

/// The OS-thread arms: crossbeam-channel and flume share an API shape.
macro_rules! os_thread_arms {
    ($pingpong:ident, $buffered:ident, $krate:ident) => {
        fn $pingpong(n: u64) -> Duration {
            let (ping_tx, ping_rx) = $krate::bounded::<u64>(0);
            let (pong_tx, pong_rx) = $krate::bounded::<u64>(0);
            let echo = std::thread::spawn(move || {
                while let Ok(value) = ping_rx.recv() {
                    pong_tx.send(value + 1).unwrap();
                }
            });
            let start = Instant::now();
            let mut sum = 0;
            for i in 0..n {
                ping_tx.send(i).unwrap();
                sum += pong_rx.recv().unwrap();
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            echo.join().expect("echo panicked");
            check_pingpong(sum, n);
            elapsed
        }

        fn $buffered(pairs: u64, n: u64) -> Duration {
            let per = (n / pairs).max(1);
            let (tx, rx) = $krate::bounded::<u64>(1024);
            let start_line = std::sync::Arc::new(std::sync::Barrier::new(2 * pairs as usize + 1));
            let producers: Vec<_> = (0..pairs)
                .map(|_| {
                    let (tx, start_line) = (tx.clone(), start_line.clone());
                    std::thread::spawn(move || {
                        start_line.wait();
                        for i in 0..per {
                            tx.send(i).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..pairs)
                .map(|_| {
                    let (rx, start_line) = (rx.clone(), start_line.clone());
                    std::thread::spawn(move || {
                        start_line.wait();
                        let mut sum = 0u64;
                        while let Ok(value) = rx.recv() {
                            sum += value;
                        }
                        (sum, Instant::now())
                    })
                })
                .collect();
            drop(rx);
            start_line.wait();
            let start = Instant::now();
            producers
                .into_iter()
                .for_each(|p| p.join().expect("producer panicked"));
            let (mut sum, mut end) = (0, start);
            for consumer in consumers {
                let (part, finished) = consumer.join().expect("consumer panicked");
                sum += part;
                end = end.max(finished);
            }
            assert_eq!(sum, buffered_sum(pairs, per), "buffered sum");
            black_box(sum);
            support::scale_to(end - start, pairs * per, n)
        }
    };
}

os_thread_arms!(crossbeam_pingpong, crossbeam_buffered, crossbeam_channel);
os_thread_arms!(flume_pingpong, flume_buffered, flume);

fn gort_buffered(procs: usize, pairs: u64, n: u64) -> Duration {
    gort::set_maxprocs(procs).expect("setting gort's maxprocs");
    let per = (n / pairs).max(1);
    let driver = gort::spawn(move || {
        let (tx, rx) = gort::chan::<u64>(1024);
        let start = Instant::now();
        let producers: Vec<_> = (0..pairs)
            .map(|_| {
                let tx = tx.clone();
                gort::spawn(move || {
                    for i in 0..per {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..pairs)
            .map(|_| {
                let rx = rx.clone();
                gort::spawn(move || rx.iter().sum::<u64>())
            })
            .collect();
        drop(rx);
        producers
            .into_iter()
            .for_each(|p| p.join().expect("producer panicked"));
        let sum: u64 = consumers
            .into_iter()
            .map(|c| c.join().expect("consumer panicked"))
            .sum();
        let elapsed = start.elapsed();
        assert_eq!(sum, buffered_sum(pairs, per), "buffered sum");
        black_box(sum);
        elapsed
    });
    support::scale_to(driver.join().expect("driver panicked"), pairs * per, n)
}

fn tokio_buffered(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    let n = n.max(1);
    rt.block_on(async move {
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
            let start = Instant::now();
            let producer = tokio::spawn(async move {
                for i in 0..n {
                    tx.send(i).await.unwrap();
                }
            });
            let mut sum = 0;
            while let Some(value) = rx.recv().await {
                sum += value;
            }
            producer.await.expect("producer panicked");
            let elapsed = start.elapsed();
            assert_eq!(sum, buffered_sum(1, n), "buffered sum");
            black_box(sum);
            elapsed
        })
        .await
        .expect("driver panicked")
    })
}

fn may_buffered(procs: usize, pairs: u64, n: u64) -> Duration {
    runtimes::configure_may(procs);
    let per = (n / pairs).max(1);
    let driver = runtimes::may_go(move || {
        let (tx, rx) = may::sync::mpmc::channel::<u64>();
        let start = Instant::now();
        let producers: Vec<_> = (0..pairs)
            .map(|_| {
                let tx = tx.clone();
                runtimes::may_go(move || {
                    for i in 0..per {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..pairs)
            .map(|_| {
                let rx = rx.clone();
                runtimes::may_go(move || {
                    let mut sum = 0u64;
                    while let Ok(value) = rx.recv() {
                        sum += value;
                    }
                    sum
                })
            })
            .collect();
        drop(rx);
        producers
            .into_iter()
            .for_each(|p| p.join().expect("producer panicked"));
        let sum: u64 = consumers
            .into_iter()
            .map(|c| c.join().expect("consumer panicked"))
            .sum();
        let elapsed = start.elapsed();
        assert_eq!(sum, buffered_sum(pairs, per), "buffered sum");
        black_box(sum);
        elapsed
    });
    support::scale_to(driver.join().expect("driver panicked"), pairs * per, n)
}
