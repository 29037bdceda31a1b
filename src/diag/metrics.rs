//! `gort::metrics()`: a snapshot of the scheduler's counters, as text (one line, Go's
//! `schedtrace` style) or JSON.
//!
//! Every figure is read with relaxed loads, one at a time, while the program runs: a snapshot
//! is a consistent picture only of a quiet runtime, and otherwise a close approximation.
//! `finished` is summed over the Ms' own counters, `spawned` over the Ps' and the plain-thread
//! counter, so `spawned - finished` may differ from `goroutines` by the spawns and finishes in
//! flight.

use std::fmt::{self, Write as _};
use std::sync::atomic::Ordering;

use super::counters;
use crate::runtime::sched::{lock, sched, MAX_PROCS};

/// Scheduler figures, from [`metrics`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// `maxprocs`: the number of Ps.
    pub procs: usize,
    /// Worker threads (Ms) started so far.
    pub threads: usize,
    /// Ms asleep in the idle list.
    pub idle_threads: usize,
    /// Ms holding a P and looking for work.
    pub spinning_threads: usize,
    /// Ms inside a blocking call without their P (the syscall handoff; 0 without it).
    pub syscall_threads: usize,
    /// Ps in the idle list.
    pub idle_procs: usize,
    /// Gs queued on each P (`runnext` included), index = P id.
    pub local_queue_lengths: Vec<usize>,
    /// Gs in the global queue.
    pub global_queue_length: usize,
    /// Live goroutines (as [`num_goroutines`](crate::num_goroutines)).
    pub goroutines: usize,
    /// Goroutines spawned since start, from goroutines and plain threads.
    pub spawned: u64,
    /// Goroutines spawned by goroutines, summed over Ps, since start.
    pub spawned_by_goroutines: u64,
    /// Goroutines finished since start.
    pub finished: u64,
    /// Successful steals since start.
    pub steals: u64,
    /// Goroutines moved by those steals.
    pub stolen: u64,
    /// Ps handed to a sleeping M to run (waking an M with work) since start.
    pub handoffs: u64,
    /// Goroutine parks since start (each a switch to the scheduler that blocked a goroutine).
    pub parks: u64,
    /// Goroutines made runnable by the netpoller since start.
    pub netpoll_wakeups: u64,
    /// Goroutines caught running over 10 ms without a runtime call, since start.
    pub hogs: u64,
    /// Pending timers.
    pub timers: usize,
}

/// Reads the scheduler's counters.
///
/// ```
/// let m = gort::metrics();
/// assert_eq!(m.procs, gort::maxprocs());
/// assert_eq!(m.local_queue_lengths.len(), m.procs);
/// gort::go!(|| ()).join().unwrap();
/// assert!(gort::metrics().spawned >= 1);
/// ```
pub fn metrics() -> Metrics {
    let s = sched();
    let procs = s.nprocs();
    let mut m = Metrics {
        procs,
        threads: s.mcount.load(Ordering::Relaxed),
        idle_threads: s.nmidle.load(Ordering::Relaxed),
        spinning_threads: s.nmspinning.load(Ordering::Relaxed),
        syscall_threads: counters::SYSCALL_THREADS.load(Ordering::Relaxed),
        idle_procs: s.npidle.load(Ordering::Relaxed),
        global_queue_length: s.global.len(),
        goroutines: crate::num_goroutines(),
        handoffs: s.handoffs.load(Ordering::Relaxed),
        netpoll_wakeups: counters::NETPOLL_WAKEUPS.load(Ordering::Relaxed),
        hogs: crate::hogs().1,
        timers: s.timers.len(),
        ..Metrics::default()
    };
    for id in 0..MAX_PROCS {
        let Some(p) = s.p_if_created(id) else { break };
        if id < procs {
            m.local_queue_lengths.push(p.len());
        }
        m.spawned_by_goroutines += p.counters.spawned.load(Ordering::Relaxed);
        m.steals += p.counters.steals.load(Ordering::Relaxed);
        m.stolen += p.counters.stolen.load(Ordering::Relaxed);
    }
    m.spawned = m.spawned_by_goroutines + s.spawned_from_threads.load(Ordering::Relaxed);
    for handle in lock(&s.all_ms).iter() {
        m.parks += handle.stats.parks.load(Ordering::Relaxed);
        m.finished += handle.stats.finished.load(Ordering::Relaxed);
    }
    m
}

impl fmt::Display for Metrics {
    /// One line, Go's `schedtrace` fields first:
    /// `gomaxprocs=4 idleprocs=3 threads=5 spinningthreads=0 idlethreads=3 syscallthreads=0
    /// runqueue=0 [0 1 0 0] goroutines=12 spawned=40 finished=28 steals=3 stolen=5 handoffs=9
    /// parks=51 netpoll=0 hogs=0 timers=2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} syscallthreads={} runqueue={} [",
            self.procs,
            self.idle_procs,
            self.threads,
            self.spinning_threads,
            self.idle_threads,
            self.syscall_threads,
            self.global_queue_length
        )?;
        for (i, len) in self.local_queue_lengths.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{len}")?;
        }
        write!(
            f,
            "] goroutines={} spawned={} finished={} steals={} stolen={} handoffs={} parks={} netpoll={} hogs={} timers={}",
            self.goroutines,
            self.spawned,
            self.finished,
            self.steals,
            self.stolen,
            self.handoffs,
            self.parks,
            self.netpoll_wakeups,
            self.hogs,
            self.timers
        )
    }
}

impl Metrics {
    /// The figures as one JSON object (the `/debug/metrics?format=json` body).
    ///
    /// ```
    /// let json = gort::metrics().to_json();
    /// assert!(json.starts_with("{\"procs\":"));
    /// assert!(json.contains("\"local_queue_lengths\":["));
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        let _ = write!(
            out,
            "{{\"procs\":{},\"threads\":{},\"idle_threads\":{},\"spinning_threads\":{},\"syscall_threads\":{},\"idle_procs\":{},\"local_queue_lengths\":[",
            self.procs,
            self.threads,
            self.idle_threads,
            self.spinning_threads,
            self.syscall_threads,
            self.idle_procs
        );
        for (i, len) in self.local_queue_lengths.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{len}");
        }
        let _ = write!(
            out,
            "],\"global_queue_length\":{},\"goroutines\":{},\"spawned\":{},\"spawned_by_goroutines\":{},\"finished\":{},\"steals\":{},\"stolen\":{},\"handoffs\":{},\"parks\":{},\"netpoll_wakeups\":{},\"hogs\":{},\"timers\":{}}}",
            self.global_queue_length,
            self.goroutines,
            self.spawned,
            self.spawned_by_goroutines,
            self.finished,
            self.steals,
            self.stolen,
            self.handoffs,
            self.parks,
            self.netpoll_wakeups,
            self.hogs,
            self.timers
        );
        out
    }
}
