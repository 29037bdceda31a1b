//! `Select`: a select over a set of operations known only at run time (Go's `reflect.Select`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::arm::{Arm, ArmRef, RecvArm, SelectReceiver, SelectSender, SendArm};
use super::run::{run, Mode};
use crate::chan::{Receiver, RecvError, SendError, Sender};

/// A select whose operations are added at run time: Go's `reflect.Select`, for when the
/// number of channels is not known when the code is written. (For a fixed set of arms,
/// [`select!`](crate::select!) is shorter and allocates nothing.)
///
/// Add operations with [`Select::recv`] and [`Select::send`] (each returns the operation's
/// index), then call [`Select::select`] (or a variant with a timeout): it waits until one
/// operation can proceed and returns it as a [`SelectedOperation`], which you complete with
/// the same channel. As with `select!`, ready operations are chosen uniformly at random,
/// unless the `Select` was made with [`Select::new_biased`]; a `None` channel never fires.
///
/// ```
/// use gort::Select;
/// let channels: Vec<_> = (0..4).map(|_| gort::chan::<usize>(1)).collect();
/// channels[2].0.send(20).unwrap();
///
/// let mut select = Select::new();
/// for (_, rx) in &channels {
///     select.recv(rx);
/// }
/// let operation = select.select();
/// let index = operation.index();
/// assert_eq!(index, 2);
/// assert_eq!(operation.recv(&channels[index].1), Ok(20));
/// ```
pub struct Select<'a> {
    arms: Vec<Box<dyn Arm + 'a>>,
    biased: bool,
}

impl<'a> Select<'a> {
    /// An empty select that picks among ready operations uniformly at random.
    pub fn new() -> Select<'a> {
        Select {
            arms: Vec::new(),
            biased: false,
        }
    }

    /// An empty select that picks the first ready operation in the order they were added.
    pub fn new_biased() -> Select<'a> {
        Select {
            arms: Vec::new(),
            biased: true,
        }
    }

    /// Adds a receive from `source` (a `Receiver`, or an `Option` of one: `None` never
    /// fires) and returns its index.
    pub fn recv<S: SelectReceiver + ?Sized>(&mut self, source: &'a S) -> usize
    where
        S::Item: 'a,
    {
        self.arms.push(Box::new(RecvArm::new(source)));
        self.arms.len() - 1
    }

    /// Adds a send on `source` (a `Sender`, or an `Option` of one) and returns its index.
    /// The value is given later, to [`SelectedOperation::send`], only if this one is chosen.
    pub fn send<S: SelectSender + ?Sized>(&mut self, source: &'a S) -> usize
    where
        S::Item: 'a,
    {
        self.arms.push(Box::new(SendArm::new(source)));
        self.arms.len() - 1
    }

    /// Number of operations added.
    pub fn len(&self) -> usize {
        self.arms.len()
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.arms.is_empty()
    }

    /// Waits until an operation can proceed and returns it. With no enabled operation, this
    /// waits forever (Go's `select {}`).
    pub fn select(&mut self) -> SelectedOperation<'_, 'a> {
        let index = self
            .run(Mode::Block)
            .expect("a blocking select returns only when an arm fired");
        SelectedOperation {
            select: self,
            index,
            completed: false,
        }
    }

    /// Returns a ready operation, or `None` if none is ready now.
    pub fn try_select(&mut self) -> Option<SelectedOperation<'_, 'a>> {
        let index = self.run(Mode::NonBlocking)?;
        Some(SelectedOperation {
            select: self,
            index,
            completed: false,
        })
    }

    /// Waits at most `timeout` for an operation.
    pub fn select_timeout(&mut self, timeout: Duration) -> Option<SelectedOperation<'_, 'a>> {
        let index = self.run(Mode::Timeout(timeout))?;
        Some(SelectedOperation {
            select: self,
            index,
            completed: false,
        })
    }

    /// Waits until `deadline` at most for an operation.
    pub fn select_deadline(&mut self, deadline: Instant) -> Option<SelectedOperation<'_, 'a>> {
        let index = self.run(Mode::Deadline(deadline))?;
        Some(SelectedOperation {
            select: self,
            index,
            completed: false,
        })
    }

    fn run(&mut self, mode: Mode) -> Option<usize> {
        let mut arms: Vec<ArmRef<'_>> = self
            .arms
            .iter_mut()
            .map(|arm| ArmRef {
                arm: &mut **arm,
                index: 0,
            })
            .collect();
        run(&mut arms, self.biased, mode)
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.arms.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// The operation a [`Select`] chose. Complete it with [`SelectedOperation::recv`] or
/// [`SelectedOperation::send`] and the channel of that operation.
///
/// # Panics
/// Dropping it without completing panics (a chosen receive has already taken its value,
/// which is then dropped; a chosen send gives its slot or receiver back first).
pub struct SelectedOperation<'s, 'a> {
    select: &'s mut Select<'a>,
    index: usize,
    completed: bool,
}

impl SelectedOperation<'_, '_> {
    /// The index of the chosen operation (as returned by `Select::recv`/`send`).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a chosen receive: the value, or `RecvError` if the channel is closed.
    ///
    /// # Errors
    /// [`RecvError`] when the receive fired because the channel is closed and drained.
    ///
    /// # Panics
    /// If `receiver` is not the receiver of the chosen operation.
    pub fn recv<T>(mut self, receiver: &Receiver<T>) -> Result<T, RecvError> {
        let arm = &mut self.select.arms[self.index];
        assert!(
            !arm.is_send() && arm.channel_address() == Arc::as_ptr(&receiver.channel).cast(),
            "SelectedOperation::recv: not the receiver of the chosen operation"
        );
        self.completed = true;
        // SAFETY: the arm is a receive arm on the very channel `receiver` points to (same
        // live allocation), so it is a `RecvArm` of the same `T`; `as_erased` points to it.
        let arm = unsafe { &mut *arm.as_erased().cast::<RecvArm<'_, T>>() };
        arm.received()
    }

    /// Completes a chosen send with `value` (evaluated only now).
    ///
    /// # Errors
    /// `SendError(value)` when the send fired because the channel is closed.
    ///
    /// # Panics
    /// If `sender` is not the sender of the chosen operation.
    pub fn send<T>(mut self, sender: &Sender<T>, value: T) -> Result<(), SendError<T>> {
        let arm = &mut self.select.arms[self.index];
        assert!(
            arm.is_send() && arm.channel_address() == Arc::as_ptr(&sender.channel).cast(),
            "SelectedOperation::send: not the sender of the chosen operation"
        );
        self.completed = true;
        // SAFETY: as in `recv`, for a send arm.
        let arm = unsafe { &mut *arm.as_erased().cast::<SendArm<'_, T>>() };
        arm.complete(value)
    }
}

impl Drop for SelectedOperation<'_, '_> {
    fn drop(&mut self) {
        if self.completed {
            return;
        }
        let arm = &mut self.select.arms[self.index];
        debug_assert!(arm.has_fired());
        arm.discard();
        if !std::thread::panicking() {
            panic!("a SelectedOperation was dropped without recv or send");
        }
    }
}

impl fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}
