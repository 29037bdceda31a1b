//! A short guided run through gort: `cargo run --release --example tour`.
//!
//! Each step prints what it shows and what it measured on this machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::go;

fn step(title: &str) {
    println!("\n== {title}");
}

fn main() {
    println!("gort tour: Go's runtime model in Rust");
    println!(
        "maxprocs = {} (GOMAXPROCS; set GORT_MAXPROCS to change)",
        gort::maxprocs()
    );

    step("1. go! and join");
    let h = go!(|| (1..=10u64).product::<u64>());
    println!("a goroutine computed 10! = {}", h.join().unwrap());
    let named = go!(gort::Builder::new().name("greeter"), || {
        let me = gort::current().unwrap();
        format!(
            "hello from goroutine {} named {:?}",
            me.id(),
            me.name().unwrap()
        )
    });
    println!("{}", named.join().unwrap());

    step("2. a million goroutines");
    let n = 1_000_000;
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let start = Instant::now();
    gort::run(move || {
        for _ in 0..n {
            let d = d.clone();
            go!(move || {
                d.fetch_add(1, Ordering::Relaxed);
            });
        }
        while d.load(Ordering::Relaxed) < n {
            gort::yield_now();
        }
    });
    let took = start.elapsed();
    println!(
        "spawned and finished {} goroutines in {:?} ({:.0} ns each)",
        done.load(Ordering::Relaxed),
        took,
        took.as_nanos() as f64 / n as f64
    );

    step("3. switching between goroutines");
    let old = gort::set_maxprocs(1).unwrap();
    let switches = 1_000_000u32;
    let start = Instant::now();
    let a = go!(move || (0..switches / 2).for_each(|_| gort::yield_now()));
    let b = go!(move || (0..switches / 2).for_each(|_| gort::yield_now()));
    a.join().unwrap();
    b.join().unwrap();
    let took = start.elapsed();
    println!(
        "{switches} yields between two goroutines on one proc: {:.1} ns per switch",
        took.as_nanos() as f64 / switches as f64
    );
    gort::set_maxprocs(old).unwrap();

    step("4. GOMAXPROCS: the same CPU-bound job at 1..N procs");
    let max = std::thread::available_parallelism().map_or(1, |n| n.get());
    for procs in 1..=max {
        gort::set_maxprocs(procs).unwrap();
        let start = Instant::now();
        let hs: Vec<_> = (0..8).map(|i| go!(move || busy_work(i))).collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        println!(
            "procs = {procs}: 8 CPU-bound goroutines in {:?} (checksum {sum})",
            start.elapsed()
        );
    }
    gort::set_maxprocs(old).unwrap();

    step("5. the live-goroutine counter (runtime.NumGoroutine)");
    let baseline = gort::num_goroutines();
    let sleepers: Vec<_> = (0..10_000)
        .map(|_| go!(|| gort::sleep(Duration::from_millis(200))))
        .collect();
    println!(
        "baseline {baseline}, with 10,000 sleepers: {}",
        gort::num_goroutines()
    );
    for h in sleepers {
        h.join().unwrap();
    }
    println!(
        "after they woke and were joined: {}",
        gort::num_goroutines()
    );
    let m = gort::metrics();
    println!(
        "metrics: {} Ms started, {} steals moved {} goroutines",
        m.threads, m.steals, m.stolen
    );

    step("6. a panic in a goroutine is caught by join (the runtime goes on)");
    let h = go!(gort::Builder::new().name("doomed"), || -> u32 {
        panic!("something went wrong")
    });
    match h.join() {
        Ok(_) => unreachable!(),
        Err(e) => println!("join returned an error: {e}"),
    }
    println!(
        "and the runtime still works: {}",
        go!(|| "yes").join().unwrap()
    );

    step("7. channels, close and select");
    channels_and_select();

    step("8. WaitGroup, a context with a timeout, a worker pool");
    sync_context_pool();

    step("9. sockets and blocking calls: the netpoller and the syscall handoff");
    net_and_syscalls();

    step("10. a goroutine leak, found by the tracker and the goroutine dump");
    // The tracker takes its baseline now; then 100 subscribers wait on a channel whose
    // sender is kept but never used: the classic leak (a receive nobody sends to).
    let tracker = gort::leak::Tracker::new(
        gort::leak::TrackerConfig::new()
            .leak_threshold(50)
            .stack_trace_on_leak(false)
            .top_groups(3)
            .on_report(|report| println!("{report}")),
    );
    let (forgotten_tx, rx) = gort::chan::<u64>(0);
    let subscribers: Vec<_> = (0..100)
        .map(|_| {
            let rx = rx.clone();
            go!(gort::Builder::new().name("subscriber"), move || {
                let _ = rx.recv();
            })
        })
        .collect();
    // The report (printed by the callback above) names the spawn site, what they wait on and
    // for how long; `leak::sites()` has the same count live, at the cost of one atomic per spawn.
    gort::sleep(Duration::from_millis(20));
    tracker.check_now();
    if let Some(site) = gort::leak::sites().first() {
        println!(
            "busiest go! site: {} with {} live goroutines",
            site.location, site.live
        );
    }
    // The fix: close the channel (here: drop its last sender); every receive returns.
    drop(forgotten_tx);
    subscribers.into_iter().for_each(|h| h.join().unwrap());
    println!(
        "after closing the channel: {}",
        match tracker.check_now() {
            None => "the tracker has nothing to report".to_owned(),
            Some(report) => report.to_string(),
        }
    );
}

fn sync_context_pool() {
    // sync.WaitGroup: wait for a fan-out of goroutines.
    let wg = gort::sync::WaitGroup::new();
    let total = Arc::new(AtomicUsize::new(0));
    for i in 0..1000 {
        let (wg, total) = (wg.clone(), total.clone());
        wg.add(1);
        go!(move || {
            total.fetch_add(i, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    println!(
        "a WaitGroup waited for 1,000 goroutines (sum {})",
        total.load(Ordering::Relaxed)
    );

    // context.WithTimeout: a slow worker is told to stop through ctx.done().
    let (ctx, _cancel) = gort::Context::background().with_timeout(Duration::from_millis(30));
    let worker_ctx = ctx.clone();
    let worker = go!(move || {
        let mut rounds = 0u32;
        loop {
            gort::select! {
                recv(worker_ctx.done()) -> _ => return (rounds, worker_ctx.err()),
                default => {
                    rounds += 1;
                    gort::sleep(Duration::from_millis(1));
                }
            }
        }
    });
    let (rounds, err) = worker.join().unwrap();
    println!("a worker stopped by a 30 ms context after {rounds} rounds: err = {err:?}");

    // A worker pool with stats: one task panics, its worker goes on.
    let pool = gort::pool::Pool::new(4);
    for i in 0..10_000u32 {
        pool.submit(move || {
            if i == 5_000 {
                panic!("task {i} failed");
            }
            std::hint::black_box(i);
        })
        .unwrap();
    }
    pool.wait();
    let stats = pool.stats();
    println!(
        "a pool of 4 workers: submitted {}, completed {}, failed {}",
        stats.submitted, stats.completed, stats.failed
    );
}

fn channels_and_select() {
    // A producer sends on a buffered channel and closes it; `for` over the receiver is Go's
    // `range ch` and ends at close.
    let (tx, rx) = gort::chan::<u64>(16);
    go!(move || {
        for i in 1..=100 {
            tx.send(i).unwrap();
        }
        tx.close().unwrap();
    });
    let sum: u64 = rx.into_iter().sum();
    println!("received 1..=100 over a buffered channel until close: sum {sum}");

    // An unbuffered ping-pong between two goroutines, timed.
    let (ping_tx, ping_rx) = gort::chan::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::<u64>(0);
    let rounds = 1_000_000;
    let echo = go!(move || {
        for v in ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let per_round_trip = gort::run(move || {
        let start = Instant::now();
        let mut v = 0;
        for _ in 0..rounds {
            ping_tx.send(v).unwrap();
            v = pong_rx.recv().unwrap();
        }
        assert_eq!(v, rounds);
        start.elapsed().as_nanos() as f64 / rounds as f64
    });
    println!("{rounds} unbuffered round trips between two goroutines: {per_round_trip:.0} ns each");
    echo.join().unwrap();

    // select: whichever channel is ready; `default` when none is; a timeout arm.
    let (a_tx, a_rx) = gort::chan::<&str>(1);
    let (_b_tx, b_rx) = gort::chan::<&str>(1);
    gort::select! {
        recv(a_rx) -> v => println!("select with nothing ready: {v:?}"),
        default => println!("select with nothing ready took `default`"),
    }
    a_tx.send("hello").unwrap();
    gort::select! {
        recv(a_rx) -> v => println!("select picked the ready channel: {:?}", v.unwrap()),
        recv(b_rx) -> v => println!("unexpected: {v:?}"),
    }
    let start = Instant::now();
    gort::select! {
        recv(b_rx) -> v => println!("unexpected: {v:?}"),
        recv(gort::time::after(Duration::from_millis(20))) -> _ => {
            println!("a select with a 20 ms timeout gave up after {:?}", start.elapsed())
        }
    }
}

/// A loopback echo server with a few clients (each a goroutine blocked in plain `read`s the
/// netpoller wakes), then, on one proc, a goroutine stuck in a 50 ms blocking call while
/// another keeps counting: the monitor hands the proc to another thread.
fn net_and_syscalls() {
    use std::io::{Read, Write};
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = listener.clone();
    go!(move || {
        while let Ok((conn, _)) = server.accept() {
            go!(move || {
                let _ = std::io::copy(&mut &conn, &mut &conn);
            });
        }
    });
    let start = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|i| {
            go!(move || {
                let mut c = gort::net::TcpStream::connect(addr).unwrap();
                let mut back = [0u8; 5];
                for _ in 0..1_000 {
                    c.write_all(b"hello").unwrap();
                    c.read_exact(&mut back).unwrap();
                }
                i
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    println!(
        "4 clients x 1,000 echoes over 127.0.0.1 in {:?} ({:.1} us per round trip per client)",
        start.elapsed(),
        start.elapsed().as_secs_f64() * 1e6 / 1_000.0
    );
    listener.close();

    let old = gort::set_maxprocs(1).unwrap();
    let threads_before = gort::metrics().threads;
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let counting = go!(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(80) {
            c.fetch_add(1, Ordering::Relaxed);
            gort::yield_now();
        }
    });
    let c = counter.clone();
    let during = go!(move || {
        gort::blocking(|| {
            let before = c.load(Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(50)); // a slow system call
            c.load(Ordering::Relaxed) - before
        })
    })
    .join()
    .unwrap();
    counting.join().unwrap();
    println!(
        "maxprocs 1: while one goroutine sat 50 ms in gort::blocking, another counted to {during} \
         (threads: {threads_before} before, {} after the handoff)",
        gort::metrics().threads
    );
    gort::set_maxprocs(old).unwrap();
}

fn busy_work(seed: u64) -> u64 {
    let mut x = seed + 1;
    for i in 0..20_000_000u64 {
        // black_box keeps the compiler from shortening the chain of multiplications.
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x >> 60
}
