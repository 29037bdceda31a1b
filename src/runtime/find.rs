//! `find_runnable`: where an M looks for its next G, in Go's order.
//!
//! 1. Every 61st tick, the global queue first, so a steady local hand-off cannot starve it.
//! 2. Due timers are fired (they queue the Gs they wake on this P).
//! 3. `runnext`, then the local queue. `runnext` is skipped after a streak of hand-offs so two
//!    Gs bouncing a value between them cannot starve the rest of the local queue.
//! 4. A batch from the global queue.
//! 5. The netpoller, without blocking (`netpoll::poll_ready`).
//! 6. Spinning: steal half of a random victim's queue (four passes, the last one also taking
//!    a victim's `runnext`). At most half the busy Ps' Ms spin (see `sched.rs`).
//! 7. Nothing: give the P back, re-check under the barriers described in `sched.rs`, sleep.

use std::sync::atomic::{fence, Ordering};

use crossbeam_deque::Steal;

use super::g::GRef;
use super::m::{self, MLocal};
use super::p::P;
use super::sched::Sched;

/// How many consecutive `runnext` Gs run before the local queue gets a turn.
const RUNNEXT_STREAK_LIMIT: u32 = 64;

/// Passes over the victims a spinning M makes before giving up.
const STEAL_PASSES: usize = 4;

/// Rounds of (pause, look again) a spinning M makes before giving its P back. Putting an M
/// to sleep and waking it costs two futex calls and, on a VM, tens of microseconds of
/// wake-up latency; work often arrives within a few microseconds (a producer spawning in a
/// loop, a ping-pong partner replying), so a spinner waits that long first. Bounded, and only
/// spinners (at most half the busy Ps) do it.
const SPIN_ROUNDS: usize = 64;

/// Finds a G to run; sleeps the M until there is one. Returns with `m.p` held.
pub(crate) fn find_runnable(s: &Sched, m: &mut MLocal) -> GRef {
    loop {
        let p = match m.p {
            Some(p) => p,
            None => {
                let (p, spinning) = m::stop_m(s, m);
                m.acquire_p(p);
                if spinning {
                    m.spinning = true;
                }
                continue;
            }
        };
        if p.id >= s.nprocs() {
            s.retire_if_needed(m);
            continue;
        }
        if let Some(g) = find_local(s, m, p) {
            return g;
        }
        // [netpoll] Goroutines whose sockets became ready, before stealing (Go's order); they
        // land on this P.
        if crate::netpoll::poll_ready() {
            continue;
        }
        // Steal, if not too many Ms already are.
        let busy = s.nprocs().saturating_sub(s.npidle.load(Ordering::SeqCst));
        if m.spinning || 2 * s.nmspinning.load(Ordering::SeqCst) < busy {
            if !m.spinning {
                m.spinning = true;
                s.nmspinning.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(g) = steal_work(s, m, p) {
                return g;
            }
            if let Some(g) = spin_for_work(s, m, p) {
                return g;
            }
        }
        // Give the P back and go to sleep, unless the barriers turn up work.
        if let Some(g) = release_and_recheck(s, m) {
            return g;
        }
    }
}

/// Steps 1-4: the cheap, local places.
fn find_local(s: &Sched, m: &mut MLocal, p: &'static P) -> Option<GRef> {
    m.tick = m.tick.wrapping_add(1);
    if m.tick % GLOBAL_CHECK_TICKS == 0 {
        if let Some(g) = steal_global(s, p) {
            return Some(g);
        }
    }
    if m.tick % TIMER_CHECK_TICKS == 0 {
        super::timer::fire_due(s);
    }
    if let Some(g) = next_on_p(m, p) {
        return Some(g);
    }
    // The local queue is empty: a due timer may have work for us.
    super::timer::fire_due(s);
    if let Some(g) = p.take_runnext() {
        return Some(g);
    }
    // SAFETY: this M holds `p`.
    if let Some(g) = unsafe { p.pop_local() } {
        return Some(g);
    }
    steal_global(s, p)
}

/// Every this many ticks the global queue is looked at first (Go's 61: prime, so a periodic
/// pattern in the local hand-offs cannot keep dodging it).
const GLOBAL_CHECK_TICKS: u32 = 61;

/// Every this many ticks due timers are fired before the local queue is looked at.
const TIMER_CHECK_TICKS: u32 = 8;

/// Whether the next schedule may skip the full search and take the next G straight from this
/// P (`m::execute`'s fast path). If not, the tick is left for `find_local`, which counts it
/// and makes the periodic global-queue and timer checks; if so, it is counted here.
#[inline]
pub(crate) fn fast_path_allowed(m: &mut MLocal) -> bool {
    let next = m.tick.wrapping_add(1);
    if next % TIMER_CHECK_TICKS == 0 || next % GLOBAL_CHECK_TICKS == 0 {
        return false;
    }
    m.tick = next;
    true
}

/// `runnext`, then the local queue. `runnext` is skipped after a streak of hand-offs so two
/// Gs bouncing a value between them cannot starve the rest of the local queue.
#[inline]
pub(crate) fn next_on_p(m: &mut MLocal, p: &'static P) -> Option<GRef> {
    if m.runnext_streak < RUNNEXT_STREAK_LIMIT {
        if let Some(g) = p.take_runnext() {
            m.runnext_streak += 1;
            return Some(g);
        }
    } else if let Some(g) = p.take_runnext() {
        // Streak over: the hand-off G goes to the back, the queue's head runs.
        // SAFETY: this M holds `p`.
        unsafe { p.put(g, false) };
    }
    m.runnext_streak = 0;
    // SAFETY: this M holds `p`.
    unsafe { p.pop_local() }
}

fn steal_global(s: &Sched, p: &P) -> Option<GRef> {
    loop {
        // SAFETY: this M holds `p`.
        match s.global.steal_batch_and_pop(unsafe { p.runq() }) {
            Steal::Success(g) => return Some(g),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

/// Step 5: steal half of another P's queue.
fn steal_work(s: &Sched, m: &mut MLocal, p: &'static P) -> Option<GRef> {
    let nprocs = s.nprocs();
    if nprocs <= 1 {
        return None;
    }
    for pass in 0..STEAL_PASSES {
        let last_pass = pass == STEAL_PASSES - 1;
        let start = m.next_random() as usize % nprocs;
        for i in 0..nprocs {
            let victim_id = (start + i) % nprocs;
            if victim_id == p.id {
                continue;
            }
            let Some(victim) = s.p_if_created(victim_id) else {
                continue;
            };
            // SAFETY: this M holds `p` (and not `victim`, which has another id).
            if let Some(g) = unsafe { p.steal_half(victim, last_pass) } {
                return Some(g);
            }
        }
        if let Some(g) = steal_global(s, p) {
            return Some(g);
        }
    }
    None
}

/// The spinner's short wait: pause, then look at every queue again.
fn spin_for_work(s: &Sched, m: &mut MLocal, p: &'static P) -> Option<GRef> {
    // [netpoll] With goroutines waiting for I/O, their work arrives through the poller, where
    // an idle M waits without burning a core the kernel's network stack (and the peer)
    // need: spin only briefly (one poll) before giving the P back.
    let rounds = if crate::netpoll::has_io_waiters() {
        4
    } else {
        SPIN_ROUNDS
    };
    for round in 0..rounds {
        for _ in 0..(16 << (round / 16)) {
            std::hint::spin_loop();
        }
        // [netpoll] Work often arrives as socket readiness: look there too (readied Gs land
        // on this P), every fourth round to keep the system calls few.
        if round % 4 == 3 {
            crate::netpoll::poll_ready();
        }
        if let Some(g) = p.take_runnext() {
            return Some(g);
        }
        // SAFETY: this M holds `p`.
        if let Some(g) = unsafe { p.pop_local() } {
            return Some(g);
        }
        if let Some(g) = steal_global(s, p) {
            return Some(g);
        }
        if let Some(g) = steal_work(s, m, p) {
            return Some(g);
        }
        if super::timer::due_now(s) {
            return None;
        }
    }
    None
}

/// A spinning M found work: it stops spinning, and if it was the last spinner it wakes
/// another M to look for more (Go's `resetspinning`).
pub(crate) fn reset_spinning(s: &Sched, m: &mut MLocal) {
    m.spinning = false;
    let was = s.nmspinning.fetch_sub(1, Ordering::SeqCst);
    debug_assert!(was > 0);
    if was == 1 {
        s.wakep();
    }
}

/// Step 6: give the P back; then the re-checks that make a lost wake-up impossible.
fn release_and_recheck(s: &Sched, m: &mut MLocal) -> Option<GRef> {
    let p = m.release_p().expect("holding a P");
    s.put_idle_p(p);
    // StoreLoad: our P is visible as idle before we look at the global queue again. Pairs
    // with the fence in `Sched::wakep` after a global push.
    fence(Ordering::SeqCst);
    if !s.global.is_empty() {
        if let Some(p) = s.take_idle_p() {
            m.acquire_p(p);
            return None;
        }
    }
    if m.spinning {
        m.spinning = false;
        s.nmspinning.fetch_sub(1, Ordering::SeqCst);
        // StoreLoad: we no longer count as a spinner before we look at the queues again.
        fence(Ordering::SeqCst);
        let nprocs = s.nprocs();
        for id in 0..nprocs {
            let Some(victim) = s.p_if_created(id) else {
                continue;
            };
            if !victim.is_empty() {
                if let Some(p) = s.take_idle_p() {
                    m.acquire_p(p);
                    m.spinning = true;
                    s.nmspinning.fetch_add(1, Ordering::SeqCst);
                    return None;
                }
                break;
            }
        }
    }
    if super::timer::due_now(s) {
        if let Some(p) = s.take_idle_p() {
            m.acquire_p(p);
            return None;
        }
    }
    None
}
