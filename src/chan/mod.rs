//! Channels: Go's `chan T`, with Rust's ownership rules on top.
//!
//! # The model
//! [`chan`] makes a channel and returns its two ends. `cap == 0` is a rendezvous (a send
//! completes when a receiver takes the value); `cap > 0` is a FIFO buffer. Both ends clone;
//! each value goes to exactly one receiver. A blocked operation parks the calling goroutine
//! through `runtime::park` (and only there), or blocks the thread outside the runtime.
//!
//! Close follows Go where Go is safe and differs where Go panics or leaks:
//! - `Sender::close` closes for everyone; a second close returns `CloseError` (Go panics).
//! - The last `Sender` dropped closes too, so `for v in rx` always ends.
//! - After the close, receivers drain the buffer in order, then get `RecvError`.
//! - A send to a closed channel returns the value in `SendError` (Go panics); so does a send
//!   blocked at the moment of the close, and any send once every `Receiver` is gone (in Go
//!   that sender would wait forever: a leaked goroutine).
//!
//! # Files
//! - `channel.rs`: `Channel<T>`, the flavor enum and the close rules.
//! - `array.rs`: the buffered flavor, a lock-free ring with per-slot stamps.
//! - `zero.rs`: the unbuffered flavor, direct hand-off under one lock.
//! - `waiter.rs`: `Waiter` (Go's sudog) and the claim protocol that wakes it exactly once.
//! - `waitq.rs`: the intrusive wait queue of `Entry` nodes, and `WaitList` (a queue under its
//!   own lock with a lock-free "anyone waiting?" flag).
//! - `spinlock.rs`: the lock around wait queues (held for a few instructions, never across a
//!   park or a wake-up).
//! - `counter.rs`: sender/receiver counts, close-once.
//! - `backoff.rs`: how long to spin before parking.
//! - `sender.rs`, `receiver.rs`, `error.rs`: the public types.
//!
//! # The wait protocol (shared by plain operations and `select!`)
//! 1. **Try**: attempt the operation without blocking (lock-free for the ring).
//! 2. **Register**: put a `Waiter` in the frame, link one `Entry` per operation into the
//!    channel's wait queue, then *re-check* the channel. If the operation could now proceed,
//!    abort the wait (CAS `WAITING → ABORTED`) and go back to 1.
//! 3. **Park** until the waiter's state leaves `WAITING`. A counterpart claims the waiter by
//!    CAS `WAITING → CLAIMED` (only one can), unlinks the entry, moves the value (unbuffered)
//!    or not (buffered: it says `RETRY`), stores the final state with `Release`, and only then
//!    unparks. Unparks are tokens, so one that arrives before the park is not lost.
//! 4. **Unregister**: unlink the entries the claimer did not unlink (a select's other arms),
//!    each under its channel's lock. Then act on the outcome.
//!
//! # Invariants
//! Written as predicates over one channel; "waiting entry" means a linked entry whose waiter
//! is still `WAITING`.
//! - *Exactly once*: every value sent successfully is received exactly once, or is still in
//!   the buffer (and is dropped with the channel). A failed send returns its value.
//! - *Ring bounds*: `head ≤ tail ≤ head + cap` (positions, closed mark aside).
//! - *Ring, no lost wake-up*: a waiting receiver of a buffered channel implies that, after it
//!   linked its entry, the buffer was empty or its head slot was reserved by a lazy `select!`
//!   sender (whose publish wakes every receiver). A waiting sender implies that, after it
//!   linked, the buffer was full. Every publish and every free looks for waiters afterwards.
//! - *Rendezvous*: `senders` and `receivers` of an unbuffered channel do not both hold waiting
//!   entries, except for one select waiting on both ends (which never matches itself).
//! - *Closed*: a closed unbuffered channel has no waiting entry once `close` returns; a
//!   closed buffered channel accepts no reservation (the mark is in `tail`, tested by the CAS).
//! - *Claims*: a waiter is claimed at most once; a claimed waiter's final state is stored by
//!   its claimer; every claimed entry was unlinked by its claimer, under the queue's lock.
//! - *Lifetimes*: a waiter and its entries outlive every pointer to them: the owner returns
//!   only after it saw a final state (or aborted) and unlinked all of its entries.
//! - *No lock across a park*: no channel lock is held while parking or unparking.
//!
//! # Memory ordering
//! Each file states its pairs; the global ones are the claim (`Release` final store ↔ the
//! owner's `Acquire` load, in `waiter.rs`) and "publish then look for waiters" ↔ "register
//! then look again" (`SeqCst` pairs, in `waitq.rs` and `array.rs`).

mod array;
mod backoff;
mod channel;
mod counter;
mod error;
mod receiver;
mod sender;
mod spinlock;
pub(crate) mod waiter;
pub(crate) mod waitq;
pub(crate) mod zero;

pub(crate) use array::{NotReceived, NotReserved, SlotReservation};
pub(crate) use channel::{Channel, Flavor, ReceiversGoneHook};
pub use error::{
    CloseError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use receiver::{IntoIter, Iter, Receiver, TryIter};
pub use sender::Sender;

use std::sync::Arc;

/// Makes a channel of capacity `cap` and returns its two ends: Go's `make(chan T, cap)`.
///
/// `cap == 0` is unbuffered: a send completes only when a receiver takes the value.
/// `cap > 0` buffers up to `cap` values in FIFO order. A zero-sized `T` (a `chan::<()>` used as
/// a signal) costs no allocation per message.
///
/// ```
/// let (tx, rx) = gort::chan::<&str>(1);
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv(), Ok("hi"));
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let channel = Arc::new(Channel::new(cap));
    (
        Sender {
            channel: Arc::clone(&channel),
        },
        Receiver { channel },
    )
}

/// A channel whose last receiver's drop runs `hook` (for timer channels).
pub(crate) fn chan_with_receivers_gone_hook<T>(
    cap: usize,
    hook: ReceiversGoneHook,
) -> (Sender<T>, Receiver<T>) {
    let channel = Arc::new(Channel::with_receivers_gone_hook(cap, hook));
    (
        Sender {
            channel: Arc::clone(&channel),
        },
        Receiver { channel },
    )
}
