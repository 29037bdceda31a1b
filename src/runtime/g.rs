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
//!   `unpark` that moves `park_state` from `PARKED` to `EMPTY` gains the right to queue it.
//! - `Syscall`: running on an M that gave up its P (see the syscall handoff).
//! - `Dead`: finished; its stack is back in the pool. Only the header remains while references
//!   (a `JoinHandle`, an old `Unparker`) are alive.
//!
//! State words are written only by the thread that owns the G at that moment (relaxed stores);
//! readers such as a dump take them as a snapshot that may be a moment old.

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
