//! The three goroutine leaks of the user's leak guide, found and fixed:
//! `cargo run --release --example leak_hunt`.
//!
//! 1. a receive nobody sends to (fixed by closing the channel);
//! 2. a mutex that is never released (fixed by locking with a timeout);
//! 3. an endless loop (fixed by a context that tells it to stop).
//!
//! Each leak is caught twice: by `gort::leak::Scope` (goleak's `VerifyNone`, per scope) and by
//! the `Tracker` (baseline + threshold, the user's GoroutineTracker), whose report carries the
//! goroutine dump grouped by spawn site.

use std::time::Duration;

use gort::leak::{Options, Scope, Tracker, TrackerConfig};
use gort::{go, Builder, Context};

fn scope() -> Scope {
    Scope::with_options(
        Options::new()
            .retries(4)
            .max_backoff(Duration::from_millis(20)),
    )
}

fn show(title: &str, result: Result<(), gort::leak::Leaked>) {
    match result {
        Ok(()) => println!("  {title}: no goroutine leaked"),
        Err(leaked) => println!("  {title}: LEAK\n{}", indent(&leaked.to_string())),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn main() {
    let tracker = Tracker::new(
        TrackerConfig::new()
            .leak_threshold(2)
            .stack_trace_on_leak(false)
            .top_groups(3),
    );

    println!("== 1. a receive nobody sends to");
    let (tx, rx) = gort::chan::<u32>(0);
    let s = scope();
    go!(Builder::new().name("waiting-receiver"), move || {
        let _ = rx.recv();
    });
    show("leaky version", s.verify());
    let s = scope();
    let (tx2, rx2) = gort::chan::<u32>(0);
    go!(Builder::new().name("waiting-receiver"), move || {
        for v in rx2 {
            let _ = v;
        }
    });
    tx2.close().unwrap(); // the remedy: close, so the range ends
    show("fixed (close)", s.verify());

    println!("\n== 2. a mutex never released");
    let mu = std::sync::Arc::new(gort::sync::Mutex::new(0u32));
    let held = mu.lock();
    let s = scope();
    let m2 = mu.clone();
    go!(Builder::new().name("stuck-locker"), move || {
        *m2.lock() += 1;
    });
    show("leaky version", s.verify());
    let s = scope();
    let m3 = mu.clone();
    let fixed = go!(Builder::new().name("patient-locker"), move || {
        // the remedy: a timeout instead of waiting forever
        m3.lock_timeout(Duration::from_millis(30)).is_some()
    });
    println!(
        "  fixed (lock_timeout): got the lock = {}",
        fixed.join().unwrap()
    );
    show("fixed (lock_timeout)", s.verify());

    println!("\n== 3. an endless loop");
    let s = scope();
    go!(Builder::new().name("forever-poller"), || loop {
        gort::sleep(Duration::from_millis(5));
    });
    show("leaky version", s.verify());
    let s = scope();
    let (ctx, cancel) = Context::background().with_cancel();
    go!(Builder::new().name("polite-poller"), move || {
        // the remedy: a context; sleep_ctx returns Err once it is cancelled
        while gort::sleep_ctx(&ctx, Duration::from_millis(5)).is_ok() {}
    });
    cancel.cancel();
    show("fixed (context)", s.verify());

    println!("\n== the tracker (baseline + threshold) sees the three leaks that were left");
    // The default reporter writes the report (with the grouped dump) to stderr.
    let report = tracker.check_now().expect("the tracker reports the leaks");
    assert!(report.is_leak());
    drop((tx, held));
}
