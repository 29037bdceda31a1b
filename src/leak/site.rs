//! Live counts per `go!` call site: one static counter per site, declared by the macro.
//!
//! # Why a static per site
//! Go's goroutine profile groups goroutines by where they were created; gort can keep that
//! count live at the price of one atomic increment per spawn and one decrement per finish,
//! because the `go!` macro declares a `static SITE: SiteCounter` at each call site and the G
//! header keeps a reference to it. No hash map, no lock on the spawn path.
//!
//! # Invariants
//! - `live` = spawns through this site − finishes of those goroutines. A G's finish is counted
//!   before it leaves the live count (`spawn.rs`), so after `join` returns both agree.
//! - A counter is *listed* (in `SITES`, readable by [`sites`]) from its first spawn on, and
//!   never unlisted: sites are `'static`. `state` goes `UNLISTED → LISTING → LISTED` once; the
//!   thread that wins `UNLISTED → LISTING` stores the location, pushes the counter under the
//!   `SITES` lock, then publishes `LISTED`.
//! - Orderings: `live` is a relaxed counter (readers take a moment's picture). The fast path
//!   reads `state` relaxed: a spawner that sees `LISTED` needs nothing the lister wrote (it only
//!   increments `live`); readers reach counters only through the `SITES` lock, which orders the
//!   location store before them.

use std::panic::Location;
use std::sync::atomic::{AtomicIsize, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::runtime::sched::lock;

const UNLISTED: u8 = 0;
const LISTING: u8 = 1;
const LISTED: u8 = 2;

/// The live-goroutine counter of one `go!` call site. Declared by the macro; not for direct
/// use.
// Aligned to a cache line: two hot sites spawning on different cores do not share one.
#[doc(hidden)]
#[repr(align(64))]
#[derive(Debug)]
pub struct SiteCounter {
    live: AtomicIsize,
    state: AtomicU8,
    location: OnceLock<&'static Location<'static>>,
}

impl SiteCounter {
    /// An unlisted counter at zero (usable in a `static`).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> SiteCounter {
        SiteCounter {
            live: AtomicIsize::new(0),
            state: AtomicU8::new(UNLISTED),
            location: OnceLock::new(),
        }
    }

    /// Counts a spawn at `site` (the macro's call site). The spawn path's whole cost: a
    /// relaxed load and a relaxed increment, except on the site's very first spawn.
    #[inline]
    pub(crate) fn spawned(&'static self, site: &'static Location<'static>) {
        if self.state.load(Ordering::Relaxed) != LISTED {
            self.list(site);
        }
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the finish of a goroutine spawned here.
    #[inline]
    pub(crate) fn finished(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    #[cold]
    fn list(&'static self, site: &'static Location<'static>) {
        if self
            .state
            .compare_exchange(UNLISTED, LISTING, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let _ = self.location.set(site);
            lock(&SITES).push(self);
            self.state.store(LISTED, Ordering::Relaxed);
        }
    }

    fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed).max(0) as usize
    }
}

/// Every counter that has had a spawn.
static SITES: Mutex<Vec<&'static SiteCounter>> = Mutex::new(Vec::new());

/// One `go!` call site and how many goroutines it has alive, from [`sites`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteCount {
    /// Where `go!` is written.
    pub location: &'static Location<'static>,
    /// Goroutines spawned there that have not finished.
    pub live: usize,
}

/// The live goroutines of every `go!` call site that has spawned at least once, largest
/// count first (ties in source order). Reading it costs one lock and one load per site; the
/// spawn path never takes that lock after a site's first spawn.
///
/// Goroutines spawned with the function forms ([`spawn`](crate::spawn),
/// [`Builder::spawn`](crate::Builder::spawn)) have no per-site counter: a
/// [`snapshot`](crate::leak::snapshot) or [`dump`](crate::leak::dump) groups them too.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let stop = Arc::new(AtomicBool::new(false));
/// let mut handles = Vec::new();
/// let mut line = 0;
/// for _ in 0..3 {
///     let stop = stop.clone();
///     let body = move || while !stop.load(Ordering::Acquire) { gort::yield_now() };
///     let (at, h) = (line!(), gort::go!(body));
///     line = at;
///     handles.push(h);
/// }
/// let here = gort::leak::sites()
///     .into_iter()
///     .find(|s| s.location.file() == file!() && s.location.line() == line)
///     .unwrap();
/// assert_eq!(here.live, 3);
/// stop.store(true, Ordering::Release);
/// handles.into_iter().for_each(|h| h.join().unwrap());
/// ```
pub fn sites() -> Vec<SiteCount> {
    let mut out: Vec<SiteCount> = lock(&SITES)
        .iter()
        .filter_map(|counter| {
            counter.location.get().map(|&location| SiteCount {
                location,
                live: counter.live(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.live
            .cmp(&a.live)
            .then_with(|| a.location.file().cmp(b.location.file()))
            .then_with(|| a.location.line().cmp(&b.location.line()))
            .then_with(|| a.location.column().cmp(&b.location.column()))
    });
    out
}

/// The live goroutines of the `go!` call site at `file:line` (any column), summed over the
/// `go!` calls on that line; 0 if none has spawned. `file` matches by suffix, so
/// `"server.rs"` finds `src/server.rs`.
///
/// ```
/// let nap = || gort::sleep(std::time::Duration::from_millis(50));
/// let (line, h) = (line!(), gort::go!(nap));
/// assert_eq!(gort::leak::live_at(file!(), line), 1);
/// h.join().unwrap();
/// assert_eq!(gort::leak::live_at(file!(), line), 0);
/// ```
pub fn live_at(file: &str, line: u32) -> usize {
    lock(&SITES)
        .iter()
        .filter(|counter| {
            counter
                .location
                .get()
                .is_some_and(|l| l.line() == line && l.file().ends_with(file))
        })
        .map(|counter| counter.live())
        .sum()
}
