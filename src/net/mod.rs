//! Networking for goroutines (Go's `net`): TCP, UDP and Unix sockets shaped like `std::net`'s.
//!
//! In a goroutine, an operation that would block parks only that goroutine: its socket is
//! registered with the runtime's netpoller (one epoll instance), and readiness makes the
//! goroutine runnable again. From a plain thread the same types block the thread, like
//! `std::net`'s. Name resolution (`ToSocketAddrs`, which may ask DNS) runs through
//! [`blocking`](crate::blocking), so a slow lookup holds no processor.
//!
//! Differences from `std::net`, all in Go's direction:
//! - `try_clone` shares the socket (no `dup`): clones are handles to one connection, so one
//!   goroutine can read while another writes, and [`TcpStream::close`] (and the other
//!   types' `close`) wakes every goroutine blocked on the socket with an error of kind
//!   `NotConnected` ("use of closed network connection"), as Go's `Close` does. The
//!   descriptor is released when the last clone is dropped.
//! - A read or write timeout ends the operation with `ErrorKind::TimedOut`.
//! - Listeners use the kernel's maximum accept backlog (`net.core.somaxconn`), as Go does.
//!
//! ```
//! use std::io::{Read, Write};
//! let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = gort::go!(move || {
//!     let (mut conn, _) = listener.accept().unwrap();
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf).unwrap();
//!     conn.write_all(&buf).unwrap(); // echo
//! });
//! let client = gort::go!(move || {
//!     let mut conn = gort::net::TcpStream::connect(addr).unwrap();
//!     conn.write_all(b"hello").unwrap();
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf).unwrap();
//!     buf
//! });
//! assert_eq!(&client.join().unwrap(), b"hello");
//! server.join().unwrap();
//! ```

mod fd;
mod tcp;
mod udp;
mod unix;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

pub use std::net::Shutdown;

/// Resolves `addr` through `blocking` (a DNS lookup must not hold a processor).
fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    crate::blocking(|| addr.to_socket_addrs().map(Iterator::collect))
}

/// Tries `f` on every address `addr` resolves to; the first success, or the last error.
fn each_addr<A, T>(addr: A, mut f: impl FnMut(SocketAddr) -> io::Result<T>) -> io::Result<T>
where
    A: ToSocketAddrs,
{
    let mut last = None;
    for addr in resolve(addr)? {
        match f(addr) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The kernel's accept backlog limit (`/proc/sys/net/core/somaxconn`), read once.
fn max_backlog() -> libc::c_int {
    static BACKLOG: std::sync::OnceLock<libc::c_int> = std::sync::OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&n: &libc::c_int| n > 0)
            .unwrap_or(libc::SOMAXCONN)
    })
}

/// Raises a listening socket's backlog to `max_backlog` (Linux lets `listen` be called again
/// on a listening socket to change it; std uses 128).
fn raise_backlog(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: `listen` takes a descriptor the caller owns and an integer.
    if unsafe { libc::listen(fd, max_backlog()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
