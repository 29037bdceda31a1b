//! Many senders and receivers, every value accounted for: each value sent successfully is
//! received exactly once, and each value whose send failed (timeout, close) came back.

#[path = "chan_common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::go;
use gort::{chan, RecvTimeoutError, SendTimeoutError};

const SENDERS: u64 = 4;
const RECEIVERS: usize = 4;
const PER_SENDER: u64 = 5_000;

/// One counter per value: how many times it was received (or given back).
fn tally(total: u64) -> Arc<Vec<AtomicU8>> {
    Arc::new((0..total).map(|_| AtomicU8::new(0)).collect())
}

fn assert_each_once(seen: &[AtomicU8]) {
    for (value, count) in seen.iter().enumerate() {
        assert_eq!(count.load(Ordering::Relaxed), 1, "value {value}");
    }
}

fn many_to_many(capacity: usize) {
    let (tx, rx) = chan::<u64>(capacity);
    let seen = tally(SENDERS * PER_SENDER);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            go(move || {
                for i in 0..PER_SENDER {
                    tx.send(s * PER_SENDER + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let (rx, seen) = (rx.clone(), seen.clone());
            go(move || {
                // FIFO per sender: values of one sender arrive in increasing order at any
                // one receiver.
                let mut last = [None::<u64>; SENDERS as usize];
                for value in rx {
                    let sender = (value / PER_SENDER) as usize;
                    assert!(
                        last[sender] < Some(value),
                        "out of order: {value} after {:?}",
                        last[sender]
                    );
                    last[sender] = Some(value);
                    seen[value as usize].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    drop(rx);
    senders.into_iter().for_each(common::Handle::join);
    receivers.into_iter().for_each(common::Handle::join);
    assert_each_once(&seen);
}

fn with_timeouts(capacity: usize) {
    let (tx, rx) = chan::<u64>(capacity);
    let seen = tally(SENDERS * PER_SENDER);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (tx, seen) = (tx.clone(), seen.clone());
            go(move || {
                for i in 0..PER_SENDER {
                    let value = s * PER_SENDER + i;
                    match tx.send_timeout(value, Duration::from_micros(i % 50)) {
                        Ok(()) => {}
                        Err(SendTimeoutError::Timeout(back)) => {
                            assert_eq!(back, value);
                            seen[back as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(SendTimeoutError::Closed(_)) => {
                            unreachable!("receivers outlive senders")
                        }
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|r| {
            let (rx, seen) = (rx.clone(), seen.clone());
            go(move || loop {
                match rx.recv_timeout(Duration::from_micros(10 + r as u64 * 20)) {
                    Ok(value) => {
                        seen[value as usize].fetch_add(1, Ordering::Relaxed);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Closed) => break,
                }
            })
        })
        .collect();
    drop(rx);
    senders.into_iter().for_each(common::Handle::join);
    receivers.into_iter().for_each(common::Handle::join);
    assert_each_once(&seen);
}

both! {
    fn many_to_many_unbuffered() {
        many_to_many(0);
    }

    fn many_to_many_capacity_one() {
        many_to_many(1);
    }

    fn many_to_many_buffered() {
        many_to_many(64);
    }

    fn timeouts_lose_nothing_unbuffered() {
        with_timeouts(0);
    }

    fn timeouts_lose_nothing_buffered() {
        with_timeouts(2);
    }

    fn try_operations_lose_nothing() {
        for capacity in [0, 1, 16] {
            let (tx, rx) = chan::<u64>(capacity);
            let seen = tally(SENDERS * PER_SENDER);
            let senders: Vec<_> = (0..SENDERS).map(|s| {
                let tx = tx.clone();
                go(move || {
                    for i in 0..PER_SENDER {
                        let mut value = s * PER_SENDER + i;
                        loop {
                            match tx.try_send(value) {
                                Ok(()) => break,
                                Err(error) => {
                                    assert!(error.is_full());
                                    value = error.into_inner();
                                    common::yield_now();
                                }
                            }
                        }
                    }
                })
            }).collect();
            drop(tx);
            let receivers: Vec<_> = (0..RECEIVERS).map(|_| {
                let (rx, seen) = (rx.clone(), seen.clone());
                go(move || loop {
                    match rx.try_recv() {
                        Ok(value) => {
                            seen[value as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) if error.is_closed() => break,
                        Err(_) => {
                            // Unbuffered try_send needs a waiting receiver: be one sometimes.
                            if let Ok(value) = rx.recv_timeout(Duration::from_micros(100)) {
                                seen[value as usize].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            }).collect();
            drop(rx);
            senders.into_iter().for_each(common::Handle::join);
            receivers.into_iter().for_each(common::Handle::join);
            assert_each_once(&seen);
        }
    }
}
