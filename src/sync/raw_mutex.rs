//! `RawMutex`: the lock word and wait queue behind [`Mutex`](super::Mutex) (Go's `sync.Mutex`).
//!
//! # State word (`state: AtomicU8`)
//! - `LOCKED`: someone owns the mutex (or it is being handed to a waiter, see below).
//! - `PARKED`: the wait queue is not empty, so an unlock must look at it. Set and cleared only
//!   under the queue lock: `PARKED` ⟺ `queue.len() > 0` whenever the queue lock is free.
//! - `WOKEN`: a waiter is already competing for the lock: one an unlocker dequeued and woke, or
//!   a spinning newcomer that claimed the role; it has not yet acquired, re-parked or given up.
//!   While it is set unlocks wake nobody else (Go's `mutexWoken`), so a burst of unlocks costs
//!   at most one wake-up, and none while someone spins.
//! - `WOKEN_OWNS`: the woken waiter starved while on its way, so an unlock kept `LOCKED` set
//!   and passed ownership to it; only with `WOKEN`.
//! - `STARVING`: the lock is being handed from owner to waiter (starvation mode). Only a hint
//!   for lockers: spinning is pointless then (the lock never becomes free), so they park at
//!   once. Set by a handing-off unlock, cleared by every unlock that releases `LOCKED`.
//!
//! The uncontended path is one CAS to lock (`0 → LOCKED`) and one CAS to unlock (`LOCKED → 0`).
//!
//! # Normal and starvation mode
//! In normal mode an unlock clears `LOCKED` and wakes the first waiter, which then races with
//! newly arriving lockers (they usually win: they are already running, and letting them barge
//! keeps throughput high). A waiter that loses goes back to the *front* of the queue, keeping its
//! original wait start. Starvation mode (Go's) hands the lock over directly once a waiter has
//! waited longer than [`STARVATION_THRESHOLD`] (1 ms): `LOCKED` stays set, so new arrivals
//! queue up behind instead of barging, and the unlocker, if it tries to lock again, parks and
//! lets the new owner run. This happens in two places:
//! - an unlock that finds the queue head starving grants it `HANDOFF`;
//! - an unlock that finds a woken waiter still on its way past its starvation deadline (it was
//!   woken but has not been scheduled yet: goroutines are not preempted, so a holder that
//!   relocks in a loop could otherwise keep it out indefinitely) sets `WOKEN_OWNS`, and the
//!   woken waiter owns the lock when it runs. This check reads the coarse clock (a few ns),
//!   and only in the contended unlock path.
//!
//! Handoffs continue while waiters starve, and normal mode resumes by itself once the head has
//! waited less than the threshold (Go leaves starvation mode on the same condition).
//!
//! # Invariants
//! - `LOCKED` is set by exactly one owner; only the owner clears it, or passes it on by handoff
//!   (`HANDOFF` grant, or `WOKEN_OWNS`).
//! - At most one waiter holds the `WOKEN` role; it clears `WOKEN` (and `WOKEN_OWNS`) in the same
//!   CAS that acquires the lock, re-parks it, or gives up after a timeout, so neither the role
//!   nor a lock passed to it is ever lost.
//! - A waiter that times out unlinks itself under the queue lock and clears `PARKED` if it was
//!   the last; an unlocker that finds the queue empty just clears `LOCKED`.
//!
//! # Memory ordering
//! - Acquiring CASes (`Acquire`) pair with the unlocking CAS/`fetch_update` (`Release`): the
//!   previous critical section happens-before the next. Setting `WOKEN_OWNS` is such a
//!   releasing unlock, and the woken waiter's CAS that clears it is the acquiring lock.
//! - A `HANDOFF` publishes the critical section through the wait queue's status store
//!   (`Release`) and the waiter's status load (`Acquire`); `LOCKED` never drops in between.
//! - `woken_deadline` is written (`Relaxed`) before the `Release` update that sets `WOKEN` and
//!   clears `LOCKED`; every later owner acquired the lock after that update, so it reads the
//!   deadline of the waiter now on its way.
//! - `PARKED`/`WOKEN` updates are otherwise `Relaxed`: they carry no data, and every decision
//!   based on them is re-validated by a CAS or under the queue lock.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use super::spin::Spin;
use super::waitq::{token, Position, WaitQueue, WaitResult};
use crate::runtime::clock::coarse_nanos;
use crate::runtime::g::WaitReason;

const LOCKED: u8 = 1;
const PARKED: u8 = 2;
const WOKEN: u8 = 4;
const WOKEN_OWNS: u8 = 8;
const STARVING: u8 = 16;

/// Contended unlocks per look at the clock for an in-flight woken waiter's deadline.
const CLOCK_EVERY: u32 = 16;

/// How long a waiter may wait before the mutex is handed to it directly.
pub(crate) const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Grant: the lock was released, compete for it (you hold the `WOKEN` role).
const RETRY: NonZeroUsize = token(1);
/// Grant: the lock is yours.
const HANDOFF: NonZeroUsize = token(2);

/// A mutual-exclusion lock without data; see the module documentation.
pub(crate) struct RawMutex {
    state: AtomicU8,
    /// Coarse-clock nanoseconds at which the waiter holding the `WOKEN` role starts starving.
    woken_deadline: AtomicU64,
    /// Unlocks since the clock was last compared with `woken_deadline`. Touched only by the
    /// owner, inside its critical section (plain loads and stores, ordered by the lock).
    unlocks_unchecked: AtomicU32,
    /// Waiters, each tagged with the instant it first started waiting.
    queue: WaitQueue<Instant>,
}

impl RawMutex {
    /// An unlocked mutex.
    pub(crate) const fn new() -> Self {
        RawMutex {
            state: AtomicU8::new(0),
            woken_deadline: AtomicU64::new(0),
            unlocks_unchecked: AtomicU32::new(0),
            queue: WaitQueue::new(()),
        }
    }

    /// Locks, parking the caller while another owner holds the mutex.
    #[inline]
    pub(crate) fn lock(&self) {
        // Acquire: pairs with the Release of the previous unlock.
        if let Err(state) =
            self.state
                .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
        {
            self.lock_slow(state, None);
        }
    }

    /// Locks unless `deadline` passes first; returns whether the mutex is now owned.
    pub(crate) fn lock_until(&self, deadline: Instant) -> bool {
        // Acquire: pairs with the Release of the previous unlock.
        match self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(state) => self.lock_slow(state, Some(deadline)),
        }
    }

    /// Locks if the mutex is free right now. Fails while a handoff is in progress (starvation
    /// mode keeps `LOCKED` set), so it never barges past a starving waiter.
    pub(crate) fn try_lock(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED != 0 {
                return false;
            }
            // Acquire: pairs with the Release of the previous unlock.
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => state = current,
            }
        }
    }

    /// Whether the mutex is owned at this instant (a snapshot, for `Debug` and tests).
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// Unlocks. The caller must own the mutex.
    #[inline]
    pub(crate) fn unlock(&self) {
        // Release: pairs with the Acquire of the next lock.
        if let Err(state) =
            self.state
                .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
        {
            self.unlock_slow(state);
        }
    }

    /// The contended lock; `state` is the value the fast path's CAS found.
    #[cold]
    fn lock_slow(&self, mut state: u8, deadline: Option<Instant>) -> bool {
        let mut spin = Spin::new();
        // Whether we hold the WOKEN role (an unlocker picked us to compete).
        let mut woken = false;
        let mut wait_start: Option<Instant> = None;
        loop {
            let woken_bits = if woken { WOKEN | WOKEN_OWNS } else { 0 };
            if woken && state & WOKEN_OWNS != 0 {
                // The lock was passed to us while we were on our way.
                // Acquire: pairs with the Release CAS that set WOKEN_OWNS.
                match self.state.compare_exchange_weak(
                    state,
                    state & !woken_bits,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(current) => state = current,
                }
                continue;
            }
            if state & LOCKED == 0 {
                // Acquire: pairs with the Release of the previous unlock.
                match self.state.compare_exchange_weak(
                    state,
                    (state | LOCKED) & !woken_bits,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(current) => state = current,
                }
                continue;
            }
            // Spin briefly while the owner runs (Go's active spinning). A spinner with parked
            // waiters behind it claims the WOKEN role, so the unlock does not wake a sleeper
            // that would only lose the race to us.
            if state & (WOKEN_OWNS | STARVING) == 0 && spin.spin() {
                if !woken
                    && state & (PARKED | WOKEN) == PARKED
                    && self
                        .state
                        .compare_exchange_weak(
                            state,
                            state | WOKEN,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    woken = true;
                    // We are running, not on our way: no starvation deadline applies.
                    self.woken_deadline.store(u64::MAX, Ordering::Relaxed);
                }
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                if !woken {
                    return false;
                }
                // Give the WOKEN role back; the owner's unlock will then wake someone else.
                // (WOKEN_OWNS is clear here: the loop top would have taken the lock.)
                match self.state.compare_exchange_weak(
                    state,
                    state & !WOKEN,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return false,
                    Err(current) => state = current,
                }
                continue;
            }

            // A waiter that already waited once keeps its place at the front (Go's queueLifo).
            let position = if wait_start.is_some() {
                Position::Front
            } else {
                Position::Back
            };
            let started = *wait_start.get_or_insert_with(Instant::now);
            let result = self.queue.wait(
                started,
                WaitReason::Mutex,
                deadline,
                |_queue| {
                    // Under the queue lock: announce ourselves with PARKED, but only while the
                    // mutex is still owned by someone else, so that owner's unlock sees us.
                    let mut state = self.state.load(Ordering::Relaxed);
                    loop {
                        if state & LOCKED == 0 || (woken && state & WOKEN_OWNS != 0) {
                            return None;
                        }
                        match self.state.compare_exchange_weak(
                            state,
                            (state | PARKED) & !woken_bits,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => return Some(position),
                            Err(current) => state = current,
                        }
                    }
                },
                || {},
                |queue| {
                    if queue.is_empty() {
                        self.state.fetch_and(!PARKED, Ordering::Relaxed);
                    }
                },
            );
            match result {
                // The mutex was unlocked (or passed to us) meanwhile; we keep the WOKEN role
                // if we held it.
                WaitResult::NotQueued => {}
                // Our WOKEN role, if any, was dropped when we queued.
                WaitResult::TimedOut => return false,
                WaitResult::Woken(grant) if grant == HANDOFF => return true,
                WaitResult::Woken(_) => {
                    woken = true;
                    spin.reset();
                }
            }
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// Whether the waiter holding the `WOKEN` role has passed its starvation deadline. Reads the
    /// (coarse, a few ns) clock only on every `CLOCK_EVERY`th call: the deadline is coarse anyway.
    /// Called by the owner only.
    fn woken_waiter_starving(&self) -> bool {
        // Relaxed: owner-only data, ordered by the lock itself.
        let unchecked = self.unlocks_unchecked.load(Ordering::Relaxed) + 1;
        if unchecked < CLOCK_EVERY {
            self.unlocks_unchecked.store(unchecked, Ordering::Relaxed);
            return false;
        }
        self.unlocks_unchecked.store(0, Ordering::Relaxed);
        coarse_nanos() >= self.woken_deadline.load(Ordering::Relaxed)
    }

    /// The contended unlock; `state` is the value the fast path's CAS found.
    #[cold]
    fn unlock_slow(&self, mut state: u8) {
        loop {
            debug_assert!(state & LOCKED != 0, "gort: unlock of an unlocked mutex");
            debug_assert!(state & WOKEN_OWNS == 0, "gort: unlock of a mutex passed on");
            let new = if state & WOKEN != 0 {
                // A woken waiter is on its way: wake nobody else. If it has been starving
                // meanwhile, pass the lock to it instead of releasing it.
                if self.woken_waiter_starving() {
                    state | WOKEN_OWNS | STARVING
                } else {
                    state & !(LOCKED | STARVING)
                }
            } else if state & PARKED == 0 {
                state & !(LOCKED | STARVING)
            } else {
                break;
            };
            // Release: pairs with the Acquire of the next owner.
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(current) => state = current,
            }
        }

        // PARKED and nobody woken: wake the head of the queue.
        let mut queue = self.queue.lock();
        let Some(&started) = queue.front() else {
            // The waiters timed out meanwhile and cleared PARKED.
            // Release: pairs with the Acquire of the next lock.
            self.state
                .fetch_and(!(LOCKED | STARVING), Ordering::Release);
            return;
        };
        let waited = started.elapsed();
        if waited >= STARVATION_THRESHOLD {
            // Starvation mode: LOCKED stays set and ownership moves to the waiter; the wait
            // queue's Release status store publishes our critical section to it.
            queue.wake_front(HANDOFF);
            let starving = if queue.is_empty() {
                0
            } else {
                PARKED | STARVING
            };
            let _ = self
                .state
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| {
                    Some((state & !(PARKED | STARVING)) | starving)
                });
        } else {
            let patience = (STARVATION_THRESHOLD - waited).as_nanos() as u64;
            self.woken_deadline
                .store(coarse_nanos() + patience, Ordering::Relaxed);
            queue.wake_front(RETRY);
            let still_parked = if queue.is_empty() { 0 } else { PARKED };
            // Release: pairs with the Acquire of the next lock (the woken waiter or a barger);
            // also publishes `woken_deadline` (module ordering rules).
            let _ = self
                .state
                .fetch_update(Ordering::Release, Ordering::Relaxed, |state| {
                    Some((state & !(LOCKED | PARKED | STARVING)) | WOKEN | still_parked)
                });
        }
        // Dropping the queue guard unparks the waiter after the queue lock is released.
    }
}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMutex")
            .field("locked", &self.is_locked())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn wait_until_queued(mutex: &RawMutex, count: usize) {
        while mutex.queue.lock().len() != count {
            std::thread::yield_now();
        }
    }

    #[test]
    fn starving_waiter_is_handed_the_lock() {
        let mutex = Arc::new(RawMutex::new());
        let release = Arc::new(std::sync::Barrier::new(2));
        mutex.lock();
        let waiter = {
            let (mutex, release) = (Arc::clone(&mutex), Arc::clone(&release));
            std::thread::spawn(move || {
                mutex.lock();
                release.wait();
                mutex.unlock();
            })
        };
        wait_until_queued(&mutex, 1);
        // The waiter is parked; let it pass the starvation threshold.
        std::thread::sleep(STARVATION_THRESHOLD * 2);
        mutex.unlock();
        // Handoff: LOCKED never dropped, so we cannot barge in even right after unlocking
        // (the waiter keeps the lock until we let it go).
        assert!(mutex.is_locked());
        assert!(!mutex.try_lock());
        release.wait();
        waiter.join().unwrap();
        assert_eq!(mutex.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn fresh_waiter_is_woken_to_compete() {
        let mutex = Arc::new(RawMutex::new());
        mutex.lock();
        let waiter = {
            let mutex = Arc::clone(&mutex);
            std::thread::spawn(move || {
                mutex.lock();
                mutex.unlock();
            })
        };
        wait_until_queued(&mutex, 1);
        mutex.unlock();
        // Normal mode: the lock is released (the waiter may already have taken it) and the
        // queue is empty.
        assert!(mutex.queue.lock().is_empty());
        waiter.join().unwrap();
        assert_eq!(mutex.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_unlock_passes_the_lock_to_a_starving_woken_waiter() {
        // A woken waiter that has not run for longer than its deadline (here: already past)
        // gets the lock passed on: LOCKED stays set and WOKEN_OWNS marks it as its.
        let mutex = RawMutex::new();
        mutex.state.store(LOCKED | WOKEN, Ordering::Relaxed);
        mutex.woken_deadline.store(0, Ordering::Relaxed);
        // The clock is read on every CLOCK_EVERY-th contended unlock.
        for _ in 1..CLOCK_EVERY {
            mutex.unlock();
            assert_eq!(mutex.state.load(Ordering::Relaxed), WOKEN);
            assert!(mutex.try_lock());
        }
        mutex.unlock();
        assert_eq!(
            mutex.state.load(Ordering::Relaxed),
            LOCKED | WOKEN | WOKEN_OWNS | STARVING
        );
        assert!(!mutex.try_lock());
        // With the deadline ahead, the unlock simply releases.
        mutex.state.store(LOCKED | WOKEN, Ordering::Relaxed);
        mutex.woken_deadline.store(u64::MAX, Ordering::Relaxed);
        mutex
            .unlocks_unchecked
            .store(CLOCK_EVERY - 1, Ordering::Relaxed);
        mutex.unlock();
        assert_eq!(mutex.state.load(Ordering::Relaxed), WOKEN);
    }

    #[test]
    fn timed_out_waiter_clears_parked() {
        let mutex = RawMutex::new();
        mutex.lock();
        assert!(!mutex.lock_until(Instant::now() + Duration::from_millis(5)));
        assert_eq!(mutex.state.load(Ordering::Relaxed), LOCKED);
        mutex.unlock();
        assert_eq!(mutex.state.load(Ordering::Relaxed), 0);
    }
}
