//! `UdpSocket` over `NetFd` (see `fd.rs` for the blocking rules).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use super::each_addr;
use super::fd::NetFd;
use crate::netpoll::Direction;

/// A UDP socket (Go's `net.UDPConn`, std's `UdpSocket`).
///
/// ```
/// let a = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b_addr = b.local_addr().unwrap();
/// let h = gort::go!(move || {
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     (buf[..n].to_vec(), from)
/// });
/// a.send_to(b"ping", b_addr).unwrap();
/// let (got, from) = h.join().unwrap();
/// assert_eq!(got, b"ping");
/// assert_eq!(from, a.local_addr().unwrap());
/// ```
#[derive(Clone)]
pub struct UdpSocket {
    fd: Arc<NetFd<mio::net::UdpSocket>>,
}

impl UdpSocket {
    /// Creates a socket bound to `addr` (the first address that works).
    ///
    /// # Errors
    /// The resolution error, or the last bind error.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| {
            UdpSocket::from_mio(mio::net::UdpSocket::bind(addr)?)
        })
    }

    /// Wraps a std socket (it is switched to non-blocking mode).
    ///
    /// # Errors
    /// If the socket cannot be switched or registered with the netpoller.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            fd: NetFd::new(socket)?,
        })
    }

    /// Receives one datagram and its source address (waits for one).
    ///
    /// # Errors
    /// Receive errors; `TimedOut` after the read timeout; `NotConnected` once closed.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Like `recv_from`, without consuming the datagram.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Direction::Read, |s| s.peek_from(buf))
    }

    /// Sends one datagram to the first address `addr` resolves to.
    ///
    /// # Errors
    /// Resolution or send errors; `TimedOut` after the write timeout.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let target = super::resolve(addr)?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.fd.io(Direction::Write, |s| s.send_to(buf, target))
    }

    /// Connects the socket to `addr`: `send` and `recv` then use it, and datagrams from other
    /// addresses are dropped.
    ///
    /// # Errors
    /// The resolution error, or the last connect error.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |addr| self.fd.get().connect(addr))
    }

    /// Sends one datagram to the connected address.
    ///
    /// # Errors
    /// Send errors (`NotConnected` if not connected); `TimedOut` after the write timeout.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the connected address.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Direction::Read, |s| s.recv(buf))
    }

    /// Like `recv`, without consuming the datagram.
    ///
    /// # Errors
    /// As `recv`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Direction::Read, |s| s.peek(buf))
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
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd.get().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// # Errors
    /// As `getsockopt`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.fd.get().broadcast()
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

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.fd.get().set_multicast_loop_v4(on)
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.fd.get().set_multicast_ttl_v4(ttl)
    }

    /// Joins an IPv4 multicast group.
    ///
    /// # Errors
    /// As `setsockopt(IP_ADD_MEMBERSHIP)`.
    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.fd.get().join_multicast_v4(group, interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    /// As `setsockopt(IP_DROP_MEMBERSHIP)`.
    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.fd.get().leave_multicast_v4(group, interface)
    }

    /// Joins an IPv6 multicast group.
    ///
    /// # Errors
    /// As `setsockopt(IPV6_ADD_MEMBERSHIP)`.
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.fd.get().join_multicast_v6(group, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    /// As `setsockopt(IPV6_DROP_MEMBERSHIP)`.
    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.fd.get().leave_multicast_v6(group, interface)
    }
}

common_methods!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

fd_traits!(UdpSocket);
