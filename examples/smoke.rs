use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
fn main() {
    let h = gort::go!(|| 40 + 2);
    println!("join: {}", h.join().unwrap());
    let n = 1_000_000;
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let t = Instant::now();
    gort::run(move || {
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let c = c.clone();
                gort::go!(move || {
                    c.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    println!(
        "1000 spawn+join {:?} count {}",
        t.elapsed(),
        counter.load(Ordering::Relaxed)
    );
    let c = counter.clone();
    let t = Instant::now();
    gort::run(move || {
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let c = c.clone();
            let d = done.clone();
            gort::spawn(move || {
                c.fetch_add(1, Ordering::Relaxed);
                d.fetch_add(1, Ordering::Release);
            });
        }
        while done.load(Ordering::Acquire) < n {
            gort::yield_now();
        }
    });
    println!(
        "1M spawn: {:?} per task {:?}",
        t.elapsed(),
        t.elapsed() / n as u32
    );
    let t = Instant::now();
    let hs: Vec<_> = (0..10000)
        .map(|_| gort::go!(|| gort::sleep(Duration::from_millis(20))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!("10k sleepers: {:?}", t.elapsed());
    let e = gort::go!(|| panic!("boom")).join().unwrap_err();
    println!("err: {e}; live {}", gort::num_goroutines());
}
