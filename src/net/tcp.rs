//! `TcpListener` and `TcpStream` over `NetFd` (see `fd.rs` for the blocking rules).

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fd::{Deadline, NetFd};
use super::{each_addr, raise_backlog};
use crate::netpoll::Direction;

/// A TCP socket server, listening for connections (Go's `net.TCPListener`, std's
/// `TcpListener`). Many goroutines may `accept` on one listener (or on clones of it).
///
/// ```
/// let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let h = gort::go!(move || listener.accept().map(|(_, peer)| peer.ip()));
/// let _client = gort::net::TcpStream::connect(addr).unwrap();
/// assert!(h.join().unwrap().unwrap().is_loopback());
/// ```
#[derive(Clone)]
pub struct TcpListener {
    fd: Arc<NetFd<mio::net::TcpListener>>,
}

impl TcpListener {
    /// Creates a listener bound to `addr` (the first address that works, if it resolves to
    /// several). Port 0 asks the system for a free port; see [`local_addr`](Self::local_addr).
    ///
    /// # Errors
    /// The resolution error, or the last bind error.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |addr| {
            let std_listener = std::net::TcpListener::bind(addr)?;
            raise_backlog(std_listener.as_raw_fd())?;
            std_listener.set_nonblocking(true)?;
            TcpListener::from_mio(mio::net::TcpListener::from_std(std_listener))
        })
    }

    /// Wraps a std listener (it is switched to non-blocking mode).
    ///
    /// # Errors
    /// If the socket cannot be switched or registered with the netpoller.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: NetFd::new(listener)?,
        })
    }

    /// Waits for a connection (parks the goroutine) and returns it with the peer's address.
    ///
    /// # Errors
    /// Accept errors; `TimedOut` after the read timeout; `NotConnected` once the listener is
    /// [closed](Self::close).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.fd.io(Direction::Read, |l| l.accept())?;
        Ok((TcpStream::from_mio(stream)?, addr))
    }

    /// An iterator over incoming connections (`accept` in a loop; it never ends by itself).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().local_addr()
    }

    /// Another handle to the same listener (shared, see the module docs). Never fails; the
    /// `Result` keeps std's signature.
    ///
    /// # Errors
    /// None.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(self.clone())
    }

    /// Sets the IP time-to-live of accepted connections.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// # Errors
    /// As `getsockopt`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.get().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    /// As `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.get().take_error()
    }

    /// Makes `accept` return `WouldBlock` instead of waiting (or wait again).
    ///
    /// # Errors
    /// None; the `Result` keeps std's signature.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Bounds how long `accept` waits (`None`: forever).
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration.
    pub fn set_accept_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Direction::Read, timeout)
    }

    /// Closes the listener for every clone: goroutines blocked in `accept` return an error
    /// at once, and the port stops accepting (Go's `Listener.Close`).
    ///
    /// ```
    /// let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = listener.try_clone().unwrap();
    /// let h = gort::go!(move || l2.accept().map(|_| ()));
    /// listener.close(); // wakes the accept if it already waits; fails it if it comes later
    /// assert!(h.join().unwrap().is_err());
    /// ```
    pub fn close(&self) {
        self.fd.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.fd.is_closed()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

fd_traits!(TcpListener);

/// The iterator of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection (Go's `net.TCPConn`, std's `TcpStream`). `Read` and `Write` are
/// implemented for the type and for `&TcpStream`, so clones (or shared references) let one
/// goroutine read while another writes.
///
/// ```
/// use std::io::{Read, Write};
/// let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// gort::go!(move || {
///     let (conn, _) = listener.accept().unwrap();
///     std::io::copy(&mut &conn, &mut &conn).unwrap(); // echo until EOF
/// });
/// let mut conn = gort::net::TcpStream::connect(addr).unwrap();
/// let reader = conn.try_clone().unwrap();
/// let h = gort::go!(move || {
///     let mut got = String::new();
///     (&reader).take(5).read_to_string(&mut got).unwrap();
///     got
/// });
/// conn.write_all(b"hello").unwrap();
/// assert_eq!(h.join().unwrap(), "hello");
/// ```
#[derive(Clone)]
pub struct TcpStream {
    fd: Arc<NetFd<mio::net::TcpStream>>,
}

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn until one answers).
    ///
    /// # Errors
    /// The resolution error, or the last connection error. An unanswered attempt waits as
    /// long as the system lets it (minutes); [`connect_timeout`](Self::connect_timeout)
    /// bounds it.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |addr| TcpStream::connect_with(addr, Deadline::Never))
    }

    /// Connects to `addr`, giving up after `timeout`.
    ///
    /// # Errors
    /// `TimedOut` if the connection is not established in time; `InvalidInput` for a zero
    /// timeout; the connection error otherwise.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let deadline = Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Never, Deadline::At);
        TcpStream::connect_with(*addr, deadline)
    }

    fn connect_with(addr: SocketAddr, deadline: Deadline) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // The connection completes when the socket becomes writable: then either it has a
        // peer, or SO_ERROR says why not.
        stream
            .fd
            .io_with(Direction::Write, deadline, |s| match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(libc::ENOTCONN) =>
                {
                    match s.take_error()? {
                        Some(err) => Err(err),
                        None => Err(io::ErrorKind::WouldBlock.into()),
                    }
                }
                Err(e) => Err(e),
            })?;
        Ok(stream)
    }

    /// Wraps a connected std stream (it is switched to non-blocking mode).
    ///
    /// # Errors
    /// If the socket cannot be switched or registered with the netpoller.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            fd: NetFd::new(stream)?,
        })
    }

    /// The remote address.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().local_addr()
    }

    /// Shuts down the read, write, or both halves (the socket stays open; see
    /// [`close`](Self::close)).
    ///
    /// # Errors
    /// As `shutdown(2)` (`NotConnected` if not connected).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.get().shutdown(how)
    }

    /// Reads without consuming (waits like `read`).
    ///
    /// # Errors
    /// As `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Direction::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm; Go sets it on every connection).
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.fd.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// As `getsockopt`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.fd.get().nodelay()
    }

    /// Sets the IP time-to-live.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// # Errors
    /// As `getsockopt`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.get().ttl()
    }
}

common_methods!(TcpStream);
stream_io!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

fd_traits!(TcpStream);
