//! Async-style helpers over goroutines (the user's `spawn_many`, `async` / `await` /
//! `await_all`, `timeout`): goroutines are the tasks and [`JoinHandle`]s the futures, so these
//! are small functions, not a second runtime.
//!
//! - [`spawn_many`]: n goroutines running one closure with their index.
//! - [`join_all`]: wait for handles, results in order (`await_all`).
//! - [`join_chan`], [`as_completed`], [`first`]: results as channel messages, for `select!`
//!   and for "whichever finishes first".
//! - [`timeout`]: run a closure in a new goroutine and wait for it up to a duration.
//! - [`Group`](crate::Group) (in `group.rs`): Go's errgroup.
//!
//! All of them park the calling goroutine while they wait, or block a plain thread.

mod completion;
mod timeout;

use std::panic::Location;

use crate::runtime::join::{JoinError, JoinHandle};
use crate::runtime::spawn::{spawn_at, Builder};

pub use completion::{as_completed, first, join_chan};
pub use timeout::{timeout, Elapsed};

/// Spawns `n` goroutines, the `i`-th running `f(i)`, and returns their handles in order (the
/// user's `spawn_many`).
///
/// ```
/// let handles = gort::spawn_many(4, |i| i * 10);
/// let results: Vec<usize> = gort::join_all(handles).into_iter().map(Result::unwrap).collect();
/// assert_eq!(results, [0, 10, 20, 30]);
/// ```
///
/// # Panics
/// If a goroutine cannot be spawned (as [`spawn`](crate::spawn)).
#[track_caller]
pub fn spawn_many<F, T>(n: usize, f: F) -> Vec<JoinHandle<T>>
where
    F: Fn(usize) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    let site = Location::caller();
    let f = std::sync::Arc::new(f);
    (0..n)
        .map(|i| {
            let f = std::sync::Arc::clone(&f);
            spawn_at(Builder::new(), move || f(i), site)
                .unwrap_or_else(|e| panic!("gort: cannot spawn a goroutine: {e}"))
        })
        .collect()
}

/// Waits for every handle, in order, and returns their results in the same order (the user's
/// `await_all`). A panicked goroutine gives its [`JoinError`] in its place; the others are
/// still waited for.
///
/// ```
/// let handles = vec![gort::go!(|| 1), gort::go!(|| panic!("two")), gort::go!(|| 3)];
/// let results = gort::join_all(handles);
/// assert_eq!(results[0].as_ref().ok(), Some(&1));
/// assert_eq!(results[1].as_ref().unwrap_err().panic_message(), Some("two"));
/// assert_eq!(results[2].as_ref().ok(), Some(&3));
/// ```
pub fn join_all<T: 'static>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Vec<Result<T, JoinError>> {
    handles.into_iter().map(JoinHandle::join).collect()
}
