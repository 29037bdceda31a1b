//! Tests of stack allocation, pooling and guards, and the child-process harness that the
//! fault tests (here and in `overflow`) use.
//!
//! A fault kills the process, so such a test re-runs the test binary on itself alone with
//! `GORT_TEST_CHILD=<scenario>` set; the child sees the variable, does the faulting thing, and
//! the parent asserts on the child's stderr and on the signal that ended it.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use corosensei::stack::Stack as _;
use corosensei::{Coroutine, CoroutineResult};

use super::slab::{self, GuardMode};
use super::*;

const CHILD_ENV: &str = "GORT_TEST_CHILD";

/// The scenario this process was started to run, when it is a child.
pub(crate) fn child_scenario() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Runs the test `test_path` (e.g. `runtime::stack::tests::guard_faults`) alone in a child
/// process with `scenario` set, and returns its output.
pub(crate) fn run_child(test_path: &str, scenario: &str) -> Output {
    let output = Command::new(std::env::current_exe().expect("current_exe"))
        .args([test_path, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run the test binary as a child");
    eprintln!(
        "child {scenario}: {:?}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes a byte through a volatile pointer, so the access really happens.
pub(super) fn touch(address: usize) {
    // SAFETY: callers pass addresses inside a stack they own (or a guard, to fault on purpose
    // in a child process).
    unsafe { std::ptr::write_volatile(address as *mut u8, 1) };
}

#[test]
fn sizes_round_up_to_pages_and_the_minimum() {
    let page = page_size();
    assert_eq!(round_stack_size(0).unwrap(), MIN_STACK_SIZE);
    assert_eq!(round_stack_size(1).unwrap(), MIN_STACK_SIZE);
    assert_eq!(round_stack_size(MIN_STACK_SIZE).unwrap(), MIN_STACK_SIZE);
    assert_eq!(
        round_stack_size(MIN_STACK_SIZE + 1).unwrap(),
        MIN_STACK_SIZE + page
    );
    assert_eq!(
        round_stack_size(100_000).unwrap(),
        100_000usize.next_multiple_of(page)
    );
    assert_eq!(round_stack_size(MAX_STACK_SIZE).unwrap(), MAX_STACK_SIZE);
    let error = round_stack_size(MAX_STACK_SIZE + 1).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(alloc(MAX_STACK_SIZE + 1).is_err());
    let stack = alloc(5000).unwrap();
    assert_eq!(stack.usable_size(), MIN_STACK_SIZE);
}

#[test]
fn checked_sizes_reject_out_of_range_and_round_to_pages() {
    let page = page_size();
    assert_eq!(checked_stack_size(MIN_STACK_SIZE).unwrap(), MIN_STACK_SIZE);
    assert_eq!(
        checked_stack_size(MIN_STACK_SIZE + 1).unwrap(),
        MIN_STACK_SIZE + page
    );
    let below = checked_stack_size(MIN_STACK_SIZE - 1).unwrap_err();
    assert_eq!(below.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        below.to_string().contains("below the minimum of 16 KiB"),
        "{below}"
    );
    assert!(checked_stack_size(MAX_STACK_SIZE + 1)
        .unwrap_err()
        .to_string()
        .contains("exceeds the maximum"));
    // A rejected default leaves the default alone (the runtime's tests share this process, so
    // only the value it already has is set).
    assert!(set_default_stack_size(1024).is_err());
    assert_eq!(default_stack_size(), DEFAULT_STACK_SIZE);
    set_default_stack_size(DEFAULT_STACK_SIZE).unwrap();
    assert_eq!(StackCache::new().cached_size(), DEFAULT_STACK_SIZE);
}

#[test]
fn bounds_copy_the_guard_range() {
    let stack = alloc(DEFAULT_STACK_SIZE).unwrap();
    let bounds = stack.bounds();
    assert_eq!((bounds.guard_lo, bounds.guard_hi), stack.guard_range());
    assert_eq!(bounds.usable_size, stack.usable_size());
    assert_eq!(StackBounds::default().guard_hi, 0);
}

#[test]
fn parse_accepts_units_and_enforces_bounds() {
    assert_eq!(parse_stack_size("65536"), Ok(65536));
    assert_eq!(parse_stack_size("64k"), Ok(64 << 10));
    assert_eq!(parse_stack_size("64K"), Ok(64 << 10));
    assert_eq!(parse_stack_size("64KiB"), Ok(64 << 10));
    assert_eq!(parse_stack_size(" 64 kb "), Ok(64 << 10));
    assert_eq!(parse_stack_size("1m"), Ok(1 << 20));
    assert_eq!(parse_stack_size("1MiB"), Ok(1 << 20));
    assert_eq!(parse_stack_size("1g"), Ok(1 << 30));
    assert_eq!(parse_stack_size("16k"), Ok(MIN_STACK_SIZE));
    for malformed in ["", "k", "64 q", "-64k", "6.5k", "64kk", "0x100000"] {
        let error = parse_stack_size(malformed).unwrap_err();
        assert!(error.contains("cannot parse"), "{malformed:?}: {error}");
    }
    assert!(parse_stack_size("15k")
        .unwrap_err()
        .contains("below the minimum of 16 KiB"));
    assert!(parse_stack_size("0")
        .unwrap_err()
        .contains("below the minimum"));
    assert!(parse_stack_size("2g")
        .unwrap_err()
        .contains("exceeds the maximum of 1024 MiB"));
    assert!(parse_stack_size("99999999999999999999999")
        .unwrap_err()
        .contains("exceeds"));
    assert!(parse_stack_size("18446744073709551615k")
        .unwrap_err()
        .contains("exceeds"));
}

#[test]
fn sizes_are_formatted_in_kib_or_whole_mib() {
    assert_eq!(format_size(64 << 10), "64 KiB");
    assert_eq!(format_size(1 << 20), "1 MiB");
    assert_eq!(format_size((1 << 20) + 4096), "1028 KiB");
    assert_eq!(format_size(100), "100 bytes");
}

#[test]
fn guard_sits_directly_below_the_usable_stack() {
    let page = page_size();
    let stack = alloc(DEFAULT_STACK_SIZE).unwrap();
    let (guard_lo, guard_hi) = stack.guard_range();
    let top = stack.top();
    assert_eq!(guard_hi - guard_lo, page);
    assert_eq!(top - guard_hi, DEFAULT_STACK_SIZE);
    assert_eq!(
        stack.limit().get(),
        guard_lo,
        "corosensei's limit includes the guard"
    );
    assert_eq!(top % page, 0);
    assert_eq!(top % corosensei::stack::STACK_ALIGNMENT, 0);
    // The whole usable range is writable.
    touch(guard_hi);
    touch(top - 1);
}

#[test]
fn guard_mode_is_decided_once() {
    let mode = guard_mode();
    assert!(
        mode == "MADV_GUARD_INSTALL" || mode == "mprotect(PROT_NONE)",
        "{mode}"
    );
    assert_eq!(guard_mode(), mode);
    eprintln!("guard mode on this kernel: {mode}");
}

/// The child writes to a stack's guard page and must die of SIGSEGV before printing "survived".
pub(super) fn assert_guard_write_faults(test_path: &str, scenario: &str) {
    let output = run_child(test_path, scenario);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("child: writing to the guard"),
        "the child did not get to the write"
    );
    assert!(!stderr.contains("child: survived"));
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSEGV),
        "{:?}",
        output.status
    );
}

/// In a child: forces `mode` if given, takes stacks, writes to the guard of the last one.
fn write_to_guard_in_child(mode: Option<GuardMode>) -> ! {
    if let Some(mode) = mode {
        assert!(slab::force_guard_mode(mode));
    }
    let maps_before = slab::map_count();
    let stacks: Vec<Stack> = (0..10)
        .map(|_| alloc(DEFAULT_STACK_SIZE).unwrap())
        .collect();
    let maps_after = slab::map_count();
    eprintln!(
        "child: mode {}, mappings {maps_before} -> {maps_after} for 10 stacks",
        guard_mode()
    );
    if mode == Some(GuardMode::ProtNone) {
        assert!(
            maps_after >= maps_before + 19,
            "mprotect guards split the slab"
        );
    }
    // (A stack trimmed to cold keeps its guard too: `trim_tests`.)
    let reused = stacks.into_iter().last().unwrap();
    let (guard_lo, guard_hi) = reused.guard_range();
    touch(guard_hi);
    eprintln!("child: writing to the guard");
    touch(guard_lo + 100);
    eprintln!("child: survived");
    std::process::exit(0);
}

#[test]
fn write_to_guard_faults() {
    if child_scenario().as_deref() == Some("guard") {
        write_to_guard_in_child(None);
    }
    assert_guard_write_faults("runtime::stack::tests::write_to_guard_faults", "guard");
}

#[test]
fn write_to_mprotect_guard_faults() {
    if child_scenario().as_deref() == Some("mprotect_guard") {
        write_to_guard_in_child(Some(GuardMode::ProtNone));
    }
    assert_guard_write_faults(
        "runtime::stack::tests::write_to_mprotect_guard_faults",
        "mprotect_guard",
    );
}

#[test]
fn freed_stack_is_reused() {
    // A size no other test uses, so that parallel tests do not take our stack.
    let size = MIN_STACK_SIZE + 3 * page_size();
    let first = alloc(size).unwrap();
    let top = first.top();
    free(first);
    let second = alloc(size).unwrap();
    assert_eq!(
        second.top(),
        top,
        "the most recently freed stack comes back first"
    );
    drop(second);
    assert_eq!(pool::stats(size).hot, 1);
}

#[test]
fn cache_reuses_without_the_pool_and_spills_in_batches() {
    let size = MIN_STACK_SIZE + 5 * page_size();
    let mut cache = StackCache::with_size(size).unwrap();
    assert_eq!(cache.cached_size(), size);
    let stack = cache.get(size).unwrap();
    let top = stack.top();
    // The refill took a batch: the rest wait in the cache.
    assert_eq!(cache.len(), CACHE_BATCH - 1);
    cache.put(stack);
    let again = cache.get(size - 1).unwrap();
    assert_eq!(
        again.top(),
        top,
        "a size that rounds to the cached size is served from the cache"
    );
    cache.put(again);
    assert_eq!(pool::stats(size).hot, 0, "nothing went through the pool");

    let mut taken: Vec<Stack> = (0..CACHE_CAPACITY + 1)
        .map(|_| cache.get(size).unwrap())
        .collect();
    let tops: HashSet<usize> = taken.iter().map(|stack| stack.top()).collect();
    assert_eq!(tops.len(), taken.len(), "no stack handed out twice");
    for stack in taken.drain(..) {
        cache.put(stack);
    }
    assert!(cache.len() <= CACHE_CAPACITY);
    let in_pool = pool::stats(size).hot;
    assert_eq!(
        cache.len() + in_pool,
        CACHE_CAPACITY + CACHE_BATCH,
        "every stack is somewhere"
    );
    assert!(in_pool >= CACHE_BATCH);

    // A different size bypasses the cache.
    let other = cache.get(size + page_size()).unwrap();
    assert_eq!(other.usable_size(), size + page_size());
    cache.put(other);
    assert_eq!(pool::stats(size + page_size()).hot, 1);

    let cached = cache.len();
    cache.drain();
    assert_eq!(cache.len(), 0);
    assert_eq!(pool::stats(size).hot, in_pool + cached);
}

#[test]
fn concurrent_caches_never_share_a_stack() {
    let size = MIN_STACK_SIZE + 7 * page_size();
    let live: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let live = Arc::clone(&live);
            std::thread::spawn(move || {
                let mut cache = StackCache::with_size(size).unwrap();
                let mut held: Vec<Stack> = Vec::new();
                for round in 0..20_000u64 {
                    // Hold a varying number so that caches spill to and refill from the pool.
                    let want = ((round * 7 + thread * 13) % 150) as usize;
                    while held.len() < want {
                        let stack = cache.get(size).unwrap();
                        let marker = (thread << 32) | round;
                        assert!(
                            live.lock().unwrap().insert(stack.top()),
                            "stack handed out twice"
                        );
                        // SAFETY: the word below the top of a stack we own.
                        unsafe { std::ptr::write_volatile((stack.top() - 8) as *mut u64, marker) };
                        held.push(stack);
                    }
                    while held.len() > want / 2 {
                        let stack = held.swap_remove(round as usize % held.len());
                        // SAFETY: as above; the marker must be ours still.
                        let marker =
                            unsafe { std::ptr::read_volatile((stack.top() - 8) as *const u64) };
                        assert_eq!(marker >> 32, thread, "someone else wrote on our stack");
                        assert!(live.lock().unwrap().remove(&stack.top()));
                        if round % 3 == 0 {
                            free(stack);
                        } else {
                            cache.put(stack);
                        }
                    }
                }
                for stack in held {
                    assert!(live.lock().unwrap().remove(&stack.top()));
                    cache.put(stack);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(live.lock().unwrap().is_empty());
}

#[test]
fn ordinary_code_runs_on_a_default_stack() {
    let stack = alloc(DEFAULT_STACK_SIZE).unwrap();
    let mut coroutine = Coroutine::with_stack(stack, |yielder, input: u32| {
        let text = format!("{input:>5}|{:?}", vec![1, 2]);
        let caught = std::panic::catch_unwind(|| panic!("expected test panic"));
        assert!(caught.is_err());
        yielder.suspend(text.len() as u32);
        input * 2
    });
    assert!(matches!(coroutine.resume(21), CoroutineResult::Yield(12)));
    assert!(matches!(coroutine.resume(0), CoroutineResult::Return(42)));
    let stack = coroutine.into_stack();
    assert_eq!(stack.usable_size(), DEFAULT_STACK_SIZE);
}

#[test]
fn mprotect_mode_reports_the_map_count_limit() {
    if child_scenario().as_deref() == Some("map_limit") {
        assert!(slab::force_guard_mode(GuardMode::ProtNone));
        let limit = slab::max_map_count();
        let headroom = 2_000;
        let to_use = limit.saturating_sub(slab::map_count() + headroom);
        if to_use > 1_000_000 {
            eprintln!(
                "child: vm.max_map_count = {limit} is too high to exhaust in a test; skipping"
            );
            std::process::exit(0);
        }
        // Use up mappings: every other page of one region made PROT_NONE splits it.
        let page = page_size();
        let region = slab::map_anonymous_for_tests(2 * to_use * page / 2 + page);
        for index in 0..to_use / 2 {
            // SAFETY: pages of our own scratch region, which nothing uses.
            unsafe {
                libc::mprotect(
                    (region + 2 * index * page) as *mut libc::c_void,
                    page,
                    libc::PROT_NONE,
                )
            };
        }
        let mut stacks = Vec::new();
        let error = loop {
            match alloc(MIN_STACK_SIZE) {
                Ok(stack) => stacks.push(stack),
                Err(error) => break error,
            }
            assert!(stacks.len() < headroom, "the limit never hit");
        };
        eprintln!("child: {} stacks before: {error}", stacks.len());
        assert_eq!(error.kind(), std::io::ErrorKind::OutOfMemory);
        // Freeing one makes the next allocation succeed again, from the pool.
        drop(stacks.pop());
        let again = alloc(MIN_STACK_SIZE).expect("a freed stack is reusable at the limit");
        stacks.push(again);
        assert!(alloc(MIN_STACK_SIZE).is_err());
        std::process::exit(0);
    }
    let output = run_child(
        "runtime::stack::tests::mprotect_mode_reports_the_map_count_limit",
        "map_limit",
    );
    assert!(output.status.success(), "{:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("skipping") {
        return;
    }
    let limit = slab::max_map_count();
    let expected = format!(
        "gort: cannot guard another goroutine stack: the process has hit vm.max_map_count ({} mappings, ~",
        if limit == 65_530 { "65,530".to_string() } else { limit.to_string() }
    );
    if limit == 65_530 {
        assert!(stderr.contains(&expected), "{stderr}");
    }
    assert!(stderr.contains(
        "guarded stacks without MADV_GUARD_INSTALL); raise it with `sysctl -w vm.max_map_count="
    ));
    assert!(stderr.contains("` or use a kernel ≥ 6.13"));
}

/// Resident bytes (Rss) of the mappings that contain any of `addresses`, from /proc/self/smaps.
fn resident_bytes_of_mappings_containing(addresses: &[usize]) -> usize {
    let mut sorted = addresses.to_vec();
    sorted.sort_unstable();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut total_kib = 0;
    let mut current_holds_one = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let start = usize::from_str_radix(start, 16).unwrap();
            let end = usize::from_str_radix(end, 16).unwrap();
            // A stack top is one past its last byte: it lies in (start, end].
            let index = sorted.partition_point(|&address| address <= start);
            current_holds_one = index < sorted.len() && sorted[index] <= end;
        } else if current_holds_one && first == "Rss:" {
            total_kib += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap();
        }
    }
    total_kib * 1024
}

/// `VmPTE` (page-table memory) from /proc/self/status, in bytes.
fn page_table_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmPTE:"))
        .unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 1024
}

/// Figures for the report; run alone, in release:
/// `cargo test --release --lib runtime::stack::tests::measure_<name> -- --exact --ignored --nocapture`,
/// optionally with `GORT_MEASURE_STACK_SIZE=64k` (each in its own process: page-table figures
/// are only right in a fresh one).
fn measured_stack_size() -> usize {
    std::env::var("GORT_MEASURE_STACK_SIZE")
        .map_or(DEFAULT_STACK_SIZE, |text| parse_stack_size(&text).unwrap())
}

#[test]
#[ignore = "measurement: prints figures, takes a few seconds"]
fn measure_resident_bytes_per_minimal_goroutine_stack() {
    const COUNT: usize = 100_000;
    let size = measured_stack_size();
    let page_tables_before = page_table_bytes();
    let mut coroutines = Vec::with_capacity(COUNT);
    let mut tops = Vec::with_capacity(COUNT);
    let started = std::time::Instant::now();
    for _ in 0..COUNT {
        let stack = alloc(size).unwrap();
        tops.push(stack.top());
        let mut coroutine = Coroutine::with_stack(stack, |yielder, ()| yielder.suspend(()));
        assert!(matches!(coroutine.resume(()), CoroutineResult::Yield(())));
        coroutines.push(coroutine);
    }
    let elapsed = started.elapsed();
    let resident = resident_bytes_of_mappings_containing(&tops);
    let page_tables = page_table_bytes() - page_tables_before;
    eprintln!(
        "MEASURE {COUNT} suspended coroutines on {} stacks ({}): stack resident {:.0} bytes/stack, page tables {:.0} bytes/stack; create+alloc+resume {:.2} us each (fresh carving)",
        format_size(size),
        guard_mode(),
        resident as f64 / COUNT as f64,
        page_tables as f64 / COUNT as f64,
        elapsed.as_secs_f64() * 1e6 / COUNT as f64,
    );
    drop(coroutines);
}

#[test]
#[ignore = "measurement: prints figures, takes a few seconds"]
fn measure_mappings_with_200k_stacks_and_steady_state_cost() {
    const COUNT: usize = 200_000;
    let size = measured_stack_size();
    let maps_before = slab::map_count();
    let started = std::time::Instant::now();
    let stacks: Vec<Stack> = (0..COUNT).map(|_| alloc(size).unwrap()).collect();
    let carving = started.elapsed();
    let maps_after = slab::map_count();
    eprintln!(
        "MEASURE {COUNT} stacks of {} ({}): mappings {maps_before} -> {maps_after}; fresh alloc {:.2} us each",
        format_size(size),
        guard_mode(),
        carving.as_secs_f64() * 1e6 / COUNT as f64,
    );
    let started = std::time::Instant::now();
    drop(stacks);
    eprintln!(
        "MEASURE freeing {COUNT} into the pool (no trimming on the way back): {:.2} us each",
        started.elapsed().as_secs_f64() * 1e6 / COUNT as f64
    );
    let started = std::time::Instant::now();
    let trimmed = pool::trim_all_now();
    eprintln!(
        "MEASURE trimming {trimmed} of them (beyond {} hot): {:.2} us each",
        pool::hot_limit_for_tests(size),
        started.elapsed().as_secs_f64() * 1e6 / trimmed.max(1) as f64
    );

    const ROUNDS: u32 = 1_000_000;
    let mut cache = StackCache::with_size(size).unwrap();
    let started = std::time::Instant::now();
    for _ in 0..ROUNDS {
        let stack = cache.get(size).unwrap();
        cache.put(std::hint::black_box(stack));
    }
    let cached = started.elapsed();
    let started = std::time::Instant::now();
    for _ in 0..ROUNDS {
        free(std::hint::black_box(alloc(size).unwrap()));
    }
    let global = started.elapsed();
    eprintln!(
        "MEASURE steady state get+put: per-P cache {:.1} ns, global pool {:.1} ns",
        cached.as_secs_f64() * 1e9 / f64::from(ROUNDS),
        global.as_secs_f64() * 1e9 / f64::from(ROUNDS),
    );
}
