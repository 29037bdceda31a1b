//! The deadlock detector through the public API, each case in a child process of its own.
//! (The true cases, which need a goroutine parked on a gort object forever, are in
//! `src/diag/deadlock/tests.rs` until channels are in.)
//!
//! The detector only gives a verdict when it knows every thread of the process (see
//! `src/diag/deadlock.rs`): a libtest harness has threads of its own, so this file has its
//! own `main` (`harness = false`). Run without arguments, it re-runs itself once per
//! scenario with `GORT_DEADLOCK_CHILD=<scenario>` and checks the child's exit and stderr.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::{go, JoinHandle};

const CHILD_ENV: &str = "GORT_DEADLOCK_CHILD";
const MESSAGE: &str = "all goroutines are asleep - deadlock!";

fn child(scenario: &str) {
    match scenario {
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
    let mut child = cmd.spawn().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            killed = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        code: status.code(),
        stderr: reader.join().unwrap(),
        killed,
    }
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
