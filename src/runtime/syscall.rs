//! The syscall handoff: [`blocking`] (Go's `entersyscall`/`exitsyscall`) and the bound on
//! the number of Ms (Go's `debug.SetMaxThreads`).
//!
//! # How a G goes through a blocking call
//! 1. **Enter.** The G records `Syscall`, clears the thread's current-G and current-P
//!    accessors and puts its P in the *syscall slot*: `ProcWatch::syscall = IN_SYSCALL`
//!    (`sysmon.rs`), a Release store. The P stays `P_HELD`; from now on it belongs to whoever
//!    wins the CAS `IN_SYSCALL → NOT_IN_SYSCALL` on that word: the G when it comes back, or
//!    sysmon. No lock, no system call.
//! 2. **Run.** `f` runs on the G's own stack, on the same thread (no switch). With both
//!    accessors cleared, the code inside `f` is, to gort, a plain thread: a channel operation
//!    or `park` in `f` blocks the thread (its P is free for others anyway), `spawn` goes to the
//!    global queue, a nested `blocking` just calls its closure, `gort::net` blocks the thread.
//! 3. **Handoff.** `sysmon` sees a P whose syscall tick has not moved since its previous look
//!    (so at least one sysmon period, ≥ 20 µs) and takes it with the CAS; it hands the P to an
//!    idle or new M if there is work, or to the idle list (`sysmon::retake`).
//! 4. **Exit, fast.** The G wins the CAS back: it restores the accessors and runs on. One CAS.
//! 5. **Exit, slow.** The P is gone. The G cannot run without one, and only its M can change
//!    which P the M holds, so the G parks itself (a coroutine switch) after leaving its M a
//!    note (`EXIT_PENDING`). The M, back on its own stack, drops the stale P, takes an idle P
//!    if there is one and readies the G there (it runs next); otherwise the G goes to the
//!    global queue and the M goes to sleep in the idle list (the M cache).
//!
//! # Invariants
//! - While `f` runs, the thread's current P is null, so nothing on this thread touches the
//!   P's queue or stack cache: exactly one M uses a P's owner end at any time.
//! - The P in the syscall slot is taken by exactly one party (one CAS on one word).
//! - The G is queued only after its M committed the park (the ordinary park protocol), and
//!   only by its M's `after_execute`: it never runs on two threads.
//! - A park token pending when the G leaves the syscall (an unpark that raced ahead of some
//!   later park) is kept: taken before the slow path, given back after it.
//!
//! # Memory ordering
//! The Release store of `IN_SYSCALL` pairs with the Acquire of sysmon's CAS: every write the
//! M made to the P (its queue, stack cache) is visible to the M the P is handed to. The G's
//! own CAS is AcqRel for the reverse direction.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::coro::{self, Switch};
use super::g::{GState, G};
use super::m::{self, MLocal};
use super::p::P;
use super::park::Unparker;
use super::sched::Sched;
use super::sysmon;

/// Default bound on the number of Ms (Go's default for `SetMaxThreads`).
pub const DEFAULT_MAX_THREADS: usize = 10_000;

static MAX_THREADS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_THREADS);
static THREADS_REFUSED: AtomicU64 = AtomicU64::new(0);
static REFUSAL_REPORTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// A G that lost its P in a blocking call and is parking: its M readies it (see step 5).
    /// A boxed `Unparker` leaked with `Box::into_raw`, or null.
    static EXIT_PENDING: Cell<*mut Unparker> = const { Cell::new(ptr::null_mut()) };
}

/// Runs `f`, a call that may block its thread (a slow system call, a C library, a lock held
/// by a thread), without stopping the other goroutines (Go's `entersyscall`/`exitsyscall`).
///
/// The calling goroutine gives up its processor while `f` runs; if `f` takes more than a few
/// tens of microseconds, the runtime's monitor hands that processor to another thread, so the
/// other goroutines keep running. When `f` returns, the goroutine takes its processor back
/// (one atomic operation if nobody took it), or waits for a free one. `f` runs on the calling
/// goroutine's stack and thread; inside it, gort treats the code as a plain thread (a
/// channel receive blocks the thread, [`current`](crate::current) is `None`). From a plain
/// thread, `blocking(f)` is just `f()`.
///
/// Use it for anything that blocks without going through gort: `std::fs`, DNS lookups,
/// database drivers, `std::sync` locks held for long. `gort::fs` and `gort::net`'s name
/// resolution already do.
///
/// ```
/// use std::time::Duration;
/// let h = gort::go!(|| gort::blocking(|| {
///     std::thread::sleep(Duration::from_millis(5)); // other goroutines keep running
///     7
/// }));
/// assert_eq!(h.join().unwrap(), 7);
/// ```
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    let Some(g) = m::current_g() else {
        return f();
    };
    let Some(p) = m::current_p() else {
        return f();
    };
    let watch = sysmon::watch(p.id);
    g.set_state(GState::Syscall);
    m::set_current(ptr::null(), ptr::null());
    watch.enter_syscall();
    sysmon::note_blocking_call();
    // [leak] For `gort::metrics().syscall_threads` (undone in `ExitSyscall::drop`).
    crate::diag::counters::note_syscall_thread(true);
    let _exit = ExitSyscall { g, p };
    f()
}

/// Leaves the syscall when `f` returns or unwinds.
struct ExitSyscall {
    g: &'static G,
    p: &'static P,
}

impl Drop for ExitSyscall {
    fn drop(&mut self) {
        crate::diag::counters::note_syscall_thread(false);
        exit_syscall(self.g, self.p);
    }
}

fn exit_syscall(g: &'static G, p: &'static P) {
    if sysmon::watch(p.id).try_exit_syscall() {
        m::set_current(g, p);
        g.set_state_untimed(GState::Running);
        return;
    }
    exit_syscall_slow(g);
}

#[cold]
fn exit_syscall_slow(g: &'static G) {
    m::set_current(g, ptr::null());
    g.set_state(GState::Runnable);
    let mut had_token = g.park_token().take();
    set_exit_pending(Box::into_raw(Box::new(Unparker::current())));
    loop {
        coro::suspend(g, Switch::Park);
        if m::current_p().is_some() {
            break;
        }
        // The M resumed us at once: an unpark arrived between our token check and its park
        // commit (it consumed that token). Keep it for later, and park again: the note for
        // the M is still there.
        had_token = true;
        g.set_state(GState::Runnable);
    }
    if had_token {
        // Give the token back (we run, so this leaves it; if an unpark left one meanwhile,
        // that one stands for both).
        let _ = g.park_token().unpark();
    }
}

#[inline(never)]
fn set_exit_pending(unparker: *mut Unparker) {
    EXIT_PENDING.with(|c| c.set(unparker));
}

/// Whether a G run by this M lost its P in a blocking call and left the M a note.
#[inline]
pub(crate) fn exit_pending() -> bool {
    EXIT_PENDING.with(|c| !c.get().is_null())
}

/// Called by the M after every `execute`: if the G it ran lost its P in a blocking call and
/// parked (step 5 of the module docs), drop the stale P and ready the G.
#[inline]
pub(crate) fn after_execute(s: &Sched, m: &mut MLocal) {
    let pending = EXIT_PENDING.with(|c| c.replace(ptr::null_mut()));
    if !pending.is_null() {
        finish_slow_exit(s, m, pending);
    }
}

#[cold]
fn finish_slow_exit(s: &Sched, m: &mut MLocal, pending: *mut Unparker) {
    // SAFETY: `pending` came from `Box::into_raw` in `exit_syscall_slow` on this thread and
    // was taken out of the cell above, so we own it.
    let unparker = unsafe { Box::from_raw(pending) };
    // The P now belongs to whoever took it from the syscall slot.
    let _stale = m.release_p();
    if let Some(p) = s.take_idle_p() {
        m.acquire_p(p);
    }
    // With a P: into its `runnext`, so the G runs next on this M. Without: the global queue
    // (and a wake-up for an idle P, if any), and this M goes to the idle list.
    unparker.unpark();
}

/// Bounds the number of worker threads (Ms) the runtime may start (Go's
/// `debug.SetMaxThreads`; default 10,000) and returns the previous bound.
///
/// Goroutines blocked in [`blocking`] each keep a thread; past the bound the runtime starts
/// no more threads: the processors of blocked threads are not handed off, so the program
/// runs with less parallelism until a blocking call returns, and the first refusal is
/// reported on stderr and counted in [`threads_refused`]. Setting a bound below the number
/// of threads already started keeps those threads.
///
/// ```
/// let old = gort::set_max_threads(5_000).unwrap();
/// assert_eq!(gort::max_threads(), 5_000);
/// gort::set_max_threads(old).unwrap();
/// assert!(gort::set_max_threads(0).is_err());
/// ```
///
/// # Errors
/// [`MaxThreadsError`] for 0 (the runtime needs one thread).
pub fn set_max_threads(n: usize) -> Result<usize, MaxThreadsError> {
    if n == 0 {
        return Err(MaxThreadsError);
    }
    Ok(MAX_THREADS.swap(n, Ordering::SeqCst))
}

/// The bound on worker threads (see [`set_max_threads`]).
pub fn max_threads() -> usize {
    MAX_THREADS.load(Ordering::Relaxed)
}

/// How many times the runtime wanted a new worker thread and could not have it: the
/// [`max_threads`] bound, or the operating system refused.
pub fn threads_refused() -> u64 {
    THREADS_REFUSED.load(Ordering::Relaxed)
}

/// `set_max_threads(0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxThreadsError;

impl fmt::Display for MaxThreadsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the thread limit must be at least 1")
    }
}

impl std::error::Error for MaxThreadsError {}

/// Reserves an M number under the thread bound: `Ok(id)`, or the limit error.
pub(crate) fn reserve_m(mcount: &AtomicUsize) -> io::Result<usize> {
    let limit = max_threads();
    mcount
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < limit).then_some(n + 1)
        })
        .map_err(|n| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "thread limit reached: {n} worker threads started, gort::max_threads() is \
                     {limit} (raise it with gort::set_max_threads, or block fewer goroutines \
                     in gort::blocking at once)"
                ),
            )
        })
}

/// Counts a refused thread and reports the first refusal.
pub(crate) fn thread_refused(e: &io::Error) {
    THREADS_REFUSED.fetch_add(1, Ordering::Relaxed);
    if !REFUSAL_REPORTED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "gort: could not start a worker thread (M): {e}; running with fewer threads \
             (further refusals are counted in gort::threads_refused())"
        );
    }
}
