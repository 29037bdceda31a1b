//! A panic in a goroutine goes to `join` with its payload and never takes the runtime down.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn join_returns_the_panic_payload_and_identity() {
    let h = gort::Builder::new()
        .name("doomed")
        .spawn(|| -> u32 { panic!("boom {}", 7) })
        .unwrap();
    let id = h.id();
    let err = h.join().unwrap_err();
    assert_eq!(err.panic_message(), Some("boom 7"));
    assert_eq!(err.id(), id);
    assert_eq!(err.name(), Some("doomed"));
    assert_eq!(
        err.to_string(),
        format!("goroutine {id} \"doomed\" panicked: boom 7")
    );
}

#[test]
fn a_custom_payload_survives() {
    #[derive(Debug, PartialEq)]
    struct Custom(u32);
    let err = gort::go!(|| std::panic::panic_any(Custom(9)))
        .join()
        .unwrap_err();
    assert_eq!(err.panic_message(), None);
    assert_eq!(*err.into_panic().downcast::<Custom>().unwrap(), Custom(9));
}

#[test]
fn the_runtime_goes_on_after_many_panics() {
    let hs: Vec<_> = (0..500)
        .map(|i| {
            gort::go!(move || {
                if i % 2 == 0 {
                    panic!("even {i}");
                }
                i
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for h in hs {
        match h.join() {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    assert_eq!((ok, failed), (250, 250));
    // Detached panicking goroutines: nobody joins them; the runtime still works.
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let ran = ran.clone();
        drop(gort::go!(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            panic!("detached");
        }));
    }
    while ran.load(Ordering::SeqCst) < 100 {
        std::thread::yield_now();
    }
    assert_eq!(gort::go!(|| 1).join().unwrap(), 1);
}

#[test]
fn run_resumes_the_main_goroutines_panic() {
    let r = std::panic::catch_unwind(|| gort::run(|| panic!("main failed")));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main failed"));
}
