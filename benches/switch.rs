//! Yield ping-pong on one processor: two tasks each yield n times, so every yield switches to
//! the other task. Reported time is per yield, i.e. per switch (anchors' b). One criterion
//! iteration is one yield; each task yields half of them.
//!
//! Peers: gort `yield_now` at `set_maxprocs(1)`, tokio `yield_now` on current_thread and on multi_thread with 1 worker, may
//! `yield_now` with 1 worker (in a child process), `std::thread::yield_now` with both
//! threads pinned to CPU 0.
//!
//! Two floors, so the scheduler's own cost is a difference in one run, not a guess:
//! `floor_coroutines` resumes two bare corosensei coroutines in turn from a plain loop (one
//! resume + suspend per switch: what any stackful runtime pays), and `floor_coroutines_fifo`
//! adds the pop + push on a crossbeam-deque FIFO `Worker` that a yield costs a scheduler that
//! sends yielders through that deque. gort's yielders trade places in their P's `yielded` slot
//! (the queue's tail, one swap), so gort's row minus the first floor is what its scheduler
//! adds: the slot swap, G states, the sysmon tick, the overflow record, the current-G
//! pointer, the fairness ticks.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use support::{arm_id, child, runtimes, scale_to};

fn main() {
    child::serve_if_child(child_dispatch);
    let mut criterion = support::criterion();
    let mut group = criterion.benchmark_group("switch");

    group.bench_function(arm_id(1, "gort"), |b| b.iter_custom(gort_switch));
    let rt = runtimes::tokio_current_thread();
    group.bench_function(arm_id(1, "tokio_ct"), |b| {
        b.iter_custom(|n| tokio_switch(&rt, n))
    });
    drop(rt);
    let rt = runtimes::tokio_multi_thread(1);
    group.bench_function(arm_id(1, "tokio_mt"), |b| {
        b.iter_custom(|n| tokio_switch(&rt, n))
    });
    drop(rt);
    group.bench_function(arm_id(1, "may"), |b| {
        b.iter_custom(|n| child::measure_in_child("may_switch", &[n]))
    });
    group.bench_function(arm_id(1, "std_thread"), |b| {
        b.iter_custom(std_thread_switch)
    });
    group.bench_function(arm_id(1, "floor_coroutines"), |b| {
        b.iter_custom(|n| floor_switch(n, false))
    });
    group.bench_function(arm_id(1, "floor_coroutines_fifo"), |b| {
        b.iter_custom(|n| floor_switch(n, true))
    });

    group.finish();
    criterion.final_summary();
}

fn child_dispatch(workload: &str, args: &[u64]) -> Duration {
    match (workload, args) {
        ("may_switch", &[switches]) => may_switch(switches),
        other => panic!("unknown child workload {other:?}"),
    }
}

/// The floors (see the module docs): `switches` resume + suspend pairs over two bare
/// coroutines taken in turn, with `with_queue` each taken from and put back on a FIFO deque.
fn floor_switch(switches: u64, with_queue: bool) -> Duration {
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    let make = || {
        Coroutine::new(|yielder: &Yielder<(), ()>, ()| loop {
            yielder.suspend(())
        })
    };
    let mut coroutines = [make(), make()];
    let queue = crossbeam_deque::Worker::new_fifo();
    // A stealer exists, as in a scheduler (it changes nothing on the owner's path).
    let _stealer = queue.stealer();
    queue.push(0usize);
    queue.push(1usize);
    let start = Instant::now();
    let mut next = 0usize;
    for _ in 0..switches {
        let which = if with_queue {
            queue.pop().expect("two entries circulate")
        } else {
            next ^= 1;
            next
        };
        if let CoroutineResult::Return(()) = coroutines[which].resume(()) {
            unreachable!("the floor coroutines never return");
        }
        if with_queue {
            queue.push(std::hint::black_box(which));
        }
    }
    start.elapsed()
}

/// Yields per task so that the two tasks together switch at least `switches` times.
fn per_task(switches: u64) -> u64 {
    switches.div_ceil(2)
}

fn gort_switch(switches: u64) -> Duration {
    gort::set_maxprocs(1).expect("setting gort's maxprocs");
    let each = per_task(switches);
    let driver = gort::spawn(move || {
        let start = Instant::now();
        let first = gort::spawn(move || gort_yielder(each));
        let second = gort::spawn(move || gort_yielder(each));
        first.join().expect("yielder panicked");
        second.join().expect("yielder panicked");
        start.elapsed()
    });
    scale_to(driver.join().expect("driver panicked"), 2 * each, switches)
}

fn gort_yielder(yields: u64) {
    for _ in 0..yields {
        gort::yield_now();
    }
}

fn tokio_switch(rt: &Runtime, switches: u64) -> Duration {
    let each = per_task(switches);
    let elapsed = rt.block_on(async move {
        // Spawn the two yielders from a task so they start on a worker's queue.
        let driver = tokio::spawn(async move {
            let start = Instant::now();
            let first = tokio::spawn(tokio_yielder(each));
            let second = tokio::spawn(tokio_yielder(each));
            first.await.expect("yielder panicked");
            second.await.expect("yielder panicked");
            start.elapsed()
        });
        driver.await.expect("driver panicked")
    });
    scale_to(elapsed, 2 * each, switches)
}

async fn tokio_yielder(yields: u64) {
    for _ in 0..yields {
        tokio::task::yield_now().await;
    }
}

fn may_switch(switches: u64) -> Duration {
    runtimes::configure_may(1);
    let each = per_task(switches);
    let start = Instant::now();
    let yielders: Vec<_> = (0..2)
        .map(|_| {
            runtimes::may_go(move || {
                for _ in 0..each {
                    may::coroutine::yield_now();
                }
            })
        })
        .collect();
    for yielder in yielders {
        yielder.join().expect("yielder panicked");
    }
    scale_to(start.elapsed(), 2 * each, switches)
}

fn std_thread_switch(switches: u64) -> Duration {
    let each = per_task(switches);
    let _pin = support::affinity::pin_current_thread_to_cpu0().expect("pinning to CPU 0");
    // Both yielders and the timer start together, after thread creation.
    let start_line = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let start_line = Arc::clone(&start_line);
            std::thread::spawn(move || {
                start_line.wait();
                for _ in 0..each {
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    for thread in threads {
        thread.join().expect("yielder panicked");
    }
    scale_to(start.elapsed(), 2 * each, switches)
}
