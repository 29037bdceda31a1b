//! The deadlock detector through the public API, true and false cases, each in a child
//! process of its own (more cases, with the runtime's internal park, are in
//! `src/diag/deadlock/tests.rs`).
//!
//! The detector only gives a verdict when it knows every thread of the process (see
//! `src/diag/deadlock.rs`): a libtest harness has threads of its own, so this file has its
//! own `main` (`harness = false`). Run without arguments, it re-runs itself once per
//! scenario with `GORT_DEADLOCK_CHILD=<scenario>` and checks the child's exit and stderr.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gort::{go, JoinHandle};

mod support;

const CHILD_ENV: &str = "GORT_DEADLOCK_CHILD";
const MESSAGE: &str = "all goroutines are asleep - deadlock!";

fn child(scenario: &str) {
    match scenario {
        // --- true cases: the child must die of the verdict ---
        // The main goroutine holds a mutex and joins a goroutine that wants it.
        "mutex_held_while_joining" => gort::run(|| {
            let mutex = Arc::new(gort::sync::Mutex::new(0));
            let m = mutex.clone();
            let _held = mutex.lock();
            let h = go!(gort::Builder::new().name("wants-the-lock"), move || {
                *m.lock() += 1;
            });
            h.join().unwrap();
        }),
        // Waiting for a WaitGroup nobody marks done, beside goroutines that finished.
        "waitgroup_never_done" => gort::run(|| {
            for i in 0..100 {
                go!(move || i).join().unwrap();
            }
            let wg = gort::sync::WaitGroup::new();
            wg.add(1);
            wg.wait();
        }),
        // A receive nobody sends to: the sender is alive (so the channel never closes) but
        // held by the receiving goroutine itself.
        "receive_nobody_sends_to" => gort::run(|| {
            let (tx, rx) = gort::chan::<u32>(0);
            let _unused = tx;
            let _ = rx.recv();
        }),
        // No `run`: the program's main thread joins a goroutine stuck for good.
        "plain_thread_joins_a_stuck_goroutine" => {
            let wg = Arc::new(gort::sync::WaitGroup::new());
            wg.add(1);
            let w = wg.clone();
            let h = go!(gort::Builder::new().name("stuck"), move || w.wait());
            h.join().unwrap();
        }
        // --- false cases: the child must finish normally ---
        // The lock is held by a thread outside the runtime that is about to release it.
        "outside_thread_about_to_unlock" => {
            let mutex = Arc::new(gort::sync::Mutex::new(0));
            let m = mutex.clone();
            let (locked_tx, locked_rx) = std::sync::mpsc::channel();
            let outside = std::thread::spawn(move || {
                let mut guard = m.lock();
                locked_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                *guard += 1;
            });
            locked_rx.recv().unwrap();
            gort::run(move || {
                *mutex.lock() += 1;
            });
            outside.join().unwrap();
            eprintln!("child: finished");
        }
        // A thread outside the runtime is about to send on the channel the main goroutine
        // receives from.
        "outside_thread_about_to_send" => {
            let (tx, rx) = gort::chan::<u32>(0);
            let outside = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                tx.send(7).unwrap();
            });
            let got = gort::run(move || rx.recv().unwrap());
            assert_eq!(got, 7);
            outside.join().unwrap();
            eprintln!("child: finished");
        }
        // A thread outside the runtime is about to call `done`.
        "outside_thread_about_to_done" => {
            let wg = Arc::new(gort::sync::WaitGroup::new());
            wg.add(1);
            let w = wg.clone();
            let outside = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                w.done();
            });
            gort::run(move || wg.wait());
            outside.join().unwrap();
            eprintln!("child: finished");
        }
        // Every goroutine waits, no timer, no other thread: only the netpoller (an M blocked
        // in it, and the rule on I/O waiters) stands between this program and a verdict.
        // Another *process* connects 300 ms later.
        "io_waiter_fed_by_another_process" => gort::run(|| {
            let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let mut peer = std::process::Command::new("bash")
                .args([
                    "-c",
                    &format!("sleep 0.3; exec 3<>/dev/tcp/127.0.0.1/{port}; echo hi >&3"),
                ])
                .spawn()
                .unwrap();
            let (conn, _) = listener.accept().unwrap();
            let mut line = String::new();
            std::io::Read::read_to_string(&mut &conn, &mut line).unwrap();
            assert_eq!(line, "hi\n");
            peer.wait().unwrap();
            eprintln!("child: finished");
        }),
        // A program that only looks stuck: every goroutine waits, but a timer is pending.
        "sleeper" => gort::run(|| {
            let h = go!(|| gort::sleep(Duration::from_millis(300)));
            h.join().unwrap();
            eprintln!("child: finished");
        }),
        // A goroutine blocks its M in a std call: the runtime is not quiescent.
        "goroutine_blocked_outside_gort" => gort::run(|| {
            let h = go!(|| std::thread::sleep(Duration::from_millis(300)));
            h.join().unwrap();
            eprintln!("child: finished");
        }),
        // Goroutines joining each other in a cycle leak, but `run`'s main goroutine is not
        // part of it and finishes: not a deadlock.
        "a_leaked_cycle_beside_main" => gort::run(|| {
            let slot: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::new(Mutex::new(None));
            let s = slot.clone();
            let selfish = go!(move || {
                let me = loop {
                    if let Some(h) = s.lock().unwrap().take() {
                        break h;
                    }
                    gort::yield_now();
                };
                let _ = me.join(); // joins itself: waits forever
            });
            *slot.lock().unwrap() = Some(selfish);
            gort::sleep(Duration::from_millis(50));
            eprintln!("child: finished");
        }),
        other => panic!("unknown scenario {other}"),
    }
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    killed: bool,
}

fn run_child(scenario: &str, limit: Duration) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_ENV, scenario)
        .env_remove("RUST_BACKTRACE")
        .env_remove("GORT_DEADLOCK")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let end = support::wait_child(cmd.spawn().unwrap(), limit);
    Outcome {
        code: end.status.code(),
        stderr: end.stderr,
        killed: end.killed,
    }
}

fn expect_deadlock(scenario: &str, expected: &[&str]) -> Result<(), String> {
    let out = run_child(scenario, Duration::from_secs(30));
    if out.killed {
        return Err(format!(
            "{scenario}: hung without a verdict\n{}",
            out.stderr
        ));
    }
    if out.code != Some(101) || !out.stderr.contains(MESSAGE) {
        return Err(format!(
            "{scenario}: expected the deadlock panic, got {:?}\n{}",
            out.code, out.stderr
        ));
    }
    for text in expected {
        if !out.stderr.contains(text) {
            return Err(format!(
                "{scenario}: the report lacks {text:?}\n{}",
                out.stderr
            ));
        }
    }
    Ok(())
}

fn expect_finish(scenario: &str) -> Result<(), String> {
    let out = run_child(scenario, Duration::from_secs(30));
    if out.killed || out.code != Some(0) || out.stderr.contains(MESSAGE) {
        return Err(format!(
            "{scenario}: expected a normal finish, got {:?} (killed: {})\n{}",
            out.code, out.killed, out.stderr
        ));
    }
    if !out.stderr.contains("child: finished") {
        return Err(format!(
            "{scenario}: did not finish its work\n{}",
            out.stderr
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
        (
            "mutex_held_while_joining",
            expect_deadlock(
                "mutex_held_while_joining",
                &[
                    "(main), waiting on join",
                    "(wants-the-lock), waiting on mutex lock",
                    // The panic names the caller's `run`, not gort's internals.
                    "panicked at tests/diag_deadlock.rs:",
                ],
            ),
        ),
        (
            "receive_nobody_sends_to",
            expect_deadlock(
                "receive_nobody_sends_to",
                &["(main), waiting on chan receive"],
            ),
        ),
        (
            "outside_thread_about_to_send",
            expect_finish("outside_thread_about_to_send"),
        ),
        (
            "waitgroup_never_done",
            expect_deadlock(
                "waitgroup_never_done",
                &["(main), waiting on waitgroup wait"],
            ),
        ),
        (
            "plain_thread_joins_a_stuck_goroutine",
            expect_deadlock(
                "plain_thread_joins_a_stuck_goroutine",
                &["(stuck), waiting on waitgroup wait"],
            ),
        ),
        (
            "outside_thread_about_to_unlock",
            expect_finish("outside_thread_about_to_unlock"),
        ),
        (
            "outside_thread_about_to_done",
            expect_finish("outside_thread_about_to_done"),
        ),
        (
            "io_waiter_fed_by_another_process",
            expect_finish("io_waiter_fed_by_another_process"),
        ),
        ("sleeper", expect_finish("sleeper")),
        (
            "goroutine_blocked_outside_gort",
            expect_finish("goroutine_blocked_outside_gort"),
        ),
        (
            "a_leaked_cycle_beside_main",
            expect_finish("a_leaked_cycle_beside_main"),
        ),
    ];
    let mut failed = 0;
    for (name, result) in &results {
        match result {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n{e}");
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        results.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
