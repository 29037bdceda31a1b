//! `park` and `Unparker`: the only way anything in gort blocks and is woken.
//!
//! # The contract (what channels, sync, time and the netpoller build on)
//! - [`park`] blocks the caller until an [`Unparker`] for it is used. Inside a goroutine it
//!   parks the G (its M runs other Gs); on a plain OS thread it blocks the thread.
//! - An `Unparker` is cheap to clone, `Send + Sync`, and may be used from any thread, any
//!   number of times. Unparks are a *token*, as with `std::thread::park`: an unpark that
//!   arrives before the park is not lost, it makes the next park return at once. Several
//!   unparks before one park leave one token.
//! - `park` may return spuriously (a stale token from an earlier operation, a timer that fired
//!   late). Every caller parks in a loop that re-checks its own condition.
//! - [`park_until`] also returns once the deadline has passed.
//! - Nothing calls `Unparker::unpark` while holding a lock that the woken side takes before it
//!   can re-check (it would only cost a wasted switch, but keep wake-ups outside locks).

//!
//! # How a G parks (the token protocol: `token.rs`)
//! - `park`: a token (`NOTIFIED`) is consumed and `park` returns at once. Otherwise the G
//!   records `Waiting(reason)` and switches to its M, which commits the park on its own stack
//!   with `EMPTY → PARKED`. If that CAS fails, an unpark arrived in between and left a token:
//!   the M resumes the G at once. A G is never queued while it still runs on its stack.
//! - `unpark`: `EMPTY → NOTIFIED` (the G is running: leave a token), `NOTIFIED → NOTIFIED`
//!   (a token is there already; still a CAS, so the caller's writes are published: see
//!   `token.rs`), or `PARKED → EMPTY`, and then the winner of that CAS, and only it, queues
//!   the G (in `runnext` of the unparker's P: the woken G runs next, Go's hand-off).
//! - An `Unparker` holds no reference to its G (a `WakeRef`, `gref.rs`): the parked G is kept
//!   alive by the reference its M gave up when committing the park, which the winning unpark
//!   takes back and puts in the run queue. Making an unparker and waking through it touch no
//!   reference count. An unparker that outlives its G can only wake whichever G reuses the
//!   block: a spurious wake-up, which the loop every caller parks in absorbs.
//! - Orderings: the unparker's writes before `unpark` (a value put in a channel slot)
//!   happen-before the G's reads after `park` returns: the CAS that takes the token or queues
//!   the G is Release, the consuming CAS and the run-queue pop are Acquire.

use std::time::Instant;

use super::coro::{self, Switch};
use super::g::{GState, WaitReason, G};
use super::gref::WakeRef;
use super::m::current_g;
use super::timer::{self, TimerAction};

/// Blocks the caller until it is unparked (see the module contract).
#[inline]
pub(crate) fn park(reason: WaitReason) {
    match current_g() {
        Some(g) => park_g(g, reason),
        None => std::thread::park(),
    }
}

/// Blocks the caller until it is unparked or `deadline` has passed.
pub(crate) fn park_until(reason: WaitReason, deadline: Instant) {
    match current_g() {
        Some(g) => {
            if take_token(g) || Instant::now() >= deadline {
                return;
            }
            let handle = timer::add(deadline, TimerAction::Unpark(Unparker::for_g(g)));
            park_g(g, reason);
            handle.cancel();
        }
        None => {
            let now = Instant::now();
            if deadline > now {
                std::thread::park_timeout(deadline - now);
            }
        }
    }
}

#[inline]
fn take_token(g: &G) -> bool {
    g.park_token().take()
}

#[inline]
fn park_g(g: &G, reason: WaitReason) {
    if take_token(g) {
        return;
    }
    g.set_state(GState::Waiting(reason));
    coro::suspend(g, Switch::Park);
}

/// Switches the running G to the back of its P's queue (or yields the thread).
///
/// `#[inline]`, as is the public `yield_now`, so the switch sits in the caller's own frame:
/// see "Switches and the return-address predictor" in `coro.rs` (a yield inside a function
/// of its own cost two mispredicted returns, ~60% of a yield).
#[inline]
pub(crate) fn yield_now() {
    match current_g() {
        Some(g) => coro::suspend(g, Switch::Yield),
        None => std::thread::yield_now(),
    }
}

/// Wakes one parked goroutine or thread; see the module contract.
#[derive(Clone, Debug)]
pub(crate) struct Unparker {
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Goroutine(WakeRef),
    Thread(std::thread::Thread),
}

impl Unparker {
    /// The unparker of the calling goroutine (or plain thread).
    #[inline]
    pub(crate) fn current() -> Unparker {
        match current_g() {
            Some(g) => Unparker::for_g(g),
            None => Unparker {
                target: Target::Thread(std::thread::current()),
            },
        }
    }

    #[inline]
    fn for_g(g: &G) -> Unparker {
        Unparker {
            target: Target::Goroutine(WakeRef::of(g)),
        }
    }

    /// Makes the target runnable again, or leaves it a token if it is not parked yet. A
    /// woken goroutine runs next on the caller's P (a hand-off).
    #[inline]
    pub(crate) fn unpark(&self) {
        match &self.target {
            Target::Goroutine(g) => unpark_g(*g, true),
            Target::Thread(t) => t.unpark(),
        }
    }

    /// As `unpark`, but a woken goroutine joins the back of the run queue: for wake-ups in
    /// batches (timers), which must keep their order.
    pub(crate) fn unpark_in_order(&self) {
        match &self.target {
            Target::Goroutine(g) => unpark_g(*g, false),
            Target::Thread(t) => t.unpark(),
        }
    }
}

#[inline]
fn unpark_g(g: WakeRef, next: bool) {
    if let Some(g) = g.unpark() {
        g.set_state(GState::Runnable);
        super::sched::ready(g, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::g::GRef;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A one-slot mailbox: the waiter parks until a flag is set; unparkers come from threads
    /// and goroutines, before and after the park.
    #[test]
    fn an_unpark_before_the_park_is_not_lost() {
        for _ in 0..2_000 {
            let flag = Arc::new(AtomicBool::new(false));
            let slot: Arc<Mutex<Option<Unparker>>> = Arc::new(Mutex::new(None));
            let (f, s) = (flag.clone(), slot.clone());
            let waiter = crate::spawn(move || {
                *s.lock().unwrap() = Some(Unparker::current());
                while !f.load(Ordering::Acquire) {
                    park(WaitReason::Park);
                }
            });
            let unparker = loop {
                if let Some(u) = slot.lock().unwrap().take() {
                    break u;
                }
                std::thread::yield_now();
            };
            flag.store(true, Ordering::Release);
            unparker.unpark();
            waiter.join().unwrap();
        }
    }

    #[test]
    fn a_wake_up_storm_loses_no_goroutine() {
        const WAITERS: usize = 200;
        const ROUNDS: usize = 50;
        let counters: Arc<Vec<AtomicUsize>> =
            Arc::new((0..WAITERS).map(|_| AtomicUsize::new(0)).collect());
        let unparkers: Arc<Mutex<Vec<Option<Unparker>>>> =
            Arc::new(Mutex::new(vec![None; WAITERS]));
        let mut handles = Vec::new();
        for i in 0..WAITERS {
            let (c, u) = (counters.clone(), unparkers.clone());
            handles.push(crate::spawn(move || {
                u.lock().unwrap()[i] = Some(Unparker::current());
                // Each round: wait until an unparker has bumped our counter past the round.
                for round in 1..=ROUNDS {
                    while c[i].load(Ordering::Acquire) < round {
                        park(WaitReason::Park);
                    }
                }
            }));
        }
        let all: Vec<Unparker> = loop {
            let v = unparkers.lock().unwrap();
            if v.iter().all(Option::is_some) {
                break v.iter().map(|u| u.clone().unwrap()).collect();
            }
            drop(v);
            std::thread::yield_now();
        };
        // Half the waking comes from plain threads, half from goroutines, interleaved.
        let all = Arc::new(all);
        let mut wakers = Vec::new();
        for half in 0..2 {
            let (all, counters) = (all.clone(), counters.clone());
            let body = move || {
                for _ in 0..ROUNDS {
                    for i in (half..WAITERS).step_by(2) {
                        counters[i].fetch_add(1, Ordering::Release);
                        all[i].unpark();
                        all[i].unpark(); // a second unpark is harmless
                    }
                }
            };
            if half == 0 {
                wakers.push(std::thread::spawn(body));
            } else {
                let g = crate::spawn(body);
                wakers.push(std::thread::spawn(move || g.join().unwrap()));
            }
        }
        for w in wakers {
            w.join().unwrap();
        }
        for h in handles {
            h.join().unwrap();
        }
    }

    /// An `Unparker` holds no reference: one kept after its goroutine finished can only wake
    /// whichever goroutine now lives in the recycled block, spuriously. A thread hammers such
    /// stale unparkers while new goroutines (in those blocks) park on channels and on a
    /// counter: each must still finish once, with every value received exactly once.
    #[test]
    fn stale_unparkers_only_cause_spurious_wake_ups() {
        let stale: Vec<Unparker> = (0..256)
            .map(|_| crate::spawn(Unparker::current).join().unwrap())
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let hammer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sweeps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    stale.iter().for_each(Unparker::unpark);
                    sweeps += 1;
                }
                sweeps
            })
        };
        for _ in 0..100 {
            const RECEIVERS: u64 = 32;
            const VALUES: u64 = 2_000;
            let (tx, rx) = crate::chan::<u64>(0);
            let released = Arc::new(AtomicUsize::new(0));
            let receivers: Vec<_> = (0..RECEIVERS)
                .map(|_| {
                    let rx = rx.clone();
                    crate::spawn(move || rx.iter().sum::<u64>())
                })
                .collect();
            drop(rx);
            // A goroutine parked on a plain counter: woken spuriously, it parks again.
            let (slot_tx, slot_rx) = std::sync::mpsc::channel();
            let counter = released.clone();
            let sleeper = crate::spawn(move || {
                slot_tx.send(Unparker::current()).unwrap();
                while counter.load(Ordering::Acquire) == 0 {
                    park(WaitReason::Park);
                }
            });
            let sender = crate::spawn(move || (0..VALUES).for_each(|v| tx.send(v).unwrap()));
            sender.join().unwrap();
            let total: u64 = receivers.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(total, VALUES * (VALUES - 1) / 2);
            released.store(1, Ordering::Release);
            slot_rx.recv().unwrap().unpark();
            sleeper.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(hammer.join().unwrap() > 0);
    }

    /// The waker publishes a condition, then unparks; the G, which carries a stale token from
    /// an earlier operation, re-checks the condition around each park (every blocking object
    /// works this way). The unpark must publish the condition even when it finds the stale
    /// token there: once it only loaded the token, the G could consume the stale token, read
    /// the condition before the waker's store reached it, and park for good (a select stress
    /// test hung on 2 procs about once in ten runs). A lost wake-up shows here as a round that
    /// lasts until the waiter's generous deadline (the old unpark lost one in about every
    /// hundred rounds here).
    #[test]
    fn a_condition_set_before_unpark_is_seen_despite_a_stale_token() {
        const ROUNDS: u64 = 20_000;
        let asked = Arc::new(AtomicU64::new(0));
        let released = Arc::new(AtomicU64::new(0));
        let (slot_tx, slot_rx) = std::sync::mpsc::channel();
        let (a, r) = (asked.clone(), released.clone());
        let waiter = crate::spawn(move || {
            let me = Unparker::current();
            slot_tx.send(me.clone()).unwrap();
            for round in 1..=ROUNDS {
                me.unpark(); // the stale token a late timer would leave
                a.store(round, Ordering::Release);
                let deadline = Instant::now() + Duration::from_secs(2);
                while r.load(Ordering::Acquire) < round {
                    park_until(WaitReason::Park, deadline);
                }
                // Only the deadline ends a wait whose wake-up was lost (the condition, long
                // since stored, is then seen); a round never takes that long otherwise.
                if Instant::now() >= deadline {
                    a.store(u64::MAX, Ordering::Release); // lets the waker go
                    return Err(round);
                }
            }
            Ok(())
        });
        let unparker = slot_rx.recv().unwrap();
        // A plain thread, so the two sides really run at once whatever the procs.
        let waker = std::thread::spawn(move || {
            for round in 1..=ROUNDS {
                let seen = loop {
                    match asked.load(Ordering::Acquire) {
                        seen if seen < round => std::hint::spin_loop(),
                        seen => break seen,
                    }
                };
                if seen == u64::MAX {
                    return;
                }
                released.store(round, Ordering::Release);
                unparker.unpark();
            }
        });
        let outcome = waiter.join().unwrap();
        waker.join().unwrap();
        assert_eq!(outcome, Ok(()), "the wake-up of this round was lost");
    }

    #[test]
    fn park_until_returns_at_the_deadline() {
        let took = crate::spawn(|| {
            let start = Instant::now();
            park_until(WaitReason::Sleep, start + Duration::from_millis(10));
            start.elapsed()
        })
        .join()
        .unwrap();
        assert!(took >= Duration::from_millis(10));
        // And on a plain thread.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(5) {
            park_until(WaitReason::Sleep, start + Duration::from_millis(5));
        }
    }

    #[test]
    fn a_parked_goroutine_records_why() {
        let slot: Arc<Mutex<Option<(Unparker, GRef)>>> = Arc::new(Mutex::new(None));
        let s = slot.clone();
        let go = Arc::new(AtomicBool::new(false));
        let go2 = go.clone();
        let h = crate::spawn(move || {
            let g = current_g().unwrap();
            // SAFETY: every G lives in a GRef block and this one is running, so it is alive.
            let gref = unsafe { GRef::from_live(g) };
            *s.lock().unwrap() = Some((Unparker::current(), gref));
            while !go2.load(Ordering::Acquire) {
                park(WaitReason::ChanRecv);
            }
        });
        let (u, g) = loop {
            if let Some(x) = slot.lock().unwrap().take() {
                break x;
            }
            std::thread::yield_now();
        };
        while g.state() != GState::Waiting(WaitReason::ChanRecv) {
            std::thread::yield_now();
        }
        go.store(true, Ordering::Release);
        u.unpark();
        h.join().unwrap();
        // The M marks the G dead just after `join` can return: wait for it.
        while g.state() != GState::Dead {
            std::thread::yield_now();
        }
    }
}
