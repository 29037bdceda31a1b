//! `JoinHandle`: waiting for a goroutine's result, from a goroutine or a plain thread.
//!
//! # The join protocol (`JoinSlot`, inside the G header)
//! `state` has two bits: `DONE` (the result is written) and `WAITER` (a joiner has stored its
//! unparker and is parking); a third, `PANICKED`, set with `DONE`, says whether the payload is
//! the value or the panic (so the slot holds one thin-or-fat box, not a `Result`). The G
//! writes `result`, then sets `DONE` (Release); if `WAITER` was already set it unparks the
//! joiner. The joiner stores its unparker, then sets `WAITER`
//! (Release); if `DONE` was already set it does not park. Whichever bit lands second sees the
//! first (both are one atomic RMW on the same word), so a wake-up is never lost, and the
//! joiner reads `result` only after seeing `DONE` (Acquire).
//!
//! The waker *takes* the unparker out of `waiter` (the G when it sees `WAITER`; the joiner
//! itself when its `WAITER` landed after `DONE`), so a finished G's header never holds a
//! reference to its joiner. Otherwise a chain of joins (each G joins the one before) whose
//! later links finish while the first header is still held (its M stalled before dropping it)
//! becomes a chain of headers, and dropping the first frees them all recursively on one
//! thread's stack: a million such goroutines overflowed an M's stack.
//!
//! A plain thread blocked in `join` (`gort::run`'s caller, typically) registers with the
//! deadlock detector while it waits (`diag/deadlock.rs`): the detector then knows that thread
//! can do nothing until a goroutine finishes, and when every goroutine is asleep for good it
//! leaves the thread a verdict, which `join` raises as a panic.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};

use super::g::{GRef, WaitReason};
use super::m::in_goroutine;
use super::park::{self, Unparker};
use crate::diag::deadlock::BlockedJoiner;

const DONE: u8 = 1;
const WAITER: u8 = 2;
const PANICKED: u8 = 4;

/// A goroutine's result, type-erased (a `()` result costs no allocation).
pub(crate) type AnyResult = std::thread::Result<Box<dyn Any + Send>>;

/// Where a goroutine leaves its result for its `JoinHandle` (part of the G header).
pub(crate) struct JoinSlot {
    state: AtomicU8,
    /// The value or the panic payload, as `PANICKED` says.
    result: UnsafeCell<Option<Box<dyn Any + Send>>>,
    waiter: UnsafeCell<Option<Unparker>>,
}

// SAFETY: `result` is written once by the G before `DONE` and read once by the joiner after
// `DONE`; `waiter` is written by the joiner before `WAITER` and read by the G after `WAITER`
// (see the module docs). The result is `Send`.
unsafe impl Sync for JoinSlot {}

impl JoinSlot {
    #[inline]
    pub(crate) fn new() -> JoinSlot {
        JoinSlot {
            state: AtomicU8::new(0),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Called once by the finishing G.
    pub(crate) fn complete(&self, result: AnyResult) {
        let (payload, done) = match result {
            Ok(value) => (value, DONE),
            Err(panic) => (panic, DONE | PANICKED),
        };
        // SAFETY: only the G writes `result`, once, and nobody reads it before `DONE`.
        unsafe { *self.result.get() = Some(payload) };
        let prev = self.state.fetch_or(done, Ordering::AcqRel);
        if prev & WAITER != 0 {
            // SAFETY: the joiner wrote `waiter` before setting `WAITER`, which our AcqRel RMW
            // observed, and it never touches `waiter` again.
            if let Some(waiter) = unsafe { (*self.waiter.get()).take() } {
                waiter.unpark();
            }
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) & DONE != 0
    }

    /// Waits for `DONE` and takes the result. Called once, by the handle's owner; `g` is the
    /// G this slot belongs to. (`track_caller`: a deadlock verdict names the caller's `join`.)
    #[track_caller]
    fn wait(&self, g: &GRef) -> AnyResult {
        if !self.is_done() {
            // SAFETY: only the (single) joiner writes `waiter`, before setting `WAITER`.
            unsafe { *self.waiter.get() = Some(Unparker::current()) };
            let prev = self.state.fetch_or(WAITER, Ordering::AcqRel);
            if prev & DONE != 0 {
                // SAFETY: `DONE` landed first, so the G saw no `WAITER` and never reads
                // `waiter`: the unparker is still ours. Taken back, as the G would have.
                drop(unsafe { (*self.waiter.get()).take() });
            } else {
                let blocked = (!in_goroutine()).then(|| BlockedJoiner::enter(g));
                while !self.is_done() {
                    if let Some(report) = blocked.as_ref().and_then(BlockedJoiner::verdict) {
                        panic!("{report}");
                    }
                    park::park(WaitReason::Join);
                }
            }
        }
        // SAFETY: `DONE` is set (Acquire above), so the G wrote `result` and is done with it.
        let payload = unsafe { (*self.result.get()).take() }.expect("a result is taken once");
        // Relaxed: `PANICKED` was set by the same RMW as `DONE`, which we have seen.
        if self.state.load(Ordering::Relaxed) & PANICKED == 0 {
            Ok(payload)
        } else {
            Err(payload)
        }
    }
}

/// An owned permission to join a goroutine (wait for it to finish and take its result).
///
/// Dropping the handle detaches the goroutine: it runs on (Go's fire-and-forget `go f()`).
///
/// ```
/// let h = gort::go!(|| "done");
/// assert!(h.id() > 0);
/// assert_eq!(h.join().unwrap(), "done");
/// ```
pub struct JoinHandle<T> {
    g: GRef,
    result_type: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(g: GRef) -> JoinHandle<T> {
        JoinHandle {
            g,
            result_type: PhantomData,
        }
    }

    /// Waits for the goroutine to finish and returns its result: `Err` if it panicked, with
    /// the panic payload. From a goroutine this parks only the goroutine; from a plain thread
    /// it blocks the thread.
    ///
    /// # Errors
    /// [`JoinError`] if the goroutine panicked.
    ///
    /// # Panics
    /// On a plain thread, when gort's deadlock detector finds that every goroutine is asleep
    /// for good (see [`gort::debug`](crate::debug)): "all goroutines are asleep - deadlock!"
    /// with the goroutine dump.
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError>
    where
        T: 'static,
    {
        match self.g.join.wait(&self.g) {
            Ok(value) => Ok(*value
                .downcast::<T>()
                .expect("a goroutine's result has its JoinHandle's type")),
            Err(payload) => Err(JoinError {
                id: self.g.id,
                name: self.g.name.as_deref().map(str::to_owned),
                payload,
            }),
        }
    }

    /// Whether the goroutine has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.g.join.is_done()
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// The goroutine's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.g.id)
            .field("name", &self.g.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A goroutine panicked. Carries the panic payload and the goroutine's id and name.
///
/// ```
/// let err = gort::go!(|| panic!("boom")).join().unwrap_err();
/// assert_eq!(err.panic_message(), Some("boom"));
/// ```
pub struct JoinError {
    id: u64,
    name: Option<String>,
    payload: Box<dyn Any + Send + 'static>,
}

impl JoinError {
    /// The id of the goroutine that panicked.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its name, if it had one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The panic message, when the payload is a string (as `panic!` makes it).
    pub fn panic_message(&self) -> Option<&str> {
        if let Some(s) = self.payload.downcast_ref::<&'static str>() {
            Some(s)
        } else {
            self.payload.downcast_ref::<String>().map(String::as_str)
        }
    }

    /// The panic payload, e.g. to re-raise it with `std::panic::resume_unwind`.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.payload
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        match self.panic_message() {
            Some(msg) => write!(f, " panicked: {msg}"),
            None => write!(f, " panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinError")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("message", &self.panic_message())
            .finish()
    }
}

impl std::error::Error for JoinError {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    /// Waits (up to a generous timeout) until `g` is referenced only by the caller's `GRef`:
    /// its M and every handle are done with it, so its header can be read without a race.
    fn wait_until_only_reference(g: &GRef) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while g.count() != 1 {
            assert!(
                Instant::now() < deadline,
                "the goroutine's header is still in use"
            );
            std::thread::yield_now();
        }
    }

    /// Spawns a goroutine that runs until `gate` opens.
    fn gated(gate: &Arc<AtomicBool>) -> JoinHandle<()> {
        let gate = Arc::clone(gate);
        crate::spawn(move || {
            while !gate.load(Ordering::Acquire) {
                crate::yield_now();
            }
        })
    }

    /// Both orders of the join protocol (the joiner parks before the G finishes, or its
    /// `WAITER` lands after `DONE`) leave no unparker in the finished G's slot.
    #[test]
    fn a_finished_goroutine_keeps_no_reference_to_its_joiner() {
        for round in 0..400 {
            let gate = Arc::new(AtomicBool::new(false));
            let first = gated(&gate);
            let first_header = first.g.clone();
            let joiner = crate::spawn(move || first.join().unwrap());
            if round % 2 == 0 {
                // Let the joiner get to its park first (most rounds; not guaranteed).
                crate::sleep(Duration::from_micros(50));
            }
            gate.store(true, Ordering::Release);
            joiner.join().unwrap();
            wait_until_only_reference(&first_header);
            // SAFETY: ours is the only reference left (checked above, Acquire pairs with the
            // Release decrements of the others), so nobody else reads or writes the slot.
            let kept = unsafe { (*first_header.join.waiter.get()).is_some() };
            assert!(
                !kept,
                "round {round}: the finished goroutine still holds its joiner"
            );
        }
    }

    /// The symptom itself, in a child process: hold the first header of a chain of joins
    /// (as a stalled M would), let the whole chain finish, then drop it on a small stack.
    #[test]
    fn dropping_the_head_of_a_finished_join_chain_does_not_recurse() {
        const CHAIN: usize = 10_000;
        const TEST: &str =
            "runtime::join::tests::dropping_the_head_of_a_finished_join_chain_does_not_recurse";
        if crate::runtime::stack::tests::child_scenario().as_deref() == Some("join_chain") {
            let gate = Arc::new(AtomicBool::new(false));
            let first = gated(&gate);
            let head = first.g.clone();
            let mut previous = first;
            for _ in 0..CHAIN {
                let before = previous;
                previous = crate::spawn(move || before.join().unwrap());
            }
            gate.store(true, Ordering::Release);
            previous.join().unwrap();
            wait_until_only_reference(&head);
            // 64 KiB holds a few hundred nested header drops, not ten thousand.
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || drop(head))
                .unwrap()
                .join()
                .unwrap();
            eprintln!("child: dropped the head of the chain");
            std::process::exit(0);
        }
        let output = crate::runtime::stack::tests::run_child(TEST, "join_chain");
        assert!(output.status.success(), "{:?}", output.status);
        assert!(String::from_utf8_lossy(&output.stderr).contains("child: dropped the head"));
    }
}
