//! `gort::Group` (errgroup): first error wins and cancels the rest, panics resume in `wait`,
//! the concurrency limit holds, parent cancellation reaches the tasks.

mod sync_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::context::{Context, ContextError};
use gort::Group;
use sync_support::MODES;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn all_ok_waits_for_every_task() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            let group = Group::<String>::new();
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..500 {
                let done = Arc::clone(&done);
                group.spawn(move |_ctx| {
                    gort::yield_now();
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            }
            assert_eq!(group.wait(), Ok(()));
            assert_eq!(done.load(Ordering::SeqCst), 500);
            assert_eq!(
                group.context().err(),
                Some(ContextError::Canceled),
                "wait cancels the context"
            );
        });
    }
}

#[test]
fn the_first_error_is_returned_and_cancels_the_others() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            for _ in 0..20 {
                let group = Group::new();
                let cancelled = Arc::new(AtomicUsize::new(0));
                for _ in 0..50 {
                    let cancelled = Arc::clone(&cancelled);
                    group.spawn(move |ctx| {
                        // Blocks until the failing task cancels the shared context.
                        assert_eq!(ctx.done().recv(), Err(gort::RecvError));
                        cancelled.fetch_add(1, Ordering::SeqCst);
                        Err("cancelled sibling")
                    });
                }
                group.spawn(|_ctx| Err("the first failure"));
                assert_eq!(group.wait(), Err("the first failure"));
                assert_eq!(cancelled.load(Ordering::SeqCst), 50);
                assert_eq!(group.wait(), Ok(()), "the error is returned once");
            }
        });
    }
}

#[test]
fn a_panic_cancels_the_others_and_resumes_in_wait() {
    let group = Group::<()>::new();
    group.spawn(|ctx| {
        let _ = ctx.done().recv();
        Ok(())
    });
    group.spawn(|_ctx| panic!("task exploded"));
    let payload =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.wait())).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"task exploded"));
}

#[test]
fn the_limit_bounds_concurrency() {
    for &mode in MODES {
        mode.run(LIMIT, || {
            let group = Group::<()>::new().with_limit(3);
            let running = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            for _ in 0..200 {
                let running = Arc::clone(&running);
                let peak = Arc::clone(&peak);
                group.spawn(move |_ctx| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    gort::yield_now();
                    gort::sleep(Duration::from_micros(50));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                });
            }
            group.wait().unwrap();
            let peak = peak.load(Ordering::SeqCst);
            assert!((1..=3).contains(&peak), "peak concurrency {peak}");
        });
    }
}

#[test]
fn cancelling_the_parent_reaches_the_tasks() {
    let (parent, cancel) = Context::background().with_cancel();
    let group = Group::<ContextError>::with_context(&parent);
    for _ in 0..10 {
        group.spawn(|ctx| match gort::sleep_ctx(&ctx, Duration::from_secs(60)) {
            Ok(()) => Ok(()),
            Err(e) => Err(e),
        });
    }
    cancel.cancel();
    assert_eq!(group.wait(), Err(ContextError::Canceled));
}

#[test]
fn the_new_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Context>();
    send_sync::<gort::context::CancelHandle>();
    send_sync::<gort::pool::Pool>();
    send_sync::<Group<String>>();
    send_sync::<gort::LocalKey<std::cell::Cell<u32>>>();
    send::<gort::context::CancelGuard>();
}
