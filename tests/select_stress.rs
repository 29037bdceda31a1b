//! Selects under load, every value accounted for: parties that select over several
//! channels (send and receive arms mixed, some with timeouts) against plain senders and
//! receivers. Each value is received exactly once, none is lost to a losing arm, a timeout
//! or a close.

#[path = "chan_common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::go;
use gort::{chan, select, Receiver, Sender};

const PER_PRODUCER: u64 = 3_000;

fn tally(total: u64) -> Arc<Vec<AtomicU8>> {
    Arc::new((0..total).map(|_| AtomicU8::new(0)).collect())
}

fn assert_each_once(seen: &[AtomicU8]) {
    for (value, count) in seen.iter().enumerate() {
        assert_eq!(count.load(Ordering::Relaxed), 1, "value {value}");
    }
}

/// Producers select over two output channels; consumers select over both, with a timeout
/// arm; values flow until the producers finish and the channels close.
fn fan_in_fan_out(capacity: usize, producers: u64, consumers: usize) {
    let (a_tx, a_rx) = chan::<u64>(capacity);
    let (b_tx, b_rx) = chan::<u64>(capacity);
    let seen = tally(producers * PER_PRODUCER);
    let producer_handles: Vec<_> = (0..producers)
        .map(|p| {
            let (a_tx, b_tx) = (a_tx.clone(), b_tx.clone());
            go(move || {
                for i in 0..PER_PRODUCER {
                    let value = p * PER_PRODUCER + i;
                    select! {
                        send(a_tx, value) -> res => res.unwrap(),
                        send(b_tx, value) -> res => res.unwrap(),
                    }
                }
            })
        })
        .collect();
    drop((a_tx, b_tx));
    let consumer_handles: Vec<_> = (0..consumers)
        .map(|_| {
            let (a_rx, b_rx, seen) = (a_rx.clone(), b_rx.clone(), seen.clone());
            go(move || {
                let mut a: Option<&Receiver<u64>> = Some(&a_rx);
                let mut b: Option<&Receiver<u64>> = Some(&b_rx);
                while a.is_some() || b.is_some() {
                    select! {
                        recv(a) -> msg => match msg {
                            Ok(value) => { seen[value as usize].fetch_add(1, Ordering::Relaxed); }
                            Err(_) => a = None, // closed: switch the arm off (Go's nil channel)
                        },
                        recv(b) -> msg => match msg {
                            Ok(value) => { seen[value as usize].fetch_add(1, Ordering::Relaxed); }
                            Err(_) => b = None,
                        },
                        default(Duration::from_micros(50)) => {}
                    }
                }
            })
        })
        .collect();
    drop((a_rx, b_rx));
    producer_handles.into_iter().for_each(common::Handle::join);
    consumer_handles.into_iter().for_each(common::Handle::join);
    assert_each_once(&seen);
}

/// Senders whose select may time out keep the value (lazy arm), and retry it later.
fn sends_that_time_out_keep_their_value(capacity: usize) {
    let (tx, rx) = chan::<u64>(capacity);
    let seen = tally(2 * PER_PRODUCER);
    let senders: Vec<_> = (0..2u64)
        .map(|s| {
            let tx: Sender<u64> = tx.clone();
            go(move || {
                let mut timeouts = 0u64;
                for i in 0..PER_PRODUCER {
                    let value = s * PER_PRODUCER + i;
                    loop {
                        let sent = select! {
                            send(tx, value) -> res => { res.unwrap(); true }
                            default(Duration::from_micros(i % 20)) => false,
                        };
                        if sent {
                            break;
                        }
                        timeouts += 1;
                        // A zero timeout never parks: let the receivers run (goroutines are
                        // not preempted).
                        common::yield_now();
                    }
                }
                timeouts
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let (rx, seen) = (rx.clone(), seen.clone());
            go(move || {
                for value in rx {
                    seen[value as usize].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    drop(rx);
    for sender in senders {
        sender.join();
    }
    receivers.into_iter().for_each(common::Handle::join);
    assert_each_once(&seen);
}

/// Relays selecting between receiving from an input and sending to an output, holding at
/// most one value (the classic Go buffer goroutine): a `send` arm switched on and off.
fn relay_chain(capacity: usize) {
    const TOTAL: u64 = 5_000;
    let (first_tx, mut upstream) = chan::<u64>(capacity);
    let mut relays = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = chan::<u64>(capacity);
        let input = std::mem::replace(&mut upstream, rx);
        relays.push(go(move || {
            let mut held: Option<u64> = None;
            let mut input_open = true;
            while input_open || held.is_some() {
                let output = held.map(|_| &tx);
                let input_arm = if held.is_none() && input_open {
                    Some(&input)
                } else {
                    None
                };
                select! {
                    recv(input_arm) -> msg => match msg {
                        Ok(value) => held = Some(value),
                        Err(_) => input_open = false,
                    },
                    send(output, held.take().unwrap()) -> res => res.unwrap(),
                }
            }
        }));
    }
    let producer = go(move || {
        for i in 0..TOTAL {
            first_tx.send(i).unwrap();
        }
    });
    let received: Vec<u64> = upstream.iter().collect();
    assert_eq!(
        received,
        (0..TOTAL).collect::<Vec<_>>(),
        "a chain of relays keeps FIFO order"
    );
    producer.join();
    relays.into_iter().for_each(common::Handle::join);
}

both! {
    fn fan_in_fan_out_unbuffered() {
        fan_in_fan_out(0, 3, 3);
    }

    fn fan_in_fan_out_buffered() {
        fan_in_fan_out(4, 3, 3);
    }

    fn timed_out_sends_keep_their_value_unbuffered() {
        sends_that_time_out_keep_their_value(0);
    }

    fn timed_out_sends_keep_their_value_buffered() {
        sends_that_time_out_keep_their_value(1);
    }

    fn relay_chain_unbuffered() {
        relay_chain(0);
    }

    fn relay_chain_buffered() {
        relay_chain(2);
    }
}
