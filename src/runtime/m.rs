//! The M: an OS worker thread. It holds a P while it runs Gs, and loops
//! `find_runnable → execute` forever; with nothing to do it gives its P back and sleeps.
//!
//! # Thread-local state and migrating Gs
//! The M keeps the P it holds and the G it runs in two thread-locals. A G's code reads them
//! (to park, to ready another G, to spawn) — but a G can move to another M at any switch. So
//! they are read only through the `#[inline(never)]` accessors below, which compute the
//! thread-local's address afresh on every call: no caller can carry a thread-local address
//! across a switch that the compiler cannot see (corosensei's switch is inline assembly).
//!
//! # The hand-on fast path
//! When a G switches out (yields, parks, finishes), `execute` takes the next G straight from
//! its P's `runnext` or local queue and resumes it, skipping the M loop. It goes back to the
//! loop (and so to `find_runnable`'s full order) on the ticks where `find_local` looks at the
//! global queue first, when set_maxprocs retires the P, when the P has nothing local, and
//! when a G lost its P in `blocking` (the loop must drop the stale P first). Due timers are
//! fired on the fast path itself, on the same ticks `find_local` fires them. So each tick is
//! counted exactly once, by `find::fast_path_allowed` or by `find_local`, and the fairness
//! checks keep their period.
//!
//! # The M↔P association
//! `MLocal::p` is `Some` exactly when this M holds a P, and `CURRENT_P` mirrors it. An M runs
//! Gs only while holding a P; it may exist without one (asleep in the idle list, or — with the
//! syscall handoff — inside a blocking call).

use std::cell::Cell;
use std::io;
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::coro::{self, Switch};
use super::entry::EntrySlot;
use super::g::{GBody, GRef, GState, G};
use super::overflow;
use super::p::P;
use super::sched::{MHandle, MStats, Sched};
use super::sysmon::ProcWatch;

thread_local! {
    static CURRENT_P: Cell<*const P> = const { Cell::new(ptr::null()) };
    static CURRENT_G: Cell<*const G> = const { Cell::new(ptr::null()) };
}

/// The P held by the calling thread's M, if it is an M holding one.
#[inline(never)]
pub(crate) fn current_p() -> Option<&'static P> {
    let p = CURRENT_P.with(|c| c.get());
    // SAFETY: a non-null CURRENT_P points into the scheduler's P table, which lives in a
    // static and never drops a P, so the reference is valid for 'static.
    unsafe { p.as_ref() }
}

/// The G running on the calling thread, if the caller is a goroutine.
#[inline(never)]
pub(crate) fn current_g() -> Option<&'static G> {
    let g = CURRENT_G.with(|c| c.get());
    // SAFETY: CURRENT_G is set by `execute` to a G it holds a reference to, for exactly as
    // long as that G runs on this thread; the caller is that G, so the G outlives the call.
    // The 'static is a white lie the callers keep: they never hold it past their own return.
    unsafe { g.as_ref() }
}

/// [syscall] Sets the thread's current G and P accessors: `blocking` clears both while its
/// closure runs (the code inside is a plain thread to gort) and restores them after.
#[inline(never)]
pub(crate) fn set_current(g: *const G, p: *const P) {
    CURRENT_G.with(|c| c.set(g));
    CURRENT_P.with(|c| c.set(p));
}

/// Whether the caller runs inside a goroutine.
pub(crate) fn in_goroutine() -> bool {
    current_g().is_some()
}

/// What the M's loop owns.
pub(crate) struct MLocal {
    pub(crate) handle: Arc<MHandle>,
    /// The P this M holds (see the module docs).
    pub(crate) p: Option<&'static P>,
    /// Counted in `Sched::nmspinning`.
    pub(crate) spinning: bool,
    /// Schedule ticks, for the 1-in-61 global queue check.
    pub(crate) tick: u32,
    /// Consecutive Gs taken from `runnext`, bounded so two Gs handing off to each other cannot
    /// starve the rest of the queue.
    pub(crate) runnext_streak: u32,
    /// xorshift state for picking steal victims.
    pub(crate) rng: u32,
    /// Counted in the idle lists' `arriving`: this M holds no P, is in no list, and will
    /// register or take a P next (`idle.rs`).
    pub(crate) arriving: bool,
}

impl MLocal {
    pub(crate) fn acquire_p(&mut self, p: &'static P) {
        // An arriving M ends its arrival under the idle lock as it takes a P (`idle.rs`).
        debug_assert!(
            !self.arriving,
            "an arriving M takes a P only through the idle lists"
        );
        CURRENT_P.with(|c| c.set(p));
        self.p = Some(p);
    }

    pub(crate) fn release_p(&mut self) -> Option<&'static P> {
        CURRENT_P.with(|c| c.set(ptr::null()));
        self.p.take()
    }

    pub(crate) fn next_random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

/// Starts a new M thread holding `p`.
pub(crate) fn spawn_m(s: &Sched, p: &'static P, spinning: bool) -> io::Result<()> {
    // [sysmon] The monitor starts with the first M.
    super::sysmon::ensure_started();
    let handle = s.new_m()?;
    let h2 = handle.clone();
    let thread = std::thread::Builder::new()
        .name(format!("gort-m{}", handle.id))
        .spawn(move || m_main(h2, p, spinning))?;
    // A handoff can only reach this M through the idle list, which it enters only after
    // this point, so it always has its thread handle by then.
    let _ = handle.thread.set(thread.thread().clone());
    Ok(())
}

/// Reports that the runtime could not start a worker thread.
pub(crate) fn report_thread_error(e: &io::Error) {
    // [syscall] Counted, and reported once (sysmon may retry a handoff every round).
    super::syscall::thread_refused(e);
}

fn m_main(handle: Arc<MHandle>, p: &'static P, spinning: bool) {
    let _ = handle.thread.set(std::thread::current());
    // The deadlock detector's thread census must know this thread is an M.
    crate::diag::threads::register_runtime_thread();
    if let Err(e) = overflow::ensure_altstack() {
        eprintln!(
            "gort: no signal stack for worker thread: a stack overflow will not be reported: {e}"
        );
    }
    let seed = (handle.id as u32).wrapping_mul(0x9E37_79B9) | 1;
    let mut m = MLocal {
        handle,
        p: None,
        spinning,
        tick: 0,
        runnext_streak: 0,
        rng: seed,
        arriving: false,
    };
    m.acquire_p(p);
    let s = super::sched::sched();
    loop {
        let g = super::find::find_runnable(s, &mut m);
        if m.spinning {
            super::find::reset_spinning(s, &mut m);
        }
        if m.p
            .is_some_and(|p| p.id >= s.nprocs.load(Ordering::Relaxed))
        {
            // `set_maxprocs` retired our P while we were finding `g` (a spinner can steal
            // after the shrink): running `g` here would exceed maxprocs. Hand it back.
            s.global.push(g);
            s.retire_if_needed(&mut m);
            continue;
        }
        execute(s, &mut m, g);
        // [syscall] The G may have lost this M's P in `blocking`: drop it, ready the G.
        super::syscall::after_execute(s, &mut m);
        s.retire_if_needed(&mut m);
    }
}

/// What became of a G that `run` switched into.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RunOutcome {
    /// It yielded: the caller puts it back at the tail of the queue.
    Yielded,
    /// It switched out to park: the caller commits the park, after which it must not touch
    /// the G (`GRef::commit_park`).
    Parking,
    /// It finished: the caller lets go of its reference.
    Finished,
}

/// Runs `g`, then keeps running the Gs queued on this P for as long as the next one is local
/// and nothing asks for the full search (the hand-on fast path: a yield, a channel hand-off
/// or a finished G goes straight to the next G without the M loop's checks). Returns to the
/// M loop on the ticks where `find_local` looks at the global queue or the timers, when the
/// P is being retired, when a G lost its P in `blocking`, or when this P has nothing queued.
fn execute(s: &Sched, m: &mut MLocal, mut g: GRef) {
    let p: &'static P = m.p.expect("execute without a P");
    let watch = super::sysmon::watch(p.id);
    loop {
        let outcome = run(m, p, watch, &g);
        match outcome {
            RunOutcome::Yielded => {
                // The queue entry is the reference we were given: moved back, not cloned. With
                // the fast path open, queueing it and picking the next G are one step (two
                // yielders trade places in `yielded`, see `p.rs`).
                if p.id < s.nprocs() && super::find::fast_path_allowed(s, m) {
                    // SAFETY: this M holds `p`.
                    match unsafe { super::find::next_after_yield(m, p, g) } {
                        Some(next) => {
                            g = next;
                            continue;
                        }
                        None => return,
                    }
                }
                // SAFETY: this M holds `p`.
                unsafe { p.put_yielded(g) };
                return;
            }
            // SAFETY: `run` saw the coroutine return, and `g` is the reference we ran it under;
            // a finished G is never queued again, so this is its one call.
            RunOutcome::Finished => unsafe { g.drop_finished() },
            RunOutcome::Parking => {
                // Commit the park: from here the G, and our reference with it, belong to
                // whoever unparks it. An unpark that came in since the G decided to park left
                // a token: resume the G at once (the same schedule: no fairness tick). The
                // timed store dates the end of its `Waiting` state.
                if let Err(back) = g.commit_park() {
                    g = back;
                    g.set_state(GState::Running);
                    continue;
                }
                MStats::bump(&m.handle.stats.parks);
            }
        }
        if p.id >= s.nprocs() {
            return;
        }
        // [syscall] A G that lost its P in `blocking` parked and left this M a note: the M
        // loop must drop the stale P first.
        if outcome == RunOutcome::Parking && super::syscall::exit_pending() {
            return;
        }
        // Last: it counts the tick and may fire timers onto `p`, which must still be ours.
        if !super::find::fast_path_allowed(s, m) {
            return;
        }
        match super::find::next_on_p(m, p) {
            Some(next) => g = next,
            None => return,
        }
    }
}

/// Runs `g` until it finishes, parks or yields.
fn run(m: &MLocal, p: &'static P, watch: &ProcWatch, g: &GRef) -> RunOutcome {
    // [sysmon] Publish the schedule tick (hog detection).
    let tick = super::sysmon::before_run(watch, g);
    CURRENT_G.with(|c| c.set(g.as_ptr()));
    g.set_state_untimed(GState::Running);
    let outcome = {
        // SAFETY: we popped `g` from a run queue, which gives us the right to run it.
        let body = unsafe { g.body() };
        if let GBody::NotStarted(entry) = body {
            // Moved out and replaced with `Finished` by hand, not with `mem::replace`: that
            // would copy the whole body out and back in, and the slot on into the coroutine;
            // this copies the slot once, into the top reserve of the G's stack.
            let entry: *mut EntrySlot = entry;
            // SAFETY: this M holds `p`.
            let stack = match unsafe { p.stacks() }.get(g.stack_size()) {
                Ok(stack) => stack,
                Err(e) => stack_exhausted(g, &e),
            };
            // SAFETY: the slot is moved out once, and `body` is overwritten at once without
            // being dropped, so the closure is neither run nor dropped twice; the stack is
            // new to this G, its reserve unused.
            let entry = unsafe { EntrySlot::move_to_stack(entry, &stack) };
            // SAFETY: as above (the old value was moved out).
            unsafe { ptr::write(body, GBody::Finished) };
            let running =
                overflow::RunningStack::new(g.id, g.name.as_deref(), g.spawn_site, stack.bounds())
                    .place(&stack);
            // SAFETY: `body` is `Finished`, which owns nothing to drop.
            unsafe { ptr::write(body, GBody::Started(coro::create(g, stack, entry), running)) };
        }
        let GBody::Started(coroutine, running) = body else {
            unreachable!("a finished G was queued")
        };
        // SAFETY: `running` lies in the top reserve of the G's stack, which its coroutine
        // keeps (unchanged) until after `clear_running` below; the name it points to lives in
        // the G header, which our reference keeps alive.
        unsafe { overflow::set_running(running.as_ref()) };
        let switched = coro::resume(coroutine);
        overflow::clear_running();
        match switched {
            None => {
                // SAFETY: the coroutine is read once and `body` overwritten at once without
                // being dropped (as above: only the coroutine is copied, not the whole body).
                let coroutine = unsafe { ptr::read(coroutine) };
                // SAFETY: as above.
                unsafe { ptr::write(body, GBody::Finished) };
                // SAFETY: this M holds `p`.
                unsafe { p.stacks() }.put(coroutine.into_stack());
                // The G marked itself `Dead` in its entry wrapper, before `execute` gives up
                // its own reference (walkers rely on that order, `spawn.rs`).
                MStats::bump(&m.handle.stats.finished);
                RunOutcome::Finished
            }
            Some(Switch::Yield) => {
                g.set_state_untimed(GState::Runnable);
                RunOutcome::Yielded
            }
            // The park is committed by `execute`, after the last use of `g` below.
            Some(Switch::Park) => RunOutcome::Parking,
        }
    };
    CURRENT_G.with(|c| c.set(ptr::null()));
    super::sysmon::after_run(watch, tick, g);
    outcome
}

#[cold]
fn stack_exhausted(g: &G, e: &io::Error) -> ! {
    eprintln!(
        "gort: cannot allocate a stack for goroutine {} (spawned at {}): {e}",
        g.id, g.spawn_site
    );
    std::process::abort();
}

/// Puts the calling M to sleep until it is handed a P. Returns that P and whether the M is to
/// start as a spinner. With I/O, signals or timers to wait for, the M blocks in the netpoller
/// instead of the idle list (`netpoll::idle_poll`: it is then the timer sleeper too).
pub(crate) fn stop_m(s: &Sched, m: &mut MLocal) -> (&'static P, bool) {
    loop {
        // [netpoll] Block in the poller if there is something to wait for and nobody does.
        match crate::netpoll::idle_poll(s, m) {
            crate::netpoll::IdlePoll::Work(p, spinning) => return (p, spinning),
            crate::netpoll::IdlePoll::Polled => continue,
            crate::netpoll::IdlePoll::NotPolled => {}
        }
        if let Some(owed) = s.put_idle_m(m) {
            return owed;
        }
        // StoreLoad, pairs with the fence in `timer::poke_for` and the release of the poll
        // right: either the timer adder (or poll-right holder) sees us in the idle list, or we
        // see its timer (or the free right) here.
        std::sync::atomic::fence(Ordering::SeqCst);
        if crate::netpoll::poller_wanted(s) {
            if s.remove_idle_m(m) {
                continue;
            }
            return wait_for_handoff(m);
        }
        // [leak] The last M going to sleep asks whether every goroutine is asleep for good;
        // the fence above also pairs with the one a thread blocking in `join` makes before it
        // looks (`diag/deadlock.rs`).
        crate::diag::deadlock::on_m_idle(s);
        std::thread::park();
        if let Some(handed) = m.handle.take_handoff() {
            return handed;
        }
        if !s.remove_idle_m(m) {
            // Someone took us out of the idle list: a P is on its way.
            return wait_for_handoff(m);
        }
        // Woken for timers, or spuriously: fire what is due, then look for a P.
        super::timer::fire_due(s);
        if s.take_idle_p_for(m) {
            let p = m.p.expect("just taken");
            if !s.global.is_empty() || !p.is_empty() || s.give_back_p(m) {
                return (m.release_p().expect("held"), false);
            }
        }
    }
}

/// Waits for the P that whoever took this M out of the idle list (or the poller slot) is
/// about to hand it.
pub(crate) fn wait_for_handoff(m: &MLocal) -> (&'static P, bool) {
    loop {
        if let Some(handed) = m.handle.take_handoff() {
            return handed;
        }
        std::thread::park();
    }
}
