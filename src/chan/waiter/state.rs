//! The waiter's state word: the small protocol that makes exactly one party end a wait.
//!
//! The word packs a tag (low 3 bits) and an arm index (see the table in `waiter.rs`).
//! Transitions: `WAITING → ABORTED` (the owner, by CAS) or `WAITING → CLAIMED | arm` (one
//! claimer, by CAS), then `CLAIMED → final` (that claimer, one Release store). So of the owner
//! giving up and any number of claimers, exactly one wins, and whatever the winning claimer
//! wrote before its final store is visible to the owner once its Acquire load sees it.
//!
//! Kept apart from `Waiter` (which also holds the owner's unparker and the delivery pointer)
//! so the protocol can be model-checked with loom on its own (`cfg(loom)`, tests below), as
//! the park token is.

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) const TAG_BITS: u32 = 3;
pub(super) const TAG_MASK: usize = (1 << TAG_BITS) - 1;
pub(super) const WAITING: usize = 0;
pub(super) const ABORTED: usize = 1;
pub(super) const CLAIMED: usize = 2;
pub(super) const COMPLETED: usize = 3;
pub(super) const CLOSED: usize = 4;
pub(super) const RETRY: usize = 5;
pub(super) const DELIVER: usize = 6;

/// A waiter's state word.
#[derive(Debug)]
pub(super) struct WaitState {
    word: AtomicUsize,
}

impl WaitState {
    /// `WAITING`: registered, nobody has chosen it.
    pub(super) fn new() -> WaitState {
        WaitState {
            word: AtomicUsize::new(WAITING),
        }
    }

    /// The word as the owner sees it. Acquire: pairs with the claimer's Release in `finish`,
    /// so a final tag comes with everything the claimer wrote before it.
    #[inline]
    pub(super) fn load(&self) -> usize {
        self.word.load(Ordering::Acquire)
    }

    /// A claimer tries to become the one that ends the wait, for operation `arm`. Acquire on
    /// success: the claimer then reads what the owner published before linking its entries.
    #[inline]
    pub(super) fn try_claim(&self, arm: usize) -> bool {
        self.word
            .compare_exchange(
                WAITING,
                CLAIMED | (arm << TAG_BITS),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The owner gives up; false if a claimer came first (the owner must then wait for its
    /// final store and honour it).
    #[inline]
    pub(super) fn try_abort(&self) -> bool {
        self.word
            .compare_exchange(WAITING, ABORTED, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    }

    /// The claimer's last access: the final tag for `arm`. Release: publishes whatever the
    /// claimer wrote into the owner's packet or delivery pointer.
    #[inline]
    pub(super) fn finish(&self, tag: usize, arm: usize) {
        debug_assert!(tag > CLAIMED && tag <= DELIVER, "not a final tag: {tag}");
        self.word.store(tag | (arm << TAG_BITS), Ordering::Release);
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// The owner waits the way `Waiter::wait` does: park while `WAITING` or `CLAIMED`, until a
    /// final tag. Returns the word it saw.
    fn wait_for_final(state: &WaitState) -> usize {
        loop {
            let word = state.load();
            match word & TAG_MASK {
                WAITING | CLAIMED => thread::park(),
                ABORTED => unreachable!("only the owner aborts"),
                _ => return word,
            }
        }
    }

    /// Two claimers race for one waiter whose owner may give up at once. Exactly one of the
    /// three wins; if a claimer wins, the owner wakes (the unpark after the final store is not
    /// lost), sees that claimer's arm, and reads the value it wrote into the packet (loom
    /// checks the packet's accesses are ordered: no data race).
    fn race(owner_aborts: bool) {
        loom::model(move || {
            let state = Arc::new(WaitState::new());
            let packet = Arc::new(UnsafeCell::new(0usize));
            let owner = thread::current();
            let claimers: Vec<_> = (1..=2)
                .map(|arm| {
                    let (state, packet, owner) = (state.clone(), packet.clone(), owner.clone());
                    thread::spawn(move || {
                        if !state.try_claim(arm) {
                            return false;
                        }
                        // SAFETY: (loom cell) the claim makes this thread the packet's only
                        // writer until the final store below.
                        packet.with_mut(|p| unsafe { *p = 100 + arm });
                        state.finish(COMPLETED, arm);
                        owner.unpark();
                        true
                    })
                })
                .collect();
            let aborted = owner_aborts && state.try_abort();
            let seen = if aborted {
                None
            } else {
                let word = wait_for_final(&state);
                assert_eq!(word & TAG_MASK, COMPLETED);
                let arm = word >> TAG_BITS;
                // SAFETY: (loom cell) the final tag's Acquire ordered the claimer's write
                // before this read; nobody writes the packet afterwards.
                let value = packet.with(|p| unsafe { *p });
                assert_eq!(value, 100 + arm, "the packet holds the winner's value");
                Some(arm)
            };
            let winners: Vec<usize> = claimers
                .into_iter()
                .zip(1..=2)
                .filter_map(|(c, arm)| c.join().unwrap().then_some(arm))
                .collect();
            match seen {
                None => assert!(winners.is_empty(), "a claim won against the abort"),
                Some(arm) => assert_eq!(winners, vec![arm], "exactly one claimer wins"),
            }
        });
    }

    #[test]
    fn loom_one_of_two_claimers_ends_the_wait() {
        race(false);
    }

    #[test]
    fn loom_an_abort_and_two_claimers_have_one_winner() {
        race(true);
    }
}
