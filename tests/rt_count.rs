//! `num_goroutines` is exact: it counts parked goroutines and returns to its baseline.
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn num_goroutines_counts_live_goroutines_exactly() {
    let _serial = support::serial();
    let baseline = gort::num_goroutines();
    const N: usize = 5_000;
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..N)
        .map(|_| {
            let (release, started) = (release.clone(), started.clone());
            gort::go!(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    gort::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < N {
        std::thread::yield_now();
    }
    assert_eq!(gort::num_goroutines(), baseline + N);
    release.store(true, Ordering::SeqCst);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(gort::num_goroutines(), baseline);
}

#[test]
fn a_joined_goroutine_no_longer_counts() {
    let _serial = support::serial();
    let baseline = gort::num_goroutines();
    for _ in 0..1000 {
        gort::go!(|| ()).join().unwrap();
        assert_eq!(gort::num_goroutines(), baseline);
    }
}
