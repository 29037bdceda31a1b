//! A minimal HTTP/1.1 keep-alive "hello world" server on gort: one goroutine per connection,
//! blocking reads and writes, the netpoller underneath (the classic server benchmark; the Go
//! twin is `benches/go/http_hello`, the other peers are in `benches/http/`).
//!
//! ```sh
//! cargo run --release --example http_hello -- --addr 127.0.0.1:8080 --procs 2
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//! ```
//!
//! With `--selftest`, it serves on an ephemeral port, makes a few requests to itself from
//! goroutines, checks the answers and exits.

#[path = "proto.rs"]
mod proto;

use std::io::{Read, Write};
use std::net::SocketAddr;

use gort::net::{TcpListener, TcpStream};

/// Serves one connection until the client closes it (or asks to).
fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    proto::serve_blocking(&conn);
}

/// Accepts forever, a goroutine per connection.
fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                gort::go!(move || serve(conn));
            }
            Err(e) if listener.is_closed() => {
                eprintln!("http_hello: listener closed: {e}");
                return;
            }
            Err(e) => eprintln!("http_hello: accept: {e}"),
        }
    }
}

fn selftest() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = listener.clone();
    gort::go!(move || accept_loop(server));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            gort::go!(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                let mut got = vec![0u8; proto::RESPONSE.len()];
                for _ in 0..100 {
                    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                    c.read_exact(&mut got).unwrap();
                    assert_eq!(got, proto::RESPONSE);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    listener.close();
    println!("http_hello selftest: 800 requests on 8 keep-alive connections answered");
}

fn main() {
    let mut addr = String::from("127.0.0.1:8080");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().expect("--addr needs a value"),
            "--procs" => {
                let n = args.next().and_then(|v| v.parse().ok()).expect("--procs N");
                gort::set_maxprocs(n).expect("procs");
            }
            "--selftest" => return gort::run(selftest),
            other => panic!("unknown argument {other:?} (--addr A, --procs N, --selftest)"),
        }
    }
    gort::run(move || {
        let listener = TcpListener::bind(&addr).expect("bind");
        eprintln!(
            "http_hello: serving on {} with {} procs",
            listener.local_addr().unwrap(),
            gort::maxprocs()
        );
        accept_loop(listener);
    });
}
