//! Timers: one heap for the runtime, owned by the scheduler.
//!
//! Everything that waits with a deadline (`sleep`, `park_until`, timer channels, context
//! deadlines) adds one entry here; no timer has a thread. Entries live in a slab and a binary
//! min-heap of slab indices orders them by (deadline, insertion order); each entry knows its
//! heap position, so `cancel` removes it in O(log n) and a cancelled timer leaves nothing behind.
//!
//! # Who fires timers
//! - A running M checks `next` (an atomic copy of the earliest deadline) in `find_runnable`
//!   and fires what is due; a woken G lands on that M's P.
//! - When every M is idle, one of them — the timer sleeper — sleeps only until `next`; the
//!   others sleep until handed a P. The timer sleeper is the M blocked in the netpoller
//!   (`netpoll::idle_poll`), with `next` as its timeout. Adding a timer earlier than its
//!   wake-up wakes it through the poller's waker; adding one while every P is idle and nobody
//!   is blocked in the poller wakes an idle M to take the role. The idle M's StoreLoad
//!   (register idle, then read `next`) pairs with the adder's (insert, then look for the
//!   poller), so a timer is never left without someone to fire it.
//!
//! # Locks
//! `heap` is held only to insert, remove or pop entries; actions run after it is released
//! (an action readies a G or sends on a channel, and may add timers itself).
//!
//! Why one shared heap and not one per P (as Go has): Gs migrate and timers are cancelled from
//! anywhere, and with at most a few procs the shared lock is uncontended; per-P heaps would
//! add a rebalancing step to `set_maxprocs`. The timer benchmark (select with an unfired
//! timeout) keeps this choice honest.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::clock;
use super::park::Unparker;
use super::sched::{lock, sched, Sched};

const NO_DEADLINE: u64 = u64::MAX;
const FREE: u32 = u32::MAX;
const FIRE_BATCH: usize = 32;

/// What a timer does when it fires. Runs on a scheduler thread: short, never blocking.
pub(crate) enum TimerAction {
    /// Unpark a goroutine or thread (sleep, park deadlines).
    Unpark(Unparker),
    /// Call a function (timer channels, context deadlines).
    #[allow(dead_code)] // used by the timer channels in `time/`
    Call(Arc<dyn Fn() + Send + Sync>),
}

impl TimerAction {
    fn run(self) {
        match self {
            TimerAction::Unpark(u) => u.unpark_in_order(),
            TimerAction::Call(f) => f(),
        }
    }
}

/// A registered timer; `cancel` it to remove it before it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerHandle {
    slot: u32,
    generation: u32,
}

struct Entry {
    deadline: u64,
    seq: u64,
    generation: u32,
    heap_pos: u32,
    action: Option<TimerAction>,
}

#[derive(Default)]
struct Heap {
    entries: Vec<Entry>,
    heap: Vec<u32>,
    free: Vec<u32>,
    seq: u64,
}

impl Heap {
    fn key(&self, slot: u32) -> (u64, u64) {
        let e = &self.entries[slot as usize];
        (e.deadline, e.seq)
    }

    fn place(&mut self, pos: usize, slot: u32) {
        self.heap[pos] = slot;
        self.entries[slot as usize].heap_pos = pos as u32;
    }

    fn sift_up(&mut self, mut pos: usize) {
        let slot = self.heap[pos];
        let key = self.key(slot);
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let parent_slot = self.heap[parent];
            if self.key(parent_slot) <= key {
                break;
            }
            self.place(pos, parent_slot);
            pos = parent;
        }
        self.place(pos, slot);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let slot = self.heap[pos];
        let key = self.key(slot);
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.key(self.heap[right]) < self.key(self.heap[left]) {
                right
            } else {
                left
            };
            if key <= self.key(self.heap[child]) {
                break;
            }
            self.place(pos, self.heap[child]);
            pos = child;
        }
        self.place(pos, slot);
    }

    fn insert(&mut self, deadline: u64, action: TimerAction) -> TimerHandle {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.entries.push(Entry {
                    deadline: 0,
                    seq: 0,
                    generation: 0,
                    heap_pos: FREE,
                    action: None,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[slot as usize];
        e.deadline = deadline;
        e.seq = self.seq;
        e.action = Some(action);
        let generation = e.generation;
        self.heap.push(slot);
        self.sift_up(self.heap.len() - 1);
        TimerHandle { slot, generation }
    }

    /// Removes the entry in heap position `pos` and returns its action.
    fn remove_at(&mut self, pos: usize) -> TimerAction {
        let slot = self.heap[pos];
        let last = self.heap.pop().expect("non-empty heap");
        if pos < self.heap.len() {
            self.place(pos, last);
            self.sift_down(pos);
            self.sift_up(self.entries[last as usize].heap_pos as usize);
        }
        let e = &mut self.entries[slot as usize];
        e.heap_pos = FREE;
        e.generation = e.generation.wrapping_add(1);
        self.free.push(slot);
        e.action.take().expect("a queued timer has an action")
    }

    fn earliest(&self) -> u64 {
        self.heap
            .first()
            .map_or(NO_DEADLINE, |&slot| self.entries[slot as usize].deadline)
    }
}

/// The runtime's timers.
pub(crate) struct TimerQueue {
    heap: Mutex<Heap>,
    /// The earliest deadline (timer nanoseconds), or `NO_DEADLINE`. Written under `heap`.
    next: AtomicU64,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            heap: Mutex::new(Heap::default()),
            next: AtomicU64::new(NO_DEADLINE),
        }
    }

    /// The earliest deadline, or `None`.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        match self.next.load(Ordering::SeqCst) {
            NO_DEADLINE => None,
            d => Some(d),
        }
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        lock(&self.heap).heap.len()
    }
}

/// Registers `action` to run at `deadline`.
pub(crate) fn add(deadline: Instant, action: TimerAction) -> TimerHandle {
    let s = sched();
    let deadline = clock::instant_to_nanos(deadline);
    let (handle, new_earliest) = {
        let mut heap = lock(&s.timers.heap);
        let old = heap.earliest();
        let handle = heap.insert(deadline, action);
        let earliest = heap.earliest();
        s.timers.next.store(earliest, Ordering::SeqCst);
        (handle, earliest < old)
    };
    if new_earliest {
        poke_for(s, deadline);
    }
    handle
}

impl TimerHandle {
    /// Removes the timer. True if it had not fired yet (its action will never run).
    pub(crate) fn cancel(&self) -> bool {
        let s = sched();
        let mut heap = lock(&s.timers.heap);
        let Some(e) = heap.entries.get(self.slot as usize) else {
            return false;
        };
        if e.generation != self.generation || e.heap_pos == FREE {
            return false;
        }
        let pos = e.heap_pos as usize;
        let action = heap.remove_at(pos);
        let earliest = heap.earliest();
        s.timers.next.store(earliest, Ordering::SeqCst);
        drop(heap);
        drop(action);
        true
    }
}

/// A new earliest deadline: make sure an M will wake for it.
fn poke_for(s: &Sched, deadline: u64) {
    // Pairs with the fence in `m::stop_m` (register idle, then read `next`) and in
    // `netpoll::idle_poll` (publish `blocked_until`, then read `next`).
    fence(Ordering::SeqCst);
    // [netpoll] The M blocked in the netpoller is the timer sleeper: it is woken through the
    // poller's waker if this deadline is earlier than its own.
    if crate::netpoll::wake_for_timer(deadline) {
        return;
    }
    if s.npidle.load(Ordering::SeqCst) >= s.nprocs() {
        s.poke_idle_m();
    }
}

/// Whether a timer is due now.
pub(crate) fn due_now(s: &Sched) -> bool {
    match s.timers.next.load(Ordering::Relaxed) {
        NO_DEADLINE => false,
        next => clock::now_nanos() >= next,
    }
}

/// Fires every due timer. Cheap when none is due (one atomic load, plus a clock read when a
/// timer is pending).
pub(crate) fn fire_due(s: &Sched) {
    if !due_now(s) {
        return;
    }
    let now = clock::now_nanos();
    loop {
        let mut batch: [Option<TimerAction>; FIRE_BATCH] = std::array::from_fn(|_| None);
        let mut n = 0;
        {
            let mut heap = lock(&s.timers.heap);
            while n < FIRE_BATCH && heap.earliest() <= now {
                batch[n] = Some(heap.remove_at(0));
                n += 1;
            }
            s.timers.next.store(heap.earliest(), Ordering::SeqCst);
        }
        for action in batch.iter_mut().take(n) {
            if let Some(action) = action.take() {
                action.run();
            }
        }
        if n < FIRE_BATCH {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> TimerAction {
        TimerAction::Call(Arc::new(|| {}))
    }

    #[test]
    fn heap_orders_and_removes_anywhere() {
        let mut h = Heap::default();
        let deadlines = [50u64, 10, 40, 30, 20, 60, 5];
        let handles: Vec<_> = deadlines.iter().map(|&d| h.insert(d, noop())).collect();
        // Remove 40 and 5 from the middle/top.
        for idx in [2usize, 6] {
            let pos = h.entries[handles[idx].slot as usize].heap_pos as usize;
            h.remove_at(pos);
        }
        let mut popped = Vec::new();
        while !h.heap.is_empty() {
            popped.push(h.earliest());
            h.remove_at(0);
        }
        assert_eq!(popped, vec![10, 20, 30, 50, 60]);
        assert_eq!(h.free.len(), h.entries.len());
    }

    #[test]
    fn equal_deadlines_fire_in_insertion_order() {
        let mut h = Heap::default();
        let a = h.insert(7, noop());
        let b = h.insert(7, noop());
        assert_eq!(h.heap[0], a.slot);
        h.remove_at(0);
        assert_eq!(h.heap[0], b.slot);
    }
}
