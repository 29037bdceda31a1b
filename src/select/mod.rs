//! Select: wait on several channel operations, proceed with exactly one.
//!
//! # Protocol (per select, one loop in `run.rs`)
//! 1. **Try**: visit the arms in a uniformly random order (a lazily drawn Fisher–Yates
//!    shuffle; `biased` keeps the written order) and fire the first that can proceed without
//!    blocking. A receive fires by taking its value (or the close); a send fires by
//!    *reserving* (a buffered slot, a claimed waiting receiver) without producing its value.
//! 2. If nothing fired: `default` returns at once; a passed deadline returns.
//! 3. **Register**: one [`Waiter`](crate::chan::waiter) for the whole select; link an
//!    entry per enabled arm into that channel's wait queue, each followed by a re-check. If a
//!    re-check says the arm may be ready, abort the wait (CAS `WAITING → ABORTED`) and loop.
//! 4. **Park** until a channel claims the waiter (CAS `WAITING → CLAIMED`: exactly one
//!    channel can win) or the deadline passes (the owner's own CAS to `ABORTED`; a claim that
//!    won that race is honoured).
//! 5. **Unregister** every arm but the winner (whose claimer unlinked it), each under its
//!    channel's lock: no stale entry remains to be found by later traffic.
//! 6. **Accept** the claim for the winning arm: a completed hand-off fires it; `RETRY` (a
//!    buffered channel's "something changed") tries that arm again, and loops if it lost the
//!    race; `DELIVER` (a receiver chose this send arm and waits) fires it as a reservation.
//!
//! # Why a send's value is lazy
//! Go evaluates every send expression on entry and copies it. In Rust a value moved into a
//! losing arm would be lost, so an arm's value expression runs only after the arm fired, in
//! the caller's frame (`SendArm::complete`). Consequences, each handled in its flavor:
//! - a buffered slot reserved by a select is marked *lazy*: receivers park behind it rather
//!   than spin, and its publish wakes them all (`chan/array.rs`);
//! - an unbuffered receiver that claims a waiting select send asks it to `DELIVER` and parks
//!   until it has (`chan/zero.rs`);
//! - a reservation dropped unused (a panicking value expression) gives its slot (as a hole)
//!   or its receiver (`RETRY`) back.
//!
//! # Timeouts
//! `default(timeout)` sets a deadline that only matters if the select parks: the clock is
//! read then, and the park is `park_until`. A select that finds a ready arm pays nothing.
//!
//! # Alternatives rejected
//! - Locking every channel in address order for the whole select (Go's `sellock`): simple
//!   under one big hammer, but it would put a lock on the lock-free buffered fast path.
//! - A goroutine per arm (may's `select!`): microseconds per select.
//! - A large `macro_rules` that inlines the protocol (crossbeam's): `select!` here only parses
//!   and calls [`run`](run::run); everything else is ordinary code.

mod arm;
mod dynamic;
mod macros;
mod run;

pub use dynamic::{Select, SelectedOperation};

/// What `select!` expands to; not a stable API.
#[doc(hidden)]
pub mod private {
    pub use super::arm::{ArmRef, RecvArm, SelectReceiver, SelectSender, SendArm};
    pub use super::run::{run, Mode};
}
