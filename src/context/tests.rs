//! Internal checks of the cancellation tree: children leave their parent's list, deadlines
//! cost one timer and release it.

use std::time::{Duration, Instant};

use super::{Context, ContextError};

fn children(ctx: &Context) -> (usize, usize) {
    let node = ctx.cancel.as_ref().expect("a cancellable context");
    (node.child_count(), node.child_slots())
}

#[test]
fn cancelled_children_leave_the_parent_list() {
    let (root, _cancel) = Context::background().with_cancel();
    for _ in 0..10_000 {
        let (_child, cancel) = root.with_cancel();
        cancel.cancel();
        assert_eq!(children(&root), (0, 0));
    }
}

#[test]
fn dropped_children_leave_the_parent_list_and_slots_are_reused() {
    let (root, _cancel) = Context::background().with_cancel();
    let mut live = Vec::new();
    for round in 0..1_000 {
        live.push(root.with_cancel());
        live.push(root.with_value("round", round).with_cancel());
        if live.len() > 8 {
            live.drain(..4);
        }
        let (count, slots) = children(&root);
        assert_eq!(count, live.len());
        assert!(slots <= 10, "the child list grew to {slots} slots");
    }
    drop(live);
    assert_eq!(children(&root), (0, 0));
}

#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled_and_unlisted() {
    let (root, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (child, _c) = root.with_cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(children(&root), (0, 0));
    assert!(child.done().is_closed());
}

fn timer(ctx: &Context) -> Option<crate::runtime::timer::TimerHandle> {
    ctx.cancel.as_ref().and_then(|node| node.timer())
}

#[test]
fn a_deadline_is_one_timer_released_on_cancel_and_on_drop() {
    let (ctx, cancel) = Context::background().with_timeout(Duration::from_secs(600));
    let root_timer = timer(&ctx).expect("a deadline arms a timer");
    // A child with a later deadline needs no timer of its own.
    let (late_child, _c) = ctx.with_timeout(Duration::from_secs(900));
    assert_eq!(timer(&late_child), None);
    // One with an earlier deadline does; dropping it removes it from the timer heap.
    let (early_child, c2) = ctx.with_timeout(Duration::from_secs(300));
    let early_timer = timer(&early_child).expect("an earlier deadline arms a timer");
    drop((early_child, c2));
    assert!(
        !early_timer.cancel(),
        "a dropped context left its timer armed"
    );
    cancel.cancel();
    assert_eq!(timer(&ctx), None);
    assert!(
        !root_timer.cancel(),
        "a cancelled context left its timer armed"
    );
    assert_eq!(late_child.err(), Some(ContextError::Canceled));
}

#[test]
fn a_passed_deadline_cancels_at_once_without_a_timer() {
    let (ctx, _cancel) = Context::background().with_deadline(Instant::now());
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(timer(&ctx), None);
}

#[test]
fn long_chains_drop_without_deep_recursion() {
    // Run on a small thread stack: a recursive drop of 100,000 nodes would overflow it.
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let mut ctx = Context::background();
            for i in 0..100_000u32 {
                ctx = ctx.with_value(i, i).with_cancel().0;
            }
            assert_eq!(ctx.value::<u32>(0u32), Some(&0));
            drop(ctx);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_finish_hook_runs_once_on_cancel_parent_cancel_drop_or_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let runs = Arc::new(AtomicUsize::new(0));
    let hook = || {
        let runs = runs.clone();
        Box::new(move || {
            runs.fetch_add(1, Ordering::SeqCst);
        }) as super::FinishHook
    };
    // Cancelled by its handle, then again: once.
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.on_finish(hook());
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    cancel.cancel();
    cancel.cancel();
    drop((ctx, cancel));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Cancelled by an ancestor's cascade.
    let (root, cancel_root) = Context::background().with_cancel();
    let (middle, _m) = root.with_cancel();
    let (_leaf, leaf_cancel) = middle.with_cancel();
    leaf_cancel.on_finish(hook());
    cancel_root.cancel();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // By its deadline.
    let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(1));
    cancel.on_finish(hook());
    assert!(ctx.done().recv().is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    // Dropped live: when its last handle goes.
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.on_finish(hook());
    drop(cancel);
    assert_eq!(runs.load(Ordering::SeqCst), 3, "the context still lives");
    drop(ctx);
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    // Set on a cancelled context: at once.
    let (_ctx, cancel) = root.with_cancel();
    cancel.on_finish(hook());
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}
