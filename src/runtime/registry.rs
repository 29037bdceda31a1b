//! The live-G registry: every spawned, unfinished G, and the exact live count.
//!
//! The registry holds a strong reference to each live G. That is what keeps a G parked
//! forever alive (as in Go, a goroutine blocked on a channel nobody will touch again is
//! leaked, not destroyed under its own feet), and it is what `num_goroutines`, goroutine
//! dumps and the leak tracker walk.
//!
//! It is split into shards, each a mutex-protected slab, chosen by goroutine id, so a spawn on
//! one P and a finish on another rarely touch the same lock; a G remembers its shard and slot,
//! so removal is O(1). A G is removed *before* its result is published to its `JoinHandle`:
//! once `join` returns, `num_goroutines` no longer counts it.
//!
//! Goroutine ids come from a global counter handed out in blocks to each thread, so
//! spawning does not bounce one cache line between cores.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::Mutex;

use super::g::{GRef, G};
use super::sched::lock;

const SHARDS: usize = 32;
const ID_BLOCK: u64 = 1024;
/// Slots a registry walk copies per lock acquisition: bounds how long a walk holds up a spawn
/// or a finish in that shard (a few microseconds).
const WALK_CHUNK: usize = 256;

struct Shard {
    slots: Mutex<Slab>,
    /// Live Gs in this shard (written under `slots`, read without it).
    live: AtomicIsize,
}

#[derive(Default)]
struct Slab {
    entries: Vec<Option<GRef>>,
    free: Vec<u32>,
}

/// The registry.
pub(crate) struct Registry {
    shards: Box<[Shard]>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("live", &self.live())
            .finish()
    }
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    slots: Mutex::new(Slab::default()),
                    live: AtomicIsize::new(0),
                })
                .collect(),
        }
    }

    /// Adds a G to shard `hint % SHARDS` (spawn passes the goroutine id).
    pub(crate) fn insert(&self, g: &GRef, hint: usize) {
        let shard_index = hint % SHARDS;
        let shard = &self.shards[shard_index];
        let mut slab = lock(&shard.slots);
        let slot = match slab.free.pop() {
            Some(slot) => {
                slab.entries[slot as usize] = Some(g.clone());
                slot
            }
            None => {
                slab.entries.push(Some(g.clone()));
                (slab.entries.len() - 1) as u32
            }
        };
        // Written only under the shard's lock: a load and a store, no locked instruction.
        shard
            .live
            .store(shard.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        drop(slab);
        g.registry_slot.store(
            ((shard_index as u64) << 32) | slot as u64,
            Ordering::Relaxed,
        );
    }

    /// Removes a finishing G.
    pub(crate) fn remove(&self, g: &G) {
        let packed = g.registry_slot.load(Ordering::Relaxed);
        let shard = &self.shards[(packed >> 32) as usize];
        let slot = packed as u32;
        let removed = {
            let mut slab = lock(&shard.slots);
            let removed = slab.entries[slot as usize].take();
            slab.free.push(slot);
            // Under the shard's lock, as in `insert`.
            shard
                .live
                .store(shard.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
            removed
        };
        debug_assert!(removed.is_some_and(|r| std::ptr::eq(&*r, g)));
    }

    /// The number of live Gs (spawned and not finished).
    pub(crate) fn live(&self) -> usize {
        let total: isize = self
            .shards
            .iter()
            .map(|s| s.live.load(Ordering::Relaxed))
            .sum();
        total.max(0) as usize
    }

    /// Calls `f` on every live G without stopping the world: a shard's lock is held only to
    /// clone (an `Arc` increment each) the next `WALK_CHUNK` slots, and `f` runs with no lock
    /// held. A G spawned or finished during the walk may or may not be seen; none is seen
    /// twice (a G keeps its slot for life, and the walk only moves forward).
    pub(crate) fn for_each(&self, mut f: impl FnMut(GRef)) {
        let mut batch: Vec<GRef> = Vec::with_capacity(WALK_CHUNK);
        for shard in self.shards.iter() {
            let mut next = 0;
            loop {
                let more = {
                    let slab = lock(&shard.slots);
                    let end = slab.entries.len().min(next + WALK_CHUNK);
                    if next < end {
                        batch.extend(slab.entries[next..end].iter().flatten().cloned());
                    }
                    next = end;
                    next < slab.entries.len()
                };
                for g in batch.drain(..) {
                    f(g);
                }
                if !more {
                    break;
                }
            }
        }
    }
}

impl Registry {
    /// The first live G for which `pred` holds, evaluated under each shard's lock in turn
    /// (so `pred` must be short and take no lock): the deadlock detector's scan, which needs
    /// no copy of the Gs that do not match.
    pub(crate) fn find(&self, mut pred: impl FnMut(&G) -> bool) -> Option<GRef> {
        self.shards.iter().find_map(|shard| {
            lock(&shard.slots)
                .entries
                .iter()
                .flatten()
                .find(|g| pred(g))
                .cloned()
        })
    }
}

static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static ID_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh goroutine id (never 0, never reused).
pub(crate) fn next_goroutine_id() -> u64 {
    ID_RANGE.with(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}
