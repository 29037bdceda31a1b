//! Opt-in backtraces at spawn (`GORT_TRACEBACK=spawn`, or [`capture_spawn_backtraces`]).
//!
//! A goroutine that leaks is usually found by *where it was created from*: the spawn site
//! says which `go!`, the spawner's backtrace says which caller of that code spawned it (Go's
//! "created by" line, extended to the whole stack). Capturing one costs microseconds per
//! spawn, so it is off unless asked for; when off, a spawn pays one relaxed load.
//!
//! `MODE` is `UNSET` until first read, then `OFF` or `ON` from the environment, unless
//! [`capture_spawn_backtraces`] set it first. Relaxed: a spawn racing with the switch may or
//! may not capture, which is all a switch promises.

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicU8, Ordering};

const UNSET: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNSET);

/// Whether `GORT_TRACEBACK` asks for spawn backtraces: `spawn`, alone or in a comma list.
fn mode_from_env() -> u8 {
    match std::env::var("GORT_TRACEBACK") {
        Ok(v) if v.split(',').any(|item| item.trim() == "spawn") => ON,
        _ => OFF,
    }
}

/// The spawner's backtrace, if capture is on.
#[inline]
pub(crate) fn capture_at_spawn() -> Option<Box<Backtrace>> {
    match MODE.load(Ordering::Relaxed) {
        OFF => None,
        ON => Some(Box::new(Backtrace::force_capture())),
        _ => {
            let _ =
                MODE.compare_exchange(UNSET, mode_from_env(), Ordering::Relaxed, Ordering::Relaxed);
            capture_at_spawn()
        }
    }
}

/// Turns the capture of a backtrace at every spawn on or off (the programmatic form of
/// `GORT_TRACEBACK=spawn`). Goroutines spawned while it is on show where they were spawned
/// from in [`dump`](crate::leak::dump) and [`Snapshot`](crate::leak::Snapshot) entries. It
/// costs a few microseconds per spawn: for hunting a leak, not for production hot paths.
///
/// ```
/// gort::leak::capture_spawn_backtraces(true);
/// let h = gort::go!(|| gort::leak::snapshot().iter().any(|g| g.spawn_backtrace().is_some()));
/// gort::leak::capture_spawn_backtraces(false);
/// assert!(h.join().unwrap());
/// ```
pub fn capture_spawn_backtraces(on: bool) {
    MODE.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

/// Whether spawns capture a backtrace now.
pub fn spawn_backtraces_enabled() -> bool {
    if MODE.load(Ordering::Relaxed) == UNSET {
        let _ = MODE.compare_exchange(UNSET, mode_from_env(), Ordering::Relaxed, Ordering::Relaxed);
    }
    MODE.load(Ordering::Relaxed) == ON
}
