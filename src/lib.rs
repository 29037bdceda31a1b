//! gort: Go's runtime model in Rust.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod chan;
pub mod context;
mod diag;
pub mod fs;
mod group;
mod local;
mod macros;
pub mod net;
pub(crate) mod netpoll;
pub mod pool;
pub(crate) mod runtime;
mod select;
pub mod signal;
pub mod sync;
mod task;
pub mod time;

pub use chan::{
    chan, CloseError, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError,
    SendTimeoutError, Sender, TryIter, TryRecvError, TrySendError,
};
pub use context::{sleep_ctx, Context};
pub use diag::metrics::{metrics, Metrics};
pub use group::Group;
pub use local::{AccessError, LocalKey};
pub use runtime::config::{Config, ConfigError};
pub use runtime::g::{GState, WaitReason};
pub use runtime::join::{JoinError, JoinHandle};
pub use runtime::procs::{maxprocs, set_maxprocs, MaxProcsError};
pub use runtime::sched::MAX_PROCS;
pub use runtime::spawn::{spawn, Builder};
pub use runtime::syscall::{
    blocking, max_threads, set_max_threads, threads_refused, MaxThreadsError, DEFAULT_MAX_THREADS,
};
pub use runtime::sysmon::{hogs, HogReport};
pub use runtime::{current, num_goroutines, run, sleep, yield_now, Goroutine};
#[doc(hidden)]
pub use select::private as __select;
pub use select::{Select, SelectedOperation};
pub use task::{as_completed, first, join_all, join_chan, spawn_many, timeout, Elapsed};
