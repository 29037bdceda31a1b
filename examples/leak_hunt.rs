//! The three goroutine leaks of the user's documents — a receive nobody sends to, a mutex
//! never released, an endless loop — each found twice (by the leak tracker and by a
//! `leak::check` scope, as a test would), then fixed with the remedy the documents give:
//! close the channel, bound the wait with a timeout, cancel the loop.
//!
//! `cargo run --release --example leak_hunt` (add `GORT_TRACEBACK=spawn` to see, in each
//! dump, the backtrace of the code that spawned the leaked goroutines).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::leak::{self, Options, Scope, Tracker, TrackerConfig};
use gort::sync::{Mutex, MutexGuard};
use gort::{go, Builder, Context, Sender};

/// Leaks per pattern: enough to cross the tracker's threshold.
const ROUNDS: usize = 20;

// ---------------------------------------------------------------------------------------
// 1. A receive nobody sends to.
//
// gort closes a channel when its last `Sender` is dropped, which already removes the
// simplest form of this leak. It comes back as soon as a sender outlives its use: here a
// long-lived registry of subscribers keeps every sender, and nobody ever sends or closes.

struct Subscribers {
    senders: Vec<Sender<String>>,
}

fn leaky_subscribe(subscribers: &mut Subscribers) {
    let (tx, rx) = gort::chan::<String>(0);
    subscribers.senders.push(tx);
    go!(Builder::new().name("subscriber"), move || {
        // Blocks forever: nobody sends, and the sender is never closed.
        if let Ok(message) = rx.recv() {
            println!("got {message}");
        }
    });
}

/// The remedy: the owner closes the channel when it is done with it; `recv` then returns
/// `Err` and the goroutine ends (Go's `close(ch)`).
fn fixed_subscribe(subscribers: &mut Subscribers) {
    let (tx, rx) = gort::chan::<String>(0);
    go!(Builder::new().name("subscriber"), move || {
        for message in rx {
            println!("got {message}");
        }
    });
    subscribers.senders.push(tx);
    for tx in subscribers.senders.drain(..) {
        tx.close().ok();
    }
}

// ---------------------------------------------------------------------------------------
// 2. A mutex never released.
//
// Rust's guards unlock on drop, so the leak needs a guard that outlives its use: a handler
// that stashed its guard in long-lived state (the documents' `mu.Lock()` with no `Unlock`).
// Every reader spawned after that waits forever.

static CONFIG: Mutex<u64> = Mutex::new(0);

fn leaky_reload(stash: &mut Vec<MutexGuard<'static, u64>>) {
    if stash.is_empty() {
        stash.push(CONFIG.lock());
    }
    go!(Builder::new().name("config-reader"), || {
        let _version = *CONFIG.lock(); // waits forever: the stashed guard is never dropped
    });
}

/// The remedies: drop the stashed guard (that frees the readers already waiting), and bound
/// every wait (`lock_timeout`, the documents' "timeouts"), so that a reader gives up instead
/// of hanging while a writer holds the lock too long.
fn fixed_reload(stash: &mut Vec<MutexGuard<'static, u64>>) {
    stash.clear();
    let (read, gave_up) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let writer = CONFIG.lock();
    let readers: Vec<_> = (0..ROUNDS)
        .map(|_| {
            let (read, gave_up) = (read.clone(), gave_up.clone());
            go!(Builder::new().name("config-reader"), move || {
                match CONFIG.lock_timeout(Duration::from_millis(20)) {
                    Some(_version) => read.fetch_add(1, Ordering::Relaxed),
                    None => gave_up.fetch_add(1, Ordering::Relaxed), // use a cached value
                };
            })
        })
        .collect();
    gort::sleep(Duration::from_millis(50)); // a slow write, longer than the readers wait
    drop(writer);
    for reader in readers {
        reader.join().unwrap();
    }
    println!(
        "{} readers read the config, {} gave up after 20 ms instead of hanging",
        read.load(Ordering::Relaxed),
        gave_up.load(Ordering::Relaxed)
    );
}

// ---------------------------------------------------------------------------------------
// 3. An endless loop without an exit condition.

fn leaky_poller() {
    go!(Builder::new().name("poller"), || {
        let _region = leak::track("metrics poller");
        loop {
            gort::sleep(Duration::from_millis(50));
        }
    });
}

/// The remedy: context cancellation (Go's `ctx.Done()`): the loop waits in `select!` for
/// either the context's `done` channel or the next tick, and returns once it is cancelled.
fn fixed_poller(ctx: &Context) {
    let ctx = ctx.clone();
    go!(Builder::new().name("poller"), move || {
        let _region = leak::track("metrics poller");
        loop {
            gort::select! {
                recv(ctx.done()) => return,
                default(Duration::from_millis(50)) => {}
            }
        }
    });
}

// ---------------------------------------------------------------------------------------

/// A tracker that reports tracked regions older than `region_limit`.
fn new_tracker(region_limit: Duration) -> Tracker {
    Tracker::new(
        TrackerConfig::new()
            .leak_threshold(ROUNDS / 2)
            .stack_trace_on_leak(false)
            .top_groups(2)
            .tracked_age_limit(region_limit)
            .on_report(|report| println!("{report}\n")),
    )
}

/// Runs `leaky` ROUNDS times under a tracker and inside a leak-check scope, printing what
/// each finds; then `fixed` the same way, which must be clean.
fn hunt(title: &str, leaky: impl Fn(), fixed: impl FnOnce()) {
    println!("\n=== {title}");
    let tracker = new_tracker(Duration::from_millis(100));
    let scope = Scope::with_options(Options::new().retries(5));
    for _ in 0..ROUNDS {
        leaky();
    }
    // Let the goroutines reach their blocking point (and tracked regions age past the limit).
    gort::sleep(Duration::from_millis(150));
    println!("-- the tracker:");
    let report = tracker.check_now().expect("the tracker finds the leak");
    assert!(report.is_leak());
    println!("-- leak::check (as in a test):");
    let leaked = scope.verify().expect_err("leak::check finds the leak");
    assert_eq!(leaked.goroutines().len(), ROUNDS);
    println!("{leaked}\n");
    println!("-- fixed:");
    // (The leaky versions' goroutines are still alive: this tracker's baseline includes
    // them, and it ignores their old tracked regions.)
    let tracker = new_tracker(Duration::from_secs(3600));
    let scope = Scope::with_options(Options::new().retries(10));
    fixed();
    match scope.verify() {
        Ok(()) => println!("leak::check passes"),
        Err(leaked) => panic!("the fix still leaks:\n{leaked}"),
    }
    match tracker.check_now() {
        None => println!("the tracker has nothing to report"),
        Some(report) => panic!("the fix still leaks:\n{report}"),
    }
}

fn main() {
    gort::run(|| {
        let mut subscribers = Subscribers {
            senders: Vec::new(),
        };
        let leaky_subscribers = std::cell::RefCell::new(Subscribers {
            senders: Vec::new(),
        });
        hunt(
            "1. a receive nobody sends to",
            || leaky_subscribe(&mut leaky_subscribers.borrow_mut()),
            || {
                for _ in 0..ROUNDS {
                    fixed_subscribe(&mut subscribers);
                }
            },
        );

        let stash = std::cell::RefCell::new(Vec::new());
        hunt(
            "2. a mutex never released",
            || leaky_reload(&mut stash.borrow_mut()),
            || fixed_reload(&mut stash.borrow_mut()),
        );

        hunt("3. an endless loop", leaky_poller, || {
            let (ctx, cancel) = Context::background().with_cancel();
            for _ in 0..ROUNDS {
                fixed_poller(&ctx);
            }
            gort::sleep(Duration::from_millis(120));
            cancel.cancel(); // every poller returns
        });

        println!(
            "\n{} goroutines are still alive (the leaky versions' ones, on purpose)",
            gort::num_goroutines()
        );
    });
}
