//! Panics in goroutines: say which goroutine, then let the usual hook speak.
//!
//! A panic in a G is caught by its entry wrapper and handed to `join`; it never unwinds into
//! the scheduler. The process-wide panic hook still runs first, as for a thread: gort wraps
//! whatever hook is installed when the runtime starts so that the report names the goroutine
//! (`goroutine 7 "worker" (spawned at src/main.rs:10:5) panicked`), then calls that hook.

use std::sync::Once;

use super::m::current_g;

static INSTALL: Once = Once::new();

/// Wraps the current panic hook (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(g) = current_g() {
                match g.name.as_deref() {
                    Some(name) => eprintln!(
                        "goroutine {} {name:?} (spawned at {}) panicked:",
                        g.id, g.spawn_site
                    ),
                    None => eprintln!("goroutine {} (spawned at {}) panicked:", g.id, g.spawn_site),
                }
            }
            previous(info);
        }));
    });
}
