//! Running one measurement in a fresh copy of the current bench binary.
//!
//! The parent sets `GORT_BENCH_CHILD="<workload> <arg> <arg> …"` and runs its own executable;
//! the child's `main` calls [`serve_if_child`] first, which runs the workload, prints the
//! elapsed nanoseconds on stdout and exits. The child times itself, so process start-up and
//! runtime start-up are not in the figure.

use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "GORT_BENCH_CHILD";

/// The workload and arguments this process was started to run, if it is a child.
pub fn request() -> Option<(String, Vec<u64>)> {
    let spec = std::env::var(CHILD_ENV).ok()?;
    let mut words = spec.split_whitespace();
    let workload = words
        .next()
        .expect("GORT_BENCH_CHILD names no workload")
        .to_owned();
    let args = words
        .map(|word| {
            word.parse()
                .expect("GORT_BENCH_CHILD argument is not a number")
        })
        .collect();
    Some((workload, args))
}

/// If this process is a measurement child, runs `dispatch(workload, args)`, prints its
/// result in nanoseconds and exits; otherwise returns.
pub fn serve_if_child(dispatch: fn(&str, &[u64]) -> Duration) {
    let Some((workload, args)) = request() else {
        return;
    };
    let elapsed = dispatch(&workload, &args);
    println!("{}", elapsed.as_nanos());
    // Exit at once: parked coroutines and worker threads need no teardown.
    std::process::exit(0);
}

/// Runs `workload` with `args` in a child process and returns the time it measured.
pub fn measure_in_child(workload: &str, args: &[u64]) -> Duration {
    let output = spawn_child(workload, args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    if !output.status.success() {
        panic!(
            "child `{workload} {args:?}` failed ({}): {stdout}",
            output.status
        );
    }
    let nanos: u64 = stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("child printed {stdout:?}"));
    Duration::from_nanos(nanos)
}

/// Runs `workload` with `args` in a child process and returns its raw output (stdout and
/// stderr captured), whatever its exit status: for workloads whose failure is the result.
pub fn spawn_child(workload: &str, args: &[u64]) -> std::process::Output {
    let spec = std::iter::once(workload.to_owned())
        .chain(args.iter().map(u64::to_string))
        .collect::<Vec<_>>()
        .join(" ");
    let exe = std::env::current_exe().expect("locating the bench executable");
    Command::new(exe)
        .env(CHILD_ENV, spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("starting the child process")
}
