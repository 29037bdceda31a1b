//! `gort::context` against its peers: cancellation fan-out.
//!
//! Group (ids `group/Nproc/peer`, see benches/README.md; the Go twin is
//! `contextCancelFanOut` in `benches/go/sync.go`, row `context_cancel_10k`):
//! - `context_cancel_10k`: 10,000 tasks block on one context's done signal; the time runs
//!   from the cancel until every task has woken and counted itself (spawning the waiters and
//!   letting them block is not timed). One criterion iteration is one fan-out. gort: waiters
//!   `ctx.done().recv()`, counted by a `WaitGroup`. tokio (no context type; the usual
//!   stand-in): a `watch` channel the waiters `wait_for(|cancelled| *cancelled)` on, counted by
//!   the shared `Window` countdown with `Notify`.
//!
//! gort arms share this process's runtime and switch with `gort::set_maxprocs`.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::SamplingMode;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use gort::context::Context;
use gort::sync::WaitGroup;
use support::window::Window;
use support::{arm_id, runtimes, PROCS};

/// Waiters per fan-out.
const WAITERS: usize = 10_000;

fn main() {
    let mut criterion = support::criterion();
    let mut group = criterion.benchmark_group("context_cancel_10k");
    group.sampling_mode(SamplingMode::Flat);
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|fanouts| {
                gort::set_maxprocs(procs).expect("setting gort's maxprocs");
                gort_cancel_fanout(fanouts)
            })
        });
        if procs == 1 {
            let rt = runtimes::tokio_current_thread();
            group.bench_function(arm_id(1, "tokio_ct"), |b| {
                b.iter_custom(|fanouts| tokio_cancel_fanout(&rt, fanouts))
            });
        }
        let rt = runtimes::tokio_multi_thread(procs);
        group.bench_function(arm_id(procs, "tokio_mt"), |b| {
            b.iter_custom(|fanouts| tokio_cancel_fanout(&rt, fanouts))
        });
    }
    group.finish();
    criterion.final_summary();
}

fn gort_cancel_fanout(fanouts: u64) -> Duration {
    let driver = gort::spawn(move || {
        let mut total = Duration::ZERO;
        for _ in 0..fanouts {
            let (ctx, cancel) = Context::background().with_cancel();
            let started = WaitGroup::new();
            let woken = WaitGroup::new();
            started.add(WAITERS as isize);
            woken.add(WAITERS as isize);
            for _ in 0..WAITERS {
                let (ctx, started, woken) = (ctx.clone(), started.clone(), woken.clone());
                gort::spawn(move || {
                    started.done();
                    assert!(ctx.done().recv().is_err());
                    woken.done();
                });
            }
            started.wait();
            let start = Instant::now();
            cancel.cancel();
            woken.wait();
            total += start.elapsed();
        }
        total
    });
    driver.join().expect("the driver goroutine panicked")
}

fn tokio_cancel_fanout(rt: &Runtime, fanouts: u64) -> Duration {
    rt.block_on(async move {
        let driver = tokio::spawn(async move {
            let mut total = Duration::ZERO;
            for _ in 0..fanouts {
                let (cancel, cancelled) = tokio::sync::watch::channel(false);
                let started = Arc::new(Window::new(WAITERS, Notify::new()));
                let woken = Arc::new(Window::new(WAITERS, Notify::new()));
                for _ in 0..WAITERS {
                    let (mut cancelled, started, woken) =
                        (cancelled.clone(), Arc::clone(&started), Arc::clone(&woken));
                    tokio::spawn(async move {
                        if started.finish_one() {
                            started.signal.notify_one();
                        }
                        cancelled
                            .wait_for(|cancelled| *cancelled)
                            .await
                            .expect("the sender outlives the waiters");
                        if woken.finish_one() {
                            woken.signal.notify_one();
                        }
                    });
                }
                // `notify_one` leaves a permit if nobody waits yet, so no wake-up is lost.
                while !started.is_done() {
                    started.signal.notified().await;
                }
                let start = Instant::now();
                cancel.send_replace(true);
                while !woken.is_done() {
                    woken.signal.notified().await;
                }
                total += start.elapsed();
            }
            total
        });
        driver.await.expect("the driver task panicked")
    })
}
