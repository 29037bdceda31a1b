//! `track(label)`: named regions, the user's `Track()`.
//!
//! The user's tracker hands out a function to call when a goroutine ends, so that the
//! long-lived ones can be named. In Rust that is a guard: [`track`] registers a region (its
//! label, the goroutine it runs in, when it started), and dropping the [`TrackGuard`] ends
//! it — on every path out, panics included. The tracker lists regions older than its limit.
//!
//! Regions live in a slab under one mutex, taken once at `track` and once at drop: a region
//! is meant to name a goroutine's lifetime or a long operation, not an inner loop.
//! Invariant: a slot holds `Some` exactly while the guard with its index and generation
//! lives; `generation` changes on every reuse, so a guard never frees another's slot.

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::diag::dump;
use crate::runtime::sched::lock;

#[derive(Debug)]
struct Entry {
    label: Cow<'static, str>,
    goroutine: Option<(u64, Option<String>)>,
    started: Instant,
}

#[derive(Default)]
struct Slab {
    slots: Vec<(u32, Option<Entry>)>,
    free: Vec<u32>,
}

static REGIONS: Mutex<Slab> = Mutex::new(Slab {
    slots: Vec::new(),
    free: Vec::new(),
});

/// Ends a tracked region when dropped (see [`track`]).
#[must_use = "the region ends when the guard is dropped: keep it alive for the tracked work"]
pub struct TrackGuard {
    slot: u32,
    generation: u32,
}

impl fmt::Debug for TrackGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackGuard")
            .field("slot", &self.slot)
            .finish()
    }
}

impl Drop for TrackGuard {
    fn drop(&mut self) {
        let mut slab = lock(&REGIONS);
        if let Some((generation, entry)) = slab.slots.get_mut(self.slot as usize) {
            if *generation == self.generation && entry.take().is_some() {
                *generation = generation.wrapping_add(1);
                slab.free.push(self.slot);
            }
        }
    }
}

/// Starts a tracked region named `label` in the calling goroutine (or thread); it ends when
/// the returned guard is dropped. The [`Tracker`](crate::leak::Tracker) reports regions
/// older than its `tracked_age_limit` with their goroutine and age, and [`tracked`] lists
/// the open ones: a goroutine that should have ended but did not is named, not just counted.
///
/// ```
/// let h = gort::go!(|| {
///     let _region = gort::leak::track("order-sync");
///     gort::leak::tracked()
///         .iter()
///         .any(|r| r.label() == "order-sync" && r.goroutine_id() == gort::current().map(|g| g.id()))
/// });
/// assert!(h.join().unwrap());
/// assert!(!gort::leak::tracked().iter().any(|r| r.label() == "order-sync"));
/// ```
pub fn track(label: impl Into<Cow<'static, str>>) -> TrackGuard {
    let goroutine = crate::current().map(|g| (g.id(), g.name().map(str::to_owned)));
    let entry = Entry {
        label: label.into(),
        goroutine,
        started: Instant::now(),
    };
    let mut slab = lock(&REGIONS);
    let slot = match slab.free.pop() {
        Some(slot) => slot,
        None => {
            slab.slots.push((0, None));
            (slab.slots.len() - 1) as u32
        }
    };
    let (generation, place) = &mut slab.slots[slot as usize];
    *place = Some(entry);
    TrackGuard {
        slot,
        generation: *generation,
    }
}

/// An open tracked region, from [`tracked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedRegion {
    label: Cow<'static, str>,
    goroutine: Option<(u64, Option<String>)>,
    started: Instant,
}

impl TrackedRegion {
    /// The label given to [`track`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The goroutine that opened it (`None`: a plain thread).
    pub fn goroutine_id(&self) -> Option<u64> {
        self.goroutine.as_ref().map(|(id, _)| *id)
    }

    /// That goroutine's name.
    pub fn goroutine_name(&self) -> Option<&str> {
        self.goroutine
            .as_ref()
            .and_then(|(_, name)| name.as_deref())
    }

    /// When it was opened.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// How long it has been open.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }
}

impl fmt::Display for TrackedRegion {
    /// `"order-sync" in goroutine 42 (syncer), open for 5m3s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} in ", self.label)?;
        match &self.goroutine {
            Some((id, Some(name))) => write!(f, "goroutine {id} ({name})")?,
            Some((id, None)) => write!(f, "goroutine {id}")?,
            None => f.write_str("a thread")?,
        }
        write!(f, ", open for {}", dump::format_duration(self.age()))
    }
}

/// The open tracked regions, oldest first.
pub fn tracked() -> Vec<TrackedRegion> {
    let mut out: Vec<TrackedRegion> = lock(&REGIONS)
        .slots
        .iter()
        .filter_map(|(_, entry)| entry.as_ref())
        .map(|e| TrackedRegion {
            label: e.label.clone(),
            goroutine: e.goroutine.clone(),
            started: e.started,
        })
        .collect();
    out.sort_by_key(|r| r.started);
    out
}

/// The open regions older than `limit`, oldest first.
pub(crate) fn older_than(limit: Duration) -> Vec<TrackedRegion> {
    let now = Instant::now();
    let mut out = tracked();
    out.retain(|r| now.saturating_duration_since(r.started) > limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_frees_only_its_own_slot() {
        let a = track("unit-a");
        let b = track("unit-b");
        drop(a);
        let c = track("unit-c"); // may reuse a's slot with a new generation
        let labels: Vec<String> = tracked().iter().map(|r| r.label().to_owned()).collect();
        assert!(labels.contains(&"unit-b".to_owned()));
        assert!(labels.contains(&"unit-c".to_owned()));
        assert!(!labels.contains(&"unit-a".to_owned()));
        drop(b);
        drop(c);
        let labels: Vec<String> = tracked().iter().map(|r| r.label().to_owned()).collect();
        assert!(!labels.iter().any(|l| l.starts_with("unit-")));
    }
}
