//! The park token: the three-state word that makes `park`/`unpark` race-free.
//!
//! Every G has one. States, and who moves between them:
//! - `EMPTY`: no token. The G runs, or has decided to park and is switching to its M.
//! - `NOTIFIED`: an unpark came while the G was not parked. Its next park consumes the token
//!   (`NOTIFIED → EMPTY`) and returns at once.
//! - `PARKED`: the G's M committed the park after the switch (`EMPTY → PARKED`). The G is
//!   off every queue, its stack suspended. The one unpark that wins `PARKED → EMPTY` must
//!   queue it; every other unpark finds `EMPTY` or `NOTIFIED` and leaves (at most) a token.
//!
//! Properties (model-checked with loom in `token/tests` under `cfg(loom)`):
//! 1. A G that parks after an unpark does not sleep: the token, or the failed commit, stops it.
//! 2. Each committed park is ended by exactly one `unpark` that returns `true` (queued once,
//!    never twice, never lost), however many unparks race.
//!
//! The token also carries a reference: `PARKED` holds the run-queue reference the M gave up
//! when it committed the park, and the one `unpark` that wins `PARKED → EMPTY` takes it back
//! to queue the G (`gref.rs`: `GRef::commit_park`, `WakeRef::unpark`). So waking costs no
//! reference-count update, and property 2 is what keeps that count right.
//!
//! Orderings: `unpark`'s successful CAS is Release (the waker's writes before it are visible to
//! whoever consumes the token or runs the queued G); `take`/`commit` are Acquire on success so
//! the G sees them.

#[cfg(loom)]
use loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU8, Ordering};

const EMPTY: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

/// A G's park token.
#[derive(Debug)]
pub(crate) struct ParkToken {
    state: AtomicU8,
}

impl ParkToken {
    pub(crate) fn new() -> ParkToken {
        ParkToken {
            state: AtomicU8::new(EMPTY),
        }
    }

    /// Clears the token for a new G in a recycled block (spawn, before the G is published).
    #[inline]
    pub(crate) fn reset(&self) {
        self.state.store(EMPTY, Ordering::Relaxed);
    }

    /// The G, about to park: consumes a token if there is one (then it must not park).
    #[inline]
    pub(crate) fn take(&self) -> bool {
        // A plain load first: with no token (the common case) a failing CAS would still cost
        // a locked instruction. A token that lands just after this load is not lost: the
        // M's `commit_park` CAS fails on it and resumes the G.
        self.state.load(Ordering::Relaxed) == NOTIFIED
            && self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// The M, after the G switched out to park: true if the G is now parked (it belongs to
    /// its future unparker); false if a token arrived meanwhile (consumed: resume the G).
    #[inline]
    pub(crate) fn commit_park(&self) -> bool {
        match self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // Only the G's own M moves the state away from NOTIFIED (by `take` or here),
                // and unparks never leave NOTIFIED, so a plain store is enough.
                self.state.store(EMPTY, Ordering::Relaxed);
                false
            }
        }
    }

    /// Any thread: true if the caller must now queue the G (it was parked and this call woke
    /// it); false if it left a token or one was already there.
    ///
    /// Always a read-modify-write, even when a token is already there (`NOTIFIED → NOTIFIED`):
    /// the caller's writes before this call (a waiter's final state, a value in a slot) must
    /// reach the G through the token, and a bare load that sees an old token publishes
    /// nothing. With a load only, an unparker could store its condition, see a stale token,
    /// and return, while the G consumed that stale token, read the condition before the
    /// store reached it, and parked: a lost wake-up (x86 lets the unparker's load pass its
    /// own store). As an RMW, either it comes after the G's take in the token's order and
    /// leaves a fresh token, or the G's take reads it and, by its Acquire, the condition.
    #[inline]
    pub(crate) fn unpark(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let to = if state == PARKED { EMPTY } else { NOTIFIED };
            match self
                .state
                .compare_exchange_weak(state, to, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return state == PARKED,
                Err(now) => state = now,
            }
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// One park attempt by the G (take a token, else switch out and commit) racing two
    /// unparkers. If the park committed, exactly one unpark must say "queue it" (woken once,
    /// never twice, never lost); if it did not, no unpark may (nobody queues a running G).
    /// And whatever happened, at most one token is left for the next park.
    #[test]
    fn loom_each_park_is_ended_by_exactly_one_unpark() {
        loom::model(|| {
            let token = Arc::new(ParkToken::new());
            let queued = Arc::new(AtomicUsize::new(0));
            let wakers: Vec<_> = (0..2)
                .map(|_| {
                    let (token, queued) = (token.clone(), queued.clone());
                    thread::spawn(move || {
                        if token.unpark() {
                            queued.fetch_add(1, Ordering::AcqRel);
                        }
                    })
                })
                .collect();
            let parked = !token.take() && token.commit_park();
            for w in wakers {
                w.join().unwrap();
            }
            let queued = queued.load(Ordering::Acquire);
            if parked {
                assert_eq!(queued, 1, "a committed park must be woken exactly once");
            } else {
                assert_eq!(queued, 0, "a G that did not park must not be queued");
            }
        });
    }

    /// The protocol every blocking object uses: the waker publishes a condition, then unparks;
    /// the G re-checks the condition around each park. With a stale token already there (an
    /// earlier operation's late unpark), the G must still never park for good once the
    /// condition is set: if its park commits, the waker's unpark is the one that wakes it.
    #[test]
    fn loom_a_condition_set_before_unpark_is_seen_despite_a_stale_token() {
        loom::model(|| {
            use loom::sync::atomic::AtomicBool;
            let token = Arc::new(ParkToken::new());
            assert!(
                !token.unpark(),
                "no G is parked: this leaves the stale token"
            );
            let ready = Arc::new(AtomicBool::new(false));
            let (t, r) = (token.clone(), ready.clone());
            let mut waker = Some(thread::spawn(move || {
                r.store(true, Ordering::Release);
                t.unpark()
            }));
            let mut woken_by_waker = false;
            while !ready.load(Ordering::Acquire) {
                if token.take() {
                    continue;
                }
                if token.commit_park() {
                    // Parked: nothing but the waker's unpark can end this park.
                    let queued = waker.take().expect("parked once").join().unwrap();
                    assert!(queued, "lost wake-up: the G parked and nobody queued it");
                    woken_by_waker = true;
                }
            }
            if let Some(waker) = waker {
                assert!(!waker.join().unwrap() || woken_by_waker);
            }
        });
    }

    /// An unpark that lands before the park is not lost: the park does not commit.
    #[test]
    fn loom_an_early_unpark_stops_the_park() {
        loom::model(|| {
            let token = Arc::new(ParkToken::new());
            let t = token.clone();
            let waker = thread::spawn(move || t.unpark());
            let queued_by_waker = waker.join().unwrap();
            assert!(!queued_by_waker);
            let parked = !token.take() && token.commit_park();
            assert!(
                !parked,
                "the token from the earlier unpark must stop the park"
            );
        });
    }
}
