//! Socket readiness while every P is busy. Then no M blocks in the netpoller (an M with no P
//! would only wake for each event to queue it globally): the Ms holding the Ps poll without
//! blocking every 61st schedule and when they run dry (`netpoll/mod.rs`, "Who polls"). Here
//! the Ps never run dry, so only that periodic poll, or sysmon's poll after 10 ms without
//! one, can deliver the connection and the data: the test guards that it is delivered.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::net::TcpListener;

/// One test for both proc counts: `set_maxprocs` is process-wide, so two tests running at
/// once would change each other's.
#[test]
fn a_socket_wakes_its_goroutine_while_every_p_runs_a_yielding_loop() {
    for procs in [1, 2] {
        gort::set_maxprocs(procs).expect("maxprocs");
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        // One never-parking goroutine per P: each yields, so its P's queue is never empty.
        let busy: Vec<_> = (0..procs)
            .map(|_| {
                let (stop, started) = (Arc::clone(&stop), Arc::clone(&started));
                gort::go!(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let mut yields = 0u64;
                    while !stop.load(Ordering::Acquire) {
                        gort::yield_now();
                        yields += 1;
                    }
                    yields
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < procs {
            std::thread::yield_now();
        }

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local addr");
        // Waits in `accept`, then in `read`: both are readiness the busy Ms must poll for.
        let server = gort::go!(move || -> std::io::Result<()> {
            let (conn, _) = listener.accept()?;
            let mut buf = [0u8; 5];
            (&conn).read_exact(&mut buf)?;
            (&conn).write_all(&buf)
        });

        // A plain thread's std socket, with a deadline: a readiness that is never polled
        // fails the test instead of hanging it.
        let mut client = std::net::TcpStream::connect(addr).expect("connect");
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        client.write_all(b"hello").expect("write");
        let mut echoed = [0u8; 5];
        client
            .read_exact(&mut echoed)
            .unwrap_or_else(|e| panic!("{procs} proc(s): no echo while every P was busy: {e}"));
        assert_eq!(&echoed, b"hello");
        server.join().expect("server").expect("server I/O");

        stop.store(true, Ordering::Release);
        for handle in busy {
            assert!(handle.join().expect("busy goroutine") > 0);
        }
    }
}
