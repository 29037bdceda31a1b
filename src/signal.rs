//! Signals for goroutines (Go's `os/signal`): [`notify`] delivers the chosen signals as
//! values a goroutine waits for, and [`notify_done`] gives a "done" handle that fires at the
//! first one (Go's `signal.NotifyContext`), for graceful shutdown.
//!
//! # How a signal reaches a goroutine
//! The handler is signal-hook's (async-signal-safe: it records the signal and writes a byte
//! to a self-pipe). The pipe is registered with the runtime's netpoller (signal-hook-mio),
//! so the M that polls sees it like a readable socket and calls `dispatch`, which reads the
//! pending signals and hands each to every subscription that asked for it, waking its
//! waiters. While a subscription exists it counts as a netpoller waiter, so an idle runtime
//! blocks in the poller and a signal wakes it.
//!
//! # Subscriptions and the default action
//! Each `notify` adds a subscription; dropping its [`Receiver`] (or the last clone of a
//! [`Done`]) removes it. A signal that arrives when no subscription wants it gets the
//! signal's default action (for `Interrupt` and `Terminate`, the process ends), as after Go's
//! `signal.Stop`. A subscription buffers up to 64 undelivered signals and drops the rest
//! (signal-hook also merges repeats of one signal that arrive before they are read), like
//! Go's rule that the runtime never blocks sending to a full channel.
//!
//! # Locks
//! `REGISTRY` (subscriptions and the signal pipe) is held to add or remove a subscription and
//! to read the pipe; a subscription's `queue` lock only to push, pop or register a waiter.
//! Unparks happen after both are released. Neither is held across a park.
//!
//! Until `gort::chan` is available, [`Receiver`] is this module's own small queue; it will
//! become a channel receiver so a goroutine can wait for a signal in `select!` beside its
//! work.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use signal_hook_mio::v1_0::Signals;

use crate::netpoll::{self, SIGNAL_TOKEN};
use crate::runtime::g::WaitReason;
use crate::runtime::park::{self, Unparker};
use crate::runtime::sched::lock;

/// Undelivered signals a subscription keeps.
const QUEUE_LIMIT: usize = 64;

/// A signal a program can subscribe to.
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
    const ALL: [Signal; 9] = [
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

    fn from_number(number: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.number() == number)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Signal {
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

/// One subscription's buffered signals and waiters.
struct Subscription {
    id: u64,
    /// `Signal::bit`s it wants.
    mask: u32,
    /// A `Done`: the first signal stays (every wait returns it) instead of being consumed.
    sticky: bool,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Signal>,
    waiters: Vec<Unparker>,
}

impl Subscription {
    /// Queues `signal` (dropped past the limit; a sticky one keeps its first) and returns the
    /// waiters to wake.
    fn push(&self, signal: Signal) -> Vec<Unparker> {
        let mut q = lock(&self.queue);
        let keep = if self.sticky {
            q.items.is_empty()
        } else {
            q.items.len() < QUEUE_LIMIT
        };
        if keep {
            q.items.push_back(signal);
        }
        std::mem::take(&mut q.waiters)
    }

    /// Waits for a signal until `deadline`.
    fn wait(&self, deadline: Option<Instant>) -> Option<Signal> {
        loop {
            {
                let mut q = lock(&self.queue);
                let got = if self.sticky {
                    q.items.front().copied()
                } else {
                    q.items.pop_front()
                };
                if got.is_some() {
                    return got;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return None;
                }
                q.waiters.push(Unparker::current());
            }
            match deadline {
                None => park::park(WaitReason::ChanRecv),
                Some(d) => park::park_until(WaitReason::ChanRecv, d),
            }
        }
    }

    fn peek(&self) -> Option<Signal> {
        let mut q = lock(&self.queue);
        if self.sticky {
            q.items.front().copied()
        } else {
            q.items.pop_front()
        }
    }
}

/// The subscriptions and the signal pipe.
struct SignalRegistry {
    pipe: Option<Signals>,
    subscriptions: Vec<Arc<Subscription>>,
}

static REGISTRY: Mutex<SignalRegistry> = Mutex::new(SignalRegistry {
    pipe: None,
    subscriptions: Vec::new(),
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn subscribe(signals: &[Signal], sticky: bool) -> Arc<Subscription> {
    let sub = Arc::new(Subscription {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        mask: signals.iter().fold(0, |m, s| m | s.bit()),
        sticky,
        queue: Mutex::new(Queue::default()),
    });
    let poller = netpoll::poller();
    let mut reg = lock(&REGISTRY);
    if reg.pipe.is_none() {
        let mut pipe = Signals::new(std::iter::empty::<i32>())
            .unwrap_or_else(|e| panic!("gort: cannot create the signal pipe: {e}"));
        poller
            .registry()
            .register(&mut pipe, Token(SIGNAL_TOKEN), Interest::READABLE)
            .unwrap_or_else(|e| panic!("gort: cannot register the signal pipe: {e}"));
        reg.pipe = Some(pipe);
    }
    // Subscribe before installing the handler: a signal dispatched in between must find us.
    reg.subscriptions.push(sub.clone());
    let pipe = reg.pipe.as_ref().expect("created above");
    for signal in signals {
        pipe.add_signal(signal.number())
            .unwrap_or_else(|e| panic!("gort: cannot install a handler for signal {signal}: {e}"));
    }
    drop(reg);
    poller.waiter_added();
    sub
}

fn unsubscribe(id: u64) {
    let mut reg = lock(&REGISTRY);
    if let Some(i) = reg.subscriptions.iter().position(|s| s.id == id) {
        reg.subscriptions.swap_remove(i);
        drop(reg);
        netpoll::poller().waiter_removed();
    }
}

/// Called by the netpoller when the signal pipe is readable: hands every pending signal to
/// the subscriptions that want it (or applies its default action if none does).
pub(crate) fn dispatch() {
    let mut wake: Vec<Unparker> = Vec::new();
    let mut unwanted: Vec<i32> = Vec::new();
    {
        let mut reg = lock(&REGISTRY);
        let SignalRegistry {
            pipe,
            subscriptions,
        } = &mut *reg;
        let Some(pipe) = pipe.as_mut() else {
            return;
        };
        for number in pipe.pending() {
            let Some(signal) = Signal::from_number(number) else {
                continue;
            };
            let mut wanted = false;
            for sub in subscriptions.iter().filter(|s| s.mask & signal.bit() != 0) {
                wanted = true;
                wake.extend(sub.push(signal));
            }
            if !wanted {
                unwanted.push(number);
            }
        }
    }
    for unparker in wake {
        unparker.unpark_in_order();
    }
    for number in unwanted {
        // Nobody listens any more: what the signal would have done without gort.
        let _ = signal_hook::low_level::emulate_default_handler(number);
    }
}

/// Delivers the given signals to the returned [`Receiver`] instead of their default action
/// (Go's `signal.Notify`). Several subscriptions may want the same signal: each gets it.
/// Dropping the receiver ends the subscription.
///
/// ```
/// use gort::signal::{notify, Signal};
/// let signals = notify(&[Signal::User1]);
/// let h = gort::go!(move || signals.recv());
/// // SAFETY: raise(3) only sends a signal to this process; it is subscribed to.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// assert_eq!(h.join().unwrap(), Signal::User1);
/// ```
///
/// # Panics
/// If the signal machinery cannot be set up (the process is out of file descriptors on
/// first use).
pub fn notify(signals: &[Signal]) -> Receiver {
    Receiver {
        sub: subscribe(signals, false),
    }
}

/// A handle that becomes done at the first of the given signals (Go's
/// `signal.NotifyContext`, as a done handle until gort has contexts). Clones share it; every
/// waiter sees the signal; dropping the last clone ends the subscription.
///
/// ```
/// use gort::signal::{notify_done, Signal};
/// let done = notify_done(&[Signal::User2]);
/// assert!(!done.is_done());
/// let d = done.clone();
/// let h = gort::go!(move || d.wait());
/// // SAFETY: raise(3) only sends a signal to this process; it is subscribed to.
/// unsafe { libc::raise(libc::SIGUSR2) };
/// assert_eq!(h.join().unwrap(), Signal::User2);
/// assert_eq!(done.signal(), Some(Signal::User2));
/// ```
///
/// # Panics
/// As [`notify`].
pub fn notify_done(signals: &[Signal]) -> Done {
    Done {
        inner: Arc::new(Receiver {
            sub: subscribe(signals, true),
        }),
    }
}

/// Signals from [`notify`], in arrival order.
pub struct Receiver {
    sub: Arc<Subscription>,
}

impl Receiver {
    /// Waits for the next signal (parks the goroutine, or blocks a plain thread).
    pub fn recv(&self) -> Signal {
        self.sub
            .wait(None)
            .expect("a wait without deadline returns a signal")
    }

    /// The next signal if one has arrived.
    pub fn try_recv(&self) -> Option<Signal> {
        self.sub.peek()
    }

    /// Waits for the next signal at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Signal> {
        self.sub.wait(Instant::now().checked_add(timeout))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        unsubscribe(self.sub.id);
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wanted: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| self.sub.mask & s.bit() != 0)
            .collect();
        f.debug_struct("Receiver")
            .field("signals", &wanted)
            .finish()
    }
}

/// The handle of [`notify_done`].
#[derive(Clone, Debug)]
pub struct Done {
    inner: Arc<Receiver>,
}

impl Done {
    /// Waits until one of the signals arrived, and returns it (the first one).
    pub fn wait(&self) -> Signal {
        self.inner.recv()
    }

    /// Waits at most `timeout`; the signal, or `None` if none came.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Signal> {
        self.inner.recv_timeout(timeout)
    }

    /// Whether one of the signals arrived.
    pub fn is_done(&self) -> bool {
        self.signal().is_some()
    }

    /// The first signal that arrived, if any.
    pub fn signal(&self) -> Option<Signal> {
        self.inner.try_recv()
    }
}
