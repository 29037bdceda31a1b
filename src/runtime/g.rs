//! The G: a goroutine's header, its states and why it waits.
//!
//! A G is a stackful coroutine plus the few fields the scheduler, `join`, the leak tracker and
//! the goroutine dump read. Everything that describes a G lives here, in one place, so a dump is
//! a walk over these headers and nothing else.
//!
//! # Ownership of the coroutine (who may touch `coroutine`)
//! - `Runnable`: the G sits in exactly one run queue (a P's `runnext`/local queue or the global
//!   queue). Nobody runs it; the queue entry is the right to run it once.
//! - `Running`: the M that popped it owns it and is the only one to resume or touch its stack.
//! - `Waiting(reason)`: the G is parked. Its stack is suspended and owned by nobody; the single
//!   `unpark` that moves its park token from `PARKED` to `EMPTY` gains the right to queue it.
//! - `Syscall`: running on an M that gave up its P (see the syscall handoff).
//! - `Dead`: finished; its stack is back in the pool. Only the header remains while references
//!   (a `JoinHandle`, a dump's snapshot) are alive. An `Unparker` holds no reference
//!   (`gref.rs`: `WakeRef`).
//!
//! State words are written only by the thread that owns the G at that moment (relaxed stores);
//! readers such as a dump take them as a snapshot that may be a moment old.
//!
//! # Size
//! A million parked or queued Gs are a million headers written at spawn and read again, cold,
//! when they run, so the header is kept to what a G that has not run needs: 240 bytes, in a
//! 256-byte, cache-line-aligned block with its count and park token (`gref.rs`). Rare data
//! costs one word (the name, boxed; the spawn backtrace, boxed and off by default); the
//! overflow handler's record lives on the G's own stack once it runs; the join slot holds one
//! box and a flag rather than a `Result`; the closure (up to 64 bytes) shares the body with
//! the coroutine that replaces it.

/// Why a goroutine is parked. Shown in dumps and leak reports, so each blocking object has
/// its own reason (Go's rule: "reasons should be unique and descriptive").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanRecv,
    /// Blocked in `select!` (or [`Select`](crate::Select)) over several channels.
    Select,
    /// Sleeping until a deadline (`gort::sleep`).
    Sleep,
    /// Waiting for another goroutine to finish (`JoinHandle::join`).
    Join,
    /// Waiting to lock a `sync::Mutex`.
    Mutex,
    /// Waiting to read-lock a `sync::RwLock`.
    RwLockRead,
    /// Waiting to write-lock a `sync::RwLock`.
    RwLockWrite,
    /// Waiting in `WaitGroup::wait`.
    WaitGroup,
    /// Waiting on a `Condvar`.
    Condvar,
    /// Waiting to acquire a `Semaphore`.
    Semaphore,
    /// Waiting for another goroutine's `Once` initialiser to finish.
    Once,
    /// Waiting at a `Barrier`.
    Barrier,
    /// Waiting for a socket or file to become readable.
    IoRead,
    /// Waiting for a socket or file to become writable.
    IoWrite,
    /// Parked by runtime-internal code with no more specific reason.
    Park,
}

impl WaitReason {
    /// The reason as Go's goroutine dump spells it ("chan receive", "sleep", …).
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::Mutex => "mutex lock",
            WaitReason::RwLockRead => "rwlock read",
            WaitReason::RwLockWrite => "rwlock write",
            WaitReason::WaitGroup => "waitgroup wait",
            WaitReason::Condvar => "condvar wait",
            WaitReason::Semaphore => "semaphore acquire",
            WaitReason::Once => "once wait",
            WaitReason::Barrier => "barrier wait",
            WaitReason::IoRead => "io read",
            WaitReason::IoWrite => "io write",
            WaitReason::Park => "park",
        }
    }
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A goroutine's state, as the scheduler and a dump see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GState {
    /// In a run queue, waiting for an M to run it. Nobody owns its stack.
    Runnable,
    /// Running on an M, which owns its stack.
    Running,
    /// Parked until something unparks it; nobody owns its stack.
    Waiting(WaitReason),
    /// Inside `gort::blocking`: running on an M that has given up its P.
    Syscall,
    /// Finished; its stack is back in the pool.
    Dead,
}

const STATUS_RUNNABLE: u32 = 0;
const STATUS_RUNNING: u32 = 1;
const STATUS_WAITING: u32 = 2;
const STATUS_SYSCALL: u32 = 3;
const STATUS_DEAD: u32 = 4;

impl GState {
    #[inline]
    fn encode(self) -> u32 {
        match self {
            GState::Runnable => STATUS_RUNNABLE,
            GState::Running => STATUS_RUNNING,
            GState::Waiting(reason) => STATUS_WAITING | (reason as u32) << 8,
            GState::Syscall => STATUS_SYSCALL,
            GState::Dead => STATUS_DEAD,
        }
    }

    fn decode(word: u32) -> GState {
        match word & 0xff {
            STATUS_RUNNABLE => GState::Runnable,
            STATUS_RUNNING => GState::Running,
            STATUS_WAITING => GState::Waiting(WaitReason::from_index(word >> 8)),
            STATUS_SYSCALL => GState::Syscall,
            _ => GState::Dead,
        }
    }
}

impl WaitReason {
    const ALL: [WaitReason; 16] = [
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::Sleep,
        WaitReason::Join,
        WaitReason::Mutex,
        WaitReason::RwLockRead,
        WaitReason::RwLockWrite,
        WaitReason::WaitGroup,
        WaitReason::Condvar,
        WaitReason::Semaphore,
        WaitReason::Once,
        WaitReason::Barrier,
        WaitReason::IoRead,
        WaitReason::IoWrite,
        WaitReason::Park,
    ];

    fn from_index(index: u32) -> WaitReason {
        WaitReason::ALL
            .get(index as usize)
            .copied()
            .unwrap_or(WaitReason::Park)
    }
}

use std::backtrace::Backtrace;
use std::cell::UnsafeCell;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::clock;
use super::coro::{GCoroutine, Yielder};
use super::entry::EntrySlot;
use super::join::JoinSlot;
use super::overflow::RunningStack;
use crate::leak::site::SiteCounter;

/// A counted reference to a G (see `gref.rs`). A run-queue entry is one of these.
pub(crate) use super::gref::GRef;

/// What the right to run a G gives access to.
pub(crate) enum GBody {
    /// Spawned, not yet run: no stack yet, only the closure.
    NotStarted(EntrySlot),
    /// Has run at least once: the coroutine owns a stack; the overflow handler's description
    /// of it (id, name, spawn site, stack bounds) is built once, in the stack's top reserve
    /// (`RunningStack::place`), and pointed at on every resume.
    Started(GCoroutine, NonNull<RunningStack>),
    /// Finished: the stack went back to the pool.
    Finished,
}

/// What the leak tracker keeps in a G's header (`leak/mod.rs` explains each use). Set at
/// spawn; only `scope` changes afterwards, and only by the G itself (`leak::Scope`).
pub(crate) struct LeakTag {
    /// The live counter of the `go!` call site that spawned this G (`None`: spawned with the
    /// function forms `spawn`/`Builder::spawn`, which have no per-site counter).
    pub(crate) site_counter: Option<&'static SiteCounter>,
    /// The leak-check scope this G belongs to (0: none), copied from the spawner at spawn, so
    /// descendants of a scope's goroutines belong to it too.
    pub(crate) scope: AtomicU64,
    /// The spawner's stack at spawn, when `GORT_TRACEBACK=spawn` (boxed: one word when off).
    pub(crate) spawn_backtrace: Option<Box<Backtrace>>,
}

/// A goroutine's name (`Builder::name`): one word in the header, since most Gs have none.
pub(crate) struct GName(Option<Box<Box<str>>>);

impl GName {
    #[inline]
    pub(crate) fn new(name: Option<String>) -> GName {
        GName(name.map(|name| Box::new(name.into_boxed_str())))
    }

    /// The name, if the G has one.
    pub(crate) fn as_deref(&self) -> Option<&str> {
        self.0.as_deref().map(|name| &**name)
    }
}

impl std::fmt::Debug for GName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_deref().fmt(f)
    }
}

/// A goroutine's header.
pub(crate) struct G {
    /// Unique for the life of the process, never reused.
    pub(crate) id: u64,
    /// The name given with `Builder::name`, if any.
    pub(crate) name: GName,
    /// Where `go!`/`spawn` was called.
    pub(crate) spawn_site: &'static Location<'static>,
    /// The id of the goroutine that spawned this one (0: a plain thread).
    pub(crate) parent: u64,
    /// Requested usable stack size in bytes (at most `stack::MAX_STACK_SIZE`, 1 GiB).
    stack_size: u32,
    /// Coarse nanoseconds at spawn.
    pub(crate) spawned_at: u64,
    /// Packed [`GState`]. Written by the G's current owner only; read by anyone (dumps).
    status: AtomicU32,
    /// Coarse nanoseconds at the last status change; same rules as `status`.
    status_since: AtomicU64,
    /// Where the G leaves its result for its `JoinHandle`.
    pub(crate) join: JoinSlot,
    /// Per-site count, leak-check scope and spawn backtrace (the leak tracker's fields).
    pub(crate) leak: LeakTag,
    /// The running coroutine's yielder (its address on the G's own stack), set by the G when
    /// it first runs and read only by the G itself to suspend.
    pub(crate) yielder: AtomicPtr<Yielder>,
    /// The coroutine. Touched only by the holder of the right to run the G (a run-queue entry
    /// popped by an M, see the module docs): never by two threads at once.
    body: UnsafeCell<GBody>,
    /// Goroutine-local values (`gort::local!`): touched only by this G while it runs, and
    /// destroyed by its entry wrapper when it finishes (see `local.rs`).
    pub(crate) locals: crate::local::LocalTable,
}

// `body` holds the coroutine, which is `!Send` only because corosensei cannot prove what lives
// on its stack: the entry closure is `Send + 'static` (spawn's bounds). `locals` may hold
// `!Send` values made by the G; they move between threads only with the G itself, as the
// values on its stack do.
// SAFETY: all shared fields are atomics or immutable after construction, and `body` is
// accessed only by the single thread that holds the right to run the G (the run-queue
// protocol in `m.rs` and `park.rs`).
unsafe impl Send for G {}
// SAFETY: see `Send`: `body` and `locals` are never accessed through a shared reference by two
// threads at once (`locals` only by the G itself, see `local.rs`); everything else is atomic or
// read-only.
unsafe impl Sync for G {}

impl G {
    /// Always inlined: spawn builds the header in place in its block (`GRef::new_with`).
    #[inline(always)]
    pub(crate) fn new(
        id: u64,
        name: GName,
        spawn_site: &'static Location<'static>,
        parent: u64,
        stack_size: usize,
        leak: LeakTag,
    ) -> G {
        debug_assert!(stack_size <= super::stack::MAX_STACK_SIZE);
        let now = clock::stamp();
        G {
            id,
            name,
            spawn_site,
            parent,
            // Lossless: at most `MAX_STACK_SIZE` (checked by `Builder` and `Config`).
            stack_size: stack_size as u32,
            spawned_at: now,
            status: AtomicU32::new(STATUS_RUNNABLE),
            status_since: AtomicU64::new(now),
            join: JoinSlot::new(),
            leak,
            yielder: AtomicPtr::new(std::ptr::null_mut()),
            // Filled by spawn once the header is in its block (`G::set_entry`).
            body: UnsafeCell::new(GBody::NotStarted(EntrySlot::empty())),
            locals: crate::local::LocalTable::new(),
        }
    }

    /// Requested usable stack size in bytes.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size as usize
    }

    /// The current state (a snapshot).
    pub(crate) fn state(&self) -> GState {
        GState::decode(self.status.load(Ordering::Relaxed))
    }

    /// Coarse nanoseconds at which the G entered its current state.
    pub(crate) fn state_since(&self) -> u64 {
        self.status_since.load(Ordering::Relaxed)
    }

    /// Records a state change. Only the G's current owner calls this.
    #[inline]
    pub(crate) fn set_state(&self, state: GState) {
        self.status.store(state.encode(), Ordering::Relaxed);
        self.status_since.store(clock::stamp(), Ordering::Relaxed);
    }

    /// Records a state change without reading the clock (the yield path, where the time in
    /// `Runnable` is too short to matter and a clock read would double the switch cost).
    #[inline]
    pub(crate) fn set_state_untimed(&self, state: GState) {
        self.status.store(state.encode(), Ordering::Relaxed);
    }

    /// Stores the entry closure of a G that has not been queued yet (spawn, in place in the
    /// header: see `EntrySlot::empty`).
    ///
    /// # Safety
    /// The caller is the spawner, which holds the only right to run the G (not queued yet).
    #[inline]
    pub(crate) unsafe fn set_entry<F: FnOnce() + Send + 'static>(&self, f: F) {
        // SAFETY: exclusive access is the caller's obligation (see `# Safety`).
        match unsafe { self.body() } {
            GBody::NotStarted(slot) => slot.fill(f),
            _ => unreachable!("the entry is set before the G first runs"),
        }
    }

    /// The G's body.
    ///
    /// # Safety
    /// The caller holds the right to run this G (it popped it from a run queue, or it is the
    /// G itself running), so no other thread touches the body until the right is handed on.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn body(&self) -> &mut GBody {
        // SAFETY: exclusive access is the caller's obligation (see `# Safety`).
        unsafe { &mut *self.body.get() }
    }
}

impl std::fmt::Debug for G {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("G")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state())
            .finish()
    }
}
