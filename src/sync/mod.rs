//! Synchronisation primitives that park goroutines, not threads: Go's `sync` package.
//!
//! Every blocking operation here parks through the runtime's `park`/`Unparker` and nothing
//! else: inside a goroutine only that goroutine waits and its thread runs others; on a plain
//! thread the thread blocks. The same objects can be shared between goroutines and threads.
//!
//! | type | Go | blocks in |
//! |---|---|---|
//! | [`Mutex`] / [`MutexGuard`] | `sync.Mutex` (with starvation mode) | `lock`, `lock_timeout` |
//! | [`RwLock`] and its guards | `sync.RWMutex` (a waiting writer stops new readers) | `read`, `write`, `*_timeout` |
//! | [`WaitGroup`] / [`WaitGroupToken`] | `sync.WaitGroup` | `wait`, `wait_timeout` |
//! | [`Once`], [`OnceCell`], [`Lazy`] | `sync.Once`, `sync.OnceValue` | while another caller initialises |
//! | [`Condvar`] | `sync.Cond` | `wait*` |
//! | [`Semaphore`] and its permits | `x/sync/semaphore.Weighted` | `acquire`, `acquire_timeout` |
//! | [`Barrier`] | (a reusable rendezvous) | `wait` |
//!
//! Policies shared by all of them:
//! - **Fast paths are one atomic operation** and take no lock; only a caller that must wait
//!   touches the object's wait queue.
//! - **No poisoning**: a panic while holding a lock releases it (see [`Mutex`] for why).
//! - **Initialisers are retried after a panic** ([`Once`], [`OnceCell`], [`Lazy`]).
//! - **Timeouts never drop a grant**: a timed wait that races with a wake-up reports the
//!   wake-up (it got the lock or the permits), so nothing is lost.
//!
//! # How they park (for maintainers)
//! `waitq.rs` holds the one wait queue all of them use: an intrusive FIFO of waiter nodes that
//! live on the parked caller's own stack, guarded by a short lock that is never held across
//! `park` or `unpark`. A waker dequeues a node and stores a *grant* in it under that lock, then
//! unparks after releasing it; the waiter loops on its grant, so early or spurious unparks are
//! harmless. Each primitive keeps its state in one atomic word and documents its invariants in
//! its own file (`raw_mutex.rs`, `raw_rwlock.rs`, `waitgroup.rs`, …).

mod barrier;
mod condvar;
mod lazy;
mod mutex;
mod once;
mod once_cell;
mod raw_mutex;
mod raw_rwlock;
mod rwlock;
mod semaphore;
mod spin;
mod waitgroup;
mod waitq;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy::Lazy;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use once_cell::OnceCell;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
pub use waitgroup::{WaitGroup, WaitGroupToken};
