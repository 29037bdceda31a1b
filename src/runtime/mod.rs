//! The runtime: G (goroutines), M (worker threads), P (processors) and the scheduler.
//!
//! # The model in three lines (Go's proc.go)
//! - **G** (`g.rs`): a goroutine — a stackful coroutine (`coro.rs`) with an id, name, spawn
//!   site, state and wait reason. Its stack comes from a pool (`stack.rs`) when it first runs.
//! - **M** (`m.rs`): an OS worker thread. It must hold a P to run Gs; it loops
//!   `find_runnable` (`find.rs`) → `execute`, and sleeps in the idle list (`idle.rs`) when
//!   there is nothing to do.
//! - **P** (`p.rs`): a processor — the right to run Gs, with a local run queue, a `runnext`
//!   slot and a stack cache. There are `maxprocs` of them (`procs.rs`).
//!
//! # A G's life
//! `spawn` (`spawn.rs`) puts the new G in `runnext` of the spawning M's P (or on the global
//! queue from a plain thread) and wakes an M if a P is idle (`sched.rs`, the spinning rule).
//! An M pops it, gives it a stack and resumes it. The G runs until it finishes (its stack goes
//! back to the P's cache, its result to its `JoinHandle`, `join.rs`), yields (back of the local
//! queue), or parks (`park.rs`): it records why, switches to its M, and the M commits the park.
//! Whoever unparks it later queues it in `runnext` of *its own* P, so a woken G runs next on the
//! core that woke it. Idle Ps steal half of a victim's queue.
//!
//! # Invariants and where they are kept
//! - A G is in at most one run queue, and is queued only when nobody runs it: the park token
//!   protocol in `park.rs` (the M commits a park on its own stack, after the switch).
//! - Only the M holding a P touches its local queue's owner end and stack cache: `p.rs`; P
//!   ownership changes only under the idle lock or through an M handoff: `sched.rs`.
//! - No lost wake-up of an M: the two StoreLoad barriers described in `sched.rs`.
//! - No lost or doubled G across `set_maxprocs`: `procs.rs` (queue entries move, never copy).
//! - A live G is always reachable from the G allocator's list of blocks (`gref.rs`), and
//!   keeps itself alive with its own reference until it has finished: that is what counts
//!   (`registry.rs`), dumps and keeps parked-forever Gs alive.
//! - Only `coro.rs` touches corosensei; thread-locals are read through non-inlined accessors
//!   (`m.rs`) so no address is carried across a switch.
//!
//! # Deliberately not done
//! - No asynchronous preemption: a G that never parks, yields or calls into gort keeps its M.
//!   Go interrupts such a G with a signal; in Rust that would break code that holds a
//!   `std::sync::Mutex` or a thread-local across the interrupt. Long loops call `yield_now`.
//! - Stacks do not grow (a guard page turns an overflow into a clear report, then abort):
//!   copying stacks needs a moving GC's knowledge of every pointer into the stack.

pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod coro;
pub(crate) mod entry;
pub(crate) mod find;
pub(crate) mod g;
pub(crate) mod gref;
pub(crate) mod idle;
pub(crate) mod join;
pub(crate) mod m;
pub(crate) mod overflow;
pub(crate) mod p;
pub(crate) mod panic_report;
pub(crate) mod park;
pub(crate) mod procs;
pub(crate) mod registry;
pub(crate) mod sched;
pub(crate) mod spawn;
pub(crate) mod stack;
pub(crate) mod syscall;
pub(crate) mod sysmon;
pub(crate) mod timer;
pub(crate) mod token;

use std::time::{Duration, Instant};

use g::{GRef, WaitReason};

/// Lets other goroutines run: the caller goes to the back of its P's run queue (Go's
/// `runtime.Gosched`). On a plain thread it yields the thread.
///
/// ```
/// let h = gort::go!(|| {
///     for _ in 0..3 {
///         gort::yield_now();
///     }
/// });
/// h.join().unwrap();
/// ```
// Inlined into the caller, with the switch itself: see `park::yield_now`.
#[inline]
pub fn yield_now() {
    park::yield_now();
}

/// Puts the calling goroutine to sleep for at least `d`; its M runs other goroutines
/// meanwhile. On a plain thread it sleeps the thread.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// gort::go!(|| gort::sleep(Duration::from_millis(5))).join().unwrap();
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(d: Duration) {
    if !m::in_goroutine() {
        std::thread::sleep(d);
        return;
    }
    let deadline = Instant::now() + d;
    while Instant::now() < deadline {
        park::park_until(WaitReason::Sleep, deadline);
    }
}

/// The number of live goroutines: spawned and not yet finished (Go's
/// `runtime.NumGoroutine`). A goroutine no longer counts once `join` on it has returned.
///
/// ```
/// let before = gort::num_goroutines();
/// gort::go!(|| ()).join().unwrap();
/// assert_eq!(gort::num_goroutines(), before);
/// ```
pub fn num_goroutines() -> usize {
    registry::live()
}

/// The goroutine running the caller, or `None` on a plain thread.
///
/// ```
/// assert!(gort::current().is_none());
/// let id = gort::go!(|| gort::current().unwrap().id()).join().unwrap();
/// assert!(id > 0);
/// ```
pub fn current() -> Option<Goroutine> {
    m::current_g().map(|g| {
        // SAFETY: every G lives in a `GRef` block, and the running G is kept alive by its M
        // for the duration of this call.
        let g = unsafe { GRef::from_live(g) };
        Goroutine { g }
    })
}

/// A goroutine's identity: its id and name.
#[derive(Clone)]
pub struct Goroutine {
    g: GRef,
}

impl Goroutine {
    /// The goroutine's unique id (never 0, never reused).
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }

    /// The id of the goroutine that spawned it (`None`: spawned from a plain thread).
    pub fn parent_id(&self) -> Option<u64> {
        (self.g.parent != 0).then_some(self.g.parent)
    }

    /// Where `go!`/`spawn` was called for it.
    pub fn spawn_site(&self) -> &'static std::panic::Location<'static> {
        self.g.spawn_site
    }

    /// Its state now (from `current()`, always `Running`).
    pub fn state(&self) -> g::GState {
        self.g.state()
    }

    /// How long ago it was spawned (millisecond resolution).
    pub fn age(&self) -> Duration {
        Duration::from_nanos(clock::coarse_nanos().saturating_sub(self.g.spawned_at))
    }

    /// How long it has been in its current state (millisecond resolution).
    pub fn time_in_state(&self) -> Duration {
        Duration::from_nanos(clock::coarse_nanos().saturating_sub(self.g.state_since()))
    }
}

impl std::fmt::Debug for Goroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Goroutine")
            .field("id", &self.g.id)
            .field("name", &self.g.name)
            .finish()
    }
}

/// Runs `f` as the main goroutine and returns its result, blocking the calling thread until
/// it finishes. A panic in `f` is resumed on the calling thread.
///
/// ```
/// let sum = gort::run(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| gort::go!(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let builder = spawn::Builder::new().name("main");
    let handle = match spawn::spawn_at(builder, f, std::panic::Location::caller()) {
        Ok(h) => h,
        Err(e) => panic!("gort: cannot start the main goroutine: {e}"),
    };
    match handle.join() {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
