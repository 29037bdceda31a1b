//! The tokio peer of `examples/http_hello`: the same HTTP subset (`examples/http_hello/proto.rs`),
//! one task per connection on tokio's multi-thread runtime.
//!
//! `cargo run --release --example http_tokio -- --addr 127.0.0.1:8082 --procs 2`

#[path = "../../examples/http_hello/proto.rs"]
mod proto;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(mut conn: tokio::net::TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut state = proto::Conn::new();
    loop {
        let n = match conn.read(state.spare()).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        state.filled(n);
        let next = state.answer();
        if !state.out.is_empty() {
            if conn.write_all(&state.out).await.is_err() {
                return;
            }
            state.out.clear();
        }
        if next == proto::Next::Close {
            return;
        }
    }
}

fn main() {
    let (addr, procs) = args("127.0.0.1:8082");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs)
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        eprintln!("http_tokio: serving on {addr} with {procs} workers");
        loop {
            match listener.accept().await {
                Ok((conn, _)) => {
                    tokio::spawn(serve(conn));
                }
                Err(e) => eprintln!("http_tokio: accept: {e}"),
            }
        }
    });
}

/// `--addr A --procs N` (procs defaults to the number of CPUs).
fn args(default_addr: &str) -> (String, usize) {
    let mut addr = default_addr.to_string();
    let mut procs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => addr = it.next().expect("--addr A"),
            "--procs" => procs = it.next().and_then(|v| v.parse().ok()).expect("--procs N"),
            other => panic!("unknown argument {other:?} (--addr A, --procs N)"),
        }
    }
    (addr, procs)
}
