//! A goroutine that recurses without bound hits its stack's guard page; gort reports which
//! goroutine overflowed (id, name, spawn site, stack size) and aborts, as std does for a
//! thread. The overflow kills the process, so each test re-runs this binary on itself with
//! `GORT_TEST_CHILD` set and asserts on the child's stderr and exit signal.

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

const CHILD_ENV: &str = "GORT_TEST_CHILD";

fn is_child(scenario: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(scenario)
}

fn run_child(test_name: &str) -> Output {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test_name)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    eprintln!(
        "child: {:?}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Recurses until the stack runs out (the condition only keeps the recursion from being
/// unconditional in the compiler's eyes).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth + 1)) + frame[1]
}

/// The body of the overflowing goroutine: says who it is, then overflows.
fn announce_and_overflow() -> u64 {
    let me = gort::current().expect("runs in a goroutine");
    eprintln!("child: goroutine id {}", me.id());
    recurse(0)
}

/// The id the child announced.
fn announced_id(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find_map(|line| line.strip_prefix("child: goroutine id "))
        .expect("the goroutine announced itself");
    line.trim().parse().unwrap()
}

fn assert_aborted_with(output: &Output, report: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(report),
        "expected {report:?} in the child's stderr:\n{stderr}"
    );
    assert!(!stderr.contains("child: survived"));
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "the child must abort: {:?}",
        output.status
    );
}

#[test]
fn named_goroutine_overflow_is_reported_and_aborts() {
    const TEST: &str = "named_goroutine_overflow_is_reported_and_aborts";
    // The spawn call's location, as `#[track_caller]` records it: the `spawn` method name.
    let spawn_line = line!() + 5;
    if is_child(TEST) {
        let handle = gort::Builder::new()
            .name("worker")
            .stack_size(64 * 1024)
            .spawn(announce_and_overflow)
            .unwrap();
        let _ = handle.join();
        eprintln!("child: survived");
        std::process::exit(0);
    }
    let output = run_child(TEST);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let id = announced_id(&stderr);
    let report = format!(
        "\ngoroutine {id} \"worker\" (spawned at tests/rt_stack_overflow.rs:{spawn_line}:14) has overflowed its 64 KiB stack\nfatal runtime error: stack overflow, aborting\n"
    );
    assert_aborted_with(&output, &report);
}

#[test]
fn unnamed_goroutine_overflow_names_the_default_size() {
    const TEST: &str = "unnamed_goroutine_overflow_names_the_default_size";
    let spawn_line = line!() + 2;
    if is_child(TEST) {
        let handle = gort::spawn(announce_and_overflow);
        let _ = handle.join();
        eprintln!("child: survived");
        std::process::exit(0);
    }
    let output = run_child(TEST);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let id = announced_id(&stderr);
    let report = format!(
        "\ngoroutine {id} (spawned at tests/rt_stack_overflow.rs:{spawn_line}:22) has overflowed its 256 KiB stack\nfatal runtime error: stack overflow, aborting\n"
    );
    assert_aborted_with(&output, &report);
}

#[test]
fn a_deep_but_bounded_goroutine_is_fine() {
    // 1,000 frames of `recurse` fit the default stack in every profile.
    let handle = gort::spawn(|| {
        fn bounded(depth: u64) -> u64 {
            let frame = black_box([depth; 8]);
            if depth == 0 {
                return 0;
            }
            black_box(bounded(depth - 1)) + frame[1]
        }
        bounded(1_000)
    });
    assert_eq!(handle.join().unwrap(), (1..=1_000).sum::<u64>());
}
