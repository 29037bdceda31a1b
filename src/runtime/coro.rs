//! The only file that uses corosensei: create a G's coroutine, switch into it, switch out.
//!
//! A G's coroutine is created the first time an M runs it (so a spawned-but-not-started G
//! costs no stack), on a stack from the P's cache. The coroutine body publishes its yielder
//! in the G header, then runs the entry closure; the entry never unwinds out of the coroutine
//! (spawn wraps it in `catch_unwind`).
//!
//! Switching out is always `suspend(g, Switch::…)` from the G's own stack; the M's `resume`
//! returns the [`Switch`] and the M finishes the transition on its own stack (Go's `mcall`):
//! a G is never made runnable elsewhere while it is still running on this stack.
//!
//! # Switches and the return-address predictor
//! corosensei enters a coroutine with a `call` and leaves it with a `ret` on the other stack.
//! The CPU predicts each `ret` from a small stack of the return addresses its `call`s pushed,
//! and a switch leaves that stack out of step: after the M's `call` into a G, the first
//! return the G makes is predicted to go back into the M; and the `ret` that switches out is
//! predicted to go back to the G's own last caller. So every function frame between the
//! G's code and its `suspend` costs a mispredicted return when the G is resumed (~5 ns
//! each here), plus one more when it switches out, unless there are none. The hot switch
//! that can have none, `yield_now`, is inlined down to the `suspend` into its caller: that
//! took a 1-proc yield from ~37 to ~17 ns on this VM (`benches/switch.rs`, same run), with
//! the bare-coroutine floor at 4.5 ns. Parks (channels, locks) switch out several frames
//! deep and still pay it; inlining whole slow paths into user code would cost more than it
//! saves.

use std::ptr::NonNull;

use corosensei::{Coroutine, CoroutineResult};

use super::entry::EntrySlot;
use super::g::G;
use super::stack::Stack;

/// Why a G gave control back to its M.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Switch {
    /// `yield_now`: put me at the back of the run queue.
    Yield,
    /// `park`: I am waiting (my state says why); commit the park.
    Park,
}

/// The coroutine type of every G.
pub(crate) type GCoroutine = Coroutine<(), Switch, (), Stack>;

/// The yielder type of every G.
pub(crate) type Yielder = corosensei::Yielder<(), Switch>;

/// Creates the coroutine for `g`, which will run the entry slot at `entry`: a slot in the top
/// reserve of `stack` (`EntrySlot::move_to_stack`), so the closure moved onto the coroutine's
/// stack is two pointers, not the slot.
pub(crate) fn create(g: &G, stack: Stack, entry: NonNull<EntrySlot>) -> GCoroutine {
    let g_ptr = g as *const G as usize;
    let entry = entry.as_ptr() as usize;
    Coroutine::with_stack(stack, move |yielder: &Yielder, ()| {
        // SAFETY: `g_ptr` points to the G being run: its M holds a reference to it for as
        // long as the coroutine runs, so it is alive here.
        let g = unsafe { &*(g_ptr as *const G) };
        g.yielder.store(
            yielder as *const Yielder as *mut Yielder,
            std::sync::atomic::Ordering::Relaxed,
        );
        // Once run, the slot is empty and owns nothing, so it is left there undropped.
        // SAFETY: the slot lies in this coroutine's own stack reserve, beyond its frames, and
        // only this closure, which runs once, uses it (`EntrySlot::move_to_stack`).
        unsafe { (*(entry as *mut EntrySlot)).run() };
    })
}

/// Runs `coroutine` until it switches out (`Some(why)`) or its entry returns (`None`; the
/// caller then takes the stack back with `into_stack`).
pub(crate) fn resume(coroutine: &mut GCoroutine) -> Option<Switch> {
    match coroutine.resume(()) {
        CoroutineResult::Yield(switch) => Some(switch),
        CoroutineResult::Return(()) => None,
    }
}

/// Switches from the running G back to its M, telling it why.
///
/// # Panics
/// Panics if `g` has not started (it has no yielder), which would be a runtime bug.
#[inline]
pub(crate) fn suspend(g: &G, why: Switch) {
    let yielder = g.yielder.load(std::sync::atomic::Ordering::Relaxed);
    assert!(!yielder.is_null(), "gort: suspend outside a goroutine");
    // SAFETY: the yielder lives on this G's own stack for as long as its coroutine body runs,
    // and only the running G calls `suspend` (the caller is that G, see `park.rs`).
    let yielder = unsafe { &*yielder };
    yielder.suspend(why);
}
