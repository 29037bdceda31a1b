//! Synchronisation primitives that park goroutines, not threads: Go's `sync` package.

mod mutex;
mod raw_mutex;
mod raw_rwlock;
mod rwlock;
mod spin;
mod waitgroup;
mod waitq;

pub use mutex::{Mutex, MutexGuard};
pub use waitgroup::{WaitGroup, WaitGroupToken};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
