//! Goroutine leaks: live counts per spawn site, snapshots and dumps, the leak tracker,
//! tracked regions, and leak checks for tests.
//!
//! A leaked goroutine is one blocked forever — on a channel nobody sends to, a mutex nobody
//! releases — or looping with no way out. Go programmers find them with `runtime.NumGoroutine`,
//! the pprof goroutine profile and goleak; gort builds those in, on top of the G header and
//! the walk over live Gs (`runtime/registry.rs`: every G block stays reachable for life, and a
//! parked-forever goroutine keeps itself alive) exactly so that they can be found.
//!
//! | Go | gort |
//! |---|---|
//! | `runtime.NumGoroutine()` | [`crate::num_goroutines`] (exact), [`sites`] (live per `go!` site) |
//! | `pprof.Lookup("goroutine")` | [`snapshot`], [`dump`] (grouped like the profile) |
//! | `GOTRACEBACK` / `debug.SetTraceback` | `GORT_TRACEBACK=spawn`, [`capture_spawn_backtraces`] |
//! | the user's `GoroutineTracker` and `Track()` | [`Tracker`], [`track`] |
//! | `goleak.VerifyNone(t)` | [`check`], [`Scope`] (per test, parallel-safe) |
//! | `SIGQUIT` dump, "all goroutines are asleep" | [`crate::debug`] |
//!
//! # What each piece costs, and where it lives
//! - **Per-site counts** (`site.rs`): the `go!` macro declares a static counter per call site
//!   and the G header points to it; a spawn pays one relaxed atomic increment, a finish one
//!   decrement. Per-name counts are computed on demand from a snapshot
//!   ([`Snapshot::count_by_name`]): names are run-time strings, and keeping them live would
//!   put a map lookup on the spawn path.
//! - **Snapshot** (`snapshot.rs`): a walk over every G block, with no lock held (a reference
//!   count raised per live G). The figures at 100,000 goroutines are in README.md.
//! - **Dump** (`diag/dump.rs`): groups a snapshot by spawn site, name and state.
//! - **Scopes** (`scope.rs`): a scope id in every G header, copied from the spawner at spawn —
//!   one relaxed load on the spawn path.
//! - **Tracker** (`tracker.rs`, `report.rs`, `baseline.rs`) and **tracked regions** (`track.rs`): off the
//!   spawn path entirely; the monitor is one goroutine that wakes every `check_interval`.
//! - **Spawn backtraces** (`backtrace.rs`): off by default (one relaxed load per spawn).
//!
//! # Invariants
//! - A live goroutine is counted and walked from spawn until just before its result is
//!   published (it then marks itself `Dead`), and its site count is decremented just before
//!   that: once `join` returns, neither [`crate::num_goroutines`] nor [`sites`] counts it.
//! - A G's leak scope is inherited at spawn and changed afterwards only by the G itself
//!   (`scope.rs`).

pub(crate) mod backtrace;
pub(crate) mod baseline;
pub(crate) mod ignore;
pub(crate) mod report;
pub(crate) mod scope;
pub(crate) mod site;
pub(crate) mod snapshot;
pub(crate) mod track;
pub(crate) mod tracker;

pub use crate::diag::dump::{Dump, DumpGroup};
pub use backtrace::{capture_spawn_backtraces, spawn_backtraces_enabled};
pub use baseline::Baseline;
pub use ignore::IgnoreList;
pub use report::{CheckSummary, Level, Report};
pub use scope::{check, check_with, Leaked, Options, Scope};
pub use site::{live_at, sites, SiteCount};
pub use snapshot::{snapshot, GoroutineInfo, Snapshot};
pub use track::{track, tracked, TrackGuard, TrackedRegion};
pub use tracker::{Reporter, Tracker, TrackerConfig};

/// The live goroutines grouped like Go's goroutine profile: by spawn site, name and state,
/// largest group first (`snapshot().dump()`). Print it with `{}`.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let stop = Arc::new(AtomicBool::new(false));
/// let s = stop.clone();
/// let h = gort::go!(gort::Builder::new().name("poller"), move || {
///     while !s.load(Ordering::Acquire) {
///         gort::sleep(Duration::from_millis(1));
///     }
/// });
/// let dump = gort::leak::dump();
/// let group = dump.groups().iter().find(|g| g.name() == Some("poller")).unwrap();
/// assert_eq!(group.count(), 1);
/// println!("{dump}");
/// stop.store(true, Ordering::Release);
/// h.join().unwrap();
/// ```
pub fn dump() -> Dump {
    snapshot().dump()
}
