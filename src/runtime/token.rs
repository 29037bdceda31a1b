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
    #[inline]
    pub(crate) fn unpark(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (from, to) = match state {
                EMPTY => (EMPTY, NOTIFIED),
                PARKED => (PARKED, EMPTY),
                _ => return false,
            };
            match self
                .state
                .compare_exchange_weak(from, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return from == PARKED,
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
