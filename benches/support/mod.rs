//! Helpers shared by the bench binaries (`benches/spawn.rs`, `benches/switch.rs`,
//! `benches/parked.rs`). Each binary compiles this module on its own and uses a subset of it,
//! hence the `allow(dead_code)` on its `mod support;` line.
//!
//! - [`child`]: run one measurement in a fresh copy of the bench binary. may's scheduler reads
//!   its worker count once per process, so every may arm runs in a child process.
//! - [`affinity`]: pin the calling thread to CPU 0 (the P=1 OS-thread baselines).
//! - [`window`]: the per-window countdown every spawn workload signals completion through.
//! - [`runtimes`]: the tokio runtimes and may configuration used as peers.
//! - [`rss`]: read VmRSS for the memory bench.
//! - [`start_line`]: the memory bench's "all tasks have started" countdown.

pub mod affinity;
pub mod child;
pub mod rss;
pub mod runtimes;
pub mod start_line;
pub mod window;

use std::time::Duration;

use criterion::Criterion;

/// The processor counts every "1proc"/"2proc" arm runs at (this machine has 2 CPUs).
pub const PROCS: [usize; 2] = [1, 2];

/// Criterion with this suite's defaults: 10 samples, 1 s warm-up, 3 s measurement. Each
/// setting can still be overridden on the command line (`-- --measurement-time 10`).
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// The benchmark id `group/Nproc/peer` is built from `Nproc/peer`.
pub fn arm_id(procs: usize, peer: &str) -> String {
    format!("{procs}proc/{peer}")
}

/// Scales a measured `elapsed` for `done` operations to the `wanted` operations criterion
/// asked for (used when a workload can only run an even split, e.g. two yielders).
pub fn scale_to(elapsed: Duration, done: u64, wanted: u64) -> Duration {
    elapsed.mul_f64(wanted as f64 / done as f64)
}
