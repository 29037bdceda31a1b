//! Unix domain sockets (`UnixListener`, `UnixStream`, `UnixDatagram`) over `NetFd`.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use super::fd::NetFd;
use super::raise_backlog;
use crate::netpoll::Direction;

/// A Unix domain socket server (std's `UnixListener`).
///
/// ```
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = gort::net::UnixListener::bind(&path).unwrap();
/// let h = gort::go!(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     conn.write_all(b"hi").unwrap();
/// });
/// let mut conn = gort::net::UnixStream::connect(&path).unwrap();
/// let mut got = String::new();
/// conn.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "hi");
/// h.join().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Clone)]
pub struct UnixListener {
    fd: Arc<NetFd<mio::net::UnixListener>>,
}

impl UnixListener {
    /// Creates a listener bound to `path`.
    ///
    /// # Errors
    /// As `bind(2)`/`listen(2)` (`AddrInUse` if the path exists).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let listener = mio::net::UnixListener::bind(path)?;
        raise_backlog(listener.as_raw_fd())?;
        Ok(UnixListener {
            fd: NetFd::new(listener)?,
        })
    }

    /// Wraps a std listener (it is switched to non-blocking mode).
    ///
    /// # Errors
    /// If the socket cannot be switched or registered with the netpoller.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            fd: NetFd::new(mio::net::UnixListener::from_std(listener))?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// # Errors
    /// Accept errors; `TimedOut` after the read timeout; `NotConnected` once closed.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.fd.io(Direction::Read, |l| l.accept())?;
        Ok((UnixStream::from_mio(stream)?, addr))
    }

    /// An iterator over incoming connections (`accept` in a loop).
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().local_addr()
    }
}

common_methods!(UnixListener);
fd_traits!(UnixListener);

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

/// The iterator of [`UnixListener::incoming`].
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A Unix domain stream connection (std's `UnixStream`); `Read`/`Write` for the type and for
/// `&UnixStream`.
///
/// ```
/// use std::io::{Read, Write};
/// let (a, b) = gort::net::UnixStream::pair().unwrap();
/// let h = gort::go!(move || {
///     let mut buf = [0u8; 4];
///     (&b).read_exact(&mut buf).unwrap();
///     buf
/// });
/// (&a).write_all(b"ping").unwrap();
/// assert_eq!(&h.join().unwrap(), b"ping");
/// ```
#[derive(Clone)]
pub struct UnixStream {
    fd: Arc<NetFd<mio::net::UnixStream>>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// As `connect(2)`; `WouldBlock` if the listener's backlog is full.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        // A Unix connect completes at once or fails; wait only if the kernel says it is in
        // progress, until the socket is writable with a peer.
        stream.fd.io(Direction::Write, |s| match s.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => match s.take_error()? {
                Some(err) => Err(err),
                None => Err(io::ErrorKind::WouldBlock.into()),
            },
            Err(e) => Err(e),
        })?;
        Ok(stream)
    }

    /// A connected pair of sockets.
    ///
    /// # Errors
    /// As `socketpair(2)`.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// Wraps a std stream (it is switched to non-blocking mode).
    ///
    /// # Errors
    /// If the socket cannot be switched or registered with the netpoller.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            fd: NetFd::new(stream)?,
        })
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().peer_addr()
    }

    /// Shuts down the read, write, or both halves.
    ///
    /// # Errors
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.get().shutdown(how)
    }
}

common_methods!(UnixStream);
fd_traits!(UnixStream);

stream_io!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

/// A Unix domain datagram socket (std's `UnixDatagram`).
///
/// ```
/// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
/// let h = gort::go!(move || {
///     let mut buf = [0u8; 8];
///     let n = b.recv(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send(b"dgram").unwrap();
/// assert_eq!(h.join().unwrap(), b"dgram");
/// ```
#[derive(Clone)]
pub struct UnixDatagram {
    fd: Arc<NetFd<mio::net::UnixDatagram>>,
}

impl UnixDatagram {
    /// A socket bound to `path`.
    ///
    /// # Errors
    /// As `bind(2)`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address.
    ///
    /// # Errors
    /// As `socket(2)`.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets.
    ///
    /// # Errors
    /// As `socketpair(2)`.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// Wraps a std socket (it is switched to non-blocking mode).
    ///
    /// # Errors
    /// If the socket cannot be switched or registered with the netpoller.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            fd: NetFd::new(socket)?,
        })
    }

    /// Connects the socket to `path`: `send`/`recv` then use it.
    ///
    /// # Errors
    /// As `connect(2)`.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.fd.get().connect(path)
    }

    /// Sends one datagram to `path`.
    ///
    /// # Errors
    /// Send errors; `TimedOut` after the write timeout.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.fd.io(Direction::Write, |s| s.send_to(buf, path))
    }

    /// Receives one datagram and its source address.
    ///
    /// # Errors
    /// Receive errors; `TimedOut` after the read timeout; `NotConnected` once closed.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    /// As `send_to`.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Direction::Read, |s| s.recv(buf))
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().local_addr()
    }

    /// The connected address.
    ///
    /// # Errors
    /// As `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().peer_addr()
    }

    /// Shuts down the read, write, or both halves.
    ///
    /// # Errors
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.get().shutdown(how)
    }
}

common_methods!(UnixDatagram);
fd_traits!(UnixDatagram);

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
