//! The thread census: which threads of the process the runtime knows.
//!
//! The deadlock detector may only declare a deadlock when no thread outside its knowledge
//! could wake a goroutine. It knows these threads: the Ms (registered when they start; they
//! never exit); sysmon (nothing it does while every P is idle wakes a goroutine); gort's own
//! service threads (the schedtrace printer and the SIGQUIT listener, which never touch a
//! goroutine's objects); and plain threads blocked in `JoinHandle::join` (registered by
//! `join.rs` for as long as they wait). Every other thread of the process — the kernel lists
//! them in `/proc/self/task` — is unknown and could act.
//!
//! Registered tids are never removed: Ms and service threads live as long as the process.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use crate::runtime::sched::lock;

/// Ms and service threads.
static KNOWN: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The unknown thread the last census found: checked first next time (one `stat` instead of
/// a directory walk while it lives).
static LAST_UNKNOWN: AtomicI32 = AtomicI32::new(0);

/// The calling thread's kernel id.
pub(crate) fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// Registers the calling thread as an M (or sysmon).
pub(crate) fn register_runtime_thread() {
    register(current_tid());
}

/// Registers the calling thread as a gort service thread: it lives as long as the process
/// and never wakes a goroutine.
pub(crate) fn register_service_thread() {
    register(current_tid());
}

/// A new known thread may have been the only unknown one when the detector last looked (a
/// thread starts running some time after it is spawned): look again.
fn register(tid: i32) {
    lock(&KNOWN).push(tid);
    super::deadlock::on_thread_registered();
}

/// Registers thread `tid` as a service thread (tests: the harness's main thread, which only
/// waits for the test's result).
#[cfg(test)]
pub(crate) fn register_service_tid(tid: i32) {
    lock(&KNOWN).push(tid);
}

/// A thread of this process that is neither registered nor in `also_known`, if any.
///
/// # Errors
/// If `/proc/self/task` cannot be read (the caller must then assume an unknown thread).
pub(crate) fn first_unknown_thread(also_known: &[i32]) -> io::Result<Option<i32>> {
    let known = lock(&KNOWN);
    let is_known = |tid: i32| known.contains(&tid) || also_known.contains(&tid);
    let cached = LAST_UNKNOWN.load(Ordering::Relaxed);
    if cached != 0
        && !is_known(cached)
        && std::fs::metadata(format!("/proc/self/task/{cached}")).is_ok()
    {
        return Ok(Some(cached));
    }
    for entry in std::fs::read_dir("/proc/self/task")? {
        let name = entry?.file_name();
        let Some(tid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if !is_known(tid) {
            LAST_UNKNOWN.store(tid, Ordering::Relaxed);
            return Ok(Some(tid));
        }
    }
    LAST_UNKNOWN.store(0, Ordering::Relaxed);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_plain_thread_is_unknown_until_named() {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tid_tx.send(current_tid()).unwrap();
            let _ = stop_rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        // The test process has other threads too (the harness), so only check that the
        // census reports *some* unknown thread, and that naming ours is honoured.
        assert!(first_unknown_thread(&[]).unwrap().is_some());
        let everyone: Vec<i32> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
            .collect();
        assert!(everyone.contains(&tid));
        assert_eq!(first_unknown_thread(&everyone).unwrap(), None);
        stop_tx.send(()).unwrap();
        t.join().unwrap();
    }
}
