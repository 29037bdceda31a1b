//! `gort::metrics()` counters, its text and JSON forms, `GORT_SCHEDTRACE` and the SIGQUIT
//! dump (the last two in child processes, which own their environment and signals).

mod support;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::go;

const CHILD_ENV: &str = "GORT_DIAG_CHILD";

fn is_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(test)
}

fn run_child(test: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    eprintln!(
        "child {test}: {:?}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn counters_count_spawns_finishes_and_parks() {
    let _serial = support::serial();
    let before = gort::metrics();
    let hs: Vec<_> = (0..200)
        .map(|_| go!(|| gort::sleep(Duration::from_millis(1))))
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    // From a goroutine too (counted on its P).
    gort::run(|| {
        let hs: Vec<_> = (0..100).map(|i| go!(move || i)).collect();
        hs.into_iter().for_each(|h| {
            h.join().unwrap();
        });
    });
    let after = gort::metrics();
    assert!(
        after.spawned >= before.spawned + 301,
        "{before:?}\n{after:?}"
    );
    assert!(after.spawned_by_goroutines >= before.spawned_by_goroutines + 100);
    // `finished` is counted by the M after the goroutine's result is published: wait for it.
    let mut after = after;
    while after.finished < before.finished + 301 {
        std::thread::yield_now();
        after = gort::metrics();
    }
    assert!(
        after.parks >= before.parks + 200,
        "each sleeper parked at least once"
    );
    assert!(after.threads >= 1 && after.procs == gort::maxprocs());
    assert_eq!(after.local_queue_lengths.len(), after.procs);
    assert!(after.handoffs >= before.handoffs);
}

#[test]
fn text_and_json_forms() {
    let m = gort::metrics();
    let line = m.to_string();
    for field in [
        "gomaxprocs=",
        "idleprocs=",
        "threads=",
        "spinningthreads=",
        "syscallthreads=",
        "runqueue=",
        "goroutines=",
        "spawned=",
        "finished=",
        "steals=",
        "stolen=",
        "handoffs=",
        "parks=",
        "netpoll=",
        "hogs=",
        "timers=",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(!line.contains('\n'));
    let json = m.to_json();
    assert!(json.starts_with('{') && json.ends_with('}'));
    assert_eq!(json.matches('{').count(), 1);
    assert_eq!(json.matches('[').count(), json.matches(']').count());
    for key in [
        "\"procs\":",
        "\"local_queue_lengths\":[",
        "\"parks\":",
        "\"hogs\":",
    ] {
        assert!(json.contains(key), "{key} missing: {json}");
    }
}

#[test]
fn schedtrace_prints_a_line_per_interval() {
    const TEST: &str = "schedtrace_prints_a_line_per_interval";
    if is_child(TEST) {
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let h = go!(move || {
            while !r.load(Ordering::Acquire) {
                gort::sleep(Duration::from_millis(1));
            }
        });
        // Long enough for several 20 ms lines (the printer's own clock is what is tested).
        std::thread::sleep(Duration::from_millis(300));
        release.store(true, Ordering::Release);
        h.join().unwrap();
        return;
    }
    let out = run_child(TEST, &[("GORT_SCHEDTRACE", "20")]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("SCHED ") && l.contains("ms: gomaxprocs="))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    assert!(lines.iter().any(|l| l.contains("goroutines=")));
}

#[test]
fn sigquit_dumps_every_goroutine_and_exits_like_go() {
    const TEST: &str = "sigquit_dumps_every_goroutine_and_exits_like_go";
    if is_child(TEST) {
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let _h = go!(gort::Builder::new().name("still-here"), move || {
            while !r.load(Ordering::Acquire) {
                gort::sleep(Duration::from_millis(1));
            }
        });
        // SAFETY: raising a signal at our own process; GORT_SIGQUIT installed the handler
        // when the runtime started (the spawn above).
        unsafe { libc::raise(libc::SIGQUIT) };
        // The listener thread dumps and exits the process with status 2.
        loop {
            std::thread::park();
        }
    }
    let out = run_child(TEST, &[("GORT_SIGQUIT", "exit")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SIGQUIT: goroutine dump"), "{stderr}");
    assert!(stderr.contains("goroutine profile: total"), "{stderr}");
    assert!(stderr.contains("\"still-here\" ["), "{stderr}");
}
