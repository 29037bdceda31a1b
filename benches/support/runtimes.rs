//! The peers' runtimes, built the way anchors.md measured them: tokio without I/O or time
//! drivers, may with its defaults (work stealing, pinned workers) except the worker count.

use tokio::runtime::{Builder, Runtime};

/// tokio's single-threaded scheduler ("tokio_ct"); it only exists at 1 proc.
pub fn tokio_current_thread() -> Runtime {
    Builder::new_current_thread()
        .build()
        .expect("building a tokio current_thread runtime")
}

/// tokio's work-stealing scheduler with `workers` worker threads ("tokio_mt").
pub fn tokio_multi_thread(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("building a tokio multi_thread runtime")
}

/// Sets may's worker count. Only the first call in a process, before any coroutine exists,
/// has an effect, which is why may arms run in child processes (see `child`).
pub fn configure_may(workers: usize) {
    may::config().set_workers(workers);
}

/// Spawns a may coroutine.
pub fn may_go<F, T>(f: F) -> may::coroutine::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // may's spawn is unsafe because a coroutine can move between worker threads, so a
    // thread-local read before a blocking call may belong to another thread after it.
    // SAFETY: the bench closures touch only Arcs, atomics and may's coroutine-aware channels
    // and flags, never a thread_local.
    unsafe { may::coroutine::spawn(f) }
}
