//! gort: Go's runtime model in Rust.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod runtime;
pub mod sync;

pub use runtime::g::WaitReason;
