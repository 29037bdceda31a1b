//! gort::net: UDP on 127.0.0.1 and Unix domain sockets.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};

#[test]
fn udp_ping_pong_between_goroutines() {
    const ROUNDS: u32 = 2_000;
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    a.connect(b_addr).unwrap();
    b.connect(a_addr).unwrap();
    let echo = gort::go!(move || {
        let mut buf = [0u8; 4];
        for _ in 0..ROUNDS {
            let n = b.recv(&mut buf).unwrap();
            b.send(&buf[..n]).unwrap();
        }
    });
    let client = gort::go!(move || {
        // Loopback UDP does not drop in practice, but a lost datagram must fail the test
        // rather than hang it.
        a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4];
        for i in 0..ROUNDS {
            a.send(&i.to_le_bytes()).unwrap();
            let n = a.recv(&mut buf).unwrap();
            assert_eq!(n, 4);
            assert_eq!(u32::from_le_bytes(buf), i);
        }
    });
    client.join().unwrap();
    echo.join().unwrap();
}

#[test]
fn udp_recv_from_times_out_and_close_wakes() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s2 = s.clone();
    let took = gort::go!(move || {
        s2.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 8];
        let e = s2.recv_from(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        s2.set_read_timeout(None).unwrap();
        start.elapsed()
    })
    .join()
    .unwrap();
    assert!(took >= Duration::from_millis(20));
    let s3 = s.clone();
    let h = gort::go!(move || {
        let mut buf = [0u8; 8];
        s3.recv_from(&mut buf).map(|_| ())
    });
    s.close();
    let e = h.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
}

fn temp_socket_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("gort-test-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_stream_echo_with_many_clients() {
    const CLIENTS: usize = 200;
    let path = temp_socket_path("echo");
    let listener = UnixListener::bind(&path).unwrap();
    let l = listener.clone();
    gort::go!(move || {
        while let Ok((conn, _)) = l.accept() {
            gort::go!(move || {
                let _ = io::copy(&mut &conn, &mut &conn);
            });
        }
    });
    let ok = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (path, ok) = (path.clone(), ok.clone());
            gort::go!(move || {
                let mut c = UnixStream::connect(&path).unwrap();
                let msg = format!("unix client {i}");
                c.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
                ok.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(ok.load(Ordering::SeqCst), CLIENTS);
    listener.close();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_pair_reader_and_writer_goroutines() {
    let (a, b) = UnixStream::pair().unwrap();
    const N: usize = 1 << 20;
    let w = gort::go!(move || {
        let data: Vec<u8> = (0..N).map(|i| i as u8).collect();
        (&a).write_all(&data).unwrap();
        drop(a); // EOF for the reader
    });
    let r = gort::go!(move || {
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).unwrap();
        got
    });
    w.join().unwrap();
    let got = r.join().unwrap();
    assert_eq!(got.len(), N);
    assert!(got.iter().enumerate().all(|(i, &x)| x == i as u8));
}

#[test]
fn unix_datagrams_by_path() {
    let path = temp_socket_path("dgram");
    let server = UnixDatagram::bind(&path).unwrap();
    let h = gort::go!(move || {
        let mut buf = [0u8; 16];
        let (n, _) = server.recv_from(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    let client = UnixDatagram::unbound().unwrap();
    client.send_to(b"by path", &path).unwrap();
    assert_eq!(h.join().unwrap(), b"by path");
    std::fs::remove_file(&path).unwrap();
}
