//! A TCP echo server on gort, and a load of clients to go with it.
//!
//! ```sh
//! cargo run --release --example echo                        # server + 1,000 clients, then exit
//! cargo run --release --example echo -- --serve 127.0.0.1:7000   # serve until killed
//! ```
//!
//! Every connection is a goroutine doing blocking `read`/`write_all`; the netpoller parks it
//! while its socket has nothing to say. The self-contained run starts the server on an
//! ephemeral loopback port, connects `--clients` goroutines (default 1,000) that each make
//! `--rounds` round trips (default 100), checks every echo and prints the rate.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gort::net::{TcpListener, TcpStream};

/// Echoes everything back until the client closes.
fn echo(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        match (&conn).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if (&conn).write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn serve(listener: TcpListener) {
    while let Ok((conn, _)) = listener.accept() {
        gort::go!(move || echo(conn));
    }
}

fn main() {
    let mut clients = 1_000usize;
    let mut rounds = 100usize;
    let mut serve_addr = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--serve" => serve_addr = Some(value()),
            "--clients" => clients = value().parse().expect("--clients N"),
            "--rounds" => rounds = value().parse().expect("--rounds N"),
            other => panic!("unknown argument {other:?} (--serve ADDR | --clients N --rounds N)"),
        }
    }
    if let Some(addr) = serve_addr {
        gort::run(move || {
            let listener = TcpListener::bind(&addr).expect("bind");
            eprintln!("echo: serving on {}", listener.local_addr().unwrap());
            serve(listener);
        });
        return;
    }
    gort::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let server = listener.clone();
        gort::go!(move || serve(server));
        let bytes = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let hs: Vec<_> = (0..clients)
            .map(|i| {
                let bytes = bytes.clone();
                gort::go!(move || {
                    let mut conn = TcpStream::connect(addr).expect("connect");
                    conn.set_nodelay(true).unwrap();
                    let mut back = Vec::new();
                    for round in 0..rounds {
                        let msg = format!("client {i} says hello, round {round}\n");
                        conn.write_all(msg.as_bytes()).unwrap();
                        back.resize(msg.len(), 0);
                        conn.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg.as_bytes(), "a wrong echo");
                        bytes.fetch_add(msg.len() as u64, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let took = start.elapsed();
        listener.close();
        let trips = (clients * rounds) as f64;
        println!(
            "{clients} connections x {rounds} round trips = {trips} echoes in {took:.2?} \
             ({:.0} round trips/s, {:.1} MB echoed, {} procs)",
            trips / took.as_secs_f64(),
            bytes.load(Ordering::Relaxed) as f64 / 1e6,
            gort::maxprocs()
        );
    });
}
