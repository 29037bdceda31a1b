//! `NetFd`: a non-blocking socket registered with the netpoller, and the loop every blocking
//! operation of `gort::net` goes through (Go's `internal/poll.FD`).
//!
//! # The operation loop
//! Read `seq` for the direction (see `netpoll/desc.rs`), try the system call; on `WouldBlock`:
//! - in a goroutine, park until the next readiness report (`PollDesc::wait`), then retry;
//! - on a plain thread (or inside `gort::blocking`), wait in `ppoll(2)` on the descriptor, as
//!   a blocking std socket would block the thread, then retry;
//! - in non-blocking mode (`set_nonblocking(true)`), return the `WouldBlock`.
//!
//! A timeout (`set_read_timeout`, …) starts when the operation first has to wait, and ends it
//! with `ErrorKind::TimedOut`.
//!
//! # Close and lifetime
//! Clones share one `NetFd` (`Arc`), as Go's `net.Conn` values share one descriptor, so
//! [`NetFd::close`] on any clone reaches every goroutine waiting on the socket: it marks the
//! `PollDesc` closed (waking the waiters with an error), takes the descriptor out of the
//! poller, and shuts the socket down, which wakes threads in `ppoll` and tells the peer. The
//! descriptor itself is closed when the last clone is dropped, so a descriptor number is
//! never reused while an operation could still use it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::netpoll::{self, closed_error, Direction, PollDesc};
use crate::runtime::m;

/// No timeout set.
const NO_TIMEOUT: u64 = 0;

/// A registered non-blocking socket of type `S` (a mio socket).
pub(crate) struct NetFd<S: AsRawFd> {
    io: S,
    desc: Arc<PollDesc>,
    /// `close` ran (and deregistered); `Drop` must not deregister again.
    closed: AtomicBool,
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    nonblocking: AtomicBool,
    /// Stream sockets: the direction's `seq` when an operation last found the socket drained
    /// (a short read: the receive queue is empty; a short write: the send buffer is full),
    /// or `UNKNOWN`. While `seq` has not moved past it, the next operation waits for
    /// readiness without trying the system call first (it would fail with `WouldBlock`).
    read_drained_at: AtomicU64,
    write_drained_at: AtomicU64,
}

/// `*_drained_at` when nothing is known.
const UNKNOWN: u64 = u64::MAX;

impl<S: AsRawFd> std::fmt::Debug for NetFd<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetFd")
            .field("fd", &self.io.as_raw_fd())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl<S: AsRawFd> NetFd<S> {
    /// Registers `io` (already non-blocking) with the netpoller.
    pub(crate) fn new(io: S) -> io::Result<Arc<NetFd<S>>> {
        let desc = netpoll::poller().register(io.as_raw_fd())?;
        Ok(Arc::new(NetFd {
            io,
            desc,
            closed: AtomicBool::new(false),
            read_timeout: AtomicU64::new(NO_TIMEOUT),
            write_timeout: AtomicU64::new(NO_TIMEOUT),
            nonblocking: AtomicBool::new(false),
            read_drained_at: AtomicU64::new(UNKNOWN),
            write_drained_at: AtomicU64::new(UNKNOWN),
        }))
    }

    /// The socket, for calls that never block (addresses, options).
    pub(crate) fn get(&self) -> &S {
        &self.io
    }

    /// Runs `op` until it does not return `WouldBlock` (see the module docs), with the
    /// direction's timeout.
    pub(crate) fn io<R>(
        &self,
        dir: Direction,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let timeout = match dir {
            Direction::Read => self.read_timeout.load(Ordering::Relaxed),
            Direction::Write => self.write_timeout.load(Ordering::Relaxed),
        };
        let timeout = (timeout != NO_TIMEOUT).then(|| Duration::from_nanos(timeout));
        self.io_with(
            dir,
            timeout.map(Deadline::After).unwrap_or(Deadline::Never),
            op,
        )
    }

    /// A read or write of `len` bytes on a stream socket: `io`, plus the drained hint (see
    /// `read_drained_at`), which saves the failing system call a request-response exchange
    /// would otherwise make each time (read the request, answer, find nothing more to read).
    ///
    /// A short transfer means the socket was drained at `seen`; a later readiness report
    /// moves `seq` past `seen`, so waiting for `seq != seen` without the call loses nothing
    /// (the protocol in `netpoll/desc.rs`). Goroutines only: a plain thread always tries.
    pub(crate) fn stream_io(
        &self,
        dir: Direction,
        len: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let Some(g) = m::current_g() else {
            return self.io(dir, op);
        };
        if len == 0 || self.nonblocking.load(Ordering::Relaxed) {
            return self.io(dir, op);
        }
        let drained_at = match dir {
            Direction::Read => &self.read_drained_at,
            Direction::Write => &self.write_drained_at,
        };
        let mut deadline = match self.timeout(dir) {
            Some(t) => Deadline::After(t),
            None => Deadline::Never,
        };
        loop {
            if self.desc.is_closed() {
                return Err(closed_error());
            }
            let seen = self.desc.seq(dir);
            if drained_at.load(Ordering::Relaxed) != seen || self.desc.hung_up(dir) {
                match op(&self.io) {
                    Ok(n) => {
                        if n > 0 && n < len {
                            drained_at.store(seen, Ordering::Relaxed);
                        }
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            self.desc
                .wait(dir, seen, deadline.start(), g.id)
                .map_err(|e| e.into_io())?;
        }
    }

    /// `io` with an explicit deadline (`connect_timeout`).
    pub(crate) fn io_with<R>(
        &self,
        dir: Direction,
        mut deadline: Deadline,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            if self.desc.is_closed() {
                return Err(closed_error());
            }
            let seen = self.desc.seq(dir);
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.nonblocking.load(Ordering::Relaxed) {
                        return Err(e);
                    }
                    let until = deadline.start();
                    match m::current_g() {
                        Some(g) => self
                            .desc
                            .wait(dir, seen, until, g.id)
                            .map_err(|e| e.into_io())?,
                        None => wait_thread(self.io.as_raw_fd(), dir, until)?,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return result,
            }
        }
    }

    /// The read or write timeout.
    pub(crate) fn timeout(&self, dir: Direction) -> Option<Duration> {
        let t = match dir {
            Direction::Read => self.read_timeout.load(Ordering::Relaxed),
            Direction::Write => self.write_timeout.load(Ordering::Relaxed),
        };
        (t != NO_TIMEOUT).then(|| Duration::from_nanos(t))
    }

    /// Sets the read or write timeout (std's rules: `Some(0)` is an error).
    pub(crate) fn set_timeout(&self, dir: Direction, timeout: Option<Duration>) -> io::Result<()> {
        let nanos = match timeout {
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            None => NO_TIMEOUT,
        };
        match dir {
            Direction::Read => self.read_timeout.store(nanos, Ordering::Relaxed),
            Direction::Write => self.write_timeout.store(nanos, Ordering::Relaxed),
        }
        Ok(())
    }

    /// Non-blocking mode: operations return `WouldBlock` instead of waiting.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }

    /// Closes the socket for every clone (see the module docs). Idempotent.
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.desc.close();
        netpoll::poller().deregister(self.io.as_raw_fd(), &self.desc);
        // Wakes threads blocked in ppoll on it (Linux wakes them for every socket type, even
        // a listener or an unconnected datagram socket, though it reports ENOTCONN for those)
        // and tells the peer.
        // SAFETY: shutdown takes a descriptor we own (alive until `self` drops) and a flag.
        unsafe { libc::shutdown(self.io.as_raw_fd(), libc::SHUT_RDWR) };
    }

    /// Whether `close` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.desc.is_closed()
    }
}

impl<S: AsRawFd> Drop for NetFd<S> {
    fn drop(&mut self) {
        if !*self.closed.get_mut() {
            netpoll::poller().deregister(self.io.as_raw_fd(), &self.desc);
        }
        // `io` drops next and closes the descriptor.
    }
}

impl<S: AsRawFd> AsRawFd for NetFd<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

/// When an operation gives up waiting.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Deadline {
    /// Never.
    Never,
    /// This long after it first has to wait.
    After(Duration),
    /// At this instant.
    At(Instant),
}

impl Deadline {
    /// The instant, starting the clock of a relative deadline on first use.
    fn start(&mut self) -> Option<Instant> {
        match *self {
            Deadline::Never => None,
            Deadline::After(d) => {
                let at = Instant::now().checked_add(d);
                *self = at.map_or(Deadline::Never, Deadline::At);
                at
            }
            Deadline::At(at) => Some(at),
        }
    }
}

/// A plain thread waits for `fd` to become ready in `dir`, or for `deadline`.
fn wait_thread(fd: RawFd, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
    let events = match dir {
        Direction::Read => libc::POLLIN | libc::POLLRDHUP,
        Direction::Write => libc::POLLOUT,
    };
    let mut pollfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let timeout = match deadline {
        None => None,
        Some(at) => {
            let now = Instant::now();
            if now >= at {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "i/o timeout"));
            }
            let left = at - now;
            Some(libc::timespec {
                tv_sec: left.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            })
        }
    };
    let ts = timeout
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: one valid pollfd; `ts` is null or a live timespec; a null sigmask keeps the
    // thread's mask.
    let r = unsafe { libc::ppoll(&mut pollfd, 1, ts, std::ptr::null()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    // Ready, timed out (the caller's next wait reports it) or interrupted: retry the call.
    Ok(())
}
