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
        shard.live.fetch_add(1, Ordering::Relaxed);
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
            shard.live.fetch_sub(1, Ordering::Relaxed);
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

    /// Calls `f` on every live G, one shard lock at a time (never stops the world).
    #[allow(dead_code)] // the reader, the goroutine dump, comes with the leak tracker
    pub(crate) fn for_each(&self, mut f: impl FnMut(&GRef)) {
        for shard in self.shards.iter() {
            let live: Vec<GRef> = lock(&shard.slots)
                .entries
                .iter()
                .flatten()
                .cloned()
                .collect();
            for g in &live {
                f(g);
            }
        }
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
