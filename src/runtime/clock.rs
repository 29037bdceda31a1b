//! Clocks: a precise one for timers and a coarse one for state timestamps.
//!
//! Timer deadlines are kept as nanoseconds since [`epoch`] (an `Instant` taken when the clock
//! is first used), so they fit in an atomic `u64`. G state timestamps use the kernel's coarse
//! monotonic clock (millisecond resolution): a dump only needs "waiting for 5m3s".
//!
//! Timestamps are written on every park and every spawn, where even the vDSO call (~25
//! instructions, a tenth of a channel hand-off) shows. So they read [`stamp`], a copy of the
//! coarse clock that sysmon refreshes every round (20 µs to 10 ms apart while any P is busy)
//! and that whoever wakes a deep-sleeping sysmon refreshes first. A stamp is therefore at most
//! one sysmon period old: durations computed against the live coarse clock come out that
//! much too long, never too short, and two stamps keep their order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The instant that timer nanoseconds count from.
pub(crate) fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds from [`epoch`] to `t` (0 for instants before it).
pub(crate) fn instant_to_nanos(t: Instant) -> u64 {
    let nanos = t.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(nanos).unwrap_or(u64::MAX - 1)
}

/// Precise monotonic nanoseconds since [`epoch`].
pub(crate) fn now_nanos() -> u64 {
    instant_to_nanos(Instant::now())
}

/// Coarse monotonic nanoseconds (CLOCK_MONOTONIC_COARSE: cheap, ~1-4 ms resolution).
pub(crate) fn coarse_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every
    // Linux gort supports, and clock_gettime writes only into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// The coarse clock as sysmon last read it (0: not read yet).
static STAMP: AtomicU64 = AtomicU64::new(0);

/// A cheap timestamp for G states: the coarse clock, at most one sysmon period old (see the
/// module docs). One relaxed load.
#[inline]
pub(crate) fn stamp() -> u64 {
    match STAMP.load(Ordering::Relaxed) {
        0 => refresh_stamp(),
        t => t,
    }
}

/// Reads the coarse clock into [`stamp`]'s copy (sysmon, each round; and before waking it).
pub(crate) fn refresh_stamp() -> u64 {
    let now = coarse_nanos();
    // Relaxed: a stamp orders nothing; `fetch_max` keeps it monotonic across writers.
    STAMP.fetch_max(now, Ordering::Relaxed).max(now)
}
