//! Counters whose producers live outside the core scheduler: the netpoller counts the events
//! it delivers, the syscall handoff its Ms inside blocking calls. They report here through the
//! `note_*` functions (one relaxed atomic each: statistics, not synchronisation points);
//! `gort::metrics` and schedtrace read them. The scheduler's own counters live with what they
//! count (`p.rs`, `sched.rs`'s `MStats`); hogs are sysmon's (`runtime/sysmon.rs`, `gort::hogs`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub(crate) static NETPOLL_WAKEUPS: AtomicU64 = AtomicU64::new(0);
pub(crate) static SYSCALL_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The netpoller delivered `n` descriptor or signal events (each wakes the goroutines waiting
/// on it).
pub(crate) fn note_netpoll_wakeups(n: usize) {
    if n != 0 {
        NETPOLL_WAKEUPS.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// An M entered (`true`) or left (`false`) a blocking call (`gort::blocking`).
pub(crate) fn note_syscall_thread(entered: bool) {
    if entered {
        SYSCALL_THREADS.fetch_add(1, Ordering::Relaxed);
    } else {
        SYSCALL_THREADS.fetch_sub(1, Ordering::Relaxed);
    }
}
