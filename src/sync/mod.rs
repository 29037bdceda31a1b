//! Synchronisation primitives that park goroutines, not threads: Go's `sync` package.

mod lazy;
mod mutex;
mod once;
mod once_cell;
mod raw_mutex;
mod raw_rwlock;
mod rwlock;
mod spin;
mod waitgroup;
mod waitq;

pub use lazy::Lazy;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use once_cell::OnceCell;
pub use waitgroup::{WaitGroup, WaitGroupToken};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
