//! [`Signal`]: the signals a program can subscribe to, their numbers and names.

use std::fmt;

/// A signal a program can subscribe to with [`notify`](super::notify) or
/// [`notify_context`](super::notify_context).
///
/// ```
/// use gort::signal::Signal;
/// assert_eq!(Signal::Terminate.number(), libc::SIGTERM);
/// assert_eq!(Signal::Interrupt.to_string(), "interrupt");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGHUP`: the terminal went away (often: reload configuration).
    Hangup,
    /// `SIGINT`: Ctrl-C.
    Interrupt,
    /// `SIGQUIT`: Ctrl-\.
    Quit,
    /// `SIGTERM`: the polite request to stop (sent by `kill`, service managers, containers).
    Terminate,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
    /// `SIGALRM`.
    Alarm,
    /// `SIGCHLD`: a child process changed state.
    Child,
    /// `SIGWINCH`: the terminal was resized.
    WindowChange,
}

impl Signal {
    /// Every signal, in declaration order (what an empty list subscribes to).
    pub(super) const ALL: [Signal; 9] = [
        Signal::Hangup,
        Signal::Interrupt,
        Signal::Quit,
        Signal::Terminate,
        Signal::User1,
        Signal::User2,
        Signal::Alarm,
        Signal::Child,
        Signal::WindowChange,
    ];

    /// The signal's number (`libc::SIGINT`, …).
    ///
    /// ```
    /// assert_eq!(gort::signal::Signal::User1.number(), libc::SIGUSR1);
    /// ```
    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => libc::SIGHUP,
            Signal::Interrupt => libc::SIGINT,
            Signal::Quit => libc::SIGQUIT,
            Signal::Terminate => libc::SIGTERM,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
            Signal::Alarm => libc::SIGALRM,
            Signal::Child => libc::SIGCHLD,
            Signal::WindowChange => libc::SIGWINCH,
        }
    }

    /// This signal's bit in a subscription's mask.
    pub(super) fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The mask of a subscription to `signals`: every signal if the list is empty (Go's
    /// `signal.Notify(c)` with no signals relays all of them).
    pub(super) fn mask_of(signals: &[Signal]) -> u32 {
        let list: &[Signal] = if signals.is_empty() {
            &Signal::ALL
        } else {
            signals
        };
        list.iter().fold(0, |mask, s| mask | s.bit())
    }
}

impl fmt::Display for Signal {
    /// Go's names (`os.Signal.String()`): "interrupt", "terminated", …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Hangup => "hangup",
            Signal::Interrupt => "interrupt",
            Signal::Quit => "quit",
            Signal::Terminate => "terminated",
            Signal::User1 => "user defined signal 1",
            Signal::User2 => "user defined signal 2",
            Signal::Alarm => "alarm clock",
            Signal::Child => "child exited",
            Signal::WindowChange => "window changed",
        })
    }
}
