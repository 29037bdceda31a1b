//! Tests of the pool's trimmer: stacks going back never make a system call, the trimmer gives
//! back only what sat unused beyond the bound for a whole review period, sysmon runs it after a
//! burst of goroutine exits, trimmed stacks keep their guards, and trims racing gets and puts
//! never hand a stack out twice.
//!
//! Tests that must see the pool without sysmon (whose trims would race their exact counts) run
//! in a child process that never starts the runtime (see `tests.rs` for the harness).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::slab::{self, GuardMode};
use super::tests::{assert_guard_write_faults, child_scenario, run_child, touch};
use super::*;

/// A usable size no other test uses (`extra_pages` tells them apart), big enough that the
/// pool's bound is at its floor of 64 stacks, so the tests stay small.
fn own_size(extra_pages: usize) -> usize {
    let size = (8 << 20) + extra_pages * page_size();
    assert_eq!(pool::hot_limit_for_tests(size), 64);
    size
}

/// Marks a stack we own at its top and at its lowest usable byte (two resident pages).
fn mark(stack: &Stack, marker: u64) {
    let (_, bottom) = stack.guard_range();
    // SAFETY: the top word and the bottom word of a stack we own.
    unsafe {
        std::ptr::write_volatile((stack.top() - 8) as *mut u64, marker);
        std::ptr::write_volatile(bottom as *mut u64, marker);
    }
}

/// The markers at the top and the bottom of the stack whose top is `top` and whose usable size
/// is `size` (zero once its memory was given back).
fn markers(top: usize, size: usize) -> (u64, u64) {
    // SAFETY: the slot stays mapped for good, and the caller owns it or knows it is free and
    // that nobody else uses its size class.
    unsafe {
        (
            std::ptr::read_volatile((top - 8) as *const u64),
            std::ptr::read_volatile((top - size) as *const u64),
        )
    }
}

/// Calls `condition` until it holds, failing after a generous timeout.
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// In a child process without sysmon: a burst of stacks going back past the bound makes no
/// system call (their pages stay resident until trimmed); the review right after the burst
/// keeps them (they were all in use during the period); once a period passed with nobody
/// taking them, the trimmer gives back exactly the oldest ones beyond the bound, a batch per
/// call, and the newest stay resident and come back first.
#[test]
fn giving_back_never_trims_and_the_trimmer_bounds_the_pool() {
    const TEST: &str =
        "runtime::stack::trim_tests::giving_back_never_trims_and_the_trimmer_bounds_the_pool";
    if child_scenario().as_deref() != Some("trim_bounds") {
        let output = run_child(TEST, "trim_bounds");
        assert!(output.status.success(), "{:?}", output.status);
        assert!(String::from_utf8_lossy(&output.stderr).contains("child: trimmed"));
        return;
    }
    let size = own_size(1);
    let limit = pool::hot_limit_for_tests(size);
    let count = limit + 200;
    let stacks: Vec<Stack> = (0..count).map(|_| alloc(size).unwrap()).collect();
    for stack in &stacks {
        mark(stack, 0xfeed);
    }
    let tops: Vec<usize> = stacks.iter().map(|stack| stack.top()).collect();
    drop(stacks);
    let stats = pool::stats(size);
    assert_eq!((stats.hot, stats.cold, stats.trimmed), (count, 0, 0));
    assert!(tops
        .iter()
        .all(|&top| markers(top, size) == (0xfeed, 0xfeed)));
    assert!(has_excess(), "the pile-up was noticed");

    // The first review finds every stack was taken during its period: nothing goes.
    assert!(!trim_excess());
    assert_eq!(pool::stats(size).hot, count);

    // A period later, nobody having taken any, the excess goes, a batch per call.
    let started = Instant::now();
    wait_for("the next review", trim_excess);
    assert!(started.elapsed() + Duration::from_millis(5) >= pool::REVIEW_PERIOD_FOR_TESTS);
    let mut calls = 1;
    while trim_excess() {
        calls += 1;
    }
    assert!(
        calls >= (count - limit) / 64,
        "batches of at most 64: {calls} calls"
    );
    let stats = pool::stats(size);
    assert_eq!(stats.hot, limit);
    assert_eq!(stats.cold, count - limit);
    assert_eq!(stats.trimmed, (count - limit) as u64);
    assert!(!has_excess());
    for (index, &top) in tops.iter().enumerate() {
        let expected = if index < count - limit { 0 } else { 0xfeed };
        assert_eq!(markers(top, size), (expected, expected), "stack {index}");
    }
    let newest = alloc(size).unwrap();
    assert_eq!(newest.top(), tops[count - 1], "hot stacks come back first");
    drop(newest);

    // A pool drained and refilled within every period keeps its memory, however long.
    let trimmed_before = pool::stats(size).trimmed;
    let started = Instant::now();
    while started.elapsed() < 3 * pool::REVIEW_PERIOD_FOR_TESTS {
        let again: Vec<Stack> = (0..count).map(|_| alloc(size).unwrap()).collect();
        drop(again);
        assert!(
            !trim_excess(),
            "a stack in use within the period was trimmed"
        );
    }
    assert_eq!(pool::stats(size).trimmed, trimmed_before);
    assert_eq!(pool::stats(size).hot, count);
    eprintln!("child: trimmed {} stacks", count - limit);
    std::process::exit(0);
}

/// sysmon's path: a burst of goroutines of one stack size exits past the bound; sysmon gives
/// the excess back on its own (no test thread calls the trimmer) and the pool settles at its
/// bound, every stack accounted for.
#[test]
fn sysmon_trims_after_a_burst_of_goroutine_exits() {
    let size = own_size(3);
    let limit = pool::hot_limit_for_tests(size);
    let count = limit + 300;
    let gate = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let (gate, started) = (Arc::clone(&gate), Arc::clone(&started));
            crate::Builder::new()
                .stack_size(size)
                .spawn(move || {
                    started.fetch_add(1, Ordering::Relaxed);
                    while !gate.load(Ordering::Acquire) {
                        crate::sleep(Duration::from_millis(1));
                    }
                })
                .unwrap()
        })
        .collect();
    wait_for("every goroutine to start", || {
        started.load(Ordering::Relaxed) == count
    });
    assert_eq!(pool::stats(size).carved, count, "one stack per goroutine");
    gate.store(true, Ordering::Release);
    for handle in handles {
        handle.join().unwrap();
    }
    wait_for("sysmon to trim the pool to its bound", || {
        let stats = pool::stats(size);
        stats.hot == limit && stats.cold == count - limit
    });
    assert_eq!(pool::stats(size).trimmed, (count - limit) as u64);
    let tops = pool::free_tops(size);
    assert_eq!(tops.iter().collect::<HashSet<_>>().len(), count);
}

/// In a child: a stack trimmed to cold (its pages given back) and handed out again reads
/// zeros, is writable, and its guard still faults.
fn write_to_trimmed_guard_in_child(mode: Option<GuardMode>) -> ! {
    if let Some(mode) = mode {
        assert!(slab::force_guard_mode(mode));
    }
    let size = own_size(5);
    let limit = pool::hot_limit_for_tests(size);
    let stacks: Vec<Stack> = (0..=limit).map(|_| alloc(size).unwrap()).collect();
    for stack in &stacks {
        mark(stack, 0xbeef);
    }
    let oldest = stacks[0].top();
    drop(stacks);
    assert_eq!(pool::trim_all_now(), 1);
    let mut again: Vec<Stack> = (0..=limit).map(|_| alloc(size).unwrap()).collect();
    assert_eq!(pool::stats(size).cold, 0);
    let trimmed = again.pop().unwrap();
    assert_eq!(trimmed.top(), oldest, "the cold stack comes last");
    assert_eq!(markers(oldest, size), (0, 0), "its memory was given back");
    mark(&trimmed, 1);
    let (guard_lo, _) = trimmed.guard_range();
    eprintln!("child: mode {}", guard_mode());
    eprintln!("child: writing to the guard");
    touch(guard_lo + 100);
    eprintln!("child: survived");
    std::process::exit(0);
}

#[test]
fn a_trimmed_stack_keeps_its_guard() {
    if child_scenario().as_deref() == Some("trimmed_guard") {
        write_to_trimmed_guard_in_child(None);
    }
    assert_guard_write_faults(
        "runtime::stack::trim_tests::a_trimmed_stack_keeps_its_guard",
        "trimmed_guard",
    );
}

#[test]
fn a_trimmed_stack_keeps_its_mprotect_guard() {
    if child_scenario().as_deref() == Some("trimmed_mprotect_guard") {
        write_to_trimmed_guard_in_child(Some(GuardMode::ProtNone));
    }
    assert_guard_write_faults(
        "runtime::stack::trim_tests::a_trimmed_stack_keeps_its_mprotect_guard",
        "trimmed_mprotect_guard",
    );
}

/// Several threads take and give back stacks (through caches and directly) while another
/// trims as fast as it can: no stack is handed out twice, none is trimmed under its owner
/// (both of its markers survive until it gives the stack back), and at the end every slot
/// ever carved is on exactly one free list.
#[test]
fn trims_racing_gets_and_puts_never_hand_a_stack_out_twice() {
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 3_000;
    let size = own_size(7);
    let live: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let trimmer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut trimmed = 0;
            while !done.load(Ordering::Acquire) {
                trimmed += pool::trim_all_now();
                trim_excess();
                std::thread::yield_now();
            }
            trimmed
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let live = Arc::clone(&live);
            std::thread::spawn(move || {
                let mut cache = StackCache::with_size(size).unwrap();
                let mut held: Vec<(Stack, u64)> = Vec::new();
                for round in 0..ROUNDS {
                    // Hold a varying number, so that caches spill and refill and the pool
                    // swings across its bound.
                    let want = ((round * 7 + thread * 13) % 150) as usize;
                    while held.len() < want {
                        let stack = if round % 2 == 0 {
                            cache.get(size).unwrap()
                        } else {
                            alloc(size).unwrap()
                        };
                        assert!(
                            live.lock().unwrap().insert(stack.top()),
                            "stack handed out twice"
                        );
                        let marker = (thread << 32) | round | 1;
                        mark(&stack, marker);
                        held.push((stack, marker));
                    }
                    while held.len() > want / 2 {
                        let (stack, marker) = held.swap_remove(round as usize % held.len());
                        let top = stack.top();
                        assert_eq!(
                            markers(top, size),
                            (marker, marker),
                            "our stack was written or trimmed while we held it"
                        );
                        assert!(live.lock().unwrap().remove(&top));
                        if round % 3 == 0 {
                            free(stack);
                        } else {
                            cache.put(stack);
                        }
                    }
                }
                for (stack, _) in held {
                    assert!(live.lock().unwrap().remove(&stack.top()));
                    cache.put(stack);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let trimmed = trimmer.join().unwrap();
    assert!(trimmed > 0, "the trimmer never had anything to do");
    assert!(live.lock().unwrap().is_empty());
    pool::trim_all_now();
    let stats = pool::stats(size);
    let tops = pool::free_tops(size);
    assert_eq!(tops.len(), stats.carved, "every slot is on a free list");
    assert_eq!(
        tops.iter().collect::<HashSet<_>>().len(),
        tops.len(),
        "no slot is on two lists"
    );
    assert_eq!(stats.hot, pool::hot_limit_for_tests(size));
}
