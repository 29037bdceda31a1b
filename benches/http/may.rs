//! The may peer of `examples/http_hello`: the same HTTP subset
//! (`examples/http_hello/proto.rs`), one may coroutine per connection.
//!
//! `cargo run --release --example http_may -- --addr 127.0.0.1:8084 --procs 2`

#[path = "../../examples/http_hello/proto.rs"]
mod proto;

use may::net::{TcpListener, TcpStream};

fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    proto::serve_blocking(conn);
}

fn main() {
    let mut addr = String::from("127.0.0.1:8084");
    let mut procs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => addr = it.next().expect("--addr A"),
            "--procs" => procs = it.next().and_then(|v| v.parse().ok()).expect("--procs N"),
            other => panic!("unknown argument {other:?} (--addr A, --procs N)"),
        }
    }
    may::config().set_workers(procs).set_stack_size(0x4000);
    let listener = TcpListener::bind(&addr).expect("bind");
    eprintln!("http_may: serving on {addr} with {procs} workers");
    let server = may::go!(move || {
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    may::go!(move || serve(conn));
                }
                Err(e) => eprintln!("http_may: accept: {e}"),
            }
        }
    });
    let _ = server.join();
}
