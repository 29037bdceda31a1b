//! Graceful shutdown, the way Go servers do it with `signal.Notify` and
//! `http.Server.Shutdown`: the accept loop runs in a goroutine, and `main` waits in `select!`
//! for the first of a signal (Ctrl-C or SIGTERM) and a fatal accept error. On a signal the
//! server stops accepting, lets every connection finish the requests it has received (within
//! a deadline), says how many it served, and exits 0. The Go original:
//!
//! ```go
//! sigs := make(chan os.Signal, 1)
//! signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
//! errc := make(chan error, 1)
//! go func() { errc <- srv.Serve(ln) }()
//! select {
//! case sig := <-sigs: // shut down gracefully
//! case err := <-errc: // the server failed
//! }
//! ```
//!
//! ```sh
//! cargo run --example graceful -- 127.0.0.1:8080     # then Ctrl-C, or: kill -TERM <pid>
//! ```
//!
//! It speaks the HTTP subset of `examples/http_hello` and takes `GRACEFUL_DELAY_MS` (default
//! 20) of pretend work per request, so requests are in flight when the signal comes.
//! `tests/signal_graceful.rs` runs it, sends SIGTERM, and checks every request got its answer.

#[path = "http_hello/proto.rs"]
mod proto;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::net::{TcpListener, TcpStream};
use gort::signal::{self, Signal};
use gort::sync::WaitGroup;

/// How long in-flight connections get to finish after the signal.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// How often an idle connection looks whether the server is shutting down (Go's
/// `Shutdown` polls idle connections the same way).
const IDLE_CHECK: Duration = Duration::from_millis(50);
/// The longest pause after a temporary accept error (Go's `Serve` backs off the same way).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

struct Server {
    shutting_down: AtomicBool,
    served: AtomicUsize,
    work: Duration,
}

/// Serves one connection: every request it has sent is answered; once the server shuts down,
/// the connection closes as soon as it is idle.
fn serve(server: &Server, conn: TcpStream) -> io::Result<()> {
    conn.set_read_timeout(Some(IDLE_CHECK))?;
    let mut state = proto::Conn::new();
    loop {
        match (&conn).read(state.spare()) {
            Ok(0) => return Ok(()),
            Ok(n) => state.filled(n),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                if server.shutting_down.load(Ordering::Acquire) && !state.has_partial() {
                    return Ok(()); // idle, and we are closing: done
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        let before = state.out.len();
        let next = state.answer();
        let answered = (state.out.len() - before) / proto::RESPONSE.len();
        if answered > 0 {
            gort::sleep(server.work * answered as u32); // the "work"
        }
        (&conn).write_all(&state.out)?;
        state.out.clear();
        server.served.fetch_add(answered, Ordering::Relaxed);
        if next == proto::Next::Close {
            return Ok(());
        }
    }
}

/// Whether an accept error passes (the listener goes on): out of descriptors or memory for
/// a moment, or a connection that went away before it was accepted.
fn is_temporary(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The accept loop (Go's `srv.Serve(ln)`): a goroutine per connection, counted in
/// `connections`. Returns when the listener is closed, or with the first fatal error.
fn accept_loop(
    listener: &TcpListener,
    server: &Arc<Server>,
    connections: &WaitGroup,
) -> io::Result<()> {
    let mut backoff = Duration::ZERO;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                backoff = Duration::ZERO;
                let server = server.clone();
                connections.go(move || {
                    if let Err(e) = serve(&server, conn) {
                        eprintln!("graceful: connection: {e}");
                    }
                });
            }
            Err(_) if listener.is_closed() => return Ok(()),
            Err(e) if is_temporary(&e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(5), MAX_ACCEPT_BACKOFF);
                eprintln!("graceful: accept: {e}; retrying in {backoff:?}");
                gort::sleep(backoff);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs the server until a signal, drains, and returns how many requests it served, or an
/// error if the listener failed or the connections did not finish in time.
fn run(addr: &str) -> Result<usize, String> {
    let work = std::env::var("GRACEFUL_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(20), Duration::from_millis);
    // Subscribe before listening: from the moment a client can connect, SIGTERM is ours.
    let signals = signal::notify(&[Signal::Interrupt, Signal::Terminate]);
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    println!("listening on {}", listener.local_addr().unwrap());
    io::stdout().flush().unwrap();

    let server = Arc::new(Server {
        shutting_down: AtomicBool::new(false),
        served: AtomicUsize::new(0),
        work,
    });
    let connections = WaitGroup::new();
    let (failed_tx, failed) = gort::chan::<io::Error>(1);
    let acceptor = {
        let (listener, server, connections) =
            (listener.clone(), server.clone(), connections.clone());
        gort::go!(move || {
            if let Err(e) = accept_loop(&listener, &server, &connections) {
                let _ = failed_tx.send(e);
            }
        })
    };

    gort::select! {
        recv(signals) -> signal => {
            let signal = signal.expect("the subscription lives while we hold its receiver");
            eprintln!("graceful: {signal}: no longer accepting, draining connections");
        }
        recv(failed) -> error => {
            let error = error.map_or("the accept loop stopped".to_string(), |e| e.to_string());
            return Err(format!("accept: {error}"));
        }
    }
    // From here a second Ctrl-C ends the process at once (Go's `signal.Stop`).
    drop(signals);
    server.shutting_down.store(true, Ordering::Release);
    listener.close();
    acceptor.join().unwrap();
    let drained = connections.wait_timeout(DRAIN_DEADLINE);
    let served = server.served.load(Ordering::Relaxed);
    if !drained {
        return Err(format!(
            "{} connections still open after {DRAIN_DEADLINE:?} ({served} requests served)",
            connections.count()
        ));
    }
    Ok(served)
}

/// Entry point (public so `tests/signal_graceful.rs` can run it in a child process).
pub fn main() {
    let addr = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .or_else(|| std::env::var("GRACEFUL_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:0".into());
    match gort::run(move || run(&addr)) {
        Ok(served) => {
            println!("served {served} requests; shut down cleanly");
            io::stdout().flush().unwrap();
        }
        Err(e) => {
            eprintln!("graceful: {e}");
            std::process::exit(1);
        }
    }
}
