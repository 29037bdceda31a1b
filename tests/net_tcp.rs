//! gort::net over TCP on 127.0.0.1: echo at scale, one reader and one writer per stream,
//! many acceptors, timeouts, close under a waiting goroutine, plain threads.

mod support;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::net::{Shutdown, TcpListener, TcpStream};
use gort::{GState, WaitReason};

/// Raises the soft descriptor limit to the hard one (Go does this at start-up) and returns
/// how many connections (two descriptors each) a test may open.
fn connection_budget(wanted: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read only the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    let fds = lim.rlim_cur as usize;
    wanted.min(fds.saturating_sub(200) / 2)
}

fn echo_server(listener: TcpListener) {
    gort::go!(move || {
        while let Ok((conn, _)) = listener.accept() {
            gort::go!(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match (&conn).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if (&conn).write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn echo_over_thousands_of_concurrent_connections() {
    let conns = connection_budget(2_000);
    assert!(
        conns >= 500,
        "descriptor limit too low for the test: {conns}"
    );
    const ROUNDS: usize = 10;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    echo_server(listener.clone());
    let done = Arc::new(AtomicUsize::new(0));
    // Every client connects first, then all wait for the start so that the connections are
    // really concurrent (each round trip is in flight beside thousands of others).
    let connected = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            let (done, connected, start) = (done.clone(), connected.clone(), start.clone());
            gort::go!(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                connected.fetch_add(1, Ordering::SeqCst);
                while !start.load(Ordering::Acquire) {
                    gort::sleep(Duration::from_millis(1));
                }
                for round in 0..ROUNDS {
                    let msg = format!("client {i} round {round}\n");
                    conn.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    conn.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected.load(Ordering::SeqCst) < conns {
        assert!(Instant::now() < deadline, "connections did not all open");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.store(true, Ordering::Release);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), conns);
    listener.close();
}

#[test]
fn one_goroutine_reads_while_another_writes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    echo_server(listener.clone());
    const N: u32 = 20_000;
    let conn = TcpStream::connect(addr).unwrap();
    let reader = conn.try_clone().unwrap();
    let r = gort::go!(move || {
        let mut buf = [0u8; 4];
        for i in 0..N {
            (&reader).read_exact(&mut buf).unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
        }
    });
    let w = gort::go!(move || {
        for i in 0..N {
            (&conn).write_all(&i.to_le_bytes()).unwrap();
        }
        conn
    });
    let conn = w.join().unwrap();
    r.join().unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    listener.close();
}

#[test]
fn many_goroutines_accept_on_one_listener() {
    const ACCEPTORS: usize = 16;
    const CONNS: usize = 400;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let per_acceptor: Vec<_> = (0..ACCEPTORS)
        .map(|_| {
            let (l, accepted) = (listener.clone(), accepted.clone());
            gort::go!(move || {
                let mut mine = 0usize;
                loop {
                    match l.accept() {
                        Ok((mut conn, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            mine += 1;
                            conn.write_all(b"k").unwrap();
                        }
                        Err(e) => {
                            assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}");
                            return mine;
                        }
                    }
                }
            })
        })
        .collect();
    let clients: Vec<_> = (0..CONNS)
        .map(|_| {
            gort::go!(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                let mut b = [0u8; 1];
                c.read_exact(&mut b).unwrap();
                assert_eq!(&b, b"k");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(accepted.load(Ordering::SeqCst), CONNS);
    listener.close(); // wakes every acceptor with an error
    let total: usize = per_acceptor.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, CONNS);
}

#[test]
fn read_and_accept_timeouts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let l = listener.clone();
    let accept_took = gort::go!(move || {
        l.set_accept_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let start = Instant::now();
        let e = l.accept().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        l.set_accept_timeout(None).unwrap();
        start.elapsed()
    })
    .join()
    .unwrap();
    assert!(accept_took >= Duration::from_millis(30), "{accept_took:?}");
    assert!(accept_took < Duration::from_secs(5), "{accept_took:?}");

    // A connection whose peer never writes: the read times out, then works again.
    let server = gort::go!(move || listener.accept().unwrap().0);
    let conn = TcpStream::connect(addr).unwrap();
    let peer = server.join().unwrap();
    let c = conn.clone();
    let read_took = gort::go!(move || {
        c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(30)));
        let start = Instant::now();
        let mut buf = [0u8; 8];
        let e = (&c).read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let took = start.elapsed();
        (&peer).write_all(b"late").unwrap();
        let mut got = [0u8; 4];
        (&c).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        took
    })
    .join()
    .unwrap();
    assert!(read_took >= Duration::from_millis(30), "{read_took:?}");
    assert!(conn.set_read_timeout(Some(Duration::ZERO)).is_err());
}

#[test]
fn connect_timeout_connects_and_rejects_zero() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = gort::go!(move || TcpStream::connect_timeout(&addr, Duration::from_secs(5)));
    let conn = h.join().unwrap().unwrap();
    assert_eq!(conn.peer_addr().unwrap(), addr);
    let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    // Nothing listens on a port we just freed: refused, not a hang.
    let free: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = gort::go!(move || TcpStream::connect(free))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn close_wakes_a_goroutine_blocked_in_read_and_write() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::go!(move || listener.accept().unwrap().0);
    let conn = TcpStream::connect(addr).unwrap();
    let _peer = server.join().unwrap(); // never reads nor writes

    let reader = conn.clone();
    let (r, r_g) = spawn_reporting(move || {
        let mut buf = [0u8; 8];
        (&reader).read(&mut buf)
    });
    // Fill the socket buffers so a writer blocks too.
    let writer = conn.clone();
    let (w, w_g) = spawn_reporting(move || {
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(e) = (&writer).write(&chunk) {
                return e;
            }
        }
    });
    wait_for_state(&r_g, WaitReason::IoRead);
    wait_for_state(&w_g, WaitReason::IoWrite);
    conn.close();
    let re = r.join().unwrap().unwrap_err();
    assert_eq!(re.kind(), io::ErrorKind::NotConnected, "{re}");
    let we = w.join().unwrap();
    assert_eq!(we.kind(), io::ErrorKind::NotConnected, "{we}");
    // Every operation on any clone fails from now on.
    let mut buf = [0u8; 1];
    assert!((&conn).read(&mut buf).is_err());
    assert!(conn.is_closed());
}

/// Spawns `f` and returns its handle with its `Goroutine` (to watch its state).
fn spawn_reporting<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (gort::JoinHandle<T>, gort::Goroutine) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = gort::go!(move || {
        tx.send(gort::current().unwrap()).unwrap();
        f()
    });
    (h, rx.recv().unwrap())
}

/// Waits (bounded) until `g` is parked for `reason`.
fn wait_for_state(g: &gort::Goroutine, reason: WaitReason) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.state() != GState::Waiting(reason) {
        assert!(
            Instant::now() < deadline,
            "{g:?} never waited for {reason:?}: {:?}",
            g.state()
        );
        std::thread::yield_now();
    }
}

#[test]
fn plain_threads_block_like_std() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
        // A read timeout on a plain thread.
        conn.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let e = conn.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    });
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"plain").unwrap();
    let mut back = [0u8; 5];
    conn.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"plain");
    t.join().unwrap();
}

#[test]
fn close_wakes_a_plain_thread_blocked_in_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let l = listener.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::gettid() }).unwrap();
        l.accept().map(|_| ())
    });
    let tid = rx.recv().unwrap();
    // Wait (bounded) until the thread sits in ppoll(2), as /proc shows it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let path = format!("/proc/self/task/{tid}/syscall");
    while std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok())
        != Some(libc::SYS_ppoll)
    {
        assert!(
            Instant::now() < deadline,
            "the thread never blocked in ppoll"
        );
        std::thread::yield_now();
    }
    listener.close();
    let e = t.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}");
}

#[test]
fn nonblocking_mode_returns_would_block() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let e = gort::go!(move || listener.accept().map(|_| ()))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn socket_options_and_addresses() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let conn = TcpStream::connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    assert!(conn.nodelay().unwrap());
    conn.set_ttl(42).unwrap();
    assert_eq!(conn.ttl().unwrap(), 42);
    assert_eq!(conn.peer_addr().unwrap(), addr);
    assert!(conn.take_error().unwrap().is_none());
    // Resolution of a host name goes through `blocking` and finds loopback.
    let port = addr.port();
    let c2 = gort::go!(move || TcpStream::connect(("localhost", port)).map(|c| c.peer_addr()))
        .join()
        .unwrap();
    // localhost may resolve to ::1 first, where nothing listens; then 127.0.0.1 answers.
    assert!(c2.is_ok(), "{c2:?}");
    let _ = support::serial;
}
