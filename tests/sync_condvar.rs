//! `gort::sync::Condvar`: no lost notifications, notify_all, timeouts.

mod sync_support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::{Condvar, Mutex};
use sync_support::{eventually, join_all, MODES};

const LIMIT: Duration = Duration::from_secs(60);

struct BoundedQueue {
    items: Mutex<VecDeque<u64>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

impl BoundedQueue {
    fn push(&self, item: u64) {
        let mut items = self
            .not_full
            .wait_while(self.items.lock(), |items| items.len() == self.capacity);
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
    }

    fn pop(&self) -> u64 {
        let mut items = self
            .not_empty
            .wait_while(self.items.lock(), |items| items.is_empty());
        let item = items.pop_front().unwrap();
        drop(items);
        self.not_full.notify_one();
        item
    }
}

#[test]
fn bounded_queue_delivers_everything() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let queue = Arc::new(BoundedQueue {
                items: Mutex::new(VecDeque::new()),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
                capacity: 2,
            });
            let per_producer = 5_000u64;
            let producers = mode.spawn_many(mode.crowd() / 2, {
                let queue = Arc::clone(&queue);
                move |index| {
                    for item in 0..per_producer {
                        queue.push(index as u64 * per_producer + item);
                    }
                }
            });
            let consumers = mode.spawn_many(mode.crowd() / 2, {
                let queue = Arc::clone(&queue);
                move |_| (0..per_producer).map(|_| queue.pop()).sum::<u64>()
            });
            join_all(producers);
            let total: u64 = join_all(consumers).into_iter().sum();
            let count = per_producer * (mode.crowd() / 2) as u64;
            assert_eq!(total, count * (count - 1) / 2);
        });
    }
}

#[test]
fn ping_pong_never_loses_a_notification() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let shared = Arc::new((Mutex::new(0u32), Condvar::new()));
            let rounds = 10_000;
            let players = mode.spawn_many(2, {
                let shared = Arc::clone(&shared);
                move |player| {
                    let (turn, changed) = &*shared;
                    for _ in 0..rounds {
                        let mut guard =
                            changed.wait_while(turn.lock(), |turn| *turn % 2 != player as u32);
                        *guard += 1;
                        drop(guard);
                        changed.notify_one();
                    }
                }
            });
            join_all(players);
            assert_eq!(*shared.0.lock(), 2 * rounds);
        });
    }
}

#[test]
fn notify_all_wakes_every_waiter() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            for _ in 0..100 {
                let shared = Arc::new((Mutex::new((false, 0usize)), Condvar::new()));
                let waiters = mode.spawn_many(mode.crowd(), {
                    let shared = Arc::clone(&shared);
                    move |_| {
                        let (state, changed) = &*shared;
                        let mut guard = state.lock();
                        guard.1 += 1;
                        let guard = changed.wait_while(guard, |(go, _)| !*go);
                        assert!(guard.0);
                    }
                });
                let (state, changed) = &*shared;
                // All waiters registered themselves under the mutex; each then waits (or is
                // about to, but it releases the mutex only once queued).
                eventually(LIMIT, || state.lock().1 == mode.crowd());
                state.lock().0 = true;
                changed.notify_all();
                join_all(waiters);
            }
        });
    }
}

#[test]
fn wait_timeout_expires_and_relocks() {
    let mutex = Mutex::new(5);
    let condvar = Condvar::new();
    let start = Instant::now();
    let (guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(30));
    assert!(result.timed_out());
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(mutex.is_locked());
    assert_eq!(*guard, 5);
    drop(guard);
    assert_eq!(format!("{condvar:?}"), "Condvar { waiters: 0, .. }");
}

#[test]
fn timed_waiters_and_notifiers_agree() {
    // A waiter told "not timed out" must have been notified: count notifications consumed.
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let shared = Arc::new((Mutex::new(0u64), Condvar::new()));
            let waiters = mode.spawn_many(mode.crowd() / 2, {
                let shared = Arc::clone(&shared);
                move |_| {
                    let (tokens, changed) = &*shared;
                    let mut taken = 0u64;
                    for round in 0..500u64 {
                        let timeout = Duration::from_micros(round % 5 * 40);
                        let (mut guard, result) =
                            changed
                                .wait_timeout_while(tokens.lock(), timeout, |tokens| *tokens == 0);
                        if !result.timed_out() {
                            assert!(*guard > 0, "woken without a token");
                            *guard -= 1;
                            taken += 1;
                        }
                    }
                    taken
                }
            });
            let notifiers = mode.spawn_many(mode.crowd() / 2, {
                let shared = Arc::clone(&shared);
                move |_| {
                    let (tokens, changed) = &*shared;
                    for _ in 0..500 {
                        *tokens.lock() += 1;
                        changed.notify_one();
                    }
                }
            });
            join_all(notifiers);
            let taken: u64 = join_all(waiters).into_iter().sum();
            assert_eq!(taken + *shared.0.lock(), 500 * (mode.crowd() / 2) as u64);
        });
    }
}

#[test]
fn wait_timeout_while_reports_success_in_time() {
    for &mode in MODES {
        mode.run(LIMIT, move || {
            let shared = Arc::new((Mutex::new(false), Condvar::new()));
            let setter = mode.spawn({
                let shared = Arc::clone(&shared);
                move || {
                    *shared.0.lock() = true;
                    shared.1.notify_all();
                }
            });
            let (ready, changed) = &*shared;
            let (guard, result) =
                changed.wait_timeout_while(ready.lock(), Duration::from_secs(30), |ready| !*ready);
            assert!(!result.timed_out());
            assert!(*guard);
            drop(guard);
            setter.join();
        });
    }
}
