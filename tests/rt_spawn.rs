//! Spawning and joining: from goroutines and threads, nested, a million, exactly once.
mod support;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn spawn_and_join_from_a_plain_thread() {
    let h = gort::spawn(|| 21 * 2);
    assert!(h.id() > 0);
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn spawn_and_join_from_a_goroutine() {
    let outer = gort::go!(|| {
        let inner = gort::go!(|| String::from("inner"));
        let me = gort::current().unwrap().id();
        (inner.join().unwrap(), me)
    });
    let (s, id) = outer.join().unwrap();
    assert_eq!(s, "inner");
    assert!(id > 0);
}

#[test]
fn join_from_many_threads_and_goroutines_at_once() {
    let handles: Vec<_> = (0..200u64).map(|i| gort::go!(move || i)).collect();
    let mut joiners = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        if i % 2 == 0 {
            joiners.push(std::thread::spawn(move || h.join().unwrap()));
        } else {
            let g = gort::go!(move || h.join().unwrap());
            joiners.push(std::thread::spawn(move || g.join().unwrap()));
        }
    }
    let sum: u64 = joiners.into_iter().map(|j| j.join().unwrap()).sum();
    assert_eq!(sum, (0..200).sum());
}

fn tree(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let a = gort::go!(move || tree(depth - 1));
    let b = gort::go!(move || tree(depth - 1));
    a.join().unwrap() + b.join().unwrap()
}

#[test]
fn nested_spawns_build_a_tree() {
    assert_eq!(gort::run(|| tree(12)), 4096);
}

#[test]
fn a_million_spawns_each_run_exactly_once() {
    const N: usize = 1_000_000;
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let done = Arc::new(AtomicUsize::new(0));
    let (r, d) = (runs.clone(), done.clone());
    gort::run(move || {
        for i in 0..N {
            let (r, d) = (r.clone(), d.clone());
            gort::spawn(move || {
                r[i].fetch_add(1, Ordering::Relaxed);
                d.fetch_add(1, Ordering::Release);
            });
        }
        while d.load(Ordering::Acquire) < N {
            gort::yield_now();
        }
    });
    assert_eq!(done.load(Ordering::Acquire), N);
    let wrong = runs
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) != 1)
        .count();
    assert_eq!(
        wrong, 0,
        "{wrong} goroutines ran a number of times other than once"
    );
}

#[test]
fn spawning_from_many_threads_at_once() {
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let count = count.clone();
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..2_000)
                    .map(|_| {
                        let count = count.clone();
                        gort::go!(move || {
                            count.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(Ordering::Relaxed), 16_000);
}

#[test]
fn builder_names_and_rejects_unusable_stacks() {
    let h = gort::Builder::new()
        .name("worker")
        .spawn(|| gort::current().map(|g| g.name().map(str::to_owned)))
        .unwrap();
    assert_eq!(h.name(), Some("worker"));
    assert_eq!(h.join().unwrap(), Some(Some("worker".to_owned())));
    let err = gort::Builder::new()
        .stack_size(10)
        .spawn(|| ())
        .unwrap_err();
    assert!(err.to_string().contains("below the minimum"), "{err}");
    let big = gort::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            // Use most of a 1 MiB stack.
            let buf = [7u8; 600 * 1024];
            std::hint::black_box(&buf)
                .iter()
                .map(|&b| b as usize)
                .sum::<usize>()
        })
        .unwrap();
    assert_eq!(big.join().unwrap(), 7 * 600 * 1024);
}

#[test]
fn goroutine_ids_are_unique() {
    let hs: Vec<_> = (0..1000)
        .map(|_| gort::go!(|| gort::current().unwrap().id()))
        .collect();
    let mut ids: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1000);
    assert!(
        gort::current().is_none(),
        "a plain thread is not a goroutine"
    );
}

#[test]
fn is_finished_turns_true() {
    let h = gort::go!(|| 5);
    while !h.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(h.join().unwrap(), 5);
}

#[test]
fn current_knows_parent_site_and_state() {
    let (parent, child_parent, line, state) = gort::go!(|| {
        let me = gort::current().unwrap().id();
        let child = gort::go!(|| {
            let g = gort::current().unwrap();
            (g.parent_id(), g.spawn_site().line(), g.state())
        });
        let (p, line, state) = child.join().unwrap();
        (me, p, line, state)
    })
    .join()
    .unwrap();
    assert_eq!(child_parent, Some(parent));
    assert!(line > 0);
    assert_eq!(state, gort::GState::Running);
    let top = gort::go!(|| gort::current().unwrap().parent_id())
        .join()
        .unwrap();
    assert_eq!(top, None, "spawned from a plain thread");
}
