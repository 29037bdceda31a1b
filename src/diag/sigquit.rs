//! Dump on SIGQUIT (opt-in), as a Go program does: `kill -QUIT <pid>` (or Ctrl-\) prints
//! every goroutine — grouped, then one by one with spawn backtraces when captured — to
//! stderr.
//!
//! Opt-in because it replaces SIGQUIT's default action (terminate with a core dump). Go then
//! exits with status 2; [`SigquitAction::DumpAndExit`] does the same, [`SigquitAction::Dump`]
//! keeps running (the JVM's `kill -3` habit, handy on a live server). Enabled by
//! [`dump_on_sigquit`] or `GORT_SIGQUIT=dump|exit` at runtime start.
//!
//! The handler itself is signal-hook's (async-signal-safe: it only writes to a pipe); the dump
//! is written by a gort service thread that reads that pipe.

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use signal_hook::consts::SIGQUIT;
use signal_hook::iterator::Signals;

use super::{dump, threads};

/// What a SIGQUIT does once [`dump_on_sigquit`] is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigquitAction {
    /// Print the goroutine dump and keep running.
    Dump,
    /// Print the goroutine dump and exit with status 2, like Go.
    DumpAndExit,
}

const NOT_INSTALLED: u8 = 0;
const DUMP: u8 = 1;
const DUMP_AND_EXIT: u8 = 2;

static ACTION: AtomicU8 = AtomicU8::new(NOT_INSTALLED);

/// Dumps written so far.
static DUMPS: AtomicU64 = AtomicU64::new(0);

/// Makes SIGQUIT print the goroutine dump to stderr (and exit, with `DumpAndExit`). Calling
/// it again changes the action.
///
/// # Errors
/// If the signal handler or its listener thread cannot be set up.
///
/// ```no_run
/// gort::debug::dump_on_sigquit(gort::debug::SigquitAction::Dump).unwrap();
/// ```
pub fn dump_on_sigquit(action: SigquitAction) -> io::Result<()> {
    let code = match action {
        SigquitAction::Dump => DUMP,
        SigquitAction::DumpAndExit => DUMP_AND_EXIT,
    };
    if ACTION.swap(code, Ordering::AcqRel) != NOT_INSTALLED {
        return Ok(());
    }
    let installed = Signals::new([SIGQUIT]).and_then(|mut signals| {
        std::thread::Builder::new()
            .name("gort-sigquit".to_owned())
            .spawn(move || {
                threads::register_service_thread();
                for _ in signals.forever() {
                    write_dump();
                    if ACTION.load(Ordering::Acquire) == DUMP_AND_EXIT {
                        std::process::exit(2);
                    }
                }
            })
            .map(drop)
    });
    if installed.is_err() {
        ACTION.store(NOT_INSTALLED, Ordering::Release);
    }
    installed
}

/// The SIGQUIT text: Go's header, the grouped dump, then every goroutine.
pub(crate) fn dump_text() -> String {
    let snap = crate::leak::snapshot();
    let mut text = format!("SIGQUIT: goroutine dump\n\n{}\n\n", snap.dump());
    dump::write_each(&mut text, snap.goroutines());
    text
}

fn write_dump() {
    let text = dump_text();
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.write_all(b"\n");
    let _ = stderr.flush();
    DUMPS.fetch_add(1, Ordering::Release);
}

/// `GORT_SIGQUIT=dump|exit` at runtime start.
pub(crate) fn start_from_env() {
    let Ok(value) = std::env::var("GORT_SIGQUIT") else {
        return;
    };
    let action = match value.trim() {
        "dump" | "1" => SigquitAction::Dump,
        "exit" => SigquitAction::DumpAndExit,
        "" | "0" | "off" => return,
        other => {
            eprintln!("gort: ignoring GORT_SIGQUIT={other:?} (expected dump or exit)");
            return;
        }
    };
    if let Err(e) = dump_on_sigquit(action) {
        eprintln!("gort: cannot install the SIGQUIT dump: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::stack::tests::{child_scenario, run_child};

    #[test]
    fn dump_mode_keeps_running() {
        const TEST: &str = "diag::sigquit::tests::dump_mode_keeps_running";
        if child_scenario().as_deref() == Some(TEST) {
            dump_on_sigquit(SigquitAction::Dump).unwrap();
            let h = crate::Builder::new()
                .name("dumped")
                .spawn(|| crate::sleep(std::time::Duration::from_millis(200)))
                .unwrap();
            for round in 1..=2 {
                // SAFETY: raising a signal at our own process, whose handler is installed.
                unsafe { libc::raise(SIGQUIT) };
                while DUMPS.load(Ordering::Acquire) < round {
                    std::thread::yield_now();
                }
            }
            h.join().unwrap();
            eprintln!("child: alive after two dumps");
            return;
        }
        let out = run_child(TEST, TEST);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("child: alive after two dumps"), "{stderr}");
        assert_eq!(
            stderr.matches("SIGQUIT: goroutine dump").count(),
            2,
            "{stderr}"
        );
        assert!(stderr.contains("\"dumped\" ["), "{stderr}");
    }
}
