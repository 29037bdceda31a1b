//! `gort::pool` against its peers: many tiny tasks through a worker pool.
//!
//! Group (ids `group/Nproc/peer`, see benches/README.md; the Go twin is `pool` in
//! `benches/go/sync.go`, row `pool_1m`: 8 goroutines ranging over a channel of capacity 1024):
//! - `pool_1m`: one iteration is one tiny task (add its number to a shared atomic); a sample
//!   submits all of its tasks from one submitter and waits for them (pool start and stop are
//!   inside the time, as in Go's twin; flat sampling, so run with `--measurement-time` large
//!   enough for ~1,000,000 tasks a sample to match the Go row exactly). The sum is asserted.
//!   - `gort_pool`: `gort::pool::Pool`, 8 workers, queue capacity 1024, `submit` + `shutdown`.
//!   - `gort_chan`: the Go program's shape in gort (8 worker goroutines ranging over a
//!     `gort::chan` of capacity 1024): what the pool adds over a bare channel.
//!   - `tokio_ct`/`tokio_mt`: one `tokio::spawn` per task (tokio's own answer to "run many
//!     small tasks"), in windows of 1024 (spawn, wait for all, repeat: at most as many tasks
//!     in flight as the pool's queue holds), counted by the shared `Window` countdown.
//!   - `rayon`: a rayon `ThreadPool` of `procs` threads, one `scope.spawn` per task (rayon's
//!     work-stealing deques, no queue bound): the rayon-style baseline.
//!
//! gort arms share this process's runtime and switch with `gort::set_maxprocs`.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{SamplingMode, Throughput};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use gort::pool::Pool;
use support::window::{self, Window};
use support::{arm_id, runtimes, PROCS};

/// Workers of the pool arms (Go's twin uses 8).
const WORKERS: usize = 8;
/// Queue capacity of the pool arms (Go's twin: a channel of 1024).
const QUEUE: usize = 1024;

fn expected_sum(tasks: u64) -> u64 {
    tasks * tasks.saturating_sub(1) / 2
}

fn main() {
    let mut criterion = support::criterion();
    let mut group = criterion.benchmark_group("pool_1m");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    for procs in PROCS {
        group.bench_function(arm_id(procs, "gort_pool"), |b| {
            b.iter_custom(|tasks| {
                gort::set_maxprocs(procs).expect("setting gort's maxprocs");
                gort_pool(tasks)
            })
        });
        group.bench_function(arm_id(procs, "gort_chan"), |b| {
            b.iter_custom(|tasks| {
                gort::set_maxprocs(procs).expect("setting gort's maxprocs");
                gort_chan(tasks)
            })
        });
        if procs == 1 {
            let rt = runtimes::tokio_current_thread();
            group.bench_function(arm_id(1, "tokio_ct"), |b| {
                b.iter_custom(|tasks| tokio_spawn(&rt, tasks))
            });
        }
        let rt = runtimes::tokio_multi_thread(procs);
        group.bench_function(arm_id(procs, "tokio_mt"), |b| {
            b.iter_custom(|tasks| tokio_spawn(&rt, tasks))
        });
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(procs)
            .build()
            .expect("building a rayon pool");
        group.bench_function(arm_id(procs, "rayon"), |b| {
            b.iter_custom(|tasks| rayon_scope(&pool, tasks))
        });
    }
    group.finish();
    criterion.final_summary();
}

/// The shared sum of the arms whose tasks must be `'static` (gort's pool, tokio): a static,
/// so that no arm pays a reference count per task (Go's and rayon's tasks borrow theirs).
static SUM: AtomicU64 = AtomicU64::new(0);

fn gort_pool(tasks: u64) -> Duration {
    let driver = gort::spawn(move || {
        let sum = &SUM;
        sum.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let pool = Pool::builder()
            .workers(WORKERS)
            .queue_capacity(QUEUE)
            .build();
        for i in 0..tasks {
            pool.submit(move || {
                sum.fetch_add(i, Ordering::Relaxed);
            })
            .expect("the pool is open");
        }
        let stats = pool.shutdown();
        let elapsed = start.elapsed();
        assert_eq!(stats.completed, tasks);
        assert_eq!(sum.load(Ordering::Relaxed), expected_sum(tasks));
        elapsed
    });
    driver.join().expect("the driver goroutine panicked")
}

fn gort_chan(tasks: u64) -> Duration {
    let driver = gort::spawn(move || {
        let sum = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let (jobs, queue) = gort::chan::<u64>(QUEUE);
        let finished = gort::sync::WaitGroup::new();
        for _ in 0..WORKERS {
            let (queue, sum, token) = (queue.clone(), Arc::clone(&sum), finished.enter());
            gort::spawn(move || {
                for job in queue {
                    sum.fetch_add(job, Ordering::Relaxed);
                }
                drop(token);
            });
        }
        drop(queue);
        for i in 0..tasks {
            jobs.send(i).expect("workers are receiving");
        }
        drop(jobs);
        finished.wait();
        let elapsed = start.elapsed();
        assert_eq!(sum.load(Ordering::Relaxed), expected_sum(tasks));
        elapsed
    });
    driver.join().expect("the driver goroutine panicked")
}

fn tokio_spawn(rt: &Runtime, tasks: u64) -> Duration {
    rt.block_on(async move {
        let driver = tokio::spawn(async move {
            let sum = &SUM;
            sum.store(0, Ordering::Relaxed);
            let start = Instant::now();
            // Windows of QUEUE tasks: at most that many exist at once, as in the pool's queue
            // (spawning all of them first would measure memory growth instead).
            let mut next = 0;
            for size in window::sizes(tasks, QUEUE as u64) {
                let state = Arc::new(Window::new(size, Notify::new()));
                for i in next..next + size as u64 {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        sum.fetch_add(i, Ordering::Relaxed);
                        if state.finish_one() {
                            state.signal.notify_one();
                        }
                    });
                }
                next += size as u64;
                // `notify_one` leaves a permit if nobody waits yet, so no wake-up is lost.
                while !state.is_done() {
                    state.signal.notified().await;
                }
            }
            let elapsed = start.elapsed();
            assert_eq!(sum.load(Ordering::Relaxed), expected_sum(tasks));
            elapsed
        });
        driver.await.expect("the driver task panicked")
    })
}

fn rayon_scope(pool: &rayon::ThreadPool, tasks: u64) -> Duration {
    let sum = AtomicU64::new(0);
    let start = Instant::now();
    pool.scope(|scope| {
        for i in 0..tasks {
            let sum = &sum;
            scope.spawn(move |_| {
                sum.fetch_add(i, Ordering::Relaxed);
            });
        }
    });
    let elapsed = start.elapsed();
    assert_eq!(sum.load(Ordering::Relaxed), expected_sum(tasks));
    elapsed
}
