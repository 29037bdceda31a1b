//! Deadlock detection: "all goroutines are asleep - deadlock!".
//!
//! # The rule
//! gort declares a deadlock when, at one instant, all of the following hold:
//! 1. the runtime is quiescent: every M is asleep in the idle list, every P is idle, no M
//!    spins, and every run queue (each P's and the global one) is empty;
//! 2. no timer is pending (a sleeper, a `select` with a timeout or a `park_until` will wake);
//! 3. every live goroutine is `Waiting` on a gort object — a channel, a `select` without
//!    timeout, a mutex, rwlock, waitgroup, condvar, semaphore, once, barrier, a `join` — and
//!    none on I/O, a sleep or a syscall; and the netpoller has no waiter and no signal
//!    subscription (`gort::signal` delivers signals as channel values: a goroutine receiving
//!    from such a channel is woken from outside);
//! 4. at least one plain thread is blocked in `JoinHandle::join` (`gort::run`'s caller is one),
//!    and each such thread waits for a goroutine that has not finished;
//! 5. every thread of the process is known (`threads.rs`): an M, a gort service thread, or a
//!    thread blocked in `join`. Any other thread — running, sleeping, or blocked on a gort
//!    channel or mutex — could wake a goroutine (send, unlock, close, spawn), so its mere
//!    presence prevents the verdict. That is what keeps "an outside thread about to send"
//!    from being called a deadlock.
//!
//! # Why the verdict is sound
//! Conditions 1 and 2 are checked, and 3 to 5 examined, under the scheduler's idle lock
//! (`Sched::while_quiescent`). While it is held no M can leave the idle list or take a P,
//! so no goroutine runs and none is queued. What could then wake a goroutine? Another
//! goroutine (none runs, none is runnable), a timer (none pending, and only a running agent
//! could add one), the netpoller (no goroutine waits on I/O and no signal is subscribed; no M
//! blocks in it, since every M is in the idle list), or a thread outside the runtime
//! (none exists but the joiners, which wait for goroutines that cannot finish). Nothing can
//! act, so nothing will ever change: the state is frozen, and it stays frozen after the lock
//! is released. The one exception is a signal handler written by the program that touches a
//! gort object; such a program should set [`DeadlockAction::Off`].
//!
//! # When it runs
//! When the last M goes to sleep (`m.rs::stop_m`), when a plain thread starts blocking in
//! `join` (the runtime may have gone quiet first), and when a runtime or service thread
//! registers (it may have been the one unknown thread at the last look: a thread runs some
//! time after it is spawned). Each side makes a SeqCst fence between
//! announcing itself (the M in the idle list, the joiner in `JOINERS`) and looking at the
//! other, so whichever comes second sees the first: the last event before a deadlock always
//! runs the check. Before taking any lock the check needs a blocked joiner and a quiet
//! scheduler (a few relaxed loads), so a busy program never pays for it.
//!
//! # The verdict
//! By default each blocked joiner panics with the message and the goroutine dump — so
//! `gort::run` panics, as a Go program dies of it. [`DeadlockAction::Warn`] prints the report
//! once instead and keeps waiting; `Off` never checks. `GORT_DEADLOCK=panic|warn|off` sets it
//! at start, [`set_deadlock_action`] at run time.

use std::fmt::Write as _;
use std::sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use super::{dump, threads};
use crate::leak::snapshot;
use crate::runtime::g::{GRef, GState, WaitReason};
use crate::runtime::registry;
use crate::runtime::sched::{lock, sched, Sched};

/// What gort does when every goroutine is asleep for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlockAction {
    /// The threads blocked in `join` (`gort::run`'s caller) panic with the report (default).
    Panic,
    /// Print the report to stderr once and keep waiting.
    Warn,
    /// Do not check.
    Off,
}

const UNSET: u8 = 0;
const PANIC: u8 = 1;
const WARN: u8 = 2;
const OFF: u8 = 3;

static ACTION: AtomicU8 = AtomicU8::new(UNSET);

fn action_from_env() -> u8 {
    match std::env::var("GORT_DEADLOCK").as_deref().map(str::trim) {
        Ok("warn") => WARN,
        Ok("off") | Ok("0") => OFF,
        Ok("panic") | Err(_) => PANIC,
        Ok(other) => {
            eprintln!("gort: ignoring GORT_DEADLOCK={other:?} (expected panic, warn or off)");
            PANIC
        }
    }
}

/// Sets what happens when every goroutine is asleep for good (also `GORT_DEADLOCK`).
///
/// ```
/// use gort::debug::{deadlock_action, set_deadlock_action, DeadlockAction};
/// set_deadlock_action(DeadlockAction::Warn);
/// assert_eq!(deadlock_action(), DeadlockAction::Warn);
/// set_deadlock_action(DeadlockAction::Panic);
/// ```
pub fn set_deadlock_action(action: DeadlockAction) {
    let code = match action {
        DeadlockAction::Panic => PANIC,
        DeadlockAction::Warn => WARN,
        DeadlockAction::Off => OFF,
    };
    ACTION.store(code, Ordering::Relaxed);
}

/// What happens when every goroutine is asleep for good.
pub fn deadlock_action() -> DeadlockAction {
    let mut code = ACTION.load(Ordering::Relaxed);
    if code == UNSET {
        let _ = ACTION.compare_exchange(
            UNSET,
            action_from_env(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        code = ACTION.load(Ordering::Relaxed);
    }
    match code {
        WARN => DeadlockAction::Warn,
        OFF => DeadlockAction::Off,
        _ => DeadlockAction::Panic,
    }
}

/// A plain thread blocked in `join`.
#[derive(Debug)]
struct Joiner {
    tid: i32,
    thread: Thread,
    /// The goroutine it waits for.
    target: GRef,
    /// Set once, by the detector, with the report the joiner must panic with.
    verdict: OnceLock<Arc<str>>,
}

/// The blocked joiners (condition 4). `JOINER_COUNT` mirrors its length for the lock-free
/// pre-check; it is incremented before the fence in `BlockedJoiner::enter`.
static JOINERS: Mutex<Vec<Arc<Joiner>>> = Mutex::new(Vec::new());
static JOINER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Whether a warning was printed for the current frozen state.
static WARNED: AtomicBool = AtomicBool::new(false);

/// A plain thread's registration while it blocks in `join` (see `join.rs`).
#[derive(Debug)]
pub(crate) struct BlockedJoiner {
    entry: Arc<Joiner>,
}

impl BlockedJoiner {
    /// Registers the calling plain thread as blocked in `join` on `target`, then runs the
    /// check (the runtime may already be quiet).
    pub(crate) fn enter(target: &GRef) -> BlockedJoiner {
        let entry = Arc::new(Joiner {
            tid: threads::current_tid(),
            thread: std::thread::current(),
            target: target.clone(),
            verdict: OnceLock::new(),
        });
        lock(&JOINERS).push(entry.clone());
        JOINER_COUNT.fetch_add(1, Ordering::SeqCst);
        // Pairs with the fence in `m::stop_m`: either the last M going idle sees this joiner,
        // or this check sees that M idle.
        fence(Ordering::SeqCst);
        check(sched());
        BlockedJoiner { entry }
    }

    /// The deadlock report, once the detector has given its verdict.
    pub(crate) fn verdict(&self) -> Option<&str> {
        self.entry.verdict.get().map(|report| &**report)
    }
}

impl Drop for BlockedJoiner {
    fn drop(&mut self) {
        let mut joiners = lock(&JOINERS);
        if let Some(at) = joiners.iter().position(|j| Arc::ptr_eq(j, &self.entry)) {
            joiners.swap_remove(at);
            JOINER_COUNT.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Called when a thread joins the census (`threads.rs`), after it registered.
pub(crate) fn on_thread_registered() {
    // Pairs with the fence in `BlockedJoiner::enter`: either that joiner's census sees this
    // thread, or this load sees the joiner.
    fence(Ordering::SeqCst);
    if JOINER_COUNT.load(Ordering::SeqCst) != 0 {
        if let Some(s) = crate::runtime::sched::sched_if_started() {
            check(s);
        }
    }
}

/// Called by an M about to sleep, after it entered the idle list and fenced.
pub(crate) fn on_m_idle(s: &Sched) {
    if JOINER_COUNT.load(Ordering::SeqCst) != 0 {
        check(s);
    }
}

/// Whether a goroutine in `state` can only be woken by another goroutine or a joiner
/// (condition 3).
fn asleep_for_good(state: GState) -> bool {
    match state {
        GState::Waiting(reason) => !matches!(
            reason,
            WaitReason::IoRead | WaitReason::IoWrite | WaitReason::Sleep
        ),
        GState::Runnable | GState::Running | GState::Syscall | GState::Dead => false,
    }
}

/// The cheap conditions, read without a lock: a quiet scheduler and no timer.
fn looks_quiet(s: &Sched) -> bool {
    s.nmidle.load(Ordering::SeqCst) == s.mcount.load(Ordering::SeqCst)
        && s.npidle.load(Ordering::SeqCst) == s.nprocs()
        && s.nmspinning.load(Ordering::SeqCst) == 0
        && s.timers.next_deadline().is_none()
        && !crate::netpoll::has_io_waiters()
}

/// Conditions 2 to 5, under the idle lock: the joiners to give the verdict to, if frozen.
fn examine(s: &Sched, visited: &mut Vec<GRef>) -> Option<Vec<Arc<Joiner>>> {
    if s.timers.next_deadline().is_some() || crate::netpoll::has_io_waiters() {
        return None;
    }
    let joiners: Vec<Arc<Joiner>> = lock(&JOINERS).clone();
    if joiners.is_empty() || joiners.iter().any(|j| j.target.join.is_done()) {
        return None;
    }
    let joiner_tids: Vec<i32> = joiners.iter().map(|j| j.tid).collect();
    match threads::first_unknown_thread(&joiner_tids) {
        Ok(None) => {}
        Ok(Some(_)) | Err(_) => return None,
    }
    if registry::find(|g| !asleep_for_good(g.state()), visited) {
        return None;
    }
    Some(joiners)
}

/// Runs the detector (see the module docs).
fn check(s: &Sched) {
    let action = deadlock_action();
    if action == DeadlockAction::Off || !looks_quiet(s) {
        return;
    }
    // The Gs the scan took references to are let go of here, after the idle lock: the last
    // reference to a finished G may be among them, and dropping it drops the G's result.
    let mut visited = Vec::new();
    let examined = s.while_quiescent(|| examine(s, &mut visited)).flatten();
    drop(visited);
    let Some(joiners) = examined else {
        WARNED.store(false, Ordering::Relaxed);
        return;
    };
    // The state is frozen (module docs), so the report can be built outside the lock.
    let report: Arc<str> = Arc::from(report_text());
    match action {
        DeadlockAction::Panic => {
            for joiner in joiners {
                let _ = joiner.verdict.set(report.clone());
                joiner.thread.unpark();
            }
        }
        DeadlockAction::Warn => {
            if !WARNED.swap(true, Ordering::Relaxed) {
                eprintln!("{report}");
            }
        }
        DeadlockAction::Off => {}
    }
}

/// "all goroutines are asleep - deadlock!" and the dump.
fn report_text() -> String {
    let snap = snapshot();
    let mut text = String::from("all goroutines are asleep - deadlock!\n\n");
    let _ = write!(text, "{}", snap.dump());
    if snap.len() <= 64 {
        text.push_str("\n\n");
        dump::write_each(&mut text, snap.goroutines());
    }
    text
}

#[cfg(test)]
mod tests;
