//! `gort::local!` against `thread_local!`: the cost of one access.
//!
//! Group `local_access` (ns per access; ids `group/1proc/peer`): each access reads and
//! increments a `Cell<u64>` through the key's `with`. The key goes through `black_box`, so
//! the compiler cannot hoist the lookup out of the loop.
//! - `gort_local_in_goroutine`: `gort::local!` inside a goroutine (the per-goroutine table).
//! - `std_thread_local_in_goroutine`: `thread_local!` inside a goroutine (what `local!`
//!   replaces: it is per thread, so it is the wrong value once a goroutine migrates).
//! - `gort_local_on_thread`: `gort::local!` on a plain thread (the per-thread fallback).
//! - `std_thread_local_on_thread`: `thread_local!` on a plain thread.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::cell::Cell;
use std::hint::black_box;
use std::thread::LocalKey as StdLocalKey;
use std::time::{Duration, Instant};

use criterion::Throughput;
use gort::LocalKey;
use support::arm_id;

gort::local! {
    static GORT_COUNTER: Cell<u64> = Cell::new(0);
}

thread_local! {
    static STD_COUNTER: Cell<u64> = const { Cell::new(0) };
}

fn gort_accesses(n: u64) -> Duration {
    let key: &'static LocalKey<Cell<u64>> = black_box(&GORT_COUNTER);
    let start = Instant::now();
    for _ in 0..n {
        black_box(&GORT_COUNTER).with(|c| c.set(c.get() + 1));
    }
    let elapsed = start.elapsed();
    assert!(key.get() >= n);
    elapsed
}

fn std_accesses(n: u64) -> Duration {
    let key: &'static StdLocalKey<Cell<u64>> = black_box(&STD_COUNTER);
    let start = Instant::now();
    for _ in 0..n {
        black_box(&STD_COUNTER).with(|c| c.set(c.get() + 1));
    }
    let elapsed = start.elapsed();
    assert!(key.with(Cell::get) >= n);
    elapsed
}

fn main() {
    let mut criterion = support::criterion();
    gort::set_maxprocs(1).expect("setting gort's maxprocs");
    let mut group = criterion.benchmark_group("local_access");
    group.throughput(Throughput::Elements(1));
    group.bench_function(arm_id(1, "gort_local_in_goroutine"), |b| {
        b.iter_custom(|n| gort::spawn(move || gort_accesses(n)).join().unwrap())
    });
    group.bench_function(arm_id(1, "std_thread_local_in_goroutine"), |b| {
        b.iter_custom(|n| gort::spawn(move || std_accesses(n)).join().unwrap())
    });
    group.bench_function(arm_id(1, "gort_local_on_thread"), |b| {
        b.iter_custom(gort_accesses)
    });
    group.bench_function(arm_id(1, "std_thread_local_on_thread"), |b| {
        b.iter_custom(std_accesses)
    });
    group.finish();
    criterion.final_summary();
}
