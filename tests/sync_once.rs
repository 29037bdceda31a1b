//! `gort::sync::{Once, OnceCell, Lazy}`: exactly-once under races, retry after a panic.

mod sync_support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::{Lazy, Once, OnceCell};
use sync_support::{join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

/// Keeps the initialiser running a little so racing callers really park behind it.
fn busy_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

#[test]
fn racing_callers_run_the_closure_once_and_see_its_effect() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..100 {
                let once = Arc::new(Once::new());
                let runs = Arc::new(AtomicUsize::new(0));
                let published = Arc::new(AtomicUsize::new(0));
                let callers = mode.spawn_many(mode.crowd(), {
                    let once = Arc::clone(&once);
                    let runs = Arc::clone(&runs);
                    let published = Arc::clone(&published);
                    move |_| {
                        once.call_once(|| {
                            runs.fetch_add(1, Ordering::Relaxed);
                            busy_for(Duration::from_micros(200));
                            // Relaxed: the Once must publish it.
                            published.store(42, Ordering::Relaxed);
                        });
                        published.load(Ordering::Relaxed)
                    }
                });
                for seen in join_all(callers) {
                    assert_eq!(seen, 42, "returned before the closure finished");
                }
                assert_eq!(runs.load(Ordering::Relaxed), 1);
                assert!(once.is_completed());
            }
        });
    }
}

#[test]
fn a_panicking_closure_is_retried_by_a_waiter() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..50 {
                let once = Arc::new(Once::new());
                let attempts = Arc::new(AtomicUsize::new(0));
                let callers = mode.spawn_many(mode.crowd(), {
                    let once = Arc::clone(&once);
                    let attempts = Arc::clone(&attempts);
                    move |_| {
                        catch_unwind(AssertUnwindSafe(|| {
                            once.call_once(|| {
                                let attempt = attempts.fetch_add(1, Ordering::Relaxed);
                                busy_for(Duration::from_micros(100));
                                if attempt == 0 {
                                    panic!("first attempt fails");
                                }
                            })
                        }))
                        .is_err()
                    }
                });
                let panicked = join_all(callers)
                    .into_iter()
                    .filter(|&failed| failed)
                    .count();
                assert_eq!(panicked, 1, "only the failing runner sees the panic");
                assert_eq!(
                    attempts.load(Ordering::Relaxed),
                    2,
                    "one failure, one success"
                );
                assert!(once.is_completed());
            }
        });
    }
}

#[test]
fn once_after_a_panic_runs_the_next_call() {
    let once = Once::new();
    assert!(catch_unwind(|| once.call_once(|| panic!("no"))).is_err());
    assert!(!once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(ran);
    assert!(once.is_completed());
    assert_eq!(format!("{once:?}"), "Once { completed: true, .. }");
}

#[test]
fn once_cell_racers_share_one_value() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..100 {
                let cell = Arc::new(OnceCell::new());
                let runs = Arc::new(AtomicUsize::new(0));
                let callers = mode.spawn_many(mode.crowd(), {
                    let cell = Arc::clone(&cell);
                    let runs = Arc::clone(&runs);
                    move |index| {
                        let value: &String = cell.get_or_init(|| {
                            runs.fetch_add(1, Ordering::Relaxed);
                            busy_for(Duration::from_micros(100));
                            format!("from {index}")
                        });
                        (value.clone(), value as *const String as usize)
                    }
                });
                let results = join_all(callers);
                assert_eq!(runs.load(Ordering::Relaxed), 1);
                assert!(results.windows(2).all(|pair| pair[0] == pair[1]));
                assert_eq!(cell.get(), Some(&results[0].0));
            }
        });
    }
}

#[test]
fn once_cell_failed_init_leaves_it_empty() {
    let cell: OnceCell<u32> = OnceCell::new();
    assert_eq!(cell.get_or_try_init(|| Err("down")), Err("down"));
    assert_eq!(cell.get(), None);
    assert!(catch_unwind(AssertUnwindSafe(|| cell.get_or_init(|| panic!("boom")))).is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(cell.get_or_try_init(|| Ok::<_, &str>(7)), Ok(&7));
    assert_eq!(cell.set(8), Err(8));
    assert_eq!(format!("{cell:?}"), "OnceCell(7)");
    assert_eq!(format!("{:?}", OnceCell::<u8>::new()), "OnceCell(<uninit>)");
}

#[test]
fn once_cell_drops_its_value_exactly_once() {
    let value = Arc::new(());
    let cell = OnceCell::new();
    cell.set(Arc::clone(&value)).unwrap();
    let copy = cell.clone();
    assert_eq!(Arc::strong_count(&value), 3);
    drop(cell);
    assert_eq!(Arc::strong_count(&value), 2);
    let mut copy = copy;
    let taken = copy.take().unwrap();
    assert_eq!(copy.get(), None);
    drop(copy);
    assert_eq!(Arc::strong_count(&value), 2);
    drop(taken);
    assert_eq!(Arc::strong_count(&value), 1);
    assert_eq!(OnceCell::<u8>::new().into_inner(), None);
}

static LAZY_RUNS: AtomicUsize = AtomicUsize::new(0);
static TABLE: Lazy<Vec<u64>> = Lazy::new(|| {
    LAZY_RUNS.fetch_add(1, Ordering::Relaxed);
    busy_for(Duration::from_micros(200));
    (0..100).collect()
});

#[test]
fn lazy_static_initialises_once_under_a_race() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let sums = mode.spawn_many(mode.crowd(), |_| TABLE.iter().sum::<u64>());
            assert!(join_all(sums).into_iter().all(|sum| sum == 4950));
            assert_eq!(LAZY_RUNS.load(Ordering::Relaxed), 1);
        });
    }
}

#[test]
fn lazy_retries_after_a_panicking_initialiser() {
    let attempts = AtomicUsize::new(0);
    let lazy = Lazy::new(|| {
        if attempts.fetch_add(1, Ordering::Relaxed) == 0 {
            panic!("transient");
        }
        "ready"
    });
    assert!(catch_unwind(AssertUnwindSafe(|| *lazy)).is_err());
    assert_eq!(Lazy::get(&lazy), None);
    assert_eq!(*lazy, "ready");
    assert_eq!(format!("{lazy:?}"), "Lazy(\"ready\")");
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
}
