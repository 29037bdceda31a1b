//! `gort::blocking`: the syscall handoff, the M cache, the thread limit, and `gort::fs`.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::serial;

/// Restores maxprocs when dropped (even if the test fails).
struct Procs(usize);

impl Procs {
    fn set(n: usize) -> Procs {
        Procs(gort::set_maxprocs(n).unwrap())
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        gort::set_maxprocs(self.0).unwrap();
    }
}

#[test]
fn a_blocking_call_does_not_stop_other_goroutines_on_one_proc() {
    let _serial = serial();
    let _procs = Procs::set(1);
    let progress = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (p, st) = (progress.clone(), stop.clone());
    // A goroutine that makes visible progress as long as it gets a processor.
    let worker = gort::go!(move || {
        while !st.load(Ordering::Relaxed) {
            p.fetch_add(1, Ordering::Relaxed);
            gort::yield_now();
        }
    });
    let p = progress.clone();
    let (during, took) = gort::go!(move || {
        let start = Instant::now();
        gort::blocking(|| {
            let before = p.load(Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(100));
            (p.load(Ordering::Relaxed) - before, start.elapsed())
        })
    })
    .join()
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    assert!(took >= Duration::from_millis(100));
    // With the one processor handed off within tens of microseconds, the worker runs for
    // nearly all of the 100 ms: thousands of iterations (each is a yield). Without the
    // handoff it would make none.
    assert!(
        during >= 1_000,
        "the other goroutine made only {during} steps during the blocking call"
    );
}

#[test]
fn threads_beyond_maxprocs_serve_blocking_calls_then_go_idle() {
    let _serial = serial();
    let _procs = Procs::set(1);
    const CALLS: usize = 6;
    let inside = Arc::new(AtomicUsize::new(0));
    let most_inside = Arc::new(AtomicUsize::new(0));
    let threads_seen = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..CALLS)
        .map(|_| {
            let (inside, most, seen) = (inside.clone(), most_inside.clone(), threads_seen.clone());
            gort::go!(move || {
                gort::blocking(|| {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    seen.fetch_max(gort::metrics().threads, Ordering::SeqCst);
                    // Stay until every call is inside at once (bounded): possible only if
                    // each blocked thread's processor went to another thread.
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while inside.load(Ordering::SeqCst) < CALLS && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(most_inside.load(Ordering::SeqCst), CALLS);
    assert!(threads_seen.load(Ordering::SeqCst) >= CALLS);
    // Afterwards the extra threads are parked in the idle list (the M cache), not running.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = gort::metrics();
        if m.threads - m.idle_threads <= m.procs {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "threads stayed busy: {} started, {} idle, {} procs",
            m.threads,
            m.idle_threads,
            m.procs
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_thread_limit_stops_new_threads_with_a_clear_error() {
    let _serial = serial();
    let _procs = Procs::set(1);
    // Make sure the runtime runs, then allow exactly one more thread than exist.
    gort::go!(|| ()).join().unwrap();
    let started = gort::metrics().threads;
    let old = gort::set_max_threads(started + 1).unwrap();
    let refused_before = gort::threads_refused();
    // More calls at once than threads may exist: with a fixed 4, Ms left idle by earlier
    // tests of this binary (one starts 6 blocking calls at once) could take every hand-off,
    // and no thread was refused (once in 12 stress rounds of the release binary).
    let calls = started + 3;
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..calls)
        .map(|_| {
            let (inside, most) = (inside.clone(), most.clone());
            gort::go!(move || {
                gort::blocking(|| {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let after = gort::metrics().threads;
    let refused = gort::threads_refused() - refused_before;
    gort::set_max_threads(old).unwrap();
    assert!(
        after <= started + 1,
        "{after} threads with a limit of {}",
        started + 1
    );
    assert!(refused > 0, "no thread was refused");
    // Every call still completed; at most (existing Ms that can run them) at once.
    assert!(most.load(Ordering::SeqCst) <= after);
    assert!(gort::set_max_threads(0).is_err());
}

#[test]
fn blocking_returns_values_propagates_panics_and_nests() {
    let _serial = serial();
    let v = gort::go!(|| gort::blocking(|| gort::blocking(|| 40) + 2))
        .join()
        .unwrap();
    assert_eq!(v, 42);
    // A panic inside `f` unwinds through the handoff; the goroutine goes on normally.
    let r = gort::go!(|| {
        let caught = std::panic::catch_unwind(|| gort::blocking(|| panic!("inside blocking")));
        assert!(caught.is_err());
        gort::yield_now();
        gort::current().unwrap().id()
    })
    .join();
    assert!(r.is_ok());
    // Inside `f`, gort treats the code as a plain thread.
    let inner = gort::go!(|| gort::blocking(|| gort::current().is_none()))
        .join()
        .unwrap();
    assert!(inner);
    // From a plain thread it is just a call.
    assert_eq!(gort::blocking(|| 5), 5);
}

#[test]
fn blocking_inside_f_may_join_and_spawn() {
    let _serial = serial();
    let _procs = Procs::set(1);
    // Joining a goroutine from inside `f` blocks the thread, not the processor: the joined
    // goroutine runs on the processor that was handed off.
    let r = gort::go!(|| {
        gort::blocking(|| {
            let h = gort::go!(|| 7);
            h.join().unwrap()
        })
    })
    .join()
    .unwrap();
    assert_eq!(r, 7);
}

#[test]
fn many_quick_blocking_calls_keep_their_processor() {
    let _serial = serial();
    let sum = gort::go!(|| (0..100_000u64).map(|i| gort::blocking(|| i)).sum::<u64>())
        .join()
        .unwrap();
    assert_eq!(sum, 100_000 * 99_999 / 2);
}

#[test]
fn fs_through_blocking() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("gort-fs-test-{}", std::process::id()));
    let d = dir.clone();
    gort::go!(move || {
        use std::io::{Read, Seek, SeekFrom, Write};
        gort::fs::create_dir_all(&d).unwrap();
        let p = d.join("a.txt");
        gort::fs::write(&p, b"one two").unwrap();
        assert_eq!(gort::fs::read(&p).unwrap(), b"one two");
        assert_eq!(gort::fs::read_to_string(&p).unwrap(), "one two");
        let mut f =
            gort::fs::File::open_with(std::fs::OpenOptions::new().read(true).write(true), &p)
                .unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b" three").unwrap();
        f.sync_data().unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "one two three");
        assert_eq!(f.metadata().unwrap().len(), 13);
        f.set_len(3).unwrap();
        gort::fs::rename(&p, d.join("b.txt")).unwrap();
        assert_eq!(gort::fs::read_to_string(d.join("b.txt")).unwrap(), "one");
        assert!(gort::fs::metadata(&p).is_err());
        gort::fs::remove_file(d.join("b.txt")).unwrap();
    })
    .join()
    .unwrap();
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn sysmon_records_a_goroutine_that_hogs_its_processor() {
    let _serial = serial();
    let h = gort::go!(gort::Builder::new().name("hog"), || {
        let me = gort::current().unwrap().id();
        let start = Instant::now();
        // Run without a scheduling point (no yield, no blocking call) until sysmon has
        // reported us (it needs 10 ms of it, and its own thread must get a CPU), then 20 ms more.
        while !gort::hogs().0.iter().any(|r| r.id == me) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "never reported as a hog"
            );
            std::hint::spin_loop();
        }
        let seen = Instant::now();
        while seen.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        assert!(start.elapsed() >= Duration::from_millis(10));
        me
    });
    let id = h.join().unwrap();
    // The M completes the report as the hog switches out, just after `join` may return:
    // wait (bounded) for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let (reports, total) = gort::hogs();
        let report = reports
            .iter()
            .rev()
            .find(|r| r.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("goroutine {id} not reported: {reports:?} ({total} total)"));
        if report.switched_out {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "report never completed: {report:?}"
        );
        std::thread::yield_now();
    };
    assert_eq!(report.name.as_deref(), Some("hog"));
    assert!(report
        .spawn_site
        .unwrap()
        .file()
        .ends_with("syscall_blocking.rs"));
    assert!(report.ran_for >= Duration::from_millis(10), "{report:?}");
}
