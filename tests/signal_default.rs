//! gort::signal in child processes: once every subscription that wanted a signal has ended
//! (receivers dropped, `stop`, a `notify_context` cancelled, by its parent too, or dropped),
//! the signal gets its default action again (`SIGTERM` ends the process); and the netpoller
//! counts a subscription exactly while it lives (a program that only waits for a signal is
//! not deadlocked; once the subscription ends, it is).
//!
//! The deadlock verdict needs every thread of the process known to the runtime, so, as in
//! `tests/diag_deadlock.rs`, this file has its own `main` (`harness = false`) and re-runs
//! itself once per scenario with `GORT_SIGNAL_CHILD=<scenario>`.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use gort::context::Context;
use gort::signal::{self, notify, notify_context, Signal};

mod support;

const CHILD_ENV: &str = "GORT_SIGNAL_CHILD";
const DEADLOCK: &str = "all goroutines are asleep - deadlock!";
const LONG: Duration = Duration::from_secs(30);

fn raise(signal: Signal) {
    // SAFETY: raise(3) sends a signal to this (child) process; it may end it, as intended.
    assert_eq!(unsafe { libc::raise(signal.number()) }, 0);
}

/// Whether some thread of process `pid` is blocked in an epoll wait: the runtime's idle M in
/// the netpoller (`/proc/<pid>/task/<tid>/syscall` starts with the system call's number).
fn a_thread_waits_in_epoll(pid: &str) -> bool {
    let mut epoll_calls = vec![libc::SYS_epoll_pwait2, libc::SYS_epoll_pwait];
    #[cfg(target_arch = "x86_64")]
    epoll_calls.push(libc::SYS_epoll_wait);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("syscall"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<libc::c_long>().ok())
            .is_some_and(|number| epoll_calls.contains(&number))
    })
}

fn child(scenario: &str) {
    match scenario {
        "receivers_dropped" => gort::run(|| {
            let signals = notify(&[Signal::Terminate]);
            let clone = signals.clone();
            raise(Signal::Terminate);
            assert_eq!(signals.recv(), Ok(Signal::Terminate));
            eprintln!("child: delivered");
            drop(signals);
            raise(Signal::Terminate); // the clone still subscribes
            assert_eq!(clone.recv(), Ok(Signal::Terminate));
            drop(clone);
            eprintln!("child: raising again");
            raise(Signal::Terminate);
            eprintln!("child: survived");
        }),
        "stopped" => gort::run(|| {
            let signals = notify(&[Signal::Interrupt, Signal::Terminate]);
            signal::stop(&signals);
            eprintln!("child: raising again");
            raise(Signal::Terminate);
            eprintln!("child: survived");
        }),
        "another_subscription_still_wants_it" => gort::run(|| {
            let first = notify(&[Signal::Terminate]);
            let second = notify(&[Signal::Terminate]);
            drop(first);
            raise(Signal::Terminate);
            assert_eq!(second.recv(), Ok(Signal::Terminate));
            eprintln!("child: finished");
        }),
        "context_after_the_first_signal" => gort::run(|| {
            let (ctx, _stop) = notify_context(&Context::background(), &[Signal::Terminate]);
            raise(Signal::Terminate);
            assert!(ctx.done().recv().is_err());
            eprintln!("child: raising again");
            raise(Signal::Terminate); // a second Ctrl-C ends the program
            eprintln!("child: survived");
        }),
        "context_stopped" => gort::run(|| {
            let (_ctx, stop) = notify_context(&Context::background(), &[Signal::Terminate]);
            stop.cancel();
            eprintln!("child: raising again");
            raise(Signal::Terminate);
            eprintln!("child: survived");
        }),
        "context_parent_cancelled" => gort::run(|| {
            let (parent, cancel_parent) = Context::background().with_cancel();
            let (_ctx, _stop) = notify_context(&parent, &[Signal::Terminate]);
            cancel_parent.cancel();
            eprintln!("child: raising again");
            raise(Signal::Terminate);
            eprintln!("child: survived");
        }),
        "context_dropped" => gort::run(|| {
            let subscription = notify_context(&Context::background(), &[Signal::Terminate]);
            drop(subscription);
            eprintln!("child: raising again");
            raise(Signal::Terminate);
            eprintln!("child: survived");
        }),
        // Only a signal can wake the main goroutine: not a deadlock (the parent sends SIGUSR1
        // once the idle M blocks in the poller).
        "waiting_for_a_signal" => gort::run(|| {
            let signals = notify(&[Signal::User1]);
            assert_eq!(signals.recv(), Ok(Signal::User1));
            eprintln!("child: finished");
        }),
        // The subscription ends while an idle M blocks in the poller for it alone; then every
        // goroutine waits for good: the M must leave the poller so the verdict comes.
        "subscription_ends_then_deadlock" => gort::run(|| {
            gort::set_maxprocs(2).unwrap();
            let signals = notify(&[Signal::User1]);
            let (_keep, forever) = gort::chan::<()>(0);
            let (_keep2, forever2) = gort::chan::<()>(0);
            let main = gort::current().unwrap();
            gort::go!(move || {
                let pid = std::process::id().to_string();
                let deadline = Instant::now() + LONG;
                // The main goroutine parks, then its M goes idle and blocks in the poller
                // (a subscription, no timer).
                while main.state() != gort::GState::Waiting(gort::WaitReason::ChanRecv)
                    || !a_thread_waits_in_epoll(&pid)
                {
                    assert!(Instant::now() < deadline, "no M ever blocked in the poller");
                    gort::yield_now();
                }
                drop(signals);
                let _ = forever2.recv();
            });
            let _ = forever.recv();
        }),
        other => panic!("unknown scenario {other}"),
    }
}

fn spawn_child(scenario: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, scenario)
        .env_remove("RUST_BACKTRACE")
        .env_remove("GORT_DEADLOCK")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` (killing it after `LONG`); its status, stderr, and whether it was killed.
fn finish(child: Child) -> (ExitStatus, String, bool) {
    let end = support::wait_child(child, LONG);
    (end.status, end.stderr, end.killed)
}

/// The child must die of SIGTERM's default action at its last raise.
fn expect_terminated(scenario: &str) -> Result<(), String> {
    let (status, stderr, killed) = finish(spawn_child(scenario));
    if killed || status.signal() != Some(libc::SIGTERM) {
        return Err(format!(
            "{scenario}: expected death by SIGTERM, got {status:?} (killed: {killed})\n{stderr}"
        ));
    }
    if !stderr.contains("child: raising again") || stderr.contains("child: survived") {
        return Err(format!("{scenario}: died at the wrong place\n{stderr}"));
    }
    Ok(())
}

fn expect_finish(scenario: &str) -> Result<(), String> {
    let (status, stderr, killed) = finish(spawn_child(scenario));
    if killed || !status.success() || !stderr.contains("child: finished") {
        return Err(format!(
            "{scenario}: expected a normal finish, got {status:?} (killed: {killed})\n{stderr}"
        ));
    }
    Ok(())
}

fn expect_signal_wakes_the_waiter() -> Result<(), String> {
    let scenario = "waiting_for_a_signal";
    let mut child = spawn_child(scenario);
    let pid = child.id().to_string();
    let deadline = Instant::now() + LONG;
    // No verdict while the M waits in the poller: the child is still there when it blocks.
    while !a_thread_waits_in_epoll(&pid) {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            return Err(format!(
                "{scenario}: ended (or never blocked) before the signal\n{stderr}"
            ));
        }
        std::thread::yield_now();
    }
    // SAFETY: kill(2) sends a signal to our own child process, which subscribes to it.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) }, 0);
    let (status, stderr, killed) = finish(child);
    if killed || !status.success() || !stderr.contains("child: finished") {
        return Err(format!(
            "{scenario}: expected a normal finish, got {status:?} (killed: {killed})\n{stderr}"
        ));
    }
    Ok(())
}

fn expect_deadlock(scenario: &str) -> Result<(), String> {
    let (status, stderr, killed) = finish(spawn_child(scenario));
    if killed {
        return Err(format!("{scenario}: hung without a verdict\n{stderr}"));
    }
    if status.code() != Some(101) || !stderr.contains(DEADLOCK) {
        return Err(format!(
            "{scenario}: expected the deadlock panic, got {status:?}\n{stderr}"
        ));
    }
    Ok(())
}

fn main() {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        child(&scenario);
        return;
    }
    let results = [
        expect_terminated("receivers_dropped"),
        expect_terminated("stopped"),
        expect_finish("another_subscription_still_wants_it"),
        expect_terminated("context_after_the_first_signal"),
        expect_terminated("context_stopped"),
        expect_terminated("context_parent_cancelled"),
        expect_terminated("context_dropped"),
        expect_signal_wakes_the_waiter(),
        expect_deadlock("subscription_ends_then_deadlock"),
    ];
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    for failure in &failures {
        eprintln!("FAILED {failure}\n");
    }
    assert!(failures.is_empty(), "{} scenario(s) failed", failures.len());
    println!("signal_default: all scenarios passed");
}
