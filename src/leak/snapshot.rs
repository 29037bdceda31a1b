//! `snapshot()`: a picture of every live goroutine, taken without stopping the world.
//!
//! The walk (`runtime/registry.rs`) visits every G block with no lock held, raising the count
//! of each live G it keeps; reading states and clocks, building the records and sorting all
//! happen without blocking any spawn or finish. The picture is not one instant: a goroutine
//! that starts or finishes while the walk is under way may or may not be in it, and each
//! record's state is its own moment's.

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::diag::dump::Dump;
use crate::runtime::clock;
use crate::runtime::g::{GRef, GState};

/// One live goroutine, as [`snapshot`] saw it.
///
/// It holds a reference to the goroutine's header (a few hundred bytes, never its stack), so
/// the name, spawn site and spawn backtrace are borrowed rather than copied.
#[derive(Clone)]
pub struct GoroutineInfo {
    g: GRef,
    state: GState,
    age: Duration,
    in_state: Duration,
    scope: u64,
}

impl GoroutineInfo {
    pub(crate) fn read(g: GRef, now_coarse: u64) -> GoroutineInfo {
        let state = g.state();
        let since = g.state_since();
        GoroutineInfo {
            state,
            age: Duration::from_nanos(now_coarse.saturating_sub(g.spawned_at)),
            in_state: Duration::from_nanos(now_coarse.saturating_sub(since)),
            scope: g.leak.scope.load(Ordering::Relaxed),
            g,
        }
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }

    /// Where `go!`/`spawn` was called for it.
    pub fn spawn_site(&self) -> &'static Location<'static> {
        self.g.spawn_site
    }

    /// The id of the goroutine that spawned it (`None`: spawned from a plain thread).
    pub fn parent_id(&self) -> Option<u64> {
        (self.g.parent != 0).then_some(self.g.parent)
    }

    /// Its state when the snapshot was taken: `Runnable`, `Running`, `Waiting(reason)` or
    /// `Syscall`.
    pub fn state(&self) -> GState {
        self.state
    }

    /// How long it had been alive (millisecond resolution).
    pub fn age(&self) -> Duration {
        self.age
    }

    /// How long it had been in [`state`](Self::state) (millisecond resolution). A running
    /// goroutine's time is counted from when it last parked or was spawned: resuming one
    /// does not read the clock (it would double the cost of a switch).
    pub fn time_in_state(&self) -> Duration {
        self.in_state
    }

    /// The spawner's backtrace, when spawn backtraces were on
    /// ([`capture_spawn_backtraces`](crate::leak::capture_spawn_backtraces) or
    /// `GORT_TRACEBACK=spawn`).
    pub fn spawn_backtrace(&self) -> Option<&Backtrace> {
        self.g.leak.spawn_backtrace.as_deref()
    }

    /// The leak-check scope it belonged to (0: none).
    pub(crate) fn scope(&self) -> u64 {
        self.scope
    }
}

impl fmt::Debug for GoroutineInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoroutineInfo")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("spawn_site", &format_args!("{}", self.spawn_site()))
            .field("parent_id", &self.parent_id())
            .field("state", &self.state)
            .field("age", &self.age)
            .field("time_in_state", &self.in_state)
            .finish()
    }
}

/// Every live goroutine at one moment (see [`snapshot`]), ordered by id.
#[derive(Clone, Debug)]
pub struct Snapshot {
    goroutines: Vec<GoroutineInfo>,
    taken_at: Instant,
    took: Duration,
}

impl Snapshot {
    pub(crate) fn from_records(mut goroutines: Vec<GoroutineInfo>, started: Instant) -> Snapshot {
        goroutines.sort_unstable_by_key(GoroutineInfo::id);
        Snapshot {
            goroutines,
            taken_at: started,
            took: started.elapsed(),
        }
    }

    /// The goroutines, ordered by id.
    pub fn goroutines(&self) -> &[GoroutineInfo] {
        &self.goroutines
    }

    /// Iterates over the goroutines, ordered by id.
    pub fn iter(&self) -> std::slice::Iter<'_, GoroutineInfo> {
        self.goroutines.iter()
    }

    /// How many goroutines were alive.
    pub fn len(&self) -> usize {
        self.goroutines.len()
    }

    /// Whether no goroutine was alive.
    pub fn is_empty(&self) -> bool {
        self.goroutines.is_empty()
    }

    /// When the walk started.
    pub fn taken_at(&self) -> Instant {
        self.taken_at
    }

    /// How long taking it took.
    pub fn took(&self) -> Duration {
        self.took
    }

    /// Keeps only the goroutines for which `keep` holds.
    pub fn retain(&mut self, keep: impl FnMut(&GoroutineInfo) -> bool) {
        self.goroutines.retain(keep);
    }

    /// The goroutines grouped like Go's goroutine profile: by spawn site, name and state,
    /// largest group first.
    pub fn dump(&self) -> Dump {
        Dump::from_goroutines(&self.goroutines)
    }

    /// Live goroutines per name (unnamed ones under `None`), largest count first.
    pub fn count_by_name(&self) -> Vec<(Option<String>, usize)> {
        let mut counts: HashMap<Option<&str>, usize> = HashMap::new();
        for g in &self.goroutines {
            *counts.entry(g.name()).or_default() += 1;
        }
        let mut out: Vec<_> = counts
            .into_iter()
            .map(|(name, n)| (name.map(str::to_owned), n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Live goroutines per spawn site (every spawn form, not only `go!`), largest count first.
    pub fn count_by_site(&self) -> Vec<(&'static Location<'static>, usize)> {
        let mut counts: HashMap<(&str, u32, u32), (&'static Location<'static>, usize)> =
            HashMap::new();
        for g in &self.goroutines {
            let site = g.spawn_site();
            counts
                .entry((site.file(), site.line(), site.column()))
                .or_insert((site, 0))
                .1 += 1;
        }
        let mut out: Vec<_> = counts.into_values().collect();
        out.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.file().cmp(b.0.file()))
                .then_with(|| a.0.line().cmp(&b.0.line()))
        });
        out
    }
}

impl<'a> IntoIterator for &'a Snapshot {
    type Item = &'a GoroutineInfo;
    type IntoIter = std::slice::Iter<'a, GoroutineInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.goroutines.iter()
    }
}

impl IntoIterator for Snapshot {
    type Item = GoroutineInfo;
    type IntoIter = std::vec::IntoIter<GoroutineInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.goroutines.into_iter()
    }
}

impl fmt::Display for Snapshot {
    /// The grouped dump (as [`Snapshot::dump`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.dump(), f)
    }
}

/// Takes a picture of every live goroutine: id, name, spawn site, state (with the wait
/// reason), age, time in that state, parent id, and the spawn backtrace when captured.
///
/// It never stops the world: see the module notes on what "one moment" means here.
///
/// ```
/// let h = gort::go!(gort::Builder::new().name("napper"), || {
///     gort::sleep(std::time::Duration::from_millis(100))
/// });
/// let snap = gort::leak::snapshot();
/// let napper = snap.iter().find(|g| g.id() == h.id()).unwrap();
/// assert_eq!(napper.name(), Some("napper"));
/// assert_eq!(napper.spawn_site().file(), file!());
/// h.join().unwrap();
/// ```
pub fn snapshot() -> Snapshot {
    snapshot_filtered(|_| true)
}

/// A snapshot of the goroutines for which `keep` holds (tested on each G as it is read, so a
/// small selection out of many goroutines stays small).
pub(crate) fn snapshot_filtered(mut keep: impl FnMut(&GoroutineInfo) -> bool) -> Snapshot {
    let started = Instant::now();
    let now = clock::coarse_nanos();
    let mut out = Vec::with_capacity(crate::runtime::registry::live() + 64);
    crate::runtime::registry::for_each(|g| {
        let info = GoroutineInfo::read(g, now);
        if keep(&info) {
            out.push(info);
        }
    });
    Snapshot::from_records(out, started)
}
