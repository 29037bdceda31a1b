//! `find_runnable`: where an M looks for its next G, in Go's order but for two steps (below).
//!
//! 1. Every 61st tick, the netpoller (without blocking) and the global queue first, so a
//!    steady local hand-off cannot starve sockets or the global queue.
//! 2. Due timers are fired (they queue the Gs they wake on this P).
//! 3. `runnext`, then the local queue. `runnext` is skipped after a streak of hand-offs so two
//!    Gs bouncing a value between them cannot starve the rest of the local queue.
//! 4. A batch from the global queue.
//! 5. Half of a queue that holds a backlog (at least `BACKLOG` Gs), in one look.
//! 6. The netpoller, without blocking (`netpoll::poll_ready`).
//! 7. Spinning (at most half the busy Ps' Ms spin, see `sched.rs`): steal half of a random
//!    victim's queue (four passes, the last one also taking a victim's `runnext`), then a
//!    short wait.
//! 8. Nothing: give the P back, re-check under the barriers described in `sched.rs`, sleep.
//!
//! Go polls before it steals at all. Step 5 takes a backlog first, as tokio steals before it
//! polls: under an HTTP load (`benches/http`) Gs readied by one poll wait in a batch on one P,
//! and a P that ran dry and polled first served newer readiness ahead of them, which put
//! gort's p90 latency ~25% above tokio's. Only a backlog, in one look, and without turning
//! spinner: a lone queued G is usually about to run on its own P's warm cache, and a spinner
//! that finds work wakes another M. Turning spinner and stealing everything before the poll
//! (tokio's order taken whole) slowed a 2-proc TCP echo round trip from 12.8 to 20.6 µs.

use std::sync::atomic::Ordering;

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
        // A backlog on another P first (see the module docs). One look, not a spin: this M
        // does not count as a spinner for it.
        if let Some(g) = steal_backlog(s, m, p) {
            return g;
        }
        // [netpoll] Goroutines whose sockets became ready; they land on this P. Polled before
        // this M turns spinner: a spinner that finds work wakes another M (`reset_spinning`),
        // which for one readied G is a futex call for nothing.
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
        // Give the P back and go to sleep (the loop's next turn, with no P, is `stop_m`),
        // unless the barriers turn up work: then the loop looks again with a P.
        release_and_recheck(s, m);
    }
}

/// Steps 1-4: the cheap, local places.
fn find_local(s: &Sched, m: &mut MLocal, p: &'static P) -> Option<GRef> {
    m.tick = m.tick.wrapping_add(1);
    if m.tick % GLOBAL_CHECK_TICKS == 0 {
        // [netpoll] While every P is busy nobody blocks in the poller: this is where busy Ms
        // look (a cheap check without I/O waiters, skipped while an M blocks in the poller).
        crate::netpoll::poll_ready();
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
/// P (`m::execute`'s fast path). Not on the ticks where the global queue is looked at first:
/// that tick is left for `find_local`, which counts it. Otherwise the tick is counted here,
/// and on the timer ticks due timers are fired here too, as `find_local` would before it
/// looks at `runnext` (with no timer due that is one atomic load: leaving the fast path for
/// it cost a yield ~15 instructions amortised).
#[inline]
pub(crate) fn fast_path_allowed(s: &Sched, m: &mut MLocal) -> bool {
    let next = m.tick.wrapping_add(1);
    if next % GLOBAL_CHECK_TICKS == 0 {
        return false;
    }
    m.tick = next;
    if next % TIMER_CHECK_TICKS == 0 {
        super::timer::fire_due(s);
    }
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

/// The next G to run on `p` after `g` yielded (`m::execute`'s fast path). While nothing else
/// is queued here but an earlier yielder, the two trade places in `yielded` (Gs taking turns
/// with `yield_now` never touch `runq`); otherwise `g` goes to the tail and the usual order
/// applies.
///
/// # Safety
/// The caller holds `p`.
#[inline]
pub(crate) unsafe fn next_after_yield(m: &mut MLocal, p: &'static P, g: GRef) -> Option<GRef> {
    // SAFETY: the caller holds `p`.
    unsafe {
        if p.only_yielded_left() {
            m.runnext_streak = 0;
            return p.rotate_yielded(g);
        }
        p.put_yielded(g);
    }
    next_on_p(m, p)
}

fn steal_global(s: &Sched, p: &P) -> Option<GRef> {
    loop {
        // SAFETY: this M holds `p`.
        match s.global.steal_batch_and_pop(unsafe { p.runq_for_batch() }) {
            Steal::Success(g) => return Some(g),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

/// A queue at least this long is a backlog: stolen from before the netpoller is polled.
const BACKLOG: usize = 4;

/// Step 5: steal half of another P's queue if it holds a backlog (one pass, no `runnext`).
/// A lone queued G is left alone here: its P is usually about to run it on a warm cache
/// (a G readied by the G running there), so taking it would move it between cores for
/// nothing; the poller may have work of our own first.
fn steal_backlog(s: &Sched, m: &mut MLocal, p: &'static P) -> Option<GRef> {
    victims(s, m, p)
        .filter(|victim| victim.backlog() >= BACKLOG)
        // SAFETY: this M holds `p`, and `victims` never yields `p` itself.
        .find_map(|victim| unsafe { p.steal_half(victim, false) })
}

/// Step 7: steal half of another P's queue.
fn steal_work(s: &Sched, m: &mut MLocal, p: &'static P) -> Option<GRef> {
    if s.nprocs() <= 1 {
        return None;
    }
    for pass in 0..STEAL_PASSES {
        let last_pass = pass == STEAL_PASSES - 1;
        // SAFETY: this M holds `p`, and `victims` never yields `p` itself.
        let stolen = victims(s, m, p).find_map(|victim| unsafe { p.steal_half(victim, last_pass) });
        if let Some(g) = stolen.or_else(|| steal_global(s, p)) {
            return Some(g);
        }
    }
    None
}

/// The Ps other than `p` (created ones only), from a random one on, so that stealers spread
/// over their victims.
fn victims<'a>(
    s: &'a Sched,
    m: &mut MLocal,
    p: &'static P,
) -> impl Iterator<Item = &'static P> + 'a {
    let nprocs = s.nprocs();
    let start = m.next_random() as usize % nprocs.max(1);
    (0..nprocs)
        .map(move |i| (start + i) % nprocs)
        .filter(move |&id| id != p.id)
        .filter_map(move |id| s.p_if_created(id))
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

/// Step 8: give the P back; then the re-checks that make a lost wake-up impossible. If they
/// find work, `m` holds a P again when this returns.
///
/// A thread with no P that queues a G globally (`sched::ready`) pushes, fences, then wakes an
/// M only if some P is idle and no M spins: a spinner is trusted to find the G. So an M
/// must stop counting as a spinner, and make its P visible as idle, *before* its last look
/// at the global queue (`Sched::give_back_p` makes the look, after its fence).
/// Looking first and uncounting after left a window where the pusher saw the spinner, the
/// spinner had already looked, and the G sat in the global queue with every M asleep.
fn release_and_recheck(s: &Sched, m: &mut MLocal) {
    let was_spinning = m.spinning;
    if was_spinning {
        m.spinning = false;
        s.nmspinning.fetch_sub(1, Ordering::SeqCst);
    }
    if s.give_back_p(m) {
        resume(s, m, was_spinning);
        return;
    }
    if was_spinning {
        // A G queued on a P's local queue while we spun: its readier saw us spinning and
        // woke nobody (`Sched::wakep_local`). Only the last spinner must look, but looking
        // is cheap. (The fence in `give_back_p` orders it after our decrement.)
        let nprocs = s.nprocs();
        for id in 0..nprocs {
            let Some(victim) = s.p_if_created(id) else {
                continue;
            };
            if !victim.is_empty() {
                if s.take_idle_p_for(m) {
                    resume(s, m, true);
                }
                return;
            }
        }
    }
    if super::timer::due_now(s) && s.take_idle_p_for(m) {
        resume(s, m, false);
    }
}

/// The re-checks found work and took a P back for `m` (had another M taken every idle one,
/// it would run the work): look again, spinning again if we were, so that finding the work
/// wakes a further M (`reset_spinning`).
fn resume(s: &Sched, m: &mut MLocal, spinning: bool) {
    if spinning {
        m.spinning = true;
        s.nmspinning.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// While non-zero (tests running that want it), an M that found the global queue empty on
    /// its way to sleep pauses there, so a push from a thread with no P lands in the window
    /// the regression tests below are about.
    static WIDEN: AtomicUsize = AtomicUsize::new(0);

    pub(crate) fn widen_the_window_after_the_last_global_look() {
        if WIDEN.load(Ordering::Relaxed) != 0 {
            for _ in 0..3_000 {
                std::hint::spin_loop();
            }
        }
    }

    /// A plain thread and a goroutine bounce a value 2,000 times, the thread's sends arriving
    /// at varied moments against the idle M's spin and give-up. Every send from the thread
    /// queues the goroutine on the global queue (`Sched::wakep`). With `io_waiter`, another
    /// goroutine waits on a socket meanwhile, so idle Ms go through the netpoller
    /// (`netpoll::idle_poll`) on their way to sleep.
    fn thread_goroutine_ping_pong_with_a_widened_window(io_waiter: bool) {
        struct Narrow;
        impl Drop for Narrow {
            fn drop(&mut self) {
                WIDEN.fetch_sub(1, Ordering::Relaxed);
            }
        }
        WIDEN.fetch_add(1, Ordering::Relaxed);
        let _narrow = Narrow;
        let waiter = io_waiter.then(|| {
            let (mut near, far) = crate::net::UnixStream::pair().unwrap();
            let reader = crate::spawn(move || {
                let mut far = far;
                let mut byte = [0u8; 1];
                far.read_exact(&mut byte).unwrap();
            });
            (reader, move || near.write_all(b"x").unwrap())
        });
        let (to_g, from_thread) = crate::chan::<usize>(0);
        let (to_thread, from_g) = crate::chan::<usize>(0);
        let echo = crate::spawn(move || {
            for v in from_thread.iter() {
                to_thread.send(v + 1).unwrap();
            }
        });
        for i in 0..2_000 {
            for _ in 0..(i * 37) % 4_000 {
                std::hint::spin_loop();
            }
            to_g.send(i).unwrap();
            let reply = from_g.recv_timeout(Duration::from_secs(10));
            assert_eq!(
                reply,
                Ok(i + 1),
                "round {i}: the echoing goroutine was never woken"
            );
        }
        drop(to_g);
        echo.join().unwrap();
        if let Some((reader, mut release)) = waiter {
            release();
            reader.join().unwrap();
        }
    }

    /// With the last spinner's final look at the global queue taken before it stopped
    /// counting as a spinner, the thread saw a spinner and woke nobody, the M had already
    /// looked, and the goroutine was never run: this lost a wake-up within a hundred rounds.
    #[test]
    fn a_goroutine_readied_as_the_last_spinner_gives_up_is_run() {
        thread_goroutine_ping_pong_with_a_widened_window(false);
    }

    /// The same traffic while idle Ms sleep in the netpoller, where an M gives its P back
    /// through `Sched::give_back_p` after a poll. (That path, the idle list's
    /// spurious wake-up and sysmon's hand-off had the same race: they looked at the global
    /// queue, then put the P in the idle list with no look after. This test does not reach
    /// their window often enough to fail on that old code: they were found by reading.)
    #[test]
    fn a_goroutine_readied_as_a_poller_gives_its_p_back_is_run() {
        thread_goroutine_ping_pong_with_a_widened_window(true);
    }
}
