//! The scheduler's shared state: the global run queue, the P table, idle Ps and Ms, and the
//! spinning-M accounting that decides when to wake a thread.
//!
//! # Waking Ms without losing work (Go's "worker thread parking/unparking")
//! We want enough running Ms to use every P that has work, but no M burning a core when there
//! is none, and we must never leave work queued while every M sleeps. The state is spread over
//! every P's queue, so no lock can cover it; instead two counters and two barriers do:
//! - `nmspinning`: Ms that hold a P and are looking for work (stealing) without having found
//!   any. While one exists, readying a G wakes nobody: the spinner will find it.
//! - `npidle`: Ps in the idle list.
//! - A producer (anything that queues a G) queues it, then (a StoreLoad barrier for the
//!   global queue and timers) reads `npidle` and `nmspinning`; if a P is idle and no M spins,
//!   it wakes one M and makes it a spinner (`wakep`).
//! - An M that gives its P back increments `npidle` and, if it was spinning, decrements
//!   `nmspinning`; only then (StoreLoad) does it look at the global queue, and a former
//!   spinner at every local queue, once more before it sleeps. One of the two sides always
//!   sees the other. The order matters: an M that looked at the global queue while still
//!   counted as a spinner could miss a push whose producer saw that spinner and woke nobody
//!   (a G left queued with every M asleep; `find.rs` has the regression test). Every path
//!   that gives back a P it found no work for — the idle list's spurious wake-up, the
//!   netpoller's return, sysmon's hand-off — goes through `Sched::give_back_p` (an M) or
//!   `put_idle_p_and_recheck` (sysmon), which look at the global queue after the P is idle,
//!   never only before.
//! - A spinner that finds work stops spinning, and if it was the last spinner it wakes another
//!   (`reset_spinning`), so a burst of readied Gs is spread over idle Ps one M at a time.
//! - Only a bounded number of Ms spin: at most half the busy Ps (Go's rule), so idle cores are
//!   not burned on a mostly idle program.
//! - A G queued on the *local* queue of a running M needs no barrier for correctness: that M
//!   will run it itself; waking another M only adds parallelism.
//!
//! # Locks
//! `idle` guards the idle P and idle M lists, and the Ms on their way to them (`idle.rs`;
//! taken on the slow paths only: an M going to sleep or being woken). Each M's `handoff`
//! mutex passes a P to a sleeping M. Neither is ever held while running a G, and nothing else
//! is taken while holding `idle`.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;

use crossbeam_deque::Injector;

use super::g::GRef;
use super::idle::Idle;
use super::p::{P, P_IDLE, P_RETIRED};
use super::timer::TimerQueue;

/// The most Ps gort will create (`set_maxprocs` above this is an error).
pub const MAX_PROCS: usize = 1024;

/// A worker thread, as the scheduler sees it from outside.
#[derive(Debug)]
pub(crate) struct MHandle {
    /// Small number for thread names and metrics.
    pub(crate) id: usize,
    /// The thread, set before the M can be found in the idle list.
    pub(crate) thread: OnceLock<Thread>,
    /// A P handed to this sleeping M, with whether it should start as a spinner.
    handoff: Mutex<Option<(&'static P, bool)>>,
    /// Counters for `gort::metrics`, written only by this M's own thread.
    pub(crate) stats: MStats,
}

/// Per-M event counters. Single writer (the M's thread), so an increment is a relaxed load
/// and store, not a locked read-modify-write; `gort::metrics` sums them over `Sched::all_ms`.
#[derive(Debug, Default)]
pub(crate) struct MStats {
    /// Gs this M has parked (committed parks).
    pub(crate) parks: AtomicU64,
    /// Gs that finished on this M.
    pub(crate) finished: AtomicU64,
}

impl MStats {
    /// Adds one to a counter of this M (only its own thread calls this).
    #[inline]
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

impl MHandle {
    /// Gives this M a P and wakes it.
    pub(crate) fn hand(&self, p: &'static P, spinning: bool) {
        *lock(&self.handoff) = Some((p, spinning));
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Takes the P handed to this M, if any.
    pub(crate) fn take_handoff(&self) -> Option<(&'static P, bool)> {
        lock(&self.handoff).take()
    }

    /// Whether a P has been handed to this M and not taken yet.
    pub(crate) fn has_handoff(&self) -> bool {
        lock(&self.handoff).is_some()
    }
}

/// The scheduler.
pub(crate) struct Sched {
    /// The global run queue: Gs readied by plain threads, timers without a P, and retired Ps.
    pub(crate) global: Injector<GRef>,
    /// `maxprocs`: Ps `0..nprocs` are active.
    pub(crate) nprocs: AtomicUsize,
    /// The idle Ps and Ms, and the Ms on their way to sleep (`idle.rs`).
    pub(super) idle: Mutex<Idle>,
    /// Ps in the idle list (kept equal to `idle.ps.len()`, readable without the lock).
    pub(crate) npidle: AtomicUsize,
    /// Ms holding a P and looking for work without having found any.
    pub(crate) nmspinning: AtomicUsize,
    /// Ms ever started.
    pub(crate) mcount: AtomicUsize,
    /// Ms parked in the idle list.
    pub(crate) nmidle: AtomicUsize,
    /// Timers (sleep, park deadlines, timer channels).
    pub(crate) timers: TimerQueue,
    /// Default stack size for new Gs.
    pub(crate) stack_size: usize,
    /// Serialises `set_maxprocs`.
    pub(crate) procs_lock: Mutex<()>,
    /// Every M ever started (for metrics: their counters). Pushed in `new_m` only.
    pub(crate) all_ms: Mutex<Vec<Arc<MHandle>>>,
    /// Gs spawned from plain threads (Gs spawned by Gs are counted per P).
    pub(crate) spawned_from_threads: AtomicU64,
    /// Ps handed to a sleeping M (`MHandle::hand`).
    pub(crate) handoffs: AtomicU64,
}

impl std::fmt::Debug for Sched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sched")
            .field("nprocs", &self.nprocs.load(Ordering::Relaxed))
            .field("npidle", &self.npidle.load(Ordering::Relaxed))
            .field("nmspinning", &self.nmspinning.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Locks a scheduler mutex. They guard plain data and no code panics while holding them, so
/// a poisoned lock still holds consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sched {
    pub(crate) fn new(nprocs: usize, stack_size: usize) -> Sched {
        let mut idle = Idle::default();
        for id in (0..nprocs).rev() {
            let p = p_table(id);
            p.status.store(P_IDLE, Ordering::Relaxed);
            idle.ps.push(p);
        }
        Sched {
            global: Injector::new(),
            nprocs: AtomicUsize::new(nprocs),
            idle: Mutex::new(idle),
            npidle: AtomicUsize::new(nprocs),
            nmspinning: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            nmidle: AtomicUsize::new(0),
            timers: TimerQueue::new(),
            stack_size,
            procs_lock: Mutex::new(()),
            all_ms: Mutex::new(Vec::new()),
            spawned_from_threads: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
        }
    }

    /// The number of active Ps (`maxprocs`).
    pub(crate) fn nprocs(&self) -> usize {
        self.nprocs.load(Ordering::Acquire)
    }

    /// P number `id`, created on first use.
    pub(crate) fn p(&self, id: usize) -> &'static P {
        p_table(id)
    }

    /// P number `id` if it was ever created.
    pub(crate) fn p_if_created(&self, id: usize) -> Option<&'static P> {
        P_TABLE.get(id).and_then(|p| p.get())
    }

    /// Changes `maxprocs` under the idle lock, where every P status change happens. Growing
    /// makes the new (or previously retired) Ps idle; shrinking retires the idle Ps beyond
    /// `n` at once, and held ones when their M next schedules (`retire_if_needed`).
    pub(crate) fn resize_procs(&self, n: usize) {
        let mut idle = lock(&self.idle);
        let old = self.nprocs.load(Ordering::SeqCst);
        if n > old {
            for id in old..n {
                let p = self.p(id);
                // A P still held (its M has not noticed an earlier shrink) just stays held.
                if p.status.load(Ordering::Relaxed) == P_RETIRED {
                    p.status.store(P_IDLE, Ordering::Relaxed);
                    idle.ps.push(p);
                }
            }
            self.nprocs.store(n, Ordering::SeqCst);
        } else {
            self.nprocs.store(n, Ordering::SeqCst);
            let mut kept = Vec::with_capacity(idle.ps.len());
            for p in idle.ps.drain(..) {
                if p.id >= n {
                    // SAFETY: an idle P is held by nobody; under the idle lock we hold it.
                    unsafe { p.drain_to(&self.global) };
                    p.status.store(P_RETIRED, Ordering::Relaxed);
                } else {
                    kept.push(p);
                }
            }
            idle.ps = kept;
        }
        self.npidle.store(idle.ps.len(), Ordering::SeqCst);
    }

    /// If the P held by `m` was retired by `set_maxprocs`, drain it and give it up.
    #[inline]
    pub(crate) fn retire_if_needed(&self, m: &mut super::m::MLocal) {
        match m.p {
            Some(p) if p.id >= self.nprocs.load(Ordering::Relaxed) => self.retire_held_p(m),
            _ => {}
        }
    }

    #[cold]
    fn retire_held_p(&self, m: &mut super::m::MLocal) {
        let Some(p) = m.p else { return };
        let idle = lock(&self.idle);
        if p.id < self.nprocs.load(Ordering::SeqCst) {
            return;
        }
        let p = m.release_p().expect("checked above");
        // SAFETY: this M held `p` until `release_p` just now; nobody else can take a retired P.
        unsafe { p.drain_to(&self.global) };
        p.status.store(P_RETIRED, Ordering::Relaxed);
        drop(idle);
        if m.spinning {
            m.spinning = false;
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        self.wakep();
    }

    /// After queueing on the global queue or firing timers: wake an M if a P is idle and no M
    /// is looking for work. Pairs with the StoreLoad in `find::release_and_recheck`.
    pub(crate) fn wakep(&self) {
        fence(Ordering::SeqCst);
        if self.npidle.load(Ordering::SeqCst) == 0 {
            return;
        }
        self.wakep_spinner();
    }

    /// After queueing on the local queue of the running M: wake an M only for parallelism.
    #[inline]
    pub(crate) fn wakep_local(&self) {
        if self.npidle.load(Ordering::Relaxed) != 0 && self.nmspinning.load(Ordering::Relaxed) == 0
        {
            self.wakep_spinner();
        }
    }

    fn wakep_spinner(&self) {
        if self.nmspinning.load(Ordering::SeqCst) != 0
            || self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.start_m(true);
    }

    /// Creates a new M handle, or fails past the thread limit (`syscall::set_max_threads`).
    pub(crate) fn new_m(&self) -> std::io::Result<Arc<MHandle>> {
        let id = super::syscall::reserve_m(&self.mcount)?;
        let m = Arc::new(MHandle {
            id,
            thread: OnceLock::new(),
            handoff: Mutex::new(None),
            stats: MStats::default(),
        });
        lock(&self.all_ms).push(m.clone());
        Ok(m)
    }

    /// Runs `f` under the idle lock if, at that instant, the runtime is quiescent: every M
    /// asleep in the idle list (none blocked in the netpoller), every P idle, no M spinning
    /// and every run queue empty. While the lock is held no M can leave the idle list or take
    /// a P, so the runtime stays quiescent until some thread outside it acts (the deadlock
    /// detector's ground, `diag/deadlock.rs`). `None` if the runtime is not quiescent.
    pub(crate) fn while_quiescent<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let idle = lock(&self.idle);
        let nprocs = self.nprocs.load(Ordering::SeqCst);
        let quiescent = idle.ps.len() == nprocs
            && idle.poller.is_none()
            && idle.ms.len() == self.mcount.load(Ordering::SeqCst)
            && self.nmspinning.load(Ordering::SeqCst) == 0
            && self.global.is_empty()
            && P_TABLE.iter().map_while(|p| p.get()).all(|p| p.is_empty());
        quiescent.then(f)
    }
}

static SCHED: OnceLock<Sched> = OnceLock::new();

/// The P table. Ps are created on first use and never dropped, so a P is `&'static` and
/// passing one around costs no reference counting.
static P_TABLE: [OnceLock<P>; MAX_PROCS] = [const { OnceLock::new() }; MAX_PROCS];

fn p_table(id: usize) -> &'static P {
    P_TABLE[id].get_or_init(|| P::new(id))
}

/// The scheduler, started on first use with the configuration in `config.rs`.
#[inline]
pub(crate) fn sched() -> &'static Sched {
    SCHED.get_or_init(|| {
        let s = super::config::start_runtime();
        // Diagnostics switched on by the environment (GORT_SCHEDTRACE, GORT_TRACEBACK, …).
        crate::diag::on_runtime_start();
        s
    })
}

/// The scheduler if it has started.
pub(crate) fn sched_if_started() -> Option<&'static Sched> {
    SCHED.get()
}

/// Makes `g` runnable: on the running M's P (in `runnext` with `next`), or on the global queue
/// from a thread with no P, and wakes an M if that adds parallelism.
pub(crate) fn ready(g: GRef, next: bool) {
    let s = sched();
    match super::m::current_p() {
        Some(p) => {
            // SAFETY: `current_p` is the P held by this M.
            unsafe { p.put(g, next) };
            s.wakep_local();
        }
        None => {
            s.global.push(g);
            s.wakep();
        }
    }
}
