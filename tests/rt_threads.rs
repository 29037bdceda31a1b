//! No worker thread is started for nothing. A program that makes no blocking call runs on at
//! most `maxprocs` Ms however often they go to sleep and are woken: a wake-up that finds no
//! sleeping M while one is on its way to sleep owes that M the P instead of starting a thread
//! (`runtime/idle.rs`, "Arriving Ms"). Before, a wake-up in that window started a third M in
//! about half of the 2-proc HTTP runs of `benches/http`, and three Ms taking turns on two
//! CPUs doubled the p99 latency.
//!
//! Its own test binary: the count of Ms is process-wide, and tests that call `blocking`
//! start Ms beyond `maxprocs` on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;

use gort::net::TcpListener;

const PROCS: usize = 2;
/// Connections per client thread; each client thread sends on all of them, then reads all
/// the answers, as `wrk` does.
const CONNS: usize = 16;
const CLIENT_THREADS: usize = 2;
const ROUNDS: usize = 1_500;
/// Channel round trips between a plain thread and goroutines: each readies a G from outside
/// the runtime (the global queue and `wakep`) while the Ms go idle between messages.
const PINGS: usize = 20_000;

#[test]
fn wake_ups_while_ms_go_idle_start_no_thread_beyond_maxprocs() {
    gort::set_maxprocs(PROCS).expect("maxprocs");

    // Loopback request/answer traffic: Gs wait in the netpoller, Ms sleep and wake with it.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server = gort::go!(move || {
        for _ in 0..CONNS * CLIENT_THREADS {
            let (conn, _) = listener.accept().expect("accept");
            gort::go!(move || {
                let mut buf = [0u8; 8];
                for _ in 0..ROUNDS {
                    (&conn).read_exact(&mut buf).expect("read");
                    (&conn).write_all(&buf).expect("write");
                }
            });
        }
    });
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut conns: Vec<TcpStream> = (0..CONNS)
                    .map(|_| TcpStream::connect(addr).expect("connect"))
                    .collect();
                for c in &conns {
                    c.set_nodelay(true).expect("nodelay");
                }
                for round in 0..ROUNDS {
                    let msg = ((t * ROUNDS + round) as u64).to_le_bytes();
                    for c in &mut conns {
                        c.write_all(&msg).expect("client write");
                    }
                    for c in &mut conns {
                        let mut answer = [0u8; 8];
                        c.read_exact(&mut answer).expect("client read");
                        assert_eq!(answer, msg, "each answer is its own request's");
                    }
                }
            })
        })
        .collect();

    // Meanwhile, a plain thread and two goroutines bounce values over channels.
    let (to_gs, from_thread) = gort::chan::<u64>(0);
    let (to_thread, from_gs) = gort::chan::<u64>(0);
    let bouncers: Vec<_> = (0..2)
        .map(|_| {
            let (rx, tx) = (from_thread.clone(), to_thread.clone());
            gort::go!(move || {
                while let Ok(v) = rx.recv() {
                    tx.send(v + 1).expect("send back");
                }
            })
        })
        .collect();
    drop(to_thread);
    let mut sum = 0;
    for i in 0..PINGS as u64 {
        to_gs.send(i).expect("ping");
        sum += from_gs.recv().expect("pong") - i;
    }
    assert_eq!(sum, PINGS as u64, "every ping answered once");
    drop(to_gs);
    for b in bouncers {
        b.join().expect("bouncer");
    }
    for c in clients {
        c.join().expect("client thread");
    }
    server.join().expect("server");

    let threads = gort::metrics().threads;
    assert!(
        threads <= PROCS,
        "{threads} Ms started for {PROCS} procs with no blocking call"
    );
}
