//! What Go's own channel tests check, written fresh for gort's API.
//!
//! Modelled on the Go repository's `test/chan/*.go` programs (sieve, goroutines, fifo,
//! nonblock, doubleselect, select3, zerosize) and `src/runtime/chan_test.go` (TestChan,
//! TestSelfSelect, TestPseudoRandomSend, TestMultiConsumer, TestSelectDuplicateChannel,
//! TestNonblockRecvRace). Go's tests are © The Go Authors (BSD licence); no code was copied.

#[path = "chan_common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::go;
use gort::{chan, select, Receiver, RecvError, Sender, TryRecvError, TrySendError};

/// Sends 2, 3, 4, … on `tx` until the receiver goes away.
fn generate(tx: Sender<u64>) {
    for i in 2.. {
        if tx.send(i).is_err() {
            return;
        }
    }
}

/// Copies from `input` to `output` the values not divisible by `prime`.
fn filter(input: Receiver<u64>, output: Sender<u64>, prime: u64) {
    for value in input {
        if value % prime != 0 && output.send(value).is_err() {
            return;
        }
    }
}

/// The first `count` primes from a chain of filter goroutines (test/chan/sieve1.go).
fn sieve(count: usize) -> Vec<u64> {
    let (tx, mut rx) = chan::<u64>(0);
    let mut stages = vec![go(move || generate(tx))];
    let mut primes = Vec::new();
    for _ in 0..count {
        let prime = rx.recv().unwrap();
        primes.push(prime);
        let (next_tx, next_rx) = chan::<u64>(0);
        let input = std::mem::replace(&mut rx, next_rx);
        stages.push(go(move || filter(input, next_tx, prime)));
    }
    // Dropping the last receiver unwinds the chain: each stage's send fails in turn.
    drop(rx);
    stages.into_iter().for_each(common::Handle::join);
    primes
}

both! {
    fn prime_sieve() {
        let primes = sieve(100);
        assert_eq!(&primes[..10], [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert_eq!(primes[99], 541);
    }

    fn daisy_chain() {
        // test/chan/goroutines.go: a value passed along a chain of goroutines, each adding 1.
        let links = if common::in_goroutine() { 10_000 } else { 200 };
        let (first_tx, mut rx) = chan::<u64>(0);
        let mut handles = Vec::new();
        for _ in 0..links {
            let (tx, next) = chan::<u64>(0);
            let input = std::mem::replace(&mut rx, next);
            handles.push(go(move || tx.send(input.recv().unwrap() + 1).unwrap()));
        }
        first_tx.send(0).unwrap();
        assert_eq!(rx.recv(), Ok(links));
        handles.into_iter().for_each(common::Handle::join);
    }

    fn asynchronous_fifo() {
        // test/chan/fifo.go, AsynchFifo.
        let (tx, rx) = chan::<u32>(10);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        for i in 0..10 {
            assert_eq!(rx.recv(), Ok(i));
        }
    }

    fn synchronous_fifo() {
        // test/chan/fifo.go, SynchFifo: N senders on one channel, each allowed to send only
        // after its predecessor did; the receiver must see them in that order.
        const N: u32 = 100;
        let (tx, rx) = chan::<u32>(0);
        let (first, mut previous) = chan::<()>(0);
        let mut handles = Vec::new();
        for i in 0..N {
            let (next_tx, next_rx) = chan::<()>(0);
            let wait_for = std::mem::replace(&mut previous, next_rx);
            let tx = tx.clone();
            handles.push(go(move || {
                wait_for.recv().unwrap();
                tx.send(i).unwrap();
                next_tx.send(()).unwrap();
            }));
        }
        let starter = go(move || first.send(()).unwrap());
        for i in 0..N {
            assert_eq!(rx.recv(), Ok(i));
        }
        previous.recv().unwrap();
        starter.join();
        handles.into_iter().for_each(common::Handle::join);
    }

    fn nonblocking_operations() {
        // test/chan/nonblock.go: with nobody on the other side, non-blocking operations fail
        // on unbuffered channels; on buffered ones they succeed while there is room or data.
        for capacity in [0, 1, 5] {
            let (tx, rx) = chan::<i64>(capacity);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            let received = select! { recv(rx) -> _ => true, default => false };
            assert!(!received);
            for i in 0..capacity as i64 {
                let sent = select! { send(tx, i) -> res => res.is_ok(), default => false };
                assert!(sent, "room for {capacity}");
            }
            assert!(matches!(tx.try_send(-1), Err(TrySendError::Full(-1))));
            let sent = select! { send(tx, -2) -> _ => true, default => false };
            assert!(!sent);
            for i in 0..capacity as i64 {
                assert_eq!(rx.try_recv(), Ok(i));
            }
            // With a party blocked on the other side, the non-blocking operation succeeds.
            let (sender_tx, sender_rx) = (tx.clone(), rx.clone());
            let blocked_sender = go(move || sender_tx.send(42).unwrap());
            let mut got = None;
            while got.is_none() {
                got = sender_rx.try_recv().ok();
                common::yield_now();
            }
            assert_eq!(got, Some(42));
            blocked_sender.join();
            let blocked_receiver = go(move || sender_rx.recv().unwrap());
            let mut value = 7;
            loop {
                match tx.try_send(value) {
                    Ok(()) => break,
                    Err(error) => value = error.into_inner(),
                }
                common::yield_now();
            }
            assert_eq!(blocked_receiver.join(), 7);
        }
    }

    fn double_select() {
        // test/chan/doubleselect.go: senders select over four channels, a multiplexer merges
        // them; every value arrives exactly once.
        const PER_SENDER: u64 = 2_000;
        const SENDERS: u64 = 3;
        let channels: Vec<_> = (0..4).map(|_| chan::<u64>(0)).collect();
        let senders: Vec<_> = (0..SENDERS).map(|s| {
            let txs: Vec<Sender<u64>> = channels.iter().map(|(tx, _)| tx.clone()).collect();
            go(move || {
                for i in 0..PER_SENDER {
                    let value = s * PER_SENDER + i;
                    select! {
                        send(txs[0], value) -> res => res.unwrap(),
                        send(txs[1], value) -> res => res.unwrap(),
                        send(txs[2], value) -> res => res.unwrap(),
                        send(txs[3], value) -> res => res.unwrap(),
                    }
                }
            })
        }).collect();
        let (merged_tx, merged_rx) = chan::<u64>(0);
        let multiplexers: Vec<_> = channels.into_iter().map(|(_, rx)| {
            let merged_tx = merged_tx.clone();
            go(move || {
                for value in rx {
                    merged_tx.send(value).unwrap();
                }
            })
        }).collect();
        drop(merged_tx);
        let mut seen = vec![false; (SENDERS * PER_SENDER) as usize];
        for _ in 0..SENDERS * PER_SENDER {
            let value = merged_rx.recv().unwrap() as usize;
            assert!(!seen[value], "{value} received twice");
            seen[value] = true;
        }
        senders.into_iter().for_each(common::Handle::join);
        // The senders hold the last channel senders: their drop closed the channels.
        multiplexers.into_iter().for_each(common::Handle::join);
        assert_eq!(merged_rx.recv(), Err(RecvError));
    }

    fn select_properties() {
        // test/chan/select3.go: a disabled (nil) arm blocks; a closed channel never blocks a
        // receive; a send on a closed channel fails at once; a blocked select wakes on either.
        let never: Option<&Receiver<u8>> = None;
        let blocked = select! { recv(never) -> _ => false, default(Duration::from_millis(5)) => true };
        assert!(blocked);
        let (tx, rx) = chan::<u8>(0);
        tx.close().unwrap();
        for _ in 0..3 {
            select! { recv(rx) -> msg => assert_eq!(msg, Err(RecvError)), default => unreachable!() }
        }
        select! { send(tx, 1) -> res => assert!(res.is_err()), default => unreachable!() }
        let (tx, rx) = chan::<u8>(0);
        let (_tx2, rx2) = chan::<u8>(0);
        let waker = go(move || tx.send(3).unwrap());
        select! {
            recv(rx) -> msg => assert_eq!(msg, Ok(3)),
            recv(rx2) -> _ => unreachable!(),
        }
        waker.join();
    }

    fn zero_size_elements() {
        // test/chan/zerosize.go.
        let (tx, rx) = chan::<[u64; 0]>(0);
        let sender = go(move || tx.send([]).unwrap());
        assert_eq!(rx.recv(), Ok([]));
        sender.join();
        let (tx, rx) = chan::<()>(1_000_000);
        for _ in 0..1_000_000 {
            tx.try_send(()).unwrap();
        }
        assert_eq!(rx.len(), 1_000_000);
        assert_eq!(rx.try_iter().count(), 1_000_000);
    }

    fn chan_semantics_by_capacity() {
        // runtime/chan_test.go TestChan.
        for capacity in [0usize, 1, 10, 100] {
            let (tx, rx) = chan::<usize>(capacity);
            assert_eq!((tx.capacity(), rx.len()), (capacity, 0));
            // A receive blocks while empty.
            assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
            // Sends fill the buffer without blocking, then block.
            for i in 0..capacity {
                tx.send(i).unwrap();
                assert_eq!(rx.len(), i + 1);
            }
            assert!(tx.send_timeout(999, Duration::from_millis(1)).unwrap_err().is_timeout());
            for i in 0..capacity {
                assert_eq!(rx.recv(), Ok(i));
            }
            // A close unblocks a waiting receiver.
            let waiting = {
                let rx = rx.clone();
                go(move || rx.recv())
            };
            common::pause(Duration::from_millis(2));
            tx.close().unwrap();
            assert_eq!(waiting.join(), Err(RecvError));
            // FIFO with a concurrent sender.
            let (tx, rx) = chan::<usize>(capacity);
            let sender = go(move || {
                for i in 0..100 {
                    tx.send(i).unwrap();
                }
            });
            for i in 0..100 {
                assert_eq!(rx.recv(), Ok(i));
            }
            sender.join();
        }
    }

    fn self_select() {
        // runtime/chan_test.go TestSelfSelect: two parties each select between sending and
        // receiving on one channel. On an unbuffered channel nobody may receive its own value.
        for capacity in [0, 1] {
            let (tx, rx) = chan::<u64>(capacity);
            let parties: Vec<_> = (0..2u64).map(|party| {
                let (tx, rx) = (tx.clone(), rx.clone());
                go(move || {
                    for _ in 0..1000 {
                        if party == 0 {
                            select! {
                                send(tx, party) -> res => res.unwrap(),
                                recv(rx) -> msg => if capacity == 0 { assert_ne!(msg, Ok(party), "received its own value") },
                            }
                        } else {
                            select! {
                                recv(rx) -> msg => if capacity == 0 { assert_ne!(msg, Ok(party), "received its own value") },
                                send(tx, party) -> res => res.unwrap(),
                            }
                        }
                    }
                })
            }).collect();
            parties.into_iter().for_each(common::Handle::join);
        }
    }

    fn pseudo_random_send() {
        // runtime/chan_test.go TestPseudoRandomSend: one select with two send arms on the same
        // channel, sending 0 or 1; both choices must be common.
        const N: usize = 1000;
        let (tx, rx) = chan::<u8>(N);
        for _ in 0..N {
            select! {
                send(tx, 0) -> res => res.unwrap(),
                send(tx, 1) -> res => res.unwrap(),
            }
        }
        let ones = rx.try_iter().filter(|&v| v == 1).count();
        assert!((N / 10..N * 9 / 10).contains(&ones), "{ones} ones in {N}");
    }

    fn multi_consumer() {
        // runtime/chan_test.go TestMultiConsumer: a producer feeds several consumers through a
        // buffered channel; the sum of what they received matches what was sent.
        const N: usize = 10_000;
        let (tx, rx) = chan::<usize>(25);
        let total = Arc::new(AtomicUsize::new(0));
        let consumers: Vec<_> = (0..5).map(|_| {
            let (rx, total) = (rx.clone(), total.clone());
            go(move || {
                let mut count = 0;
                for value in rx {
                    total.fetch_add(value, Ordering::Relaxed);
                    count += 1;
                }
                count
            })
        }).collect();
        drop(rx);
        for i in 0..N {
            tx.send(i).unwrap();
        }
        drop(tx);
        let received: usize = consumers.into_iter().map(common::Handle::join).sum();
        assert_eq!(received, N);
        assert_eq!(total.load(Ordering::Relaxed), N * (N - 1) / 2);
    }

    fn select_duplicate_channel() {
        // runtime/chan_test.go TestSelectDuplicateChannel: the same channel in two arms of one
        // blocked select; a later send wakes it exactly once.
        let (tx, rx) = chan::<u32>(0);
        let selector = {
            let rx = rx.clone();
            go(move || select! { recv(rx) -> msg => msg.unwrap(), recv(rx) -> msg => msg.unwrap() + 100 })
        };
        common::pause(Duration::from_millis(2));
        tx.send(1).unwrap();
        let got = selector.join();
        assert!(got == 1 || got == 101);
        let receiver = go(move || rx.recv());
        tx.send(2).unwrap();
        assert_eq!(receiver.join(), Ok(2));
    }

    fn nonblocking_receive_race() {
        // runtime/chan_test.go TestNonblockRecvRace: a non-blocking receive racing with a
        // close must see either the value or the close, never "empty" once both happened.
        for _ in 0..1000 {
            let (tx, rx) = chan::<u8>(1);
            tx.send(1).unwrap();
            let closer = go(move || tx.close().unwrap());
            let first = rx.try_recv();
            closer.join();
            assert_eq!(first, Ok(1), "a buffered value is received before the close shows");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        }
    }
}
