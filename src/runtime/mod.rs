//! The runtime: G (goroutines), M (worker threads), P (processors) and the scheduler.
pub(crate) mod g;
pub(crate) mod overflow;
pub(crate) mod park;
pub(crate) mod stack;
