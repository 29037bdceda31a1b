//! `gort::context`: cancellation trees (deep, wide, racing), deadlines, values, and the
//! context-bounded operations, on plain threads and on goroutines.

mod sync_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::context::{Context, ContextError, ContextRecvError, ContextSendError};
use gort::sync::WaitGroup;
use sync_support::{Mode, MODES};

const LIMIT: Duration = Duration::from_secs(60);
/// "Fast" for a whole tree, generous for a debug build on a loaded 2-CPU machine.
const FAST: Duration = Duration::from_secs(2);

/// Spawns one waiter per context; each counts itself in `woken` once its done channel closed
/// and the error is visible. Returns when every waiter is blocked... or about to block: the
/// test does not depend on which (a waiter arriving late sees a closed channel).
fn spawn_waiters(
    mode: Mode,
    contexts: &[Context],
    woken: &Arc<WaitGroup>,
) -> Vec<sync_support::Task<()>> {
    woken.add(contexts.len() as isize);
    contexts
        .iter()
        .map(|ctx| {
            let ctx = ctx.clone();
            let woken = Arc::clone(woken);
            mode.spawn(move || {
                assert!(ctx.done().recv().is_err(), "a done channel only closes");
                assert!(ctx.err().is_some());
                woken.done();
            })
        })
        .collect()
}

#[test]
fn a_chain_of_depth_1000_cancels_completely_and_fast() {
    Mode::Goroutines.run(LIMIT, || {
        for _ in 0..5 {
            let (root, cancel) = Context::background().with_cancel();
            let mut chain = vec![root];
            let mut handles = Vec::new();
            for _ in 0..1000 {
                let (child, handle) = chain.last().unwrap().with_cancel();
                chain.push(child);
                handles.push(handle);
            }
            let woken = Arc::new(WaitGroup::new());
            let waiters = spawn_waiters(Mode::Goroutines, &chain, &woken);
            let start = Instant::now();
            cancel.cancel();
            assert!(
                chain.iter().all(Context::is_done),
                "cancel returned before the subtree was done"
            );
            assert!(
                woken.wait_timeout(FAST),
                "not every waiter woke within {FAST:?}"
            );
            let elapsed = start.elapsed();
            assert!(elapsed < FAST, "cancelling 1,001 contexts took {elapsed:?}");
            sync_support::join_all(waiters);
            assert!(chain
                .iter()
                .all(|c| c.err() == Some(ContextError::Canceled)));
        }
    });
}

#[test]
fn a_fan_of_width_10000_cancels_completely_and_fast() {
    Mode::Goroutines.run(LIMIT, || {
        for _ in 0..3 {
            let (root, cancel) = Context::background().with_cancel();
            let (children, _handles): (Vec<_>, Vec<_>) =
                (0..10_000).map(|_| root.with_cancel()).unzip();
            let woken = Arc::new(WaitGroup::new());
            let waiters = spawn_waiters(Mode::Goroutines, &children, &woken);
            let start = Instant::now();
            cancel.cancel();
            assert!(children.iter().all(Context::is_done));
            assert!(
                woken.wait_timeout(FAST),
                "not every waiter woke within {FAST:?}"
            );
            let elapsed = start.elapsed();
            assert!(
                elapsed < FAST,
                "cancelling 10,000 children took {elapsed:?}"
            );
            sync_support::join_all(waiters);
        }
    });
}

#[test]
fn a_deep_and_wide_tree_with_deadlines_cancels_from_the_root_deadline() {
    Mode::Goroutines.run(LIMIT, || {
        let (root, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
        let mut all = vec![root.clone()];
        let mut frontier = vec![root];
        // 4 levels of 10 = 11,110 contexts, some with later deadlines of their own.
        for level in 0..4 {
            let mut next = Vec::new();
            for parent in &frontier {
                for i in 0..10 {
                    let (child, _c) = if i % 2 == 0 {
                        parent.with_timeout(Duration::from_secs(3600 + level))
                    } else {
                        parent.with_cancel()
                    };
                    all.push(child.clone());
                    next.push(child);
                }
            }
            frontier = next;
        }
        assert_eq!(all.len(), 11_111);
        // The cascade runs on the timer's thread; a node being done says nothing about the
        // others yet, so wait for each.
        for ctx in &all {
            assert_eq!(ctx.done().recv(), Err(gort::RecvError));
            assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        }
    });
}

#[test]
fn cancelling_a_middle_node_cancels_its_subtree_only() {
    let (root, _c0) = Context::background().with_cancel();
    let (middle, cancel_middle) = root.with_cancel();
    let (sibling, _c1) = root.with_cancel();
    let (below, _c2) = middle.with_value("k", 1).with_cancel();
    let (below_below, _c3) = below.with_timeout(Duration::from_secs(60));
    cancel_middle.cancel();
    assert!(middle.is_done() && below.is_done() && below_below.is_done());
    assert!(!root.is_done() && !sibling.is_done());
    assert_eq!(below_below.value::<i32>("k"), Some(&1));
}

#[test]
fn children_made_while_the_root_is_cancelled_all_end_cancelled() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..50 {
                let (root, cancel) = Context::background().with_cancel();
                let makers: Vec<_> = (0..4)
                    .map(|_| {
                        let root = root.clone();
                        mode.spawn(move || {
                            let mut made = Vec::new();
                            for i in 0..200 {
                                let (child, handle) = root.with_cancel();
                                // Some children cancel themselves, some are dropped at once.
                                match i % 3 {
                                    0 => handle.cancel(),
                                    1 => continue,
                                    _ => {}
                                }
                                let _ = child.done(); // races the cancel making the channel
                                made.push(child.with_cancel().0);
                                mode.yield_now_if_goroutine();
                            }
                            made
                        })
                    })
                    .collect();
                mode.yield_now();
                cancel.cancel();
                for made in sync_support::join_all(makers) {
                    for child in made {
                        assert!(child.is_done(), "a child outlived its root's cancel");
                        assert!(child.done().is_closed());
                    }
                }
            }
        });
    }
}

#[test]
fn the_first_reason_wins() {
    let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(1));
    assert_eq!(ctx.done().recv(), Err(gort::RecvError));
    cancel.cancel();
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));

    let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(1));
    cancel.cancel();
    gort::sleep(Duration::from_millis(5));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn a_dropped_context_never_closes_a_cloned_done_channel() {
    let (ctx, cancel) = Context::background().with_cancel();
    let done = ctx.done().clone();
    drop((ctx, cancel));
    assert_eq!(
        done.recv_timeout(Duration::from_millis(20)),
        Err(gort::RecvTimeoutError::Timeout)
    );
    assert_eq!(
        Context::background()
            .done()
            .recv_timeout(Duration::from_millis(1)),
        Err(gort::RecvTimeoutError::Timeout)
    );
}

#[test]
fn many_waiters_on_threads_and_goroutines_wake_on_cancel() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..20 {
                let (ctx, cancel) = Context::background().with_cancel();
                let woken = Arc::new(WaitGroup::new());
                let contexts = vec![ctx; mode.crowd()];
                let waiters = spawn_waiters(mode, &contexts, &woken);
                cancel.cancel();
                woken.wait();
                sync_support::join_all(waiters);
            }
        });
    }
}

#[test]
fn sleep_ctx_returns_early_on_cancel() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let (ctx, cancel) = Context::background().with_cancel();
            let sleeper = {
                let ctx = ctx.clone();
                mode.spawn(move || {
                    let start = Instant::now();
                    (
                        gort::sleep_ctx(&ctx, Duration::from_secs(30)),
                        start.elapsed(),
                    )
                })
            };
            cancel.cancel();
            let (outcome, took) = sleeper.join();
            assert_eq!(outcome, Err(ContextError::Canceled));
            assert!(took < Duration::from_secs(10));
            // A sleep that ends first is Ok and not shortened.
            let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(30));
            let start = Instant::now();
            assert_eq!(gort::sleep_ctx(&ctx, Duration::from_millis(5)), Ok(()));
            assert!(start.elapsed() >= Duration::from_millis(5));
        });
    }
}

#[test]
fn recv_and_send_with_a_context() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let (ctx, cancel) = Context::background().with_cancel();
            let (tx, rx) = gort::chan::<u32>(0);
            let received = Arc::new(AtomicUsize::new(0));
            let consumer = {
                let ctx = ctx.clone();
                let received = Arc::clone(&received);
                mode.spawn(move || loop {
                    match ctx.recv(&rx) {
                        Ok(_) => {
                            received.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => return e,
                    }
                })
            };
            for i in 0..100 {
                ctx.send(&tx, i).unwrap();
            }
            cancel.cancel();
            assert_eq!(
                consumer.join(),
                ContextRecvError::Done(ContextError::Canceled)
            );
            assert_eq!(received.load(Ordering::SeqCst), 100);
            // A send blocked on a channel nobody reads returns its value on cancel.
            let (ctx, cancel) = Context::background().with_cancel();
            let (tx, _rx) = gort::chan::<String>(0);
            let sender = mode.spawn(move || ctx.send(&tx, "kept".to_owned()));
            cancel.cancel();
            match sender.join() {
                Err(ContextSendError::Done(ContextError::Canceled, value)) => {
                    assert_eq!(value, "kept")
                }
                other => panic!("unexpected {other:?}"),
            }
            // Background: plain operations; closed channels report Closed.
            let (tx, rx) = gort::chan::<u32>(1);
            let bg = Context::background();
            bg.send(&tx, 1).unwrap();
            assert_eq!(bg.recv(&rx), Ok(1));
            drop(tx);
            assert_eq!(bg.recv(&rx), Err(ContextRecvError::Closed));
        });
    }
}

#[test]
fn values_are_found_through_cancel_layers_and_shadowed() {
    #[derive(PartialEq)]
    struct Key;
    let ctx = Context::background().with_value(Key, "outer".to_string());
    let (ctx, _c) = ctx.with_cancel();
    let inner = ctx.with_value(Key, "inner".to_string());
    assert_eq!(ctx.value::<String>(Key).unwrap(), "outer");
    assert_eq!(inner.value::<String>(Key).unwrap(), "inner");
    assert_eq!(inner.value::<String>("Key"), None);
    let shared = inner.clone();
    assert!(
        gort::spawn(move || shared.value::<String>(Key).cloned())
            .join()
            .unwrap()
            .as_deref()
            == Some("inner")
    );
}
