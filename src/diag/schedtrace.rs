//! `GORT_SCHEDTRACE=<ms>`: one line of scheduler metrics on stderr at that interval (Go's
//! `GODEBUG=schedtrace=<ms>`), e.g.
//! `SCHED 1004ms: gomaxprocs=4 idleprocs=3 threads=5 … goroutines=12 … parks=51 …`.
//!
//! The printer is a gort service thread (it never touches a goroutine's objects, so the
//! deadlock detector knows it cannot wake anything). `INTERVAL_MS` holds the period; 0 stops
//! the printer, which exits at its next wake-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::threads;

static INTERVAL_MS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Prints one line of [`metrics`](crate::metrics) to stderr every `interval` (`None` stops).
/// The programmatic form of `GORT_SCHEDTRACE=<ms>`.
///
/// ```
/// gort::debug::set_schedtrace(Some(std::time::Duration::from_secs(1)));
/// gort::debug::set_schedtrace(None);
/// ```
pub fn set_schedtrace(interval: Option<Duration>) {
    let ms = interval.map_or(0, |d| d.as_millis().clamp(1, u64::MAX as u128) as u64);
    INTERVAL_MS.store(ms, Ordering::Relaxed);
    if ms != 0 && !RUNNING.swap(true, Ordering::AcqRel) {
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name("gort-schedtrace".to_owned())
            .spawn(move || printer(started));
        if let Err(e) = spawned {
            RUNNING.store(false, Ordering::Release);
            eprintln!("gort: cannot start the schedtrace thread: {e}");
        }
    }
}

fn printer(started: Instant) {
    threads::register_service_thread();
    loop {
        let ms = INTERVAL_MS.load(Ordering::Relaxed);
        if ms == 0 {
            RUNNING.store(false, Ordering::Release);
            // A `set_schedtrace(Some(_))` that saw us running may have raced our exit.
            if INTERVAL_MS.load(Ordering::Relaxed) == 0 || RUNNING.swap(true, Ordering::AcqRel) {
                return;
            }
            continue;
        }
        std::thread::sleep(Duration::from_millis(ms));
        if INTERVAL_MS.load(Ordering::Relaxed) != 0 {
            eprintln!(
                "SCHED {}ms: {}",
                started.elapsed().as_millis(),
                crate::metrics()
            );
        }
    }
}

/// `GORT_SCHEDTRACE=<ms>` at runtime start.
pub(crate) fn start_from_env() {
    let Ok(value) = std::env::var("GORT_SCHEDTRACE") else {
        return;
    };
    match value.trim().parse::<u64>() {
        Ok(0) => {}
        Ok(ms) => set_schedtrace(Some(Duration::from_millis(ms))),
        Err(e) => eprintln!("gort: ignoring GORT_SCHEDTRACE={value:?}: {e}"),
    }
}
