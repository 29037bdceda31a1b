//! The netpoller and the syscall handoff.
//!
//! - `tcp_echo_rtt`: one client and one echo server on 127.0.0.1; the client writes 64 bytes
//!   and reads the 64-byte echo, one round trip per iteration (the Go twin is `tcpEcho` in
//!   `benches/go/tcp.go`). Peers: gort at 1 and 2 procs (`set_maxprocs`), tokio current_thread
//!   and multi_thread (1 and 2 workers, with its I/O driver), and two OS threads with blocking
//!   std sockets (pinned to CPU 0 for `1proc`). Time per round trip.
//! - `blocking_call`: `gort::blocking` whose closure returns at once, from a goroutine: the
//!   cost of entering and leaving the syscall slot (the goal is under 100 ns). Peers: tokio's
//!   `block_in_place` (the same idea on tokio's multi-thread runtime) and a plain call.
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(dead_code)]
mod support;

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

use support::{affinity, arm_id};

const MESSAGE: usize = 64;

fn main() {
    let mut criterion = support::criterion();

    let mut group = criterion.benchmark_group("tcp_echo_rtt");
    for procs in support::PROCS {
        group.bench_function(arm_id(procs, "gort"), |b| {
            b.iter_custom(|n| gort_echo(procs, n))
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    group.bench_function(arm_id(1, "tokio_ct"), |b| {
        b.iter_custom(|n| tokio_echo(&rt, n))
    });
    drop(rt);
    for procs in support::PROCS {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(procs)
            .enable_io()
            .build()
            .unwrap();
        group.bench_function(arm_id(procs, "tokio_mt"), |b| {
            b.iter_custom(|n| tokio_echo(&rt, n))
        });
    }
    for procs in support::PROCS {
        group.bench_function(arm_id(procs, "std_thread"), |b| {
            b.iter_custom(|n| std_echo(procs, n))
        });
    }
    group.finish();

    let mut group = criterion.benchmark_group("blocking_call");
    group.bench_function(arm_id(1, "gort"), |b| b.iter_custom(gort_blocking));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    group.bench_function(arm_id(1, "tokio_block_in_place"), |b| {
        b.iter_custom(|n| tokio_block_in_place(&rt, n))
    });
    drop(rt);
    group.bench_function(arm_id(1, "plain_call"), |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(black_box(|| i)());
            }
            start.elapsed()
        })
    });
    group.finish();
    criterion.final_summary();
}

fn gort_echo(procs: usize, n: u64) -> Duration {
    gort::set_maxprocs(procs).expect("setting gort's maxprocs");
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_nodelay(true).unwrap();
        let mut buf = [0u8; MESSAGE];
        while conn.read_exact(&mut buf).is_ok() {
            if conn.write_all(&buf).is_err() {
                return;
            }
        }
    });
    let elapsed = gort::spawn(move || {
        let mut conn = gort::net::TcpStream::connect(addr).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut out = [0u8; MESSAGE];
        let mut back = [0u8; MESSAGE];
        let start = Instant::now();
        for i in 0..n {
            out[0] = i as u8;
            conn.write_all(&out).unwrap();
            conn.read_exact(&mut back).unwrap();
            assert_eq!(back[0], i as u8);
        }
        start.elapsed()
    })
    .join()
    .unwrap();
    server.join().unwrap();
    elapsed
}

fn tokio_echo(rt: &Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.set_nodelay(true).unwrap();
            let mut buf = [0u8; MESSAGE];
            while conn.read_exact(&mut buf).await.is_ok() {
                if conn.write_all(&buf).await.is_err() {
                    return;
                }
            }
        });
        let client = tokio::spawn(async move {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            conn.set_nodelay(true).unwrap();
            let mut out = [0u8; MESSAGE];
            let mut back = [0u8; MESSAGE];
            let start = Instant::now();
            for i in 0..n {
                out[0] = i as u8;
                conn.write_all(&out).await.unwrap();
                conn.read_exact(&mut back).await.unwrap();
                assert_eq!(back[0], i as u8);
            }
            start.elapsed()
        });
        let elapsed = client.await.unwrap();
        server.await.unwrap();
        elapsed
    })
}

fn std_echo(procs: usize, n: u64) -> Duration {
    // At 1 proc, both threads share CPU 0 (threads spawned while pinned inherit the pin).
    let _pin = (procs == 1).then(|| affinity::pin_current_thread_to_cpu0().unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_nodelay(true).unwrap();
        let mut buf = [0u8; MESSAGE];
        while conn.read_exact(&mut buf).is_ok() {
            if conn.write_all(&buf).is_err() {
                return;
            }
        }
    });
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut out = [0u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    let start = Instant::now();
    for i in 0..n {
        out[0] = i as u8;
        conn.write_all(&out).unwrap();
        conn.read_exact(&mut back).unwrap();
        assert_eq!(back[0], i as u8);
    }
    let elapsed = start.elapsed();
    drop(conn);
    server.join().unwrap();
    elapsed
}

fn gort_blocking(n: u64) -> Duration {
    gort::set_maxprocs(1).expect("setting gort's maxprocs");
    gort::spawn(move || {
        let start = Instant::now();
        for i in 0..n {
            black_box(gort::blocking(|| black_box(i)));
        }
        start.elapsed()
    })
    .join()
    .unwrap()
}

fn tokio_block_in_place(rt: &Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..n {
                black_box(tokio::task::block_in_place(|| black_box(i)));
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}
