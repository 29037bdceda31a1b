//! `gort::local!`: one value per goroutine (following it across threads), one per plain thread,
//! dropped when its goroutine finishes, and the error paths (re-entrant init, destruction).

mod sync_support;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sync_support::Mode;

const LIMIT: Duration = Duration::from_secs(60);

gort::local! {
    static COUNTER: Cell<u64> = Cell::new(0);
    static TRAIL: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

#[test]
fn each_goroutine_has_its_own_value_across_parks() {
    Mode::Goroutines.run(LIMIT, || {
        let goroutines = 200;
        let rounds = 50;
        // Every goroutine parks on a shared channel between increments, so goroutines resume
        // on whichever M is free: values must follow the goroutine, not the thread.
        let (tx, rx) = gort::chan::<()>(0);
        let mut handles = Vec::new();
        for id in 0..goroutines {
            let rx = rx.clone();
            handles.push(gort::spawn(move || {
                TRAIL.with_borrow_mut(|trail| trail.push(id));
                let mut threads = std::collections::HashSet::new();
                for _ in 0..rounds {
                    COUNTER.set(COUNTER.get() + 1);
                    threads.insert(std::thread::current().id());
                    rx.recv().unwrap();
                }
                let trail = TRAIL.take();
                (COUNTER.get(), trail, threads.len())
            }));
        }
        for _ in 0..goroutines * rounds {
            tx.send(()).unwrap();
        }
        let mut migrated = 0;
        for (id, handle) in handles.into_iter().enumerate() {
            let (count, trail, threads) = handle.join().unwrap();
            assert_eq!(count, rounds, "goroutine {id} saw another's counter");
            assert_eq!(trail, [id as u64]);
            if threads > 1 {
                migrated += 1;
            }
        }
        // Not asserted (scheduling decides), but reported: the test means something only if
        // some goroutines did change threads.
        eprintln!("{migrated} of {goroutines} goroutines ran on more than one thread");
    });
}

#[test]
fn plain_threads_get_one_value_each() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                for _ in 0..=i {
                    COUNTER.set(COUNTER.get() + 1);
                }
                COUNTER.get()
            })
        })
        .collect();
    let counts: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(counts, [1, 2, 3, 4]);
}

/// Counts drops into the counter it was made with.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

gort::local! {
    static TRACKED: RefCell<Option<DropCounter>> = RefCell::new(None);
}

#[test]
fn values_are_dropped_when_the_goroutine_finishes_before_join_returns() {
    for &mode in sync_support::MODES {
        mode.run(LIMIT, move || {
            let drops = Arc::new(AtomicUsize::new(0));
            for round in 1..=100 {
                let d = Arc::clone(&drops);
                let h = gort::spawn(move || {
                    TRACKED.set(Some(DropCounter(d)));
                    gort::yield_now();
                });
                h.join().unwrap();
                assert_eq!(drops.load(Ordering::SeqCst), round);
            }
            // A goroutine that panics drops its values too.
            let d = Arc::clone(&drops);
            let h = gort::spawn(move || {
                TRACKED.set(Some(DropCounter(d)));
                panic!("on purpose");
            });
            assert!(h.join().is_err());
            assert_eq!(drops.load(Ordering::SeqCst), 101);
        });
    }
}

#[test]
fn thread_values_are_dropped_at_thread_exit() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&drops);
    std::thread::spawn(move || TRACKED.set(Some(DropCounter(d))))
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

gort::local! {
    static NEVER_INIT: Cell<u32> = panic!("the initialiser must not run");
}

#[test]
fn set_does_not_run_the_initialiser() {
    let v = gort::spawn(|| {
        NEVER_INIT.set(5);
        NEVER_INIT.get()
    })
    .join()
    .unwrap();
    assert_eq!(v, 5);
}

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);

gort::local! {
    static FLAKY: u32 = {
        if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("first initialisation fails");
        }
        11
    };
}

#[test]
fn a_panicking_initialiser_can_be_retried() {
    let v = gort::spawn(|| {
        let first = std::panic::catch_unwind(|| FLAKY.with(|v| *v));
        assert!(first.is_err());
        FLAKY.with(|v| *v)
    })
    .join()
    .unwrap();
    assert_eq!(v, 11);
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 2);
}

gort::local! {
    static SELF_REFERENTIAL: u32 = SELF_REFERENTIAL.with(|v| *v + 1);
}

#[test]
fn an_initialiser_reading_its_own_key_panics() {
    let err = gort::spawn(|| SELF_REFERENTIAL.with(|v| *v))
        .join()
        .unwrap_err();
    assert!(
        err.panic_message().unwrap().contains("initialiser"),
        "{:?}",
        err.panic_message()
    );
}

/// Records, when dropped, whether goroutine-locals were still accessible.
struct ProbeOnDrop(Arc<AtomicUsize>);

impl Drop for ProbeOnDrop {
    fn drop(&mut self) {
        if COUNTER.try_with(|c| c.get()).is_err() {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

gort::local! {
    static PROBE: RefCell<Option<ProbeOnDrop>> = RefCell::new(None);
    static PANICS_ON_DROP: RefCell<Option<PanicOnDrop>> = RefCell::new(None);
}

#[test]
fn destructors_see_access_errors() {
    let refused = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&refused);
    gort::spawn(move || {
        COUNTER.set(1);
        PROBE.set(Some(ProbeOnDrop(r)));
    })
    .join()
    .unwrap();
    assert_eq!(refused.load(Ordering::SeqCst), 1);
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("destructor panicked");
    }
}

#[test]
fn a_panicking_destructor_becomes_the_goroutines_panic() {
    let err = gort::spawn(|| PANICS_ON_DROP.set(Some(PanicOnDrop)))
        .join()
        .unwrap_err();
    assert_eq!(err.panic_message(), Some("destructor panicked"));
    // The closure's own panic wins over a destructor's.
    let err = gort::spawn(|| {
        PANICS_ON_DROP.set(Some(PanicOnDrop));
        panic!("closure panicked");
    })
    .join()
    .unwrap_err();
    assert_eq!(err.panic_message(), Some("closure panicked"));
}
