//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

/// Serialises tests in one binary that assert on process-wide figures (live goroutine
/// counts, maxprocs) so parallel tests cannot disturb them.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many OS threads this process has (from /proc/self/status).
pub fn os_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Resident set size of this process in bytes.
pub fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// How a child process ended: its status, everything it wrote to stderr, and whether it had
/// to be killed for outliving `limit`.
pub struct ChildEnd {
    pub status: std::process::ExitStatus,
    pub stderr: String,
    pub killed: bool,
}

/// Waits for `child` (spawned with `stderr(Stdio::piped())`), killing it if it outlives
/// `limit` (a test that hangs fails, it does not hang CI). stderr is drained meanwhile so a
/// chatty child cannot block on a full pipe.
pub fn wait_child(mut child: std::process::Child, limit: std::time::Duration) -> ChildEnd {
    use std::io::Read;
    let mut pipe = child.stderr.take().expect("the child's stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    });
    let start = std::time::Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            killed = true;
            break child.wait().unwrap();
        }
        // Polling a child's exit: no notification to wait on without a signal handler.
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    ChildEnd {
        status,
        stderr: reader.join().unwrap(),
        killed,
    }
}
