//! Deadlock detector tests. A verdict needs every thread of the process to be known, so each
//! case runs alone in a child process (`stack::tests::run_child`), where the only thread the
//! runtime does not know is the harness's main thread, which only waits for the test's
//! result: the child registers it as a service thread and says so.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::runtime::park::{park, Unparker};
use crate::runtime::stack::tests::{child_scenario, run_child};

const MESSAGE: &str = "all goroutines are asleep - deadlock!";

/// In the child: the harness's main thread (tid = pid) only waits for this test.
fn adopt_harness_main_thread() {
    // SAFETY: getpid has no preconditions.
    threads::register_service_tid(unsafe { libc::getpid() });
}

/// Parks the calling goroutine with `reason` until `flag` is set.
fn park_until_set(flag: &AtomicBool, reason: WaitReason) {
    while !flag.load(Ordering::Acquire) {
        park(reason);
    }
}

/// Runs `scenario` as `gort::run`'s main goroutine; returns the panic message, if any.
fn run_and_catch(scenario: impl FnOnce() + Send + 'static) -> Option<String> {
    adopt_harness_main_thread();
    let result = panic::catch_unwind(AssertUnwindSafe(|| crate::run(scenario)));
    result.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Runs the test `test` in a child and asserts it printed `marker`.
fn expect_child(test: &str, marker: &str) {
    let out = run_child(test, test);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(stderr.contains(marker), "no {marker:?} in: {stderr}");
}

#[test]
fn every_goroutine_parked_on_gort_objects_is_a_deadlock() {
    const TEST: &str =
        "diag::deadlock::tests::every_goroutine_parked_on_gort_objects_is_a_deadlock";
    if child_scenario().as_deref() != Some(TEST) {
        return expect_child(TEST, "child: verdict seen");
    }
    let never = Arc::new(AtomicBool::new(false));
    let message = run_and_catch(move || {
        let mut helpers = Vec::new();
        for reason in [WaitReason::Mutex, WaitReason::WaitGroup, WaitReason::Select] {
            let never = never.clone();
            helpers.push(
                crate::Builder::new()
                    .name(format!("stuck-on-{reason}"))
                    .spawn(move || park_until_set(&never, reason))
                    .unwrap(),
            );
        }
        // The main goroutine waits on a receive nobody will ever satisfy.
        park_until_set(&never, WaitReason::ChanRecv);
    })
    .expect("run must panic with the verdict");
    assert!(message.starts_with(MESSAGE), "{message}");
    for expected in [
        "(main), waiting on chan receive",
        "(stuck-on-mutex lock)",
        "waiting on select",
    ] {
        assert!(message.contains(expected), "no {expected:?} in {message}");
    }
    eprintln!("child: verdict seen");
}

#[test]
fn an_outside_thread_about_to_wake_a_goroutine_prevents_the_verdict() {
    const TEST: &str =
        "diag::deadlock::tests::an_outside_thread_about_to_wake_a_goroutine_prevents_the_verdict";
    if child_scenario().as_deref() != Some(TEST) {
        return expect_child(TEST, "child: finished without a verdict");
    }
    let flag = Arc::new(AtomicBool::new(false));
    let slot: Arc<Mutex<Option<Unparker>>> = Arc::new(Mutex::new(None));
    let (f, s) = (flag.clone(), slot.clone());
    // The outside thread: unknown to the runtime, about to "send" (set the flag and wake).
    let outside = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f.store(true, Ordering::Release);
        let unparker = s.lock().unwrap().take();
        if let Some(u) = unparker {
            u.unpark();
        }
    });
    let message = run_and_catch(move || {
        *slot.lock().unwrap() = Some(Unparker::current());
        park_until_set(&flag, WaitReason::ChanRecv);
    });
    assert_eq!(message, None);
    outside.join().unwrap();
    eprintln!("child: finished without a verdict");
}

#[test]
fn an_io_waiter_prevents_the_verdict() {
    const TEST: &str = "diag::deadlock::tests::an_io_waiter_prevents_the_verdict";
    if child_scenario().as_deref() != Some(TEST) {
        return expect_child(TEST, "child: finished without a verdict");
    }
    let ready = Arc::new(AtomicBool::new(false));
    let slot: Arc<Mutex<Option<Unparker>>> = Arc::new(Mutex::new(None));
    let (r, s) = (ready.clone(), slot.clone());
    // Stands in for the netpoller: a thread the runtime knows (so only the I/O rule stands
    // between this program and a false verdict) that makes the socket "readable" later.
    let poller = std::thread::spawn(move || {
        threads::register_service_thread();
        std::thread::sleep(Duration::from_millis(300));
        r.store(true, Ordering::Release);
        let unparker = s.lock().unwrap().take();
        if let Some(u) = unparker {
            u.unpark();
        }
    });
    let message = run_and_catch(move || {
        *slot.lock().unwrap() = Some(Unparker::current());
        park_until_set(&ready, WaitReason::IoRead);
    });
    assert_eq!(message, None);
    poller.join().unwrap();
    eprintln!("child: finished without a verdict");
}

#[test]
fn a_pending_timer_prevents_the_verdict() {
    const TEST: &str = "diag::deadlock::tests::a_pending_timer_prevents_the_verdict";
    if child_scenario().as_deref() != Some(TEST) {
        return expect_child(TEST, "child: finished without a verdict");
    }
    let message = run_and_catch(|| {
        // One goroutine sleeps; the main goroutine joins it; a third waits with a deadline.
        let sleeper = crate::spawn(|| crate::sleep(Duration::from_millis(200)));
        let waiter = crate::spawn(|| {
            crate::runtime::park::park_until(
                WaitReason::Select,
                std::time::Instant::now() + Duration::from_millis(250),
            )
        });
        sleeper.join().unwrap();
        waiter.join().unwrap();
    });
    assert_eq!(message, None);
    eprintln!("child: finished without a verdict");
}

#[test]
fn states_that_count_as_asleep_for_good() {
    assert!(asleep_for_good(GState::Waiting(WaitReason::ChanSend)));
    assert!(asleep_for_good(GState::Waiting(WaitReason::Join)));
    assert!(asleep_for_good(GState::Waiting(WaitReason::Park)));
    assert!(!asleep_for_good(GState::Waiting(WaitReason::IoWrite)));
    assert!(!asleep_for_good(GState::Waiting(WaitReason::Sleep)));
    assert!(!asleep_for_good(GState::Syscall));
    assert!(!asleep_for_good(GState::Runnable));
    assert!(!asleep_for_good(GState::Running));
}

/// In the child: `run`s a main goroutine that waits forever, with `action`; a watcher thread
/// (registered as a service thread: it wakes no goroutine) reports what the detector did,
/// asks for one more check, and ends the process.
fn stuck_forever_with(action: DeadlockAction, settle: Duration) -> ! {
    adopt_harness_main_thread();
    set_deadlock_action(action);
    std::thread::spawn(move || {
        threads::register_service_thread();
        let start = std::time::Instant::now();
        while !WARNED.load(Ordering::Relaxed) && start.elapsed() < settle {
            std::thread::sleep(Duration::from_millis(5));
        }
        let warned = WARNED.load(Ordering::Relaxed);
        // A second look at the same frozen state must not report again.
        check(sched());
        eprintln!("child: warned={warned}");
        std::process::exit(0);
    });
    crate::run(|| {
        let never = AtomicBool::new(false);
        park_until_set(&never, WaitReason::ChanRecv);
    });
    unreachable!("the main goroutine never finishes");
}

#[test]
fn warn_mode_reports_once_and_keeps_waiting() {
    const TEST: &str = "diag::deadlock::tests::warn_mode_reports_once_and_keeps_waiting";
    if child_scenario().as_deref() == Some(TEST) {
        stuck_forever_with(DeadlockAction::Warn, Duration::from_secs(20));
    }
    let out = run_child(TEST, TEST);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("child: warned=true"), "{stderr}");
    assert_eq!(stderr.matches(MESSAGE).count(), 1, "{stderr}");
}

#[test]
fn off_mode_says_nothing() {
    const TEST: &str = "diag::deadlock::tests::off_mode_says_nothing";
    if child_scenario().as_deref() == Some(TEST) {
        stuck_forever_with(DeadlockAction::Off, Duration::from_millis(300));
    }
    let out = run_child(TEST, TEST);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("child: warned=false"), "{stderr}");
    assert!(!stderr.contains(MESSAGE), "{stderr}");
}
