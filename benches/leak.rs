//! The leak tracker's costs: per-site counting on spawn + complete, and a snapshot of
//! 100,000 live goroutines (time, memory, and how long it holds up a concurrent spawner).
//!
//! Groups:
//! - `leak_spawn_complete/{1,2}proc/{go_counted,spawn_uncounted}`: spawn + complete of
//!   trivial goroutines in windows of 1,000 (as `benches/spawn.rs`'s `spawn_window_1k`),
//!   once through `go!` (which declares a per-site static counter: one atomic increment at
//!   spawn, one decrement at finish) and once through `gort::spawn` (no per-site counter).
//!   Both take the same path otherwise, so the ratio is the counter's overhead. Criterion
//!   runs the arms one after the other; on a shared machine that alone can move a figure by
//!   more than the 5% under test, so before criterion this binary also prints a paired
//!   measurement: rounds alternating the two arms, and the median of the per-round ratios.
//! - `leak_snapshot/100k/{snapshot,dump}`: `gort::leak::snapshot()` and `dump()` with
//!   100,000 goroutines parked in a chain of joins. Printed beside it: the bytes a snapshot
//!   allocates and keeps (a counting global allocator), and the latency of single spawns from
//!   a concurrent thread while snapshots run back to back, against the same without them.
#![warn(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the counters are only
// statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const WINDOW: u64 = 1_000;
const PARKED: usize = 100_000;

/// Spawns and completes `tasks` goroutines in windows, through `go!` or `gort::spawn`.
fn spawn_complete(tasks: u64, counted: bool) -> Duration {
    gort::spawn(move || {
        let counter = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(WINDOW as usize);
        let start = Instant::now();
        let mut left = tasks;
        while left > 0 {
            let size = left.min(WINDOW);
            left -= size;
            for _ in 0..size {
                let counter = Arc::clone(&counter);
                let body = move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                };
                handles.push(if counted {
                    gort::go!(body)
                } else {
                    gort::spawn(body)
                });
            }
            for h in handles.drain(..) {
                h.join().unwrap();
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), tasks);
        elapsed
    })
    .join()
    .unwrap()
}

/// Alternating rounds of both arms; prints the median ratio counted/uncounted.
fn paired_overhead(procs: usize) {
    gort::set_maxprocs(procs).unwrap();
    const ROUNDS: usize = 41;
    const TASKS: u64 = 100_000;
    spawn_complete(TASKS, true);
    spawn_complete(TASKS, false);
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut counted_ns, mut uncounted_ns) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which arm goes first, so drift is not charged to one of them.
        let (c, u) = if round % 2 == 0 {
            let c = spawn_complete(TASKS, true);
            (c, spawn_complete(TASKS, false))
        } else {
            let u = spawn_complete(TASKS, false);
            (spawn_complete(TASKS, true), u)
        };
        ratios.push(c.as_secs_f64() / u.as_secs_f64());
        counted_ns.push(c.as_nanos() as f64 / TASKS as f64);
        uncounted_ns.push(u.as_nanos() as f64 / TASKS as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let ratio = median(&mut ratios);
    println!(
        "paired {procs}proc: go! (per-site counter) {:.1} ns/task, gort::spawn {:.1} ns/task, median ratio {ratio:.4} => overhead {:+.2}% ({ROUNDS} rounds of {TASKS})",
        median(&mut counted_ns),
        median(&mut uncounted_ns),
        (ratio - 1.0) * 100.0
    );
}

/// Parks `n` goroutines in a chain of joins behind a gate; returns the gate and the chain's
/// last handle.
fn park_chain(n: usize) -> (Arc<AtomicBool>, gort::JoinHandle<()>) {
    let gate = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let g = gate.clone();
    let mut prev = gort::go!(move || {
        while !g.load(Ordering::Acquire) {
            gort::sleep(Duration::from_millis(5));
        }
    });
    for _ in 0..n - 1 {
        let before = prev;
        let s = started.clone();
        prev = gort::go!(gort::Builder::new().name("parked"), move || {
            s.fetch_add(1, Ordering::Relaxed);
            before.join().unwrap();
        });
    }
    while started.load(Ordering::Relaxed) < n - 1 {
        std::thread::sleep(Duration::from_millis(5));
    }
    (gate, prev)
}

/// Latencies of single spawns from a plain thread over `window` (p99, p99.9, max), with or
/// without snapshots running back to back on another thread; and how many snapshots ran.
fn spawn_latencies(window: Duration, with_snapshots: bool) -> ([Duration; 3], usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let snapshots = Arc::new(AtomicUsize::new(0));
    let snapshotter = with_snapshots.then(|| {
        let (stop, snapshots) = (stop.clone(), snapshots.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(gort::leak::snapshot());
                snapshots.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let start = Instant::now();
    let mut latencies = Vec::new();
    while start.elapsed() < window {
        let t = Instant::now();
        let h = gort::spawn(|| ());
        latencies.push(t.elapsed());
        h.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = snapshotter {
        t.join().unwrap();
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (
        [at(0.99), at(0.999), at(1.0)],
        snapshots.load(Ordering::Relaxed),
    )
}

fn snapshot_figures() {
    let live_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(live_before, Ordering::Relaxed);
    let t = Instant::now();
    let snap = gort::leak::snapshot();
    let took = t.elapsed();
    let kept = LIVE.load(Ordering::Relaxed) - live_before;
    let peak = PEAK.load(Ordering::Relaxed) - live_before;
    println!(
        "snapshot of {} goroutines: {took:?}, keeps {} bytes ({:.1} per goroutine), peak {} bytes while taking it",
        snap.len(),
        kept,
        kept as f64 / snap.len() as f64,
        peak
    );
    drop(snap);
    let t = Instant::now();
    let dump = gort::leak::dump();
    println!(
        "dump of the same: {:?}, {} groups",
        t.elapsed(),
        dump.groups().len()
    );
    let (quiet, _) = spawn_latencies(Duration::from_secs(2), false);
    let (busy, n) = spawn_latencies(Duration::from_secs(2), true);
    println!(
        "single spawns from a plain thread over 2 s (p99 / p99.9 / max): alone {quiet:?}; during {n} back-to-back snapshots {busy:?}"
    );
}

fn main() {
    for procs in [1, 2] {
        paired_overhead(procs);
    }
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut group = criterion.benchmark_group("leak_spawn_complete");
    group.sampling_mode(SamplingMode::Flat);
    for procs in [1, 2] {
        for (arm, counted) in [("go_counted", true), ("spawn_uncounted", false)] {
            group.bench_function(format!("{procs}proc/{arm}"), |b| {
                b.iter_custom(|n| {
                    gort::set_maxprocs(procs).unwrap();
                    spawn_complete(n, counted)
                })
            });
        }
    }
    group.finish();

    gort::set_maxprocs(2).unwrap();
    let (gate, last) = park_chain(PARKED);
    snapshot_figures();
    let mut group = criterion.benchmark_group("leak_snapshot");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.bench_function("100k/snapshot", |b| {
        b.iter(|| black_box(gort::leak::snapshot()))
    });
    group.bench_function("100k/dump", |b| b.iter(|| black_box(gort::leak::dump())));
    group.finish();
    gate.store(true, Ordering::Release);
    last.join().unwrap();
    criterion.final_summary();
}
