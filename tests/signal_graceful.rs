//! examples/graceful.rs in a child process: SIGTERM while requests are in flight; every
//! request the server accepted gets its answer, and the process exits 0.

#[path = "../examples/graceful.rs"]
mod graceful;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "GORT_GRACEFUL_CHILD";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, World!\n";
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// In the child: the example's `main`.
#[test]
fn graceful_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        graceful::main();
    }
}

#[test]
fn sigterm_drains_in_flight_requests_and_exits_zero() {
    const CONNS: usize = 20;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "graceful_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("GRACEFUL_ADDR", "127.0.0.1:0")
        .env("GRACEFUL_DELAY_MS", "200")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
        // libtest may print "test graceful_child ... " before it on the same line.
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    // Every connection is accepted and served once (so it is surely accepted)...
    let mut conns: Vec<TcpStream> = (0..CONNS)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c.write_all(REQUEST).unwrap();
            c
        })
        .collect();
    for c in &mut conns {
        let mut got = vec![0u8; RESPONSE.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, RESPONSE);
    }
    // ...then sends a second request, which takes the server 200 ms: SIGTERM comes while
    // all of them are in flight.
    for c in &mut conns {
        c.write_all(REQUEST).unwrap();
    }
    // SAFETY: kill(2) sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    for c in &mut conns {
        let mut got = vec![0u8; RESPONSE.len()];
        c.read_exact(&mut got)
            .expect("an in-flight request lost its answer");
        assert_eq!(got, RESPONSE);
        // Then the server closes the idle connection.
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    out.read_to_string(&mut stdout).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "exit {status:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains(&format!("served {} requests", 2 * CONNS)),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stderr.contains("terminated"), "stderr: {stderr}");
    // Nothing listens any more.
    assert!(TcpStream::connect(&addr).is_err());
}
