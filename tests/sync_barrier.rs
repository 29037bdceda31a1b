//! `gort::sync::Barrier`: generations, one leader each, reuse.

mod sync_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::sync::Barrier;
use sync_support::{join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn generations_line_up_with_one_leader_each() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let parties = mode.crowd();
            let generations = 500;
            let barrier = Arc::new(Barrier::new(parties));
            let arrivals = Arc::new(AtomicUsize::new(0));
            let tasks = mode.spawn_many(parties, {
                let barrier = Arc::clone(&barrier);
                let arrivals = Arc::clone(&arrivals);
                move |_| {
                    let mut leaderships = 0;
                    for generation in 0..generations {
                        arrivals.fetch_add(1, Ordering::SeqCst);
                        if barrier.wait().is_leader() {
                            leaderships += 1;
                        }
                        // Nobody leaves a generation before everyone arrived in it.
                        assert!(arrivals.load(Ordering::SeqCst) >= (generation + 1) * parties);
                    }
                    leaderships
                }
            });
            let leaderships: usize = join_all(tasks).into_iter().sum();
            assert_eq!(leaderships, generations);
        });
    }
}

#[test]
fn tiny_barriers_never_block() {
    for parties in [0, 1] {
        let barrier = Barrier::new(parties);
        for _ in 0..3 {
            assert!(barrier.wait().is_leader());
        }
    }
    assert_eq!(
        format!("{:?}", Barrier::new(2)),
        "Barrier { parties: 2, .. }"
    );
}
