//! Close in every state: empty, full, with blocked senders, with blocked receivers, by
//! `close`, by dropping the last sender, by dropping the last receiver. No value is lost:
//! each one sent is either received or handed back to its sender.

#[path = "chan_common/mod.rs"]
mod common;

use std::time::Duration;

use common::go;
use gort::{chan, CloseError, RecvError, SendError, TryRecvError, TrySendError};

/// Gives spawned parties time to reach their park. Only makes the "blocked" path likely:
/// every assertion below holds whether or not they got there.
fn let_them_block() {
    common::pause(Duration::from_millis(20));
}

both! {
    fn close_twice_is_an_error() {
        for capacity in [0, 2] {
            let (tx, rx) = chan::<u8>(capacity);
            assert!(!rx.is_closed() && !tx.is_closed());
            assert_eq!(tx.close(), Ok(()));
            assert_eq!(tx.clone().close(), Err(CloseError));
            assert!(rx.is_closed() && tx.is_closed());
        }
    }

    fn close_empty() {
        for capacity in [0, 3] {
            let (tx, rx) = chan::<u8>(capacity);
            tx.close().unwrap();
            assert_eq!(rx.recv(), Err(RecvError));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
            assert_eq!(tx.send(1), Err(SendError(1)));
            assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
            assert_eq!(rx.recv(), Err(RecvError), "stays closed");
        }
    }

    fn close_full_drains_in_order() {
        let (tx, rx) = chan::<u8>(3);
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        tx.close().unwrap();
        assert_eq!(tx.try_send(9), Err(TrySendError::Closed(9)));
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(rx.recv(), Err(RecvError));
    }

    fn close_wakes_blocked_receivers() {
        for capacity in [0, 2] {
            let (tx, rx) = chan::<u8>(capacity);
            let receivers: Vec<_> = (0..4).map(|_| {
                let rx = rx.clone();
                go(move || rx.recv())
            }).collect();
            let_them_block();
            tx.close().unwrap();
            for receiver in receivers {
                assert_eq!(receiver.join(), Err(RecvError));
            }
        }
    }

    fn close_gives_blocked_senders_their_values_back() {
        for capacity in [0, 1] {
            let (tx, rx) = chan::<u32>(capacity);
            if capacity > 0 {
                tx.send(100).unwrap(); // fill it, so the senders below block
            }
            let senders: Vec<_> = (0..4).map(|i| {
                let tx = tx.clone();
                go(move || tx.send(i))
            }).collect();
            let_them_block();
            tx.close().unwrap();
            let mut returned: Vec<u32> = senders.into_iter().filter_map(|sender| sender.join().err().map(SendError::into_inner)).collect();
            let mut received: Vec<u32> = rx.iter().collect();
            // Every value is accounted for exactly once: received or handed back.
            returned.append(&mut received);
            returned.sort();
            let mut expected: Vec<u32> = (0..4).collect();
            if capacity > 0 {
                expected.push(100);
            }
            assert_eq!(returned, expected);
        }
    }

    fn dropping_the_last_sender_closes() {
        for capacity in [0, 2] {
            let (tx, rx) = chan::<u8>(capacity);
            let waiting = {
                let rx = rx.clone();
                go(move || rx.recv())
            };
            let tx2 = tx.clone();
            drop(tx);
            let_them_block();
            assert!(!rx.is_closed());
            drop(tx2);
            assert_eq!(waiting.join(), Err(RecvError));
            assert!(rx.is_closed());
        }
    }

    fn dropping_the_last_receiver_fails_blocked_and_later_sends() {
        for capacity in [0, 1] {
            let (tx, rx) = chan::<String>(capacity);
            if capacity > 0 {
                tx.send("buffered".to_string()).unwrap();
            }
            let blocked = {
                let tx = tx.clone();
                go(move || tx.send("blocked".to_string()))
            };
            let_them_block();
            let rx2 = rx.clone();
            drop(rx);
            assert!(!tx.is_closed(), "a receiver is left");
            drop(rx2);
            assert!(tx.is_closed());
            // Go would leave this sender blocked forever; here it gets its value back.
            assert_eq!(blocked.join().unwrap_err().into_inner(), "blocked");
            assert_eq!(tx.send("later".to_string()).unwrap_err().0, "later");
            // `close` still works once (the receivers' drop is not a close by the senders).
            assert_eq!(tx.close(), Ok(()));
        }
    }

    fn close_races_with_senders_and_receivers() {
        for round in 0..50 {
            let capacity = round % 3;
            let (tx, rx) = chan::<u64>(capacity);
            let senders: Vec<_> = (0..3).map(|s| {
                let tx = tx.clone();
                go(move || {
                    let mut returned = Vec::new();
                    for i in 0..200 {
                        if let Err(SendError(value)) = tx.send(s * 1000 + i) {
                            returned.push(value);
                        }
                    }
                    returned
                })
            }).collect();
            let receivers: Vec<_> = (0..2).map(|_| {
                let rx = rx.clone();
                go(move || rx.iter().take(150).collect::<Vec<_>>())
            }).collect();
            let mut all: Vec<u64> = receivers.into_iter().flat_map(|r| r.join()).collect();
            tx.close().unwrap();
            all.extend(rx.iter());
            for sender in senders {
                all.extend(sender.join());
            }
            all.sort();
            let expected: Vec<u64> = (0..3).flat_map(|s| (0..200).map(move |i| s * 1000 + i)).collect();
            assert_eq!(all, expected, "round {round}");
        }
    }
}
