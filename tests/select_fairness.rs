//! When several arms are ready, `select!` picks one uniformly at random (Go's rule), and
//! `biased;` picks the first. Checked statistically: with N draws over k ready arms, each
//! count must lie within 6 standard deviations of N/k (a false alarm about once in 10⁸ runs).

#[path = "chan_common/mod.rs"]
mod common;

use gort::{chan, select, Select};

const DRAWS: usize = 12_000;

fn assert_uniform(counts: &[usize]) {
    let k = counts.len() as f64;
    let n = counts.iter().sum::<usize>() as f64;
    let mean = n / k;
    let deviation = (n * (1.0 / k) * (1.0 - 1.0 / k)).sqrt();
    for &count in counts {
        assert!(
            (count as f64 - mean).abs() <= 6.0 * deviation,
            "counts {counts:?} are not uniform (mean {mean}, sd {deviation:.1})"
        );
    }
}

both! {
    fn two_ready_receives() {
        let (a_tx, a_rx) = chan::<()>(1);
        let (b_tx, b_rx) = chan::<()>(1);
        let mut counts = [0; 2];
        for _ in 0..DRAWS {
            a_tx.try_send(()).ok();
            b_tx.try_send(()).ok();
            select! {
                recv(a_rx) -> _ => counts[0] += 1,
                recv(b_rx) -> _ => counts[1] += 1,
            }
        }
        assert_uniform(&counts);
    }

    fn three_ready_arms_of_both_kinds() {
        let (a_tx, a_rx) = chan::<u8>(1);
        let (b_tx, b_rx) = chan::<u8>(1);
        let (c_tx, c_rx) = chan::<u8>(1);
        let mut counts = [0; 3];
        for _ in 0..DRAWS {
            a_tx.try_send(0).ok();
            b_tx.try_send(0).ok();
            c_rx.try_recv().ok(); // keep room for the send arm
            select! {
                recv(a_rx) -> _ => counts[0] += 1,
                recv(b_rx) -> _ => counts[1] += 1,
                send(c_tx, 0) -> _ => counts[2] += 1,
            }
        }
        assert_uniform(&counts);
    }

    fn five_arms_with_two_ready_in_between() {
        // Ready arms at positions 1 and 4 of 5: a random rotation (rather than a shuffle)
        // would favour the arm after the longer run of unready ones.
        let channels: Vec<_> = (0..5).map(|_| chan::<()>(1)).collect();
        let mut counts = [0; 2];
        for _ in 0..DRAWS {
            channels[1].0.try_send(()).ok();
            channels[4].0.try_send(()).ok();
            select! {
                recv(channels[0].1) -> _ => unreachable!(),
                recv(channels[1].1) -> _ => counts[0] += 1,
                recv(channels[2].1) -> _ => unreachable!(),
                recv(channels[3].1) -> _ => unreachable!(),
                recv(channels[4].1) -> _ => counts[1] += 1,
            }
        }
        assert_uniform(&counts);
    }

    fn dynamic_select_is_uniform_too() {
        let channels: Vec<_> = (0..4).map(|_| chan::<()>(1)).collect();
        let mut select = Select::new();
        for (_, rx) in &channels {
            select.recv(rx);
        }
        let mut counts = [0; 4];
        for _ in 0..DRAWS {
            for (tx, _) in &channels {
                tx.try_send(()).ok();
            }
            let operation = select.select();
            let index = operation.index();
            operation.recv(&channels[index].1).unwrap();
            counts[index] += 1;
        }
        assert_uniform(&counts);
    }

    fn biased_always_takes_the_first_ready() {
        let (a_tx, a_rx) = chan::<()>(1);
        let (b_tx, b_rx) = chan::<()>(1);
        for _ in 0..1000 {
            a_tx.try_send(()).ok();
            b_tx.try_send(()).ok();
            select! {
                biased;
                recv(a_rx) -> _ => {}
                recv(b_rx) -> _ => unreachable!("a is ready"),
            }
        }
    }
}
