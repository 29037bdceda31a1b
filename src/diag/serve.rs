//! `gort::debug::serve`: the debug endpoint (Go's `net/http/pprof` habit), a tiny HTTP/1.1
//! server over `gort::net` in goroutines of its own.
//!
//! One goroutine (`gort-debug-http`) accepts; each connection gets a goroutine
//! (`gort-debug-conn`) that reads one request head (at most 8 KiB, 5 s), answers it with
//! `http::handle_request` and closes the connection. Everything it serves is rendered by the
//! plain functions in `http.rs`. Its goroutines show in dumps under those names (ignore them
//! with `IgnoreList::new().name("gort-debug-*")`).
//!
//! # Bound to loopback unless told otherwise
//! Go's `":6060"` listens on every interface, a classic way to publish a process's internals.
//! Here an address without a host (`":6060"`, `"6060"`) means `127.0.0.1`; anything else is
//! bound exactly as written, so exposing the endpoint is always an explicit choice.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use super::http;
use crate::net::{TcpListener, TcpStream};
use crate::JoinHandle;

/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The running debug endpoint, from [`serve`]. Dropping it leaves the server running (a
/// program usually serves until it exits); [`stop`](DebugServer::stop) ends it.
#[derive(Debug)]
pub struct DebugServer {
    addr: SocketAddr,
    listener: TcpListener,
    acceptor: Option<JoinHandle<()>>,
}

impl DebugServer {
    /// The address it listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accepting goroutine to end (connections being
    /// answered finish on their own).
    pub fn stop(mut self) {
        self.listener.close();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// `":6060"` or `"6060"` → `127.0.0.1:6060`; anything else unchanged.
fn loopback_by_default(addr: &str) -> String {
    let port = addr.strip_prefix(':').unwrap_or(addr);
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        format!("127.0.0.1:{port}")
    } else {
        addr.to_owned()
    }
}

/// Serves the debug pages on `addr` from goroutines of their own, so an operator can run
/// `curl localhost:6060/debug/goroutines` against a live process:
///
/// - `/debug/goroutines` — the grouped goroutine dump; `?debug=2`: every goroutine, with its
///   spawn backtrace when captured (`GORT_TRACEBACK=spawn`);
/// - `/debug/metrics` — `gort::metrics()` as text; `?format=json`: JSON;
/// - `/debug/leaks` — the leak tracker's last check and report.
///
/// `":6060"` (or `"6060"`) binds `127.0.0.1:6060`; give a host (`"0.0.0.0:6060"`) to listen
/// elsewhere.
///
/// ```
/// use std::io::{Read, Write};
/// let server = gort::debug::serve(":0").unwrap();
/// assert!(server.local_addr().ip().is_loopback());
/// let mut conn = std::net::TcpStream::connect(server.local_addr()).unwrap();
/// conn.write_all(b"GET /debug/metrics?format=json HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
/// let mut response = String::new();
/// conn.read_to_string(&mut response).unwrap();
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// server.stop();
/// ```
///
/// # Errors
/// If the address cannot be resolved or bound.
pub fn serve(addr: &str) -> io::Result<DebugServer> {
    let listener = TcpListener::bind(loopback_by_default(addr))?;
    let local = listener.local_addr()?;
    let accepting = listener.clone();
    let acceptor = crate::Builder::new()
        .name("gort-debug-http")
        .spawn(move || accept_loop(&accepting))?;
    Ok(DebugServer {
        addr: local,
        listener,
        acceptor: Some(acceptor),
    })
}

fn accept_loop(listener: &TcpListener) {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                let spawned = crate::Builder::new()
                    .name("gort-debug-conn")
                    .spawn(move || {
                        let _ = answer(conn);
                    });
                drop(spawned);
            }
            Err(_) if listener.is_closed() => return,
            // A failed accept (a reset connection, no descriptors left): keep serving.
            Err(_) => crate::sleep(Duration::from_millis(10)),
        }
    }
}

/// Reads one request head, writes the response, closes.
fn answer(mut conn: TcpStream) -> io::Result<()> {
    conn.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    conn.write_all(&http::handle_request(&head))?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_without_a_host_mean_loopback() {
        assert_eq!(loopback_by_default(":6060"), "127.0.0.1:6060");
        assert_eq!(loopback_by_default("6060"), "127.0.0.1:6060");
        assert_eq!(loopback_by_default("0.0.0.0:6060"), "0.0.0.0:6060");
        assert_eq!(loopback_by_default("[::1]:6060"), "[::1]:6060");
        assert_eq!(loopback_by_default("localhost:6060"), "localhost:6060");
    }
}
