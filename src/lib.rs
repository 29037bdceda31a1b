//! gort: Go's runtime model in Rust.
//!
//! Goroutines without async/await: `go!` spawns a stackful coroutine (a G) that an M (a
//! worker thread) runs while it holds a P (one of `maxprocs` processors, each with its own run
//! queue; idle Ps steal half of a busy one's queue). When a goroutine blocks — on a channel, a
//! `gort::sync` lock, `sleep`, a socket, `join` — it parks and its thread runs another
//! goroutine. `ARCHITECTURE.md` is the map of the implementation.
//!
//! ```
//! use gort::{go, select};
//! use std::time::Duration;
//!
//! let (tx, rx) = gort::chan::<u32>(0);           // unbuffered, like make(chan uint32)
//! let producer = go!(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap();
//!     }
//!     // dropping the last Sender closes the channel
//! });
//! let mut got = Vec::new();
//! loop {
//!     select! {
//!         recv(rx) -> v => match v {
//!             Ok(v) => got.push(v),
//!             Err(_) => break,                    // closed: Go's `v, ok := <-ch` with !ok
//!         },
//!         recv(gort::time::after(Duration::from_secs(5))) -> _ => panic!("timed out"),
//!     }
//! }
//! producer.join().unwrap();
//! assert_eq!(got, [0, 1, 2]);
//! ```
//!
//! # Caveats (read these once)
//! - **Goroutines move between threads.** `spawn` has `std::thread::spawn`'s bounds
//!   (`F: Send + 'static`, `T: Send + 'static`), so this is safe, and no public function is
//!   `unsafe`. What stays a hazard is `thread_local!`: a value read before a blocking call and
//!   after it may belong to two different threads, and the compiler may keep a thread-local's
//!   address across the call. Do not keep thread-local values or references across blocking
//!   calls in a goroutine; use [`local!`](crate::local) (goroutine-local storage) instead.
//!   gort's own code reads its thread-locals through non-inlined accessors for this reason.
//! - **Do not hold a `std::sync::Mutex` guard across a blocking call** in a goroutine (the
//!   thread would run other goroutines while holding it); use [`sync::Mutex`], which parks.
//! - **Blocking system calls** (`std::fs`, `std::net`, `std::thread::sleep`) block the thread
//!   and its P; wrap them in [`blocking`] (or use [`fs`], [`net`], [`sleep`]) so the P is
//!   handed to another thread.
//! - **No preemption.** A goroutine that loops without blocking keeps its thread; call
//!   [`yield_now`] in long CPU loops. sysmon reports such hogs ([`hogs`]).
//! - **Stacks do not grow.** 256 KiB of address space by default (only touched pages cost
//!   memory), `Builder::stack_size` per goroutine; an overflow hits a guard page and is
//!   reported with the goroutine's id, name and spawn site, then the process aborts.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod chan;
pub mod context;
mod diag;
pub mod fs;
mod group;
pub mod leak;
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
pub use diag::debug;

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

/// What `go!` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::leak::site::SiteCounter;
    pub use crate::runtime::spawn::{go_counted, go_counted_with};
}
