//! `gort::metrics()`: a snapshot of the scheduler's counters.
//!
//! Every figure is read with relaxed loads, one at a time, while the program runs: a snapshot
//! is a consistent picture only of a quiet runtime, and otherwise a close approximation.

use std::sync::atomic::Ordering;

use crate::runtime::sched::{sched, MAX_PROCS};

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
    /// Ps in the idle list.
    pub idle_procs: usize,
    /// Gs queued on each P (`runnext` included), index = P id.
    pub local_queue_lengths: Vec<usize>,
    /// Gs in the global queue.
    pub global_queue_length: usize,
    /// Live goroutines (as [`num_goroutines`](crate::num_goroutines)).
    pub goroutines: usize,
    /// Goroutines spawned by goroutines, summed over Ps, since start.
    pub spawned_by_goroutines: u64,
    /// Successful steals since start.
    pub steals: u64,
    /// Goroutines moved by those steals.
    pub stolen: u64,
    /// Pending timers.
    pub timers: usize,
}

/// Reads the scheduler's counters.
///
/// ```
/// let m = gort::metrics();
/// assert_eq!(m.procs, gort::maxprocs());
/// assert_eq!(m.local_queue_lengths.len(), m.procs);
/// ```
pub fn metrics() -> Metrics {
    let s = sched();
    let procs = s.nprocs();
    let mut m = Metrics {
        procs,
        threads: s.mcount.load(Ordering::Relaxed),
        idle_threads: s.nmidle.load(Ordering::Relaxed),
        spinning_threads: s.nmspinning.load(Ordering::Relaxed),
        idle_procs: s.npidle.load(Ordering::Relaxed),
        global_queue_length: s.global.len(),
        goroutines: crate::num_goroutines(),
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
    m
}
