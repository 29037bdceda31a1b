//! Diagnostics: runtime metrics, the goroutine dump, deadlock detection, schedtrace, the
//! SIGQUIT dump and the debug endpoint's pages. The leak tracker proper is in `leak/`.

pub(crate) mod counters;
pub(crate) mod deadlock;
pub(crate) mod dump;
pub(crate) mod http;
pub(crate) mod metrics;
pub(crate) mod schedtrace;
pub(crate) mod serve;
pub(crate) mod sigquit;
pub(crate) mod threads;

pub mod debug {
    //! Debugging a running program: deadlock detection, the SIGQUIT dump, schedtrace, and the
    //! debug endpoint's pages.
    //!
    //! | Go | gort |
    //! |---|---|
    //! | "fatal error: all goroutines are asleep - deadlock!" | on by default; [`set_deadlock_action`], `GORT_DEADLOCK=panic\|warn\|off` |
    //! | `kill -QUIT` prints every goroutine | [`dump_on_sigquit`], `GORT_SIGQUIT=dump\|exit` |
    //! | `GODEBUG=schedtrace=1000` | `GORT_SCHEDTRACE=1000`, [`set_schedtrace`] |
    //! | `net/http/pprof` | [`serve`]`(":6060")` (loopback unless a host is given); its pages: [`respond`], [`handle_request`] |
    //!
    //! Environment variables are read once: `GORT_SCHEDTRACE` and `GORT_SIGQUIT` when the
    //! runtime starts (the first `go!`, `spawn` or `run`), `GORT_DEADLOCK` at the first check
    //! unless [`set_deadlock_action`] came first. `GORT_TRACEBACK=spawn` (spawn backtraces) is
    //! described in [`crate::leak`].

    pub use super::deadlock::{deadlock_action, set_deadlock_action, DeadlockAction};
    pub use super::http::{handle_request, respond, DebugResponse};
    pub use super::schedtrace::set_schedtrace;
    pub use super::serve::{serve, DebugServer};
    pub use super::sigquit::{dump_on_sigquit, SigquitAction};
}

/// Diagnostics asked for by the environment, when the runtime starts. Called inside the
/// scheduler's one-time initialisation, so it must not call `sched()` itself.
pub(crate) fn on_runtime_start() {
    schedtrace::start_from_env();
    sigquit::start_from_env();
}
