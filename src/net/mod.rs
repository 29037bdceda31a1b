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

// The wrappers' shared surface, written once: `fd_traits!` (`AsRawFd`, `AsFd`),
// `common_methods!` (clone, close, timeouts, non-blocking mode, pending error) and
// `stream_io!` (`Read`/`Write` for the stream types). Defined before the submodules so they
// can use them.

/// `AsRawFd` and `AsFd` for a wrapper around a `NetFd` in its `fd` field.
macro_rules! fd_traits {
    ($t:ty) => {
        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                // SAFETY: the descriptor stays open as long as `self` (it is closed when the
                // last clone drops), which outlives the returned borrow.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd.as_raw_fd()) }
            }
        }
    };
}

/// Shared methods: timeouts, non-blocking mode, close, clone, pending error.
macro_rules! common_methods {
    ($t:ty) => {
        impl $t {
            /// Another handle to the same socket (shared: see `gort::net`). Never fails.
            ///
            /// # Errors
            /// None; the `Result` keeps std's signature.
            pub fn try_clone(&self) -> std::io::Result<$t> {
                Ok(self.clone())
            }

            /// Closes the socket for every clone: goroutines blocked on it return an error of
            /// kind `NotConnected` at once.
            pub fn close(&self) {
                self.fd.close();
            }

            /// Whether `close` was called.
            pub fn is_closed(&self) -> bool {
                self.fd.is_closed()
            }

            /// Bounds how long a read waits, or an accept on a listener (`None`: forever).
            ///
            /// # Errors
            /// `InvalidInput` for a zero duration.
            pub fn set_read_timeout(
                &self,
                timeout: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.fd
                    .set_timeout(crate::netpoll::Direction::Read, timeout)
            }

            /// Bounds how long a write waits (`None`: forever).
            ///
            /// # Errors
            /// `InvalidInput` for a zero duration.
            pub fn set_write_timeout(
                &self,
                timeout: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.fd
                    .set_timeout(crate::netpoll::Direction::Write, timeout)
            }

            /// The read timeout.
            ///
            /// # Errors
            /// None; the `Result` keeps std's signature.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.fd.timeout(crate::netpoll::Direction::Read))
            }

            /// The write timeout.
            ///
            /// # Errors
            /// None; the `Result` keeps std's signature.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.fd.timeout(crate::netpoll::Direction::Write))
            }

            /// Makes operations return `WouldBlock` instead of waiting (or wait again).
            ///
            /// # Errors
            /// None; the `Result` keeps std's signature.
            pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
                self.fd.set_nonblocking(nonblocking);
                Ok(())
            }

            /// Takes the socket's pending error (`SO_ERROR`).
            ///
            /// # Errors
            /// As `getsockopt`.
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.fd.get().take_error()
            }
        }
    };
}

/// `Read` and `Write` for a stream socket and for a shared reference to it (so one goroutine
/// can read while another writes through a clone, as with std's `&TcpStream`).
macro_rules! stream_io {
    ($t:ty) => {
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let len = buf.len();
                self.fd
                    .stream_io(crate::netpoll::Direction::Read, len, |mut s| s.read(buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.fd.io(crate::netpoll::Direction::Read, |mut s| {
                    s.read_vectored(bufs)
                })
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.fd
                    .stream_io(crate::netpoll::Direction::Write, buf.len(), |mut s| {
                        s.write(buf)
                    })
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.fd.io(crate::netpoll::Direction::Write, |mut s| {
                    s.write_vectored(bufs)
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

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
