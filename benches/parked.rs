//! Memory per parked green thread (anchors' e): not a criterion bench, a table.
//!
//! For each peer a fresh child process reads VmRSS, spawns N tasks that each block forever on
//! a receive, waits until every task has started, reads VmRSS again and prints
//! (after − before) / N. The runtime is built before the first reading, so its fixed cost is
//! not in the figure.
//!
//! ```text
//! cargo bench --bench parked                      # every peer, N = 100,000
//! cargo bench --bench parked -- --runs 5          # median [min–max] of 5 processes per peer
//! cargo bench --bench parked -- --n 1000000       # N for every green-thread peer
//! cargo bench --bench parked -- --gort-million    # gort alone with 1,000,000 parked Gs
//! cargo bench --bench parked -- --peer tokio_mt_oneshot --peer may_mpsc
//! ```
//!
//! Peers: `gort` (maxprocs 2; gort has no channel yet, so each goroutine blocks in
//! `JoinHandle::join` of the next one and the last sleeps for good: a chain of parked Gs),
//! `tokio_mt_oneshot` (multi_thread, 2 workers; a `oneshot::Receiver` per task, the
//! senders kept in a Vec), `tokio_mt_pending` (`std::future::pending()`), `may_mpsc` (an
//! `mpsc` channel per coroutine, spawned from the main thread; may runs out of memory maps
//! near 32.7k coroutines here, which the table reports as a failure), `may_mpsc_30k` (the same
//! at a size may can hold), `std_thread` (10,000 threads blocked on a crossbeam `recv`; VmRSS
//! leaves out the kernel's per-thread memory).
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::rss::vm_rss_bytes;
use support::start_line::StartLine;
use support::{child, runtimes};

/// Parked tasks per green-thread peer unless `--n` says otherwise.
const DEFAULT_TASKS: u64 = 100_000;
/// What `--gort-million` parks.
const MILLION: u64 = 1_000_000;
/// A size may can hold under the default vm.max_map_count.
const MAY_FITTING_TASKS: u64 = 30_000;
/// OS threads in the std baseline.
const STD_THREADS: u64 = 10_000;
/// Exit status of a child whose runtime failed (may's stack allocation).
const FAILED_EXIT: i32 = 3;

/// A peer: its row name and how many tasks it parks given the `--n` value.
struct Peer {
    name: &'static str,
    tasks: fn(u64) -> u64,
}

const PEERS: &[Peer] = &[
    Peer {
        name: "gort",
        tasks: |n| n,
    },
    Peer {
        name: "tokio_mt_oneshot",
        tasks: |n| n,
    },
    Peer {
        name: "tokio_mt_pending",
        tasks: |n| n,
    },
    Peer {
        name: "may_mpsc",
        tasks: |n| n,
    },
    Peer {
        name: "may_mpsc_30k",
        tasks: |_| MAY_FITTING_TASKS,
    },
    Peer {
        name: "std_thread",
        tasks: |_| STD_THREADS,
    },
];

fn main() {
    if let Some((workload, args)) = child::request() {
        let &[tasks] = args.as_slice() else {
            panic!("{workload}: expected the task count")
        };
        run_child(&workload, tasks as usize);
        return;
    }
    let options = Options::from_args();
    if options.filtered_out {
        return;
    }
    println!(
        "{:<18} {:>9}  {:>12}  [min - max] over runs, or why it failed",
        "peer", "tasks", "bytes/task"
    );
    for peer in PEERS {
        if !options.selects(peer.name) {
            continue;
        }
        let tasks = (peer.tasks)(options.tasks);
        let mut results = Vec::new();
        let mut failure = None;
        for _ in 0..options.runs {
            match measure(peer.name, tasks) {
                Ok(bytes) => results.push(bytes),
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            }
        }
        match failure {
            Some(why) => println!("{:<18} {:>9}  {:>12}  {}", peer.name, tasks, "FAIL", why),
            None => {
                results.sort_by(f64::total_cmp);
                let median = results[results.len() / 2];
                println!(
                    "{:<18} {:>9}  {:>12.0}  [{:.0} - {:.0}] n={}",
                    peer.name,
                    tasks,
                    median,
                    results[0],
                    results[results.len() - 1],
                    results.len()
                );
            }
        }
    }
}

/// Command-line options (after `cargo bench --bench parked --`).
struct Options {
    tasks: u64,
    runs: usize,
    peers: Vec<String>,
    /// A criterion-style filter on the command line names other benches only.
    filtered_out: bool,
}

impl Options {
    /// Parses this binary's options. `cargo bench -- …` hands the same arguments to every
    /// bench binary, so criterion's options are skipped (with a numeric value after them) and
    /// a bare word is a filter: this table runs only if some filter occurs in "parked".
    fn from_args() -> Options {
        let mut options = Options {
            tasks: DEFAULT_TASKS,
            runs: 1,
            peers: Vec::new(),
            filtered_out: false,
        };
        let mut filters = Vec::new();
        let mut args = std::env::args().skip(1).peekable();
        while let Some(arg) = args.next() {
            let mut value =
                |what: &str| args.next().unwrap_or_else(|| panic!("{arg} needs {what}"));
            match arg.as_str() {
                "--n" => options.tasks = value("a count").parse().expect("--n: not a number"),
                "--runs" => options.runs = value("a count").parse().expect("--runs: not a number"),
                "--peer" => options.peers.push(value("a peer name")),
                "--gort-million" => {
                    options.tasks = MILLION;
                    options.peers.push("gort".to_owned());
                }
                flag if flag.starts_with('-') => {
                    // `--bench` from cargo, or a criterion option meant for the other benches.
                    if args.peek().is_some_and(|next| next.parse::<f64>().is_ok()) {
                        args.next();
                    }
                }
                filter => filters.push(filter.to_owned()),
            }
        }
        options.filtered_out = !filters.is_empty()
            && !filters
                .iter()
                .any(|filter| "parked".contains(filter.as_str()));
        options
    }

    fn selects(&self, peer: &str) -> bool {
        self.peers.is_empty() || self.peers.iter().any(|wanted| wanted == peer)
    }
}

/// Runs one child for `peer` and returns bytes per parked task, or why it failed.
fn measure(peer: &str, tasks: u64) -> Result<f64, String> {
    let output = child::spawn_child(peer, &[tasks]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if let Some(at) = stdout.find("fail ") {
        // A failure report may span lines (a panic message): show it on one.
        return Err(stdout[at + "fail ".len()..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "));
    }
    let line = stdout.lines().last().unwrap_or("").trim();
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["ok", bytes, ..] if output.status.success() => {
            bytes.parse().map_err(|_| format!("child printed {line:?}"))
        }
        _ => {
            // A runtime that aborts (gort when a stack cannot be mapped) says why on stderr.
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or(line);
            Err(format!("{}: {why}", output.status))
        }
    }
}

/// Child side: park `tasks` tasks of `peer`, print "ok <bytes per task> <before> <after>".
fn run_child(peer: &str, tasks: usize) {
    install_failure_report();
    let (before, after) = match peer {
        "gort" => gort_parked(tasks),
        "tokio_mt_oneshot" => tokio_parked(tasks, true),
        "tokio_mt_pending" => tokio_parked(tasks, false),
        "may_mpsc" | "may_mpsc_30k" => may_parked(tasks),
        "std_thread" => std_thread_parked(tasks),
        other => panic!("unknown peer {other}"),
    };
    let per_task = after.saturating_sub(before) as f64 / tasks as f64;
    println!("ok {per_task:.0} {before} {after}");
    // The parked tasks never finish: leave without tearing anything down.
    std::process::exit(0);
}

fn tokio_parked(tasks: usize, with_oneshot: bool) -> (u64, u64) {
    let rt = runtimes::tokio_multi_thread(2);
    rt.block_on(async { tokio::spawn(async {}).await.expect("warm-up task") });
    let start_line = Arc::new(StartLine::new(tasks));
    let before = vm_rss_bytes();
    let spawner_line = Arc::clone(&start_line);
    let senders = rt.block_on(async move {
        let spawner = tokio::spawn(async move {
            let mut senders = Vec::with_capacity(if with_oneshot { tasks } else { 0 });
            for _ in 0..tasks {
                let start_line = Arc::clone(&spawner_line);
                if with_oneshot {
                    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
                    senders.push(sender);
                    tokio::spawn(async move {
                        start_line.count_down();
                        let _ = receiver.await;
                    });
                } else {
                    tokio::spawn(async move {
                        start_line.count_down();
                        std::future::pending::<()>().await;
                    });
                }
            }
            senders
        });
        spawner.await.expect("the spawner task panicked")
    });
    start_line.wait();
    let after = vm_rss_bytes();
    drop(std::hint::black_box(senders));
    (before, after)
}

/// Tasks spawned so far, for the failure report.
static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// A runtime that cannot allocate one more stack (may near 32.7k coroutines: two memory maps
/// per stack against vm.max_map_count) panics; the default hook would then try to print a
/// backtrace, which needs memory it cannot map, and hang. Report the failure and leave.
fn install_failure_report() {
    std::panic::set_hook(Box::new(|info| {
        let spawned = SPAWNED.load(Ordering::Relaxed);
        println!("fail after {spawned} live tasks: {info}");
        std::process::exit(FAILED_EXIT);
    }));
}

/// A long sleep for the goroutine at the end of the chain (it never needs to wake).
const FOREVER: Duration = Duration::from_secs(24 * 60 * 60);

fn gort_parked(tasks: usize) -> (u64, u64) {
    gort::set_maxprocs(2).expect("setting gort's maxprocs");
    gort::spawn(|| ()).join().expect("warm-up goroutine");
    let start_line = Arc::new(StartLine::new(tasks));
    let before = vm_rss_bytes();
    let spawner_line = Arc::clone(&start_line);
    let spawner = gort::spawn(move || {
        let line = Arc::clone(&spawner_line);
        let mut next = gort::spawn(move || {
            line.count_down();
            loop {
                gort::sleep(FOREVER);
            }
        });
        SPAWNED.store(1, Ordering::Relaxed);
        for spawned in 1..tasks {
            let line = Arc::clone(&spawner_line);
            let joined = next;
            next = gort::spawn(move || {
                line.count_down();
                let _ = joined.join();
            });
            SPAWNED.store(spawned + 1, Ordering::Relaxed);
        }
        // Dropping the head's handle detaches it; the runtime keeps parked goroutines alive.
        drop(next);
    });
    spawner.join().expect("the spawner goroutine panicked");
    start_line.wait();
    let after = vm_rss_bytes();
    (before, after)
}

fn may_parked(tasks: usize) -> (u64, u64) {
    runtimes::configure_may(2);
    runtimes::may_go(|| ()).join().expect("warm-up coroutine");
    let start_line = Arc::new(StartLine::new(tasks));
    let before = vm_rss_bytes();
    let mut senders = Vec::with_capacity(tasks);
    for spawned in 0..tasks {
        let (sender, receiver) = may::sync::mpsc::channel::<()>();
        senders.push(sender);
        let start_line = Arc::clone(&start_line);
        runtimes::may_go(move || {
            start_line.count_down();
            let _ = receiver.recv();
        });
        SPAWNED.store(spawned + 1, Ordering::Relaxed);
    }
    start_line.wait();
    let after = vm_rss_bytes();
    drop(std::hint::black_box(senders));
    (before, after)
}

fn std_thread_parked(threads: usize) -> (u64, u64) {
    let (sender, receiver) = crossbeam_channel::bounded::<()>(0);
    let start_line = Arc::new(StartLine::new(threads));
    let before = vm_rss_bytes();
    for _ in 0..threads {
        let receiver = receiver.clone();
        let start_line = Arc::clone(&start_line);
        std::thread::spawn(move || {
            start_line.count_down();
            let _ = receiver.recv();
        });
    }
    start_line.wait();
    let after = vm_rss_bytes();
    drop(std::hint::black_box(sender));
    (before, after)
}
