//! Channel semantics one rule at a time: rendezvous, FIFO, non-blocking operations,
//! timeouts, iteration, handles, zero-sized values, dropped values.

#[path = "chan_common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::go;
use gort::{chan, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};

const SHORT: Duration = Duration::from_millis(20);

both! {
    fn unbuffered_send_waits_for_a_receiver() {
        let (tx, rx) = chan::<u32>(0);
        // Nobody receives: the send cannot complete, and gives the value back.
        assert_eq!(tx.send_timeout(1, SHORT), Err(SendTimeoutError::Timeout(1)));
        assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
        // A receiver arrives: the send completes only once it took the value.
        let receiver = go(move || rx.recv().unwrap());
        tx.send(3).unwrap();
        assert_eq!(receiver.join(), 3);
    }

    fn unbuffered_receive_waits_for_a_sender() {
        let (tx, rx) = chan::<u32>(0);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Timeout));
        let sender = go(move || tx.send(9).unwrap());
        assert_eq!(rx.recv(), Ok(9));
        sender.join();
    }

    fn buffered_is_fifo_and_bounded() {
        let (tx, rx) = chan::<usize>(3);
        assert_eq!((tx.capacity(), rx.capacity(), tx.len()), (3, 3, 0));
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(tx.len(), 3);
        assert!(tx.is_full());
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(tx.send_timeout(3, SHORT), Err(SendTimeoutError::Timeout(3)));
        assert_eq!(rx.recv(), Ok(0));
        tx.send(3).unwrap();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(rx.is_empty());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    fn buffered_wraps_around_many_laps() {
        let (tx, rx) = chan::<usize>(5);
        for lap in 0..1000 {
            for i in 0..(lap % 5) + 1 {
                tx.try_send(lap * 10 + i).unwrap();
            }
            for i in 0..(lap % 5) + 1 {
                assert_eq!(rx.try_recv(), Ok(lap * 10 + i));
            }
        }
    }

    fn a_blocked_buffered_sender_proceeds_when_space_frees() {
        let (tx, rx) = chan::<u32>(1);
        tx.send(1).unwrap();
        let sender = go(move || {
            tx.send(2).unwrap(); // parks: full
            tx.send(3).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Ok(3));
        sender.join();
        assert_eq!(rx.recv(), Err(gort::RecvError));
    }

    fn timeouts_and_deadlines() {
        let (tx, rx) = chan::<u8>(1);
        let start = Instant::now();
        assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Timeout));
        assert!(start.elapsed() >= SHORT);
        assert_eq!(rx.recv_deadline(Instant::now()), Err(RecvTimeoutError::Timeout));
        tx.send(1).unwrap();
        assert_eq!(rx.recv_timeout(SHORT), Ok(1));
        tx.send(2).unwrap();
        let error = tx.send_deadline(3, Instant::now() + SHORT).unwrap_err();
        assert!(error.is_timeout());
        assert_eq!(error.into_inner(), 3);
        // A huge timeout does not overflow.
        assert_eq!(rx.recv_timeout(Duration::MAX), Ok(2));
    }

    fn iteration_ends_at_close() {
        let (tx, rx) = chan::<u32>(0);
        let producer = go(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        let mut expected = 0;
        for value in &rx {
            assert_eq!(value, expected);
            expected += 1;
        }
        assert_eq!(expected, 100);
        producer.join();
        assert_eq!(rx.iter().next(), None);
        assert_eq!(rx.into_iter().next(), None);
    }

    fn both_ends_clone() {
        let (tx, rx) = chan::<u32>(8);
        let (tx2, rx2) = (tx.clone(), rx.clone());
        assert!(tx.same_channel(&tx2) && rx.same_channel(&rx2));
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        assert_eq!(rx2.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        drop(tx);
        assert!(!rx.is_closed(), "one sender is still alive");
        drop(tx2);
        assert!(rx.is_closed());
        drop(rx);
        assert_eq!(rx2.recv(), Err(gort::RecvError));
    }

    fn zero_sized_values() {
        for capacity in [0, 1, 7] {
            let (tx, rx) = chan::<()>(capacity);
            let producer = go(move || {
                for _ in 0..10_000 {
                    tx.send(()).unwrap();
                }
            });
            assert_eq!(rx.iter().count(), 10_000);
            producer.join();
        }
    }

    fn values_left_in_the_buffer_are_dropped_with_the_channel() {
        let live = Arc::new(AtomicUsize::new(0));
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let (tx, rx) = chan::<Counted>(4);
        for _ in 0..3 {
            live.fetch_add(1, Ordering::SeqCst);
            tx.send(Counted(live.clone())).unwrap();
        }
        drop(rx.recv().unwrap());
        assert_eq!(live.load(Ordering::SeqCst), 2);
        drop(tx);
        drop(rx);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    fn a_thread_and_a_peer_ping_pong() {
        let (ping_tx, ping_rx) = chan::<u64>(0);
        let (pong_tx, pong_rx) = chan::<u64>(0);
        let peer = go(move || {
            for value in ping_rx {
                pong_tx.send(value + 1).unwrap();
            }
        });
        let mut value = 0;
        for _ in 0..1000 {
            ping_tx.send(value).unwrap();
            value = pong_rx.recv().unwrap();
        }
        assert_eq!(value, 1000);
        drop(ping_tx);
        peer.join();
    }
}

/// A goroutine and a plain thread talk over unbuffered and buffered channels, and a select
/// on each side waits on both kinds of partner.
#[test]
fn a_goroutine_and_a_plain_thread_ping_pong() {
    let _ = gort::Config::new().procs(2).init();
    for capacity in [0, 1, 16] {
        let (to_thread, from_goroutine) = chan::<u64>(capacity);
        let (to_goroutine, from_thread) = chan::<u64>(capacity);
        let thread = std::thread::spawn(move || {
            for value in from_goroutine {
                to_goroutine.send(value + 1).unwrap();
            }
        });
        let goroutine = gort::spawn(move || {
            let mut value = 0;
            for _ in 0..2000 {
                to_thread.send(value).unwrap();
                value = gort::select! {
                    recv(from_thread) -> reply => reply.unwrap(),
                    default(Duration::from_secs(10)) => panic!("the thread did not answer"),
                };
            }
            value
        });
        assert_eq!(goroutine.join().unwrap(), 2000);
        thread.join().unwrap();
    }
}
