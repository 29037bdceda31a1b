//! The OS-thread peer of `examples/http_hello`: the same HTTP subset
//! (`examples/http_hello/proto.rs`), one `std::thread` per connection, blocking std sockets.
//! `--procs` is accepted for symmetry and ignored: threads are not multiplexed.
//!
//! `cargo run --release --example http_std -- --addr 127.0.0.1:8083`

#[path = "../../examples/http_hello/proto.rs"]
mod proto;

use std::net::{TcpListener, TcpStream};

fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    proto::serve_blocking(conn);
}

fn main() {
    let mut addr = String::from("127.0.0.1:8083");
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => addr = it.next().expect("--addr A"),
            "--procs" => {
                it.next();
            }
            other => panic!("unknown argument {other:?} (--addr A)"),
        }
    }
    let listener = TcpListener::bind(&addr).expect("bind");
    eprintln!("http_std: serving on {addr}, a thread per connection");
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                // Small stacks: a thousand connections means a thousand threads.
                let spawned = std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || serve(conn));
                if let Err(e) = spawned {
                    eprintln!("http_std: spawn: {e}");
                }
            }
            Err(e) => eprintln!("http_std: accept: {e}"),
        }
    }
}
