//! `select!` and `Select`, one rule at a time.

#[path = "chan_common/mod.rs"]
mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use common::go;
use gort::{chan, select, Receiver, RecvError, Select, SendError, Sender};

const SHORT: Duration = Duration::from_millis(20);

fn value_that_panics() -> u32 {
    if std::hint::black_box(true) {
        panic!("value expression panics");
    }
    0
}

both! {
    fn a_ready_receive_fires() {
        let (tx, rx) = chan::<u32>(1);
        let (_tx2, rx2) = chan::<u32>(1);
        tx.send(5).unwrap();
        let got = select! {
            recv(rx) -> msg => msg.unwrap(),
            recv(rx2) -> _ => unreachable!("empty"),
        };
        assert_eq!(got, 5);
    }

    fn a_ready_send_fires() {
        let (tx, rx) = chan::<u32>(1);
        let (full_tx, _full_rx) = chan::<u32>(0);
        select! {
            send(full_tx, 1) -> _ => unreachable!("nobody receives"),
            send(tx, 2) -> res => res.unwrap(),
        }
        assert_eq!(rx.try_recv(), Ok(2));
    }

    fn default_runs_when_nothing_is_ready() {
        let (tx, rx) = chan::<u32>(0);
        let ran_default = select! {
            recv(rx) -> _ => false,
            send(tx, 1) -> _ => false,
            default => true,
        };
        assert!(ran_default);
        // A select with only a default.
        let value = select! { default => 3 };
        assert_eq!(value, 3);
    }

    fn the_timeout_arm_fires_after_its_duration() {
        let (_tx, rx) = chan::<u32>(0);
        let start = Instant::now();
        let timed_out = select! {
            recv(rx) -> _ => false,
            default(SHORT) => true,
        };
        assert!(timed_out);
        assert!(start.elapsed() >= SHORT);
        // A value that arrives in time wins over the timeout.
        let (tx, rx) = chan::<u32>(0);
        let sender = go(move || tx.send(8).unwrap());
        let got = select! {
            recv(rx) -> msg => msg.unwrap(),
            default(Duration::from_secs(10)) => unreachable!("the sender is there"),
        };
        assert_eq!(got, 8);
        sender.join();
    }

    fn biased_picks_in_written_order() {
        let (a_tx, a_rx) = chan::<u8>(10);
        let (b_tx, b_rx) = chan::<u8>(10);
        for _ in 0..10 {
            a_tx.send(b'a').unwrap();
            b_tx.send(b'b').unwrap();
        }
        for _ in 0..10 {
            select! {
                biased;
                recv(b_rx) -> msg => assert_eq!(msg, Ok(b'b')),
                recv(a_rx) -> _ => unreachable!("b comes first while ready"),
            }
        }
        select! {
            biased;
            recv(b_rx) -> _ => unreachable!("b is empty"),
            recv(a_rx) -> msg => assert_eq!(msg, Ok(b'a')),
        }
    }

    fn a_none_channel_never_fires() {
        let (tx, rx) = chan::<u8>(1);
        tx.send(1).unwrap();
        let off: Option<&Receiver<u8>> = None;
        let off_tx: Option<&Sender<u8>> = None;
        for _ in 0..20 {
            let fired = select! {
                recv(off) -> _ => unreachable!("disabled"),
                send(off_tx, 2) -> _ => unreachable!("disabled"),
                default => false,
            };
            assert!(!fired);
        }
        // Switched on, the same arm fires.
        let on = Some(&rx);
        select! {
            recv(on) -> msg => assert_eq!(msg, Ok(1)),
            default => unreachable!("ready"),
        }
        // Only disabled arms and a timeout: the timeout fires.
        select! {
            recv(off) -> _ => unreachable!(),
            default(Duration::from_millis(1)) => {}
        }
    }

    fn closed_channels_fire() {
        let (tx, rx) = chan::<String>(0);
        tx.close().unwrap();
        select! {
            recv(rx) -> msg => assert_eq!(msg, Err(RecvError)),
            default => unreachable!("a closed channel is always ready"),
        }
        select! {
            send(tx, "back".to_string()) -> res => assert_eq!(res, Err(SendError("back".to_string()))),
            default => unreachable!(),
        }
    }

    fn a_losing_send_value_stays_with_the_caller() {
        let (full_tx, _full_rx) = chan::<String>(0);
        let (tx, rx) = chan::<u32>(1);
        tx.send(1).unwrap();
        let evaluated = Cell::new(0);
        let value = String::from("kept");
        select! {
            send(full_tx, { evaluated.set(evaluated.get() + 1); value }) -> _ => unreachable!("nobody receives"),
            recv(rx) -> msg => assert_eq!(msg, Ok(1)),
        }
        assert_eq!(evaluated.get(), 0, "the losing arm's value expression never ran");
        assert_eq!(value, "kept", "and the variable was not moved");
    }

    fn a_blocked_select_is_woken_by_exactly_one_channel_and_leaves_no_trace() {
        for capacity in [0, 1] {
            for round in 0..100 {
                let channels: Vec<_> = (0..4).map(|_| chan::<usize>(capacity)).collect();
                let receivers: Vec<Receiver<usize>> = channels.iter().map(|(_, rx)| rx.clone()).collect();
                let selector = go(move || {
                    let [a, b, c, d] = &receivers[..] else { unreachable!() };
                    select! {
                        recv(a) -> msg => (0, msg.unwrap()),
                        recv(b) -> msg => (1, msg.unwrap()),
                        recv(c) -> msg => (2, msg.unwrap()),
                        recv(d) -> msg => (3, msg.unwrap()),
                    }
                });
                let chosen = round % 4;
                channels[chosen].0.send(round).unwrap();
                assert_eq!(selector.join(), (chosen, round));
                // Later traffic on every channel goes to a new receiver, not to the old select.
                for (index, (tx, rx)) in channels.iter().enumerate() {
                    let rx = rx.clone();
                    let receiver = go(move || rx.recv().unwrap());
                    tx.send(1000 + index).unwrap();
                    assert_eq!(receiver.join(), 1000 + index);
                }
            }
        }
    }

    fn a_blocked_send_arm_delivers_when_chosen() {
        for capacity in [0, 1] {
            let (tx, rx) = chan::<String>(capacity);
            let (_idle_tx, idle_rx) = chan::<()>(0);
            if capacity > 0 {
                tx.send("first".into()).unwrap();
            }
            let evaluations = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = evaluations.clone();
            let selector = go(move || {
                select! {
                    send(tx, { counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst); "lazy".to_string() }) -> res => res.unwrap(),
                    recv(idle_rx) -> _ => unreachable!(),
                }
            });
            if capacity > 0 {
                assert_eq!(rx.recv().unwrap(), "first");
            }
            assert_eq!(rx.recv().unwrap(), "lazy");
            selector.join();
            assert_eq!(evaluations.load(std::sync::atomic::Ordering::SeqCst), 1);
        }
    }

    fn close_wakes_a_blocked_select() {
        for capacity in [0, 2] {
            let (tx, rx) = chan::<u8>(capacity);
            let (out_tx, _out_rx) = chan::<u8>(0);
            let (_other_tx, other_rx) = chan::<u8>(0);
            let selector = go(move || {
                select! {
                    recv(rx) -> msg => msg,
                    recv(other_rx) -> _ => unreachable!(),
                }
            });
            let sending = go(move || {
                select! {
                    send(out_tx, 7) -> res => res,
                }
            });
            common::pause(SHORT); // makes the parked path likely; not needed for correctness
            tx.close().unwrap();
            assert_eq!(selector.join(), Err(RecvError));
            drop(_out_rx);
            assert_eq!(sending.join(), Err(SendError(7)));
        }
    }

    fn select_on_both_ends_of_one_channel() {
        // Two parties each offer to send and to receive on the same unbuffered channel:
        // they must pair up, never match themselves, and lose nothing.
        let (tx, rx) = chan::<u64>(0);
        let parties: Vec<_> = (0..2u64).map(|party| {
            let (tx, rx) = (tx.clone(), rx.clone());
            go(move || {
                let (mut sent, mut received) = (0u64, 0u64);
                for i in 0..2000u64 {
                    select! {
                        send(tx, party * 1_000_000 + i) -> res => { res.unwrap(); sent += 1 }
                        recv(rx) -> msg => { let v = msg.unwrap(); assert_ne!(v / 1_000_000, party, "matched itself"); received += 1 }
                    }
                }
                (sent, received)
            })
        }).collect();
        let totals: Vec<(u64, u64)> = parties.into_iter().map(common::Handle::join).collect();
        assert_eq!(totals[0].0, totals[1].1);
        assert_eq!(totals[1].0, totals[0].1);
    }

    fn bodies_can_break_and_continue() {
        let (tx, rx) = chan::<u32>(4);
        for i in 0..4 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut sum = 0;
        loop {
            select! {
                recv(rx) -> msg => match msg {
                    Ok(1) => continue,
                    Ok(v) => sum += v,
                    Err(_) => break,
                },
            }
        }
        assert_eq!(sum, 5);
    }

    fn a_panicking_send_value_gives_its_reservation_back() {
        for capacity in [0, 1] {
            let (tx, rx) = chan::<u32>(capacity);
            let receiver = {
                let rx = rx.clone();
                go(move || rx.recv())
            };
            if capacity == 0 {
                common::pause(SHORT); // let the receiver wait, so the arm claims it
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                select! {
                    send(tx, value_that_panics()) -> _ => {},
                    default(SHORT) => {}
                }
            }));
            // Whether or not the arm fired, the channel still works: the receiver gets the
            // next value, not a hole or a stuck reservation.
            let _ = outcome;
            tx.send(42).unwrap();
            assert_eq!(receiver.join(), Ok(42));
        }
    }

    fn dynamic_select() {
        let channels: Vec<_> = (0..5).map(|_| chan::<usize>(1)).collect();
        let (out_tx, out_rx) = chan::<usize>(1);
        let mut select = Select::new();
        for (_, rx) in &channels {
            select.recv(rx);
        }
        let send_index = select.send(&out_tx);
        assert_eq!(select.len(), 6);
        // Only the send is ready.
        let operation = select.select();
        assert_eq!(operation.index(), send_index);
        operation.send(&out_tx, 99).unwrap();
        assert_eq!(out_rx.recv(), Ok(99));
        // Now the buffer is empty again: fill it so the send is not ready.
        out_tx.send(0).unwrap();
        assert!(select.try_select().is_none());
        assert!(select.select_timeout(Duration::from_millis(5)).is_none());
        channels[3].0.send(33).unwrap();
        let operation = select.select_deadline(Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(operation.index(), 3);
        assert_eq!(operation.recv(&channels[3].1), Ok(33));
    }

    fn dynamic_select_checks_the_channel() {
        let (tx, rx) = chan::<u8>(1);
        let (_tx2, rx2) = chan::<u8>(1);
        tx.send(1).unwrap();
        let mut select = Select::new_biased();
        select.recv(&rx);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let operation = select.select();
            let _ = operation.recv(&rx2);
        }));
        assert!(result.is_err(), "completing with another channel panics");
    }
}
