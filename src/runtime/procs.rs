//! GOMAXPROCS at run time: `maxprocs` and `set_maxprocs`.
//!
//! Growing adds idle Ps and wakes Ms for any queued work. Shrinking retires the Ps beyond the
//! new count: idle ones at once, held ones when their M next reaches the scheduler (a running
//! G is never interrupted). A retired P's queued Gs move to the global queue, so no G is lost
//! and none runs twice (each queue entry moves, it is not copied). All P status changes happen
//! under the scheduler's idle lock (`Sched::resize_procs`, `retire_if_needed`, `put_idle_p`).

use std::fmt;

use super::sched::{self, lock, MAX_PROCS};

/// Why `set_maxprocs` refused a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaxProcsError {
    /// Zero procs would leave no P to run anything (Go ignores `GOMAXPROCS(0)` as a query;
    /// gort makes the mistake visible instead).
    Zero,
    /// More than [`MAX_PROCS`] procs.
    TooMany(usize),
}

impl fmt::Display for MaxProcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxProcsError::Zero => {
                f.write_str("maxprocs must be at least 1 (0 procs could run no goroutine)")
            }
            MaxProcsError::TooMany(n) => {
                write!(f, "maxprocs {n} is more than gort's limit of {MAX_PROCS}")
            }
        }
    }
}

impl std::error::Error for MaxProcsError {}

pub(crate) fn check(n: usize) -> Result<usize, MaxProcsError> {
    match n {
        0 => Err(MaxProcsError::Zero),
        n if n > MAX_PROCS => Err(MaxProcsError::TooMany(n)),
        n => Ok(n),
    }
}

/// Sets how many goroutines may run in parallel (Go's `runtime.GOMAXPROCS(n)`) and returns the
/// previous value. Works while goroutines run: no goroutine is lost or run twice.
///
/// ```
/// let old = gort::set_maxprocs(1).unwrap();
/// assert_eq!(gort::maxprocs(), 1);
/// gort::set_maxprocs(old).unwrap();
/// assert!(gort::set_maxprocs(0).is_err());
/// ```
///
/// # Errors
/// [`MaxProcsError`] for 0 or more than [`MAX_PROCS`]; nothing changes then.
pub fn set_maxprocs(n: usize) -> Result<usize, MaxProcsError> {
    let n = check(n)?;
    let s = sched::sched();
    let _serial = lock(&s.procs_lock);
    let old = s.nprocs();
    if n != old {
        s.resize_procs(n);
        if n > old {
            // New Ps are idle: put Ms on them if work is waiting.
            for _ in old..n {
                s.wakep();
            }
        }
    }
    Ok(old)
}

/// How many goroutines may run in parallel (the number of Ps).
///
/// ```
/// assert!(gort::maxprocs() >= 1);
/// ```
pub fn maxprocs() -> usize {
    sched::sched().nprocs()
}
