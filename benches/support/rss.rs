//! Reading this process's resident set size (VmRSS) from /proc/self/status.

/// VmRSS of the calling process, in bytes.
pub fn vm_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("no VmRSS line in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("VmRSS is not a number of kB");
    kib * 1024
}
