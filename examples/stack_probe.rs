//! Measures how much stack ordinary Rust code needs, to choose gort's default goroutine stack
//! size (`DEFAULT_STACK_SIZE` in `src/runtime/stack.rs` records the figures).
//!
//! Each workload runs on a fresh corosensei coroutine whose stack was first filled with a
//! pattern; afterwards the lowest overwritten byte gives the high-water mark, the deepest the
//! workload went. Run it in both profiles, since debug builds use far bigger frames:
//!
//! ```text
//! cargo run --example stack_probe
//! cargo run --release --example stack_probe
//! ```

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::ToSocketAddrs;

use corosensei::stack::{DefaultStack, Stack};
use corosensei::{Coroutine, CoroutineResult};

/// Big enough that no workload here can overflow it; only the touched part matters.
const PROBE_STACK_SIZE: usize = 8 << 20;
const PATTERN: u8 = 0xA5;

/// Runs `workload` on a pattern-filled coroutine stack and returns the bytes it used.
fn high_water_mark(workload: fn()) -> usize {
    let stack = DefaultStack::new(PROBE_STACK_SIZE).expect("mmap probe stack");
    let page = 4096;
    // The lowest page of the mapping is corosensei's guard page; everything above is usable.
    let usable_bottom = stack.limit().get() + page;
    let top = stack.base().get();
    // SAFETY: [usable_bottom, top) is the writable part of the stack we own and nothing runs
    // on it yet.
    unsafe { std::ptr::write_bytes(usable_bottom as *mut u8, PATTERN, top - usable_bottom) };
    let mut coroutine = Coroutine::with_stack(stack, move |_yielder, ()| workload());
    match coroutine.resume(()) {
        CoroutineResult::Return(()) => {}
        CoroutineResult::Yield(()) => unreachable!("the workloads never yield"),
    }
    let stack = coroutine.into_stack();
    // SAFETY: the coroutine has finished, so the stack is ours again and readable.
    let used =
        unsafe { std::slice::from_raw_parts(usable_bottom as *const u8, top - usable_bottom) };
    let untouched = used.iter().take_while(|&&byte| byte == PATTERN).count();
    drop(stack);
    top - usable_bottom - untouched
}

fn format_and_print() {
    let text = format!(
        "{:?} {:>8.3} {}",
        black_box(vec![1, 2, 3]),
        black_box(3.25_f64),
        "x"
    );
    println!("  (probe output) {text}");
    eprintln!("  (probe output) {:#?}", black_box(("pretty", 1u64 << 40)));
}

fn file_io() {
    let path = std::env::temp_dir().join(format!("gort-stack-probe-{}", std::process::id()));
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(b"some bytes for the probe").expect("write");
    drop(file);
    let mut text = String::new();
    std::fs::File::open(&path)
        .expect("open")
        .read_to_string(&mut text)
        .expect("read");
    std::fs::remove_file(&path).expect("remove");
    black_box(text);
}

fn recurse(depth: u32, accumulator: [u64; 4]) -> u64 {
    if depth == 0 {
        return accumulator.iter().sum();
    }
    let next = [
        accumulator[1],
        accumulator[2],
        accumulator[3],
        accumulator[0] ^ depth as u64,
    ];
    black_box(recurse(depth - 1, black_box(next))) + 1
}

fn moderate_recursion() {
    black_box(recurse(100, [1, 2, 3, 4]));
}

fn collections_and_sort() {
    let mut values: Vec<u64> = (0..10_000)
        .map(|i| (i * 2_654_435_761u64) % 1_000_003)
        .collect();
    values.sort_unstable();
    values.sort_by(|a, b| b.cmp(a));
    let map: std::collections::BTreeMap<u64, String> = values
        .iter()
        .take(500)
        .map(|v| (*v, v.to_string()))
        .collect();
    let hashed: std::collections::HashMap<_, _> = map.iter().collect();
    black_box(hashed.len());
}

fn panic_caught() {
    let result = std::panic::catch_unwind(|| panic!("probe panic {}", black_box(7)));
    assert!(result.is_err());
}

fn backtrace_printed() {
    let backtrace = std::backtrace::Backtrace::force_capture();
    let text = backtrace.to_string();
    black_box(text.len());
}

fn panic_with_backtrace_hook() {
    // The default hook prints the message and, with RUST_BACKTRACE=1, a symbolised backtrace:
    // this is the deepest thing ordinary code does on the way to a caught panic.
    std::env::set_var("RUST_BACKTRACE", "1");
    let result = std::panic::catch_unwind(|| panic!("probe panic with backtrace"));
    std::env::remove_var("RUST_BACKTRACE");
    assert!(result.is_err());
}

fn resolve_localhost() {
    // glibc's getaddrinfo (NSS modules) is known for large frames.
    let addresses: Vec<_> = "localhost:80".to_socket_addrs().expect("resolve").collect();
    black_box(addresses);
}

fn thread_spawn_join() {
    std::thread::spawn(|| black_box(1)).join().expect("join");
}

const WORKLOADS: [(&str, fn()); 9] = [
    ("format!/println!/eprintln!", format_and_print),
    ("std::fs create/write/read", file_io),
    ("recursion, depth 100", moderate_recursion),
    ("sort + BTreeMap + HashMap", collections_and_sort),
    ("panic + catch_unwind (no backtrace)", panic_caught),
    ("Backtrace::force_capture + Display", backtrace_printed),
    (
        "panic + catch_unwind, RUST_BACKTRACE=1",
        panic_with_backtrace_hook,
    ),
    ("ToSocketAddrs(\"localhost:80\")", resolve_localhost),
    ("thread::spawn + join", thread_spawn_join),
];

/// With an index argument: runs that workload twice in this (fresh) process and prints the cold
/// and warm high-water marks, since first uses (lazy statics, debug-info loading) go deeper.
/// Without: re-runs itself once per workload and tabulates.
fn main() {
    if let Some(index) = std::env::args().nth(1) {
        let (_, workload) = WORKLOADS[index.parse::<usize>().expect("workload index")];
        let cold = high_water_mark(workload);
        let warm = high_water_mark(workload);
        println!("RESULT {cold} {warm}");
        return;
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let program = std::env::current_exe().expect("current_exe");
    println!("stack high-water marks ({profile} build), each workload in a fresh process:");
    println!("  {:<42} {:>9} {:>9}", "workload", "cold", "warm");
    for (index, (name, _)) in WORKLOADS.iter().enumerate() {
        let output = std::process::Command::new(&program)
            .arg(index.to_string())
            .stderr(std::process::Stdio::null())
            .output()
            .expect("run probe child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find(|line| line.starts_with("RESULT "))
            .expect("RESULT line");
        let mut figures = line["RESULT ".len()..]
            .split(' ')
            .map(|f| f.parse::<usize>().unwrap());
        let (cold, warm) = (figures.next().unwrap(), figures.next().unwrap());
        println!(
            "  {name:<42} {:>6.1} KiB {:>6.1} KiB",
            cold as f64 / 1024.0,
            warm as f64 / 1024.0
        );
    }
}
