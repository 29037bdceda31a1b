//! Shared by the chan_*, select_*, time_* and golang_chan tests: each test body runs twice,
//! once on plain threads and once as goroutines on 2 procs, through the same `go`,
//! `Handle::join`, `pause` and `yield_now`.
#![allow(dead_code)]

use std::time::Duration;

/// A spawned thread or goroutine.
pub enum Handle<T> {
    Thread(std::thread::JoinHandle<T>),
    Goroutine(gort::JoinHandle<T>),
}

impl<T: Send + 'static> Handle<T> {
    /// Waits for it and returns its result (propagating a panic).
    pub fn join(self) -> T {
        match self {
            Handle::Thread(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Handle::Goroutine(goroutine) => goroutine
                .join()
                .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic())),
        }
    }
}

/// Whether the caller is a goroutine.
pub fn in_goroutine() -> bool {
    gort::current().is_some()
}

/// Spawns `f` as a goroutine when called from one, else as a thread.
pub fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
    if in_goroutine() {
        Handle::Goroutine(gort::spawn(f))
    } else {
        Handle::Thread(std::thread::spawn(f))
    }
}

/// Sleeps the goroutine (or thread).
pub fn pause(duration: Duration) {
    if in_goroutine() {
        gort::sleep(duration)
    } else {
        std::thread::sleep(duration)
    }
}

/// Lets others run (a goroutine never loses its processor otherwise).
pub fn yield_now() {
    if in_goroutine() {
        gort::yield_now()
    } else {
        std::thread::yield_now()
    }
}

/// Runs `body` on the calling thread.
pub fn with_threads(body: impl FnOnce()) {
    body()
}

/// Runs `body` as the main goroutine, on 2 procs.
pub fn with_goroutines(body: impl FnOnce() + Send + 'static) {
    let _ = gort::Config::new().procs(2).init();
    if gort::maxprocs() != 2 {
        let _ = gort::set_maxprocs(2);
    }
    gort::run(body)
}

/// Declares each test once per execution model: `name::threads` and `name::goroutines`.
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
                #[test]
                fn goroutines() {
                    $crate::common::with_goroutines(|| $body)
                }
            }
        )*
    };
}
