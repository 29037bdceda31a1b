//! Tests of the overflow report. The faulting ones run in a child process (see
//! `stack::tests::run_child`).

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;

use corosensei::Coroutine;

use super::*;
use crate::runtime::stack::tests::{child_scenario, run_child};
use crate::runtime::stack::{alloc, DEFAULT_STACK_SIZE};

/// Recurses until the stack runs out (the condition only keeps the compiler from calling the
/// recursion unconditional).
#[inline(never)]
fn recurse_forever(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse_forever(depth + 1)) + frame[3]
}

#[track_caller]
fn caller() -> &'static Location<'static> {
    Location::caller()
}

/// The spawn site the child reports; the same in parent and child (same binary).
fn worker_spawn_site() -> &'static Location<'static> {
    caller()
}

/// Drops this thread's alternate signal stack (std's), so that `ensure_altstack` has to make one.
fn disable_altstack() {
    let disable = libc::stack_t {
        ss_sp: ptr::null_mut(),
        ss_flags: libc::SS_DISABLE,
        ss_size: 0,
    };
    // SAFETY: disabling the altstack of this thread, outside any signal handler; std's memory
    // stays mapped until the thread exits.
    assert_eq!(unsafe { libc::sigaltstack(&disable, ptr::null_mut()) }, 0);
}

fn current_altstack() -> libc::stack_t {
    // SAFETY: an all-zero stack_t is a valid out-value.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying into a valid out-pointer.
    assert_eq!(unsafe { libc::sigaltstack(ptr::null(), &mut current) }, 0);
    current
}

/// In a child: runs a goroutine-like coroutine that recurses forever on a `size` stack, with
/// the handler told what runs.
fn overflow_a_coroutine(name: Option<&str>, size: usize) -> ! {
    install();
    ensure_altstack().unwrap();
    let stack = alloc(size).unwrap();
    let running = RunningStack::new(42, name, worker_spawn_site(), stack.bounds());
    let mut coroutine =
        Coroutine::with_stack(stack, |_yielder: &corosensei::Yielder<(), ()>, ()| {
            recurse_forever(0);
        });
    // SAFETY: `running` outlives the resume below, which never returns.
    unsafe { set_running(&running) };
    coroutine.resume(());
    clear_running();
    eprintln!("child: survived");
    std::process::exit(0);
}

fn assert_reported(test_path: &str, scenario: &str, expected_report: &str) {
    let output = run_child(test_path, scenario);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.ends_with(expected_report),
        "expected the report {expected_report:?}, got {stderr:?}"
    );
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "{:?}",
        output.status
    );
}

fn expected_report(name: &str, size: &str) -> String {
    let site = worker_spawn_site();
    format!(
        "\ngoroutine 42{name} (spawned at {}:{}:{}) has overflowed its {size} stack\nfatal runtime error: stack overflow, aborting\n",
        site.file(),
        site.line(),
        site.column()
    )
}

#[test]
fn named_goroutine_overflow_is_reported_on_our_altstack() {
    if child_scenario().as_deref() == Some("named") {
        // A thread without std's altstack: the report must work on the one we make.
        let thread = std::thread::spawn(|| {
            disable_altstack();
            overflow_a_coroutine(Some("worker"), 64 << 10)
        });
        let _ = thread.join();
        unreachable!("the child aborts");
    }
    assert_reported(
        "runtime::overflow::tests::named_goroutine_overflow_is_reported_on_our_altstack",
        "named",
        &expected_report(" \"worker\"", "64 KiB"),
    );
}

#[test]
fn unnamed_goroutine_overflow_is_reported_in_mib() {
    if child_scenario().as_deref() == Some("unnamed") {
        // On the test thread, whose altstack is std's.
        overflow_a_coroutine(None, 1 << 20);
    }
    assert_reported(
        "runtime::overflow::tests::unnamed_goroutine_overflow_is_reported_in_mib",
        "unnamed",
        &expected_report("", "1 MiB"),
    );
}

#[test]
fn thread_overflow_is_still_reported_by_std() {
    if child_scenario().as_deref() == Some("thread") {
        install();
        let thread = std::thread::Builder::new()
            .name("small".into())
            .stack_size(128 << 10)
            .spawn(|| recurse_forever(0))
            .unwrap();
        let _ = thread.join();
        eprintln!("child: survived");
        std::process::exit(0);
    }
    let output = run_child(
        "runtime::overflow::tests::thread_overflow_is_still_reported_by_std",
        "thread",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    // std's report (its format includes the thread id since Rust 1.89).
    assert!(
        stderr.contains("\nthread 'small'") && stderr.contains(" has overflowed its stack\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fatal runtime error: stack overflow"),
        "{stderr}"
    );
    assert!(!stderr.contains("goroutine"), "{stderr}");
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "{:?}",
        output.status
    );
}

#[test]
fn other_faults_still_kill_with_sigsegv() {
    if child_scenario().as_deref() == Some("other_fault") {
        install();
        // A goroutine is "running", but the fault is elsewhere: not an overflow.
        let stack = alloc(DEFAULT_STACK_SIZE).unwrap();
        let running = RunningStack::new(7, Some("bystander"), worker_spawn_site(), stack.bounds());
        // SAFETY: `running` lives until the process dies below.
        unsafe { set_running(&running) };
        // SAFETY: a fresh inaccessible anonymous page.
        let page = unsafe {
            libc::mmap(
                ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        eprintln!("child: faulting");
        // SAFETY: none; this faults on purpose.
        unsafe { ptr::write_volatile(page.cast::<u8>(), 1) };
        eprintln!("child: survived");
        std::process::exit(0);
    }
    let output = run_child(
        "runtime::overflow::tests::other_faults_still_kill_with_sigsegv",
        "other_fault",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("child: faulting") && !stderr.contains("survived"),
        "{stderr}"
    );
    assert!(!stderr.contains("overflowed"), "{stderr}");
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSEGV),
        "{:?}",
        output.status
    );
}

#[test]
fn ensure_altstack_adds_one_only_when_missing() {
    std::thread::spawn(|| {
        let std_altstack = current_altstack();
        ensure_altstack().unwrap();
        if std_altstack.ss_flags & libc::SS_DISABLE == 0 {
            assert_eq!(
                current_altstack().ss_sp,
                std_altstack.ss_sp,
                "std's altstack is kept"
            );
        }
        disable_altstack();
        ensure_altstack().unwrap();
        let ours = current_altstack();
        assert_eq!(ours.ss_flags & libc::SS_DISABLE, 0);
        assert_eq!(ours.ss_size, ALTSTACK_SIZE);
        ensure_altstack().unwrap();
        assert_eq!(
            current_altstack().ss_sp,
            ours.ss_sp,
            "a second call changes nothing"
        );
    })
    .join()
    .unwrap();
}

#[test]
fn overflow_is_recognised_in_the_guard_and_the_page_below_the_stack_only() {
    let page = stack::page_size();
    let running = RunningStack {
        goid: 1,
        name: None,
        spawn_site: Location::caller(),
        usable_size: 16 * page,
        guard_lo: 100 * page,
        guard_hi: 101 * page,
    };
    assert!(running.overflowed_at(100 * page));
    assert!(running.overflowed_at(101 * page - 1));
    assert!(
        !running.overflowed_at(101 * page),
        "the lowest usable byte is not a fault"
    );
    assert!(!running.overflowed_at(100 * page - 1));
    assert!(!running.overflowed_at(0));
    // A bigger guard counts whole.
    let wide = RunningStack {
        guard_lo: 90 * page,
        ..running
    };
    assert!(wide.overflowed_at(90 * page));
}

#[test]
fn raw_stderr_formats_decimals() {
    let mut out = RawStderr::new();
    for value in [0, 7, 42, 1_000, u64::MAX] {
        out.push_decimal(value);
        out.push(b" ");
    }
    assert_eq!(&out.buffer[..out.len], b"0 7 42 1000 18446744073709551615 ");
}
