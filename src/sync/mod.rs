//! Synchronisation primitives that park goroutines, not threads: Go's `sync` package.

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
