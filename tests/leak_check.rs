//! `gort::leak::check` and `Scope`: goleak for gort, per test and parallel-safe.
//!
//! "Leaked" goroutines here wait on a release flag (sleeping 1 ms at a time) so each test
//! frees them at the end; the checks use few retries to stay fast.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use gort::go;
use gort::leak::{self, IgnoreList, Options, Scope};

/// A goroutine body that lives until `release` is set.
fn until(release: &Arc<AtomicBool>) -> impl FnOnce() + Send + 'static {
    let release = release.clone();
    move || {
        while !release.load(Ordering::Acquire) {
            gort::sleep(Duration::from_millis(1));
        }
    }
}

fn quick() -> Options {
    Options::new()
        .retries(4)
        .max_backoff(Duration::from_millis(5))
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn a_clean_body_passes_and_returns_its_value() {
    let v = leak::check(|| {
        let hs: Vec<_> = (0..100u64).map(|i| go!(move || i * 2)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(v, 9_900);
}

#[test]
fn a_leaked_goroutine_fails_the_check_with_its_spawn_site() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let mut line = 0;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        leak::check_with(quick(), || {
            let body = until(&r);
            line = line!();
            go!(gort::Builder::new().name("forgotten"), body);
        })
    }));
    release.store(true, Ordering::Release);
    let message = panic_message(result.unwrap_err());
    assert!(
        message.contains("1 goroutine spawned in this scope is still alive"),
        "{message}"
    );
    assert!(
        message.contains(&format!("@ {}:{}:", file!(), line + 1)),
        "{message}"
    );
    assert!(message.contains("(forgotten)"), "{message}");
}

#[test]
fn descendants_of_the_scope_are_found() {
    let release = Arc::new(AtomicBool::new(false));
    let scope = Scope::with_options(quick());
    let body = until(&release);
    // The parent finishes at once; the grandchild it spawned leaks.
    go!(move || {
        go!(gort::Builder::new().name("grandchild"), body);
    })
    .join()
    .unwrap();
    let leaked = scope.verify().unwrap_err();
    release.store(true, Ordering::Release);
    let names: Vec<_> = leaked
        .goroutines()
        .iter()
        .map(|g| g.name().map(str::to_owned))
        .collect();
    assert_eq!(names, vec![Some("grandchild".to_owned())]);
    assert!(leaked.goroutines().goroutines()[0].parent_id().is_some());
}

#[test]
fn goroutines_still_finishing_are_not_blamed() {
    // Not joined: each finishes a little after the body returns; the retries wait for them.
    leak::check(|| {
        for i in 0..20 {
            go!(move || gort::sleep(Duration::from_millis(5 + i)));
        }
    });
}

#[test]
fn parallel_scopes_see_only_their_own_goroutines() {
    const THREADS: usize = 8;
    let release = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS));
    let spawned = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (release, start, spawned) = (release.clone(), start.clone(), spawned.clone());
            std::thread::spawn(move || {
                start.wait();
                let scope = Scope::with_options(quick());
                let leaker = (t % 2 == 1).then(|| {
                    go!(
                        gort::Builder::new().name(format!("leak-of-thread-{t}")),
                        until(&release)
                    )
                    .id()
                });
                let joined: Vec<_> = (0..50).map(|i| go!(move || i)).collect();
                // Every thread's goroutines are alive at once before anyone verifies.
                spawned.wait();
                joined.into_iter().for_each(|h| {
                    h.join().unwrap();
                });
                (leaker, scope.verify())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    release.store(true, Ordering::Release);
    for (t, (leaker, verdict)) in results.into_iter().enumerate() {
        match leaker {
            None => assert!(verdict.is_ok(), "thread {t}: {}", verdict.unwrap_err()),
            Some(id) => {
                let leaked = verdict.unwrap_err();
                let ids: Vec<u64> = leaked.goroutines().iter().map(|g| g.id()).collect();
                assert_eq!(ids, vec![id], "thread {t}");
            }
        }
    }
}

#[test]
fn the_ignore_list_spares_known_long_lived_goroutines() {
    let release = Arc::new(AtomicBool::new(false));
    let spawn_at_ignored_site = |r: &Arc<AtomicBool>| go!(until(r));
    let ignored_line = line!() - 1;
    let options = quick().ignore(
        IgnoreList::new()
            .name("janitor")
            .name("pool-*")
            .site(format!("{}:{ignored_line}", file!())),
    );
    leak::check_with(options, || {
        go!(gort::Builder::new().name("janitor"), until(&release));
        go!(gort::Builder::new().name("pool-3"), until(&release));
        spawn_at_ignored_site(&release);
    });
    release.store(true, Ordering::Release);
}

#[test]
fn dropping_an_unverified_scope_panics_on_a_leak() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        let _scope = Scope::with_options(quick());
        go!(until(&r));
    }));
    release.store(true, Ordering::Release);
    assert!(panic_message(result.unwrap_err()).contains("still alive"));
}

#[test]
fn a_scope_opened_inside_a_goroutine() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (clean, leaky) = gort::run(move || {
        let clean = leak::check(|| go!(|| 7).join().unwrap());
        let scope = Scope::with_options(quick());
        go!(until(&r));
        (clean, scope.verify())
    });
    release.store(true, Ordering::Release);
    assert_eq!(clean, 7);
    assert_eq!(leaky.unwrap_err().goroutines().len(), 1);
}

#[test]
fn an_outer_scope_also_sees_an_inner_scope_leak() {
    let release = Arc::new(AtomicBool::new(false));
    let outer = Scope::with_options(quick());
    let inner = Scope::with_options(quick());
    go!(gort::Builder::new().name("inner-leak"), until(&release));
    assert_eq!(inner.verify().unwrap_err().goroutines().len(), 1);
    go!(gort::Builder::new().name("outer-leak"), until(&release));
    let leaked = outer.verify().unwrap_err();
    release.store(true, Ordering::Release);
    let mut names: Vec<_> = leaked
        .goroutines()
        .iter()
        .filter_map(|g| g.name())
        .collect();
    names.sort();
    assert_eq!(names, ["inner-leak", "outer-leak"]);
}

#[test]
fn goroutines_spawned_outside_the_scope_are_not_members() {
    let release = Arc::new(AtomicBool::new(false));
    let before = go!(until(&release));
    let scope = Scope::with_options(quick());
    let inside = go!(|| ());
    inside.join().unwrap();
    scope.verify().unwrap();
    release.store(true, Ordering::Release);
    before.join().unwrap();
}
