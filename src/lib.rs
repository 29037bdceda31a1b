//! gort: Go's runtime model in Rust.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod runtime;

mod chan;
mod select;

pub use chan::{
    chan, CloseError, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError,
    SendTimeoutError, Sender, TryIter, TryRecvError, TrySendError,
};
pub use runtime::g::WaitReason;
#[doc(hidden)]
pub use select::private as __select;
pub use select::{Select, SelectedOperation};
