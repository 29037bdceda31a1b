//! Goroutine results as channel messages: [`join_chan`], [`as_completed`], [`first`].
//!
//! A `JoinHandle` has one joiner and no channel of its own, so each adapted handle gets a
//! small joiner goroutine that joins it and sends the result on a buffered channel (capacity
//! enough for every result, so a joiner never blocks and never outlives its target by more
//! than the send). Cost: one goroutine spawn per handle. Nothing is lost: a result whose
//! receiver is gone is dropped with the failed send, as the handle's drop would have.

use crate::chan::{chan, Receiver};
use crate::runtime::join::{JoinError, JoinHandle};

/// A channel that receives the goroutine's result when it finishes: a [`JoinHandle`] usable in
/// `select!`.
///
/// ```
/// use std::time::Duration;
/// let slow = gort::join_chan(gort::go!(|| { gort::sleep(Duration::from_secs(60)); "slow" }));
/// let fast = gort::join_chan(gort::go!(|| "fast"));
/// let winner = gort::select! {
///     recv(slow) -> r => r.unwrap().unwrap(),
///     recv(fast) -> r => r.unwrap().unwrap(),
/// };
/// assert_eq!(winner, "fast");
/// ```
#[track_caller]
pub fn join_chan<T: Send + 'static>(handle: JoinHandle<T>) -> Receiver<Result<T, JoinError>> {
    let (results, receiver) = chan(1);
    crate::spawn(move || {
        let _ = results.send(handle.join());
    });
    receiver
}

/// A channel that receives `(index, result)` for every handle, in the order the goroutines
/// finish; it closes after the last one.
///
/// ```
/// use std::time::Duration;
/// let handles = vec![
///     gort::go!(|| { gort::sleep(Duration::from_millis(20)); 'a' }),
///     gort::go!(|| 'b'),
/// ];
/// let order: Vec<usize> = gort::as_completed(handles).iter().map(|(i, _)| i).collect();
/// assert_eq!(order, [1, 0]);
/// ```
#[track_caller]
pub fn as_completed<T: Send + 'static>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Receiver<(usize, Result<T, JoinError>)> {
    let handles: Vec<_> = handles.into_iter().collect();
    let (results, receiver) = chan(handles.len().max(1));
    for (index, handle) in handles.into_iter().enumerate() {
        let results = results.clone();
        crate::spawn(move || {
            let _ = results.send((index, handle.join()));
        });
    }
    receiver
}

/// Waits for the first of `handles` to finish and returns its index and result; `None` if
/// there are none. The others run on, detached (a goroutine cannot be stopped from outside;
/// share a [`Context`](crate::Context) with them to ask them to stop).
///
/// ```
/// use std::time::Duration;
/// let (index, result) = gort::first([
///     gort::go!(|| { gort::sleep(Duration::from_secs(60)); "mirror a" }),
///     gort::go!(|| "mirror b"),
/// ])
/// .unwrap();
/// assert_eq!((index, result.unwrap()), (1, "mirror b"));
/// ```
#[track_caller]
pub fn first<T: Send + 'static>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Option<(usize, Result<T, JoinError>)> {
    as_completed(handles).recv().ok()
}
