//! A CPU-bound parallel job timed at 1..N procs: `cargo run --release --example maxprocs`.
//!
//! Splits a sum over 64 goroutines and runs it with `set_maxprocs(1)`, `(2)`, … up to the
//! machine's parallelism, printing the speed-up over one proc.

use std::time::Instant;

fn work(chunk: u64) -> u64 {
    let mut acc = 0u64;
    for i in chunk * 1_000_000..(chunk + 1) * 1_000_000 {
        acc = acc.wrapping_add(i.wrapping_mul(i) ^ (i >> 3));
    }
    acc
}

fn main() {
    let max = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(2);
    let mut base = None;
    for procs in 1..=max {
        gort::set_maxprocs(procs).unwrap();
        let start = Instant::now();
        let hs: Vec<_> = (0..64).map(|c| gort::go!(move || work(c))).collect();
        let sum = hs
            .into_iter()
            .fold(0u64, |a, h| a.wrapping_add(h.join().unwrap()));
        let took = start.elapsed();
        let base = *base.get_or_insert(took);
        println!(
            "procs = {procs}: {took:?}  speed-up {:.2}x  (checksum {sum:x})",
            base.as_secs_f64() / took.as_secs_f64()
        );
    }
}
