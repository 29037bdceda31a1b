//! A million goroutines parked at once, on a stock kernel.
//!
//! Ignored by default (a few GiB of address space and ~30 s in a debug build); run with
//! `cargo test --release --test rt_parked -- --ignored --nocapture`.
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Parks `n` goroutines in a chain of joins (each waits for the one before it; the first
/// waits on a gate), measures resident memory per parked goroutine, then releases the gate
/// and checks every goroutine finishes. Returns bytes per parked goroutine.
fn park_chain(n: usize) -> usize {
    let gate = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let baseline_count = gort::num_goroutines();
    let rss_before = support::rss_bytes();
    let g = gate.clone();
    let mut prev = gort::go!(move || {
        while !g.load(Ordering::Acquire) {
            gort::sleep(Duration::from_millis(1));
        }
    });
    for _ in 0..n {
        let (s, f) = (started.clone(), finished.clone());
        let before = prev;
        prev = gort::go!(move || {
            s.fetch_add(1, Ordering::Relaxed);
            before.join().unwrap();
            f.fetch_add(1, Ordering::Relaxed);
        });
    }
    while started.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(gort::num_goroutines(), baseline_count + n + 1);
    let per_g = (support::rss_bytes() - rss_before) / n;
    let start = Instant::now();
    gate.store(true, Ordering::Release);
    prev.join().unwrap();
    assert_eq!(finished.load(Ordering::Relaxed), n);
    assert_eq!(gort::num_goroutines(), baseline_count);
    eprintln!(
        "{n} parked goroutines: {per_g} resident bytes each; all woke and finished in {:?}",
        start.elapsed()
    );
    per_g
}

#[test]
fn ten_thousand_parked_goroutines_cost_little_memory() {
    let _serial = support::serial();
    let per_g = park_chain(10_000);
    // A 4 KiB stack page plus the header; generous bound for a debug build's deeper frames.
    assert!(per_g <= 12 * 1024, "{per_g} bytes per parked goroutine");
}

#[test]
#[ignore = "a million goroutines: run with --release -- --ignored"]
fn a_million_parked_goroutines_fit() {
    let _serial = support::serial();
    let per_g = park_chain(1_000_000);
    assert!(per_g <= 6 * 1024, "{per_g} bytes per parked goroutine");
}
