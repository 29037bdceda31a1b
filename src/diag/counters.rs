//! Runtime counters kept for the netpoller and sysmon (issue 5), and the hog records.
//!
//! The scheduler's own counters live with what they count (`p.rs`, `sched.rs`'s `MStats`);
//! these are the ones whose producers live outside the core scheduler: the netpoller counts
//! its wake-ups, the syscall handoff its Ms inside blocking calls, and sysmon the goroutines
//! it catches running over 10 ms without a runtime call (a hog). They report here through
//! the `note_*` functions, and `gort::metrics`, schedtrace and leak reports read them.
//! Relaxed counters: each is a statistic, not a synchronisation point.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::runtime::g::G;
use crate::runtime::sched::lock;

/// How many hog records are kept (the newest).
const HOGS_KEPT: usize = 64;

pub(crate) static NETPOLL_WAKEUPS: AtomicU64 = AtomicU64::new(0);
pub(crate) static SYSCALL_THREADS: AtomicUsize = AtomicUsize::new(0);
pub(crate) static HOGS: AtomicU64 = AtomicU64::new(0);
static RECENT_HOGS: Mutex<VecDeque<Hog>> = Mutex::new(VecDeque::new());

/// The netpoller made `n` goroutines runnable.
#[allow(dead_code)] // called by the netpoller (issue 5)
pub(crate) fn note_netpoll_wakeups(n: usize) {
    NETPOLL_WAKEUPS.fetch_add(n as u64, Ordering::Relaxed);
}

/// An M entered (`true`) or left (`false`) a blocking call without its P.
#[allow(dead_code)] // called by the syscall handoff (issue 5)
pub(crate) fn note_syscall_thread(entered: bool) {
    if entered {
        SYSCALL_THREADS.fetch_add(1, Ordering::Relaxed);
    } else {
        SYSCALL_THREADS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// sysmon saw `g` run for `ran_for` without reaching a runtime call.
#[allow(dead_code)] // called by sysmon (issue 5)
pub(crate) fn note_hog(g: &G, ran_for: Duration) {
    HOGS.fetch_add(1, Ordering::Relaxed);
    let hog = Hog {
        id: g.id,
        name: g.name.as_deref().map(str::to_owned),
        spawn_site: g.spawn_site,
        ran_for,
        at: SystemTime::now(),
    };
    let mut recent = lock(&RECENT_HOGS);
    if recent.len() == HOGS_KEPT {
        recent.pop_front();
    }
    recent.push_back(hog);
}

/// A goroutine caught running too long without yielding (a hog), from [`recent_hogs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hog {
    /// The goroutine's id.
    pub id: u64,
    /// Its name.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawn_site: &'static Location<'static>,
    /// How long it had run without a runtime call when seen.
    pub ran_for: Duration,
    /// When it was seen.
    pub at: SystemTime,
}

/// The most recent hogs (up to 64), oldest first: goroutines that ran over 10 ms without a
/// runtime call, which keeps every other goroutine of their P waiting (gort does not preempt;
/// such loops should call [`yield_now`](crate::yield_now)).
pub fn recent_hogs() -> Vec<Hog> {
    lock(&RECENT_HOGS).iter().cloned().collect()
}
