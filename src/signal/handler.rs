//! The signal handler's side: what runs inside the handler, and the atomics it shares with the
//! registry.
//!
//! # What it owns
//! - `WANTED`: the signals some subscription wants (stored by the registry under its lock).
//! - `PENDING`: wanted signals that arrived and were not dispatched yet.
//! - `IN_HANDLER`: handlers running now, on any thread.
//! - `WAKE_FD`: an eventfd registered with the netpoller (`SIGNAL_TOKEN`); a handler writes
//!   to it after recording a signal, so the M that polls calls the registry's `dispatch`.
//!
//! A signal gets our handler (through signal-hook-registry, which chains it and saves
//! `errno`) when a subscription first wants it, and keeps it for the life of the process:
//! signal-hook cannot restore the original disposition, so the handler itself falls back.
//!
//! # The handler
//! `IN_HANDLER += 1`; if `WANTED` has the signal: `PENDING |= bit`, then write the eventfd;
//! otherwise the signal's default action, emulated in place (for `SIGTERM`, `SIGINT`, … the
//! process ends there); `IN_HANDLER -= 1`. It uses only atomics, `write(2)` and
//! signal-hook's `emulate_default_handler`: all async-signal-safe; no lock, no allocation.
//!
//! # Invariants
//! - *Never lost*: every signal that arrives either gets its default action, or is recorded in
//!   `PENDING` while wanted, which keeps a subscription listed, which counts as a netpoller
//!   waiter, so an M polls the eventfd and dispatches it; or, when the last subscription
//!   that wanted it ends first, the registry's `settle` dispatches it (giving it its default
//!   action then). Without subscriptions, nothing polls and nothing needs to.
//! - *Settled*: once `settle` returns, no handler that saw the old `WANTED` is still
//!   running, and what those handlers recorded has been taken from `PENDING`.
//!
//! # Memory ordering
//! - `IN_HANDLER` increment then `WANTED` load (handler) ↔ `WANTED` store then `IN_HANDLER`
//!   loads (`set_wanted`, then `wait_for_handlers` in `settle`): all `SeqCst`, a store-load
//!   pair each way, so either the handler sees the new `WANTED`, or `settle` sees it counted
//!   and waits for its decrement (`SeqCst` too: its `PENDING` update comes before it).
//! - `PENDING |= bit` then the eventfd write (handler) ↔ the eventfd read then
//!   `PENDING.swap(0)` (dispatch): a bit set after the swap comes with a write after the
//!   read, which the edge-triggered poller reports again. The `fetch_or` is `Release`, the
//!   swap `Acquire`: nothing else rides on them. `WAKE_FD` is stored (`Release`) before any
//!   handler is installed and loaded (`Acquire`) by handlers.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::Signal;
use crate::netpoll::{Poller, SIGNAL_TOKEN};

/// The signals some subscription wants (`Signal::bit`s).
static WANTED: AtomicU32 = AtomicU32::new(0);
/// Wanted signals recorded by a handler and not dispatched yet.
static PENDING: AtomicU32 = AtomicU32::new(0);
/// Handlers running now.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// The eventfd the handler writes to, or -1 before the first subscription.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Makes the eventfd and registers it with the netpoller. Called once, under the registry's
/// lock, before any handler is installed.
///
/// # Errors
/// If the process is out of descriptors, or epoll refuses it.
pub(super) fn create_wake_fd(poller: &Poller) -> io::Result<()> {
    // SAFETY: eventfd(2) has no memory arguments; the flags are valid.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    if let Err(error) =
        poller
            .registry()
            .register(&mut SourceFd(&fd), Token(SIGNAL_TOKEN), Interest::READABLE)
    {
        // SAFETY: `fd` is ours and nothing else knows it.
        unsafe { libc::close(fd) };
        return Err(error);
    }
    // Release: pairs with the handler's Acquire load (module docs). Never closed: it lives
    // as long as the handlers that write to it, which is the process.
    WAKE_FD.store(fd, Ordering::Release);
    Ok(())
}

/// Installs our handler for `signal` (once per signal; the registry keeps track).
///
/// # Errors
/// If signal-hook cannot install it.
pub(super) fn install(signal: Signal) -> io::Result<()> {
    let number = signal.number();
    let bit = signal.bit();
    // SAFETY: the action is async-signal-safe: it touches only atomics, calls write(2) on
    // an eventfd that is never closed, and signal-hook's emulate_default_handler, which is
    // documented async-signal-safe; it neither allocates nor locks.
    unsafe { signal_hook::low_level::register(number, move || on_signal(number, bit)) }?;
    Ok(())
}

/// The handler (see the module docs).
fn on_signal(number: i32, bit: u32) {
    // SeqCst: the store-load pair with `settle` (module docs).
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    if WANTED.load(Ordering::SeqCst) & bit != 0 {
        // Release: pairs with the Acquire swap in `take_pending`.
        PENDING.fetch_or(bit, Ordering::Release);
        let fd = WAKE_FD.load(Ordering::Acquire);
        let one: u64 = 1;
        // SAFETY: `one` is 8 readable bytes, as an eventfd write takes; `fd` is the eventfd
        // (stored before any handler was installed, never closed). A failure can only be
        // EAGAIN at a counter near 2^64, when it is readable already.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    } else {
        // Nobody wants it: what it would have done without gort (may not return).
        let _ = signal_hook::low_level::emulate_default_handler(number);
    }
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
}

/// Sets the signals the handlers record (under the registry's lock). Returns the previous set.
pub(super) fn set_wanted(mask: u32) -> u32 {
    // SeqCst: the store-load pair with the handler (module docs).
    WANTED.swap(mask, Ordering::SeqCst)
}

/// Resets the eventfd and takes the recorded signals (under the registry's lock).
pub(super) fn take_pending() -> u32 {
    let fd = WAKE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let mut count: u64 = 0;
        // SAFETY: `count` is 8 writable bytes, as an eventfd read needs; the fd is
        // non-blocking (EAGAIN when already reset), and never closed.
        unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
    }
    // Acquire: pairs with the handler's Release `fetch_or`.
    PENDING.swap(0, Ordering::Acquire)
}

/// After `set_wanted` dropped some signals: waits until no handler that may have seen the
/// old set still runs. Handlers are a few instructions and never block, so this spins.
pub(super) fn wait_for_handlers() {
    // SeqCst: the load side of the pair with the handler's increment (module docs).
    while IN_HANDLER.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}
