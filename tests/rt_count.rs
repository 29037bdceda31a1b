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

/// Goroutines spawned on one P finish on another (stolen), others are spawned from plain
/// threads and from goroutines, while snapshots walk the Gs: no walk lists a G twice, and once
/// every handle is joined the count is back at its baseline and no walk lists a joined G.
#[test]
fn the_count_and_the_walk_agree_across_ps_and_threads() {
    let _serial = support::serial();
    let old = gort::set_maxprocs(2).unwrap();
    let baseline = gort::num_goroutines();
    for _round in 0..20 {
        let parents: Vec<_> = (0..4)
            .map(|_| {
                gort::go!(|| {
                    let children: Vec<_> = (0..200)
                        .map(|i| {
                            gort::go!(move || {
                                if i % 7 == 0 {
                                    gort::yield_now();
                                }
                                i
                            })
                        })
                        .collect();
                    children
                        .into_iter()
                        .map(|h| (h.id(), h.join().unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let from_threads: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..100)
                        .map(|i| gort::go!(move || i))
                        .map(|h| (h.id(), h.join().unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // Walks racing the churn (a G listed may finish before its record is read, so only
        // the walk's own consistency is checked here: ids are unique).
        for _ in 0..5 {
            let snapshot = gort::leak::snapshot();
            let ids: std::collections::HashSet<u64> = snapshot.iter().map(|g| g.id()).collect();
            assert_eq!(ids.len(), snapshot.iter().count());
        }
        let mut joined: Vec<u64> = Vec::new();
        for parent in parents {
            joined.extend(parent.join().unwrap().into_iter().map(|(id, _)| id));
        }
        for thread in from_threads {
            joined.extend(thread.join().unwrap().into_iter().map(|(id, _)| id));
        }
        assert_eq!(gort::num_goroutines(), baseline);
        let listed: std::collections::HashSet<u64> =
            gort::leak::snapshot().iter().map(|g| g.id()).collect();
        assert!(joined.iter().all(|id| !listed.contains(id)));
    }
    gort::set_maxprocs(old).unwrap();
}
