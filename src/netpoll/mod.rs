//! The netpoller: one epoll instance (a `mio::Poll`) for the whole runtime, driven by the Ms
//! themselves, as in Go (`runtime/netpoll.go`, `netpoll_epoll.go`).
//!
//! # Who polls
//! - An M that finds no G to run polls **without blocking** before it spins and steals
//!   (`find.rs` calls [`poll_ready`], after one look for a backlog on another P): the Gs it
//!   readies land on its own P.
//! - An M going idle (`m::stop_m`) blocks in the poller if there is anything to wait for
//!   (a G waiting for I/O, a signal subscription, or a timer) and some P is idle: it is then
//!   also the *timer sleeper*, with the next timer deadline as its timeout ([`idle_poll`]).
//!   Only one M blocks there; the others sleep in the idle list. An earlier timer wakes it
//!   ([`wake_for_timer`], through the `mio::Waker`), and so does new work: `Sched::start_m`
//!   hands a P to this M before any M of the idle list and calls [`wake`]; it returns with
//!   the I/O that is ready too and runs those Gs on that P (`runtime/idle.rs` says why).
//! - While every P is held, no M blocks in the poller: the Ms holding the Ps poll without
//!   blocking every 61st schedule (with the global-queue check, tokio's `event_interval`)
//!   and whenever they run dry, after one look for a backlog on another P. Go blocks a
//!   P-less M in `netpoll` even then; under an HTTP load (`benches/http`) that M woke for
//!   nearly every event (an `epoll_wait` per 1.6 requests, against tokio's one per ~60)
//!   only to queue the G globally, and its wake-ups preempted the Ms holding the Ps: p99
//!   latency ~3.5–3.9 ms against tokio's ~2.4–3.2.
//! - `sysmon` polls if nobody has for 10 ms, so a program whose Ms all run long computations
//!   still notices its sockets.
//!
//! The right to poll is one flag (`polling`): the kernel would allow several concurrent
//! `epoll_wait`s, but one poller keeps the retire protocol below trivial, and a second poller
//! could only find events the first one will also report. The waiting itself is a direct
//! `epoll_pwait2` on the `Poll`'s descriptor, because `mio::Poll::poll` rounds timeouts up to
//! whole milliseconds and timers need better (`epoll_wait` with that rounding remains as the
//! fallback for kernels older than 5.11). Registration, the waker and the sockets are mio's;
//! the signal handler's eventfd is registered through mio too (`signal/handler.rs`).
//!
//! # Tokens and the lifetime of a `PollDesc`
//! A registered descriptor's token is the address of its `PollDesc`, whose `Arc` the
//! registration owns. An event for it may already sit in a poller's buffer when the socket is
//! deregistered, so deregistration does not free the `PollDesc`: it goes to `retired`, and the
//! next thread to take the poll right frees it. Invariant: a retired `PollDesc` was
//! deregistered (`EPOLL_CTL_DEL` returned) before it was retired, so only an `epoll_wait` that
//! returned before then can hold its token, and that wait's holder released the poll right
//! before anyone else could take it and free the list.
//!
//! # Not losing a wake-up
//! - For I/O, the per-direction protocol in [`desc`].
//! - For the poller role (who will poll when every M is idle): an M registers as idle, then
//!   (StoreLoad) checks [`poller_wanted`]; a timer adder inserts, then (StoreLoad) wakes the
//!   blocked poller or pokes an idle M (`timer.rs`). An M that found the poll right briefly
//!   held by a non-blocking poller sets `contended` before it parks; the holder clears the
//!   right, then (StoreLoad) reads `contended` and pokes an idle M.
//!
//! # Memory ordering
//! `polling` is taken with an Acquire CAS and released with a SeqCst store (Release for the
//! next holder's Acquire; SeqCst for the `contended` handshake). `blocked_until`, `waiters`,
//! `contended` are SeqCst: each takes part in one of the StoreLoad pairs above.

pub(crate) mod desc;

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::runtime::clock;
use crate::runtime::m::MLocal;
use crate::runtime::p::P;
use crate::runtime::sched::{lock, Sched};

pub(crate) use desc::{closed_error, Direction, PollDesc};

/// The waker's token.
const WAKER_TOKEN: usize = 1;
/// The signal eventfd's token (`signal/handler.rs`).
pub(crate) const SIGNAL_TOKEN: usize = 2;
/// Events taken per `epoll_wait`.
const EVENT_BATCH: usize = 128;
/// `blocked_until` when no M is blocked in the poller.
const NOT_BLOCKED: u64 = 0;
/// `blocked_until` when the blocked M has no timer to wake for.
const NO_DEADLINE: u64 = u64::MAX;

/// The runtime's poller.
pub(crate) struct Poller {
    /// Owns the epoll descriptor.
    poll: mio::Poll,
    registry: Registry,
    waker: mio::Waker,
    /// The poll right (see the module docs).
    polling: AtomicBool,
    /// An idle M wanted the poll right while a non-blocking poller held it.
    contended: AtomicBool,
    /// The deadline (timer nanoseconds) the blocked M sleeps until, or `NOT_BLOCKED`.
    blocked_until: AtomicU64,
    /// A wake-up was sent to the blocked M and it has not returned yet (saves syscalls).
    wake_sent: AtomicBool,
    /// Goroutines waiting on a descriptor, plus live signal subscriptions: while non-zero,
    /// an idle M blocks in the poller rather than in the idle list.
    waiters: AtomicUsize,
    /// Polls so far, for sysmon's "nobody polled for 10 ms".
    polls: AtomicU64,
    /// Deregistered descriptors not yet freed (see the module docs).
    retired: Mutex<Vec<Arc<PollDesc>>>,
    nretired: AtomicUsize,
    /// `epoll_pwait2` returned ENOSYS: use `epoll_wait` with millisecond timeouts.
    no_pwait2: AtomicBool,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .field("blocked_until", &self.blocked_until.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

static POLLER: OnceLock<Poller> = OnceLock::new();

/// The runtime's poller, created on first use.
///
/// # Panics
/// If the kernel refuses an epoll instance or an eventfd (out of descriptors at start-up):
/// the runtime cannot wait for timers or sockets without them (Go throws there too).
pub(crate) fn poller() -> &'static Poller {
    POLLER.get_or_init(|| match Poller::new() {
        Ok(p) => p,
        Err(e) => panic!("gort: cannot create the netpoller (epoll): {e}"),
    })
}

/// The poller if it exists (sysmon and the timers do not create it).
pub(crate) fn poller_if_started() -> Option<&'static Poller> {
    POLLER.get()
}

impl Poller {
    fn new() -> io::Result<Poller> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, Token(WAKER_TOKEN))?;
        Ok(Poller {
            poll,
            registry,
            waker,
            polling: AtomicBool::new(false),
            contended: AtomicBool::new(false),
            blocked_until: AtomicU64::new(NOT_BLOCKED),
            wake_sent: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            polls: AtomicU64::new(0),
            retired: Mutex::new(Vec::new()),
            nretired: AtomicUsize::new(0),
            no_pwait2: AtomicBool::new(false),
        })
    }

    /// The registry, for sources that register themselves (the signal eventfd).
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registers `fd` for read and write readiness (edge-triggered) and returns its record.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<Arc<PollDesc>> {
        let desc = Arc::new(PollDesc::new());
        let token = Arc::into_raw(desc.clone()) as usize;
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .registry
            .register(&mut SourceFd(&fd), Token(token), interest)
        {
            // SAFETY: `token` came from `Arc::into_raw` just above and was not registered, so
            // this is the only use of that strong reference.
            drop(unsafe { Arc::from_raw(token as *const PollDesc) });
            return Err(e);
        }
        Ok(desc)
    }

    /// Removes `fd` from the poller. `desc` is the record `register` returned for it; its
    /// registration reference is retired, not freed (see the module docs). Call once.
    pub(crate) fn deregister(&self, fd: RawFd, desc: &Arc<PollDesc>) {
        // An error means the kernel no longer has it (nothing else can fail for a valid
        // registration); the token reference must be retired either way.
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        let raw = Arc::as_ptr(desc);
        // SAFETY: `register` leaked exactly one strong reference as this token, and the
        // caller deregisters once, so we take that reference back exactly once.
        let registration = unsafe { Arc::from_raw(raw) };
        lock(&self.retired).push(registration);
        self.nretired.fetch_add(1, Ordering::Release);
    }

    /// A goroutine started waiting on a descriptor (or a signal subscription began).
    pub(crate) fn waiter_added(&self) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
    }

    /// The matching end of `waiter_added`.
    pub(crate) fn waiter_removed(&self) {
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// After `waiter_added` for a waiter that no running goroutine brings along (a signal
    /// subscription, made from any thread): unlike an I/O waiter, whose own M goes idle and
    /// polls after it parks, nobody may be about to poll for it. Starts the runtime if needed;
    /// if no M blocks in the poller and every P is idle, pokes an idle M (or starts one),
    /// which takes the poller role.
    pub(crate) fn ensure_polled(&self) {
        let s = crate::runtime::sched::sched();
        // StoreLoad, as `timer::poke_for`: pairs with the fence in `m::stop_m` (register idle,
        // then `poller_wanted` reads `waiters`) and with `idle_poll`'s store of
        // `blocked_until`. An M that goes idle after our fence sees our waiter itself.
        fence(Ordering::SeqCst);
        if self.blocked_until.load(Ordering::SeqCst) != NOT_BLOCKED {
            return;
        }
        if s.npidle.load(Ordering::SeqCst) >= s.nprocs() {
            s.poke_idle_m();
        }
    }

    /// The end of a waiter that no event will ever wake (a signal subscription that ended).
    /// If it was the last waiter, the M blocked in the poller without a deadline waits for
    /// nothing any more: wake it, so it sleeps in the idle list, where the deadlock detector
    /// counts it. (An I/O waiter needs none of this: it leaves when its own G runs again.)
    pub(crate) fn waiter_abandoned(&self) {
        // SeqCst: pairs with `idle_poll`'s store of `blocked_until`, fence, then `has_waiters`:
        // either it sees no waiter and does not block, or we see it blocked here.
        if self.waiters.fetch_sub(1, Ordering::SeqCst) == 1
            && self.blocked_until.load(Ordering::SeqCst) == NO_DEADLINE
        {
            self.wake();
        }
    }

    fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) != 0
    }

    /// Wakes the M blocked in the poller (at most one wake-up in flight).
    fn wake(&self) {
        if !self.wake_sent.swap(true, Ordering::AcqRel) {
            // Only fails if the eventfd is gone, which cannot happen while the poller lives.
            let _ = self.waker.wake();
        }
    }

    /// Takes the poll right, and frees what was retired before it.
    fn try_acquire(&self) -> Option<PollRight<'_>> {
        if self.polling.load(Ordering::Relaxed)
            || self
                .polling
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        if self.nretired.load(Ordering::Acquire) != 0 {
            let freed = std::mem::take(&mut *lock(&self.retired));
            self.nretired.fetch_sub(freed.len(), Ordering::Relaxed);
            drop(freed);
        }
        Some(PollRight { poller: self })
    }

    /// One `epoll_wait`; returns the number of events written to `events`.
    fn wait(
        &self,
        events: &mut [MaybeUninit<libc::epoll_event>],
        timeout: Option<Duration>,
    ) -> usize {
        let epfd = self.poll.as_raw_fd();
        let max = events.len() as libc::c_int;
        let buf = events.as_mut_ptr().cast::<libc::epoll_event>();
        self.polls.fetch_add(1, Ordering::Relaxed);
        let n = if self.no_pwait2.load(Ordering::Relaxed) {
            epoll_wait_ms(epfd, buf, max, timeout)
        } else {
            let ts = timeout.map(|d| libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            });
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // `buf` has `max` writable epoll_event slots (MaybeUninit: the kernel only writes
            // them); a null sigmask means "do not change it"; the last argument is the sigset
            // size the kernel expects even when the mask is null.
            // SAFETY: the buffer and `ts_ptr` (null or a live timespec) are valid, as above.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    epfd,
                    buf,
                    max,
                    ts_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    8usize,
                )
            };
            if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                self.no_pwait2.store(true, Ordering::Relaxed);
                epoll_wait_ms(epfd, buf, max, timeout)
            } else {
                r as isize
            }
        };
        // EINTR (a signal) or any transient failure: report no events; callers loop.
        n.max(0) as usize
    }

    /// Delivers the events of one wait. Returns how many concerned descriptors or signals.
    fn dispatch(&self, events: &[MaybeUninit<libc::epoll_event>]) -> usize {
        let mut delivered = 0;
        for event in events {
            // SAFETY: the caller passes only the prefix the kernel wrote.
            let event = unsafe { event.assume_init_read() };
            let (flags, token) = (event.events, event.u64 as usize);
            match token {
                // Whoever takes the waker's event ends the wake-up in flight: a non-blocking
                // poller may take it (the M it was meant for returned already), and a
                // `wake_sent` left set would swallow the next real wake-up of a blocked M.
                WAKER_TOKEN => self.wake_sent.store(false, Ordering::Release),
                SIGNAL_TOKEN => {
                    crate::signal::dispatch();
                    delivered += 1;
                }
                token => {
                    // A token other than the two above is the address of a PollDesc whose
                    // registration reference is alive: it is freed only after deregistration
                    // by the next holder of the poll right (module docs: the retire protocol).
                    // SAFETY: we hold the poll right, so that PollDesc is alive.
                    let desc = unsafe { &*(token as *const PollDesc) };
                    let error = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
                    let readable = (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP) as u32;
                    if flags & (error | libc::EPOLLRDHUP as u32) != 0 {
                        let write = if flags & error != 0 {
                            desc::HANGUP_WRITE
                        } else {
                            0
                        };
                        desc.note_hangup(desc::HANGUP_READ | write);
                    }
                    if flags & (readable | error) != 0 {
                        desc.notify(Direction::Read);
                    }
                    if flags & (libc::EPOLLOUT as u32 | error) != 0 {
                        desc.notify(Direction::Write);
                    }
                    delivered += 1;
                }
            }
        }
        // [leak] For `gort::metrics().netpoll_wakeups`.
        crate::diag::counters::note_netpoll_wakeups(delivered);
        delivered
    }
}

/// `epoll_wait` with the timeout rounded up to whole milliseconds (the fallback).
fn epoll_wait_ms(
    epfd: RawFd,
    buf: *mut libc::epoll_event,
    max: libc::c_int,
    timeout: Option<Duration>,
) -> isize {
    let ms = timeout.map_or(-1, |d| {
        libc::c_int::try_from(d.saturating_add(Duration::from_nanos(999_999)).as_millis())
            .unwrap_or(libc::c_int::MAX)
    });
    // SAFETY: `buf` points to `max` writable epoll_event slots (see `Poller::wait`).
    unsafe { libc::epoll_wait(epfd, buf, max, ms) as isize }
}

/// The poll right; dropping it releases the right and answers a contended idle M.
struct PollRight<'a> {
    poller: &'a Poller,
}

impl Drop for PollRight<'_> {
    fn drop(&mut self) {
        let poller = self.poller;
        // SeqCst: pairs with `poller_wanted` (set `contended`, then read `polling`).
        poller.polling.store(false, Ordering::SeqCst);
        if poller.contended.swap(false, Ordering::SeqCst) {
            if let Some(s) = crate::runtime::sched::sched_if_started() {
                s.poke_idle_m();
            }
        }
    }
}

/// Delivers events; the goroutines they ready go to the caller's P if it holds one. Then
/// the caller runs the first of them itself, as Go's `findrunnable` does with what `netpoll`
/// returns: meanwhile it counts as a spinner, so each readied G does not wake an idle M
/// (`wakep_local` stays quiet while one spins); afterwards one M is woken if there is more
/// than one G to run, and it wakes more if needed (`reset_spinning`).
fn dispatch_here(poller: &Poller, events: &[MaybeUninit<libc::epoll_event>]) -> usize {
    let sched =
        crate::runtime::m::current_p().and_then(|_| crate::runtime::sched::sched_if_started());
    let Some(s) = sched else {
        return poller.dispatch(events);
    };
    s.nmspinning.fetch_add(1, Ordering::SeqCst);
    let delivered = poller.dispatch(events);
    s.nmspinning.fetch_sub(1, Ordering::SeqCst);
    if delivered > 1 || !s.global.is_empty() {
        s.wakep();
    }
    delivered
}

fn event_buffer() -> [MaybeUninit<libc::epoll_event>; EVENT_BATCH] {
    [const { MaybeUninit::uninit() }; EVENT_BATCH]
}

/// Polls without blocking if goroutines wait for I/O and no M is blocked in the poller.
/// Readied goroutines go to the caller's P if it holds one, else to the global queue.
/// Returns whether anything was readied.
pub(crate) fn poll_ready() -> bool {
    let Some(poller) = poller_if_started() else {
        return false;
    };
    if !poller.has_waiters() || poller.blocked_until.load(Ordering::Relaxed) != NOT_BLOCKED {
        return false;
    }
    let Some(right) = poller.try_acquire() else {
        return false;
    };
    let mut events = event_buffer();
    let n = poller.wait(&mut events, Some(Duration::ZERO));
    let delivered = dispatch_here(poller, &events[..n]);
    drop(right);
    delivered != 0
}

/// sysmon's safety net: returns the number of polls so far, after polling (without
/// blocking) if `overdue` (sysmon saw the count stay at `last_seen` for 10 ms) and no M is
/// blocked in the poller.
pub(crate) fn poll_count_or_poll(last_seen: u64, overdue: bool) -> u64 {
    let Some(poller) = poller_if_started() else {
        return 0;
    };
    let polls = poller.polls.load(Ordering::Relaxed);
    if overdue && polls == last_seen && poller.blocked_until.load(Ordering::Relaxed) == NOT_BLOCKED
    {
        poll_ready();
        return poller.polls.load(Ordering::Relaxed);
    }
    polls
}

/// Whether an idle M should block in the poller: goroutines wait for I/O or signals, or
/// timers are pending, and some P is idle. While every P is held, their Ms poll instead
/// (without blocking, when they run dry and every 61st schedule, `find.rs`) and fire due
/// timers (every 8th): an M with no P to run what it polls would only wake up for each event
/// to queue it globally, and under load those wake-ups preempt the Ms that hold the Ps (see
/// "Who polls" in the module docs).
fn needs_poller(s: &Sched) -> bool {
    s.npidle.load(Ordering::SeqCst) != 0
        && (poller_if_started().is_some_and(Poller::has_waiters)
            || s.timers.next_deadline().is_some())
}

/// Called by an idle M after it registered in the idle list (and a StoreLoad fence): true if
/// it should take the poller role instead of sleeping, because there is something to wait
/// for and nobody polls. If a non-blocking poller holds the right just now, it records that
/// it wanted it: the holder will poke an idle M when it lets go.
pub(crate) fn poller_wanted(s: &Sched) -> bool {
    if !needs_poller(s) {
        return false;
    }
    let poller = poller();
    if poller.blocked_until.load(Ordering::SeqCst) != NOT_BLOCKED {
        return false;
    }
    poller.contended.store(true, Ordering::SeqCst);
    !poller.polling.load(Ordering::SeqCst)
}

/// An earlier timer than the blocked poller's deadline (or any, if `deadline` is earlier):
/// wake it. Returns false if no M is blocked in the poller (the caller then pokes an idle M).
pub(crate) fn wake_for_timer(deadline: u64) -> bool {
    let Some(poller) = poller_if_started() else {
        return false;
    };
    let until = poller.blocked_until.load(Ordering::SeqCst);
    if until == NOT_BLOCKED {
        return false;
    }
    if deadline < until {
        poller.wake();
    }
    true
}

/// Wakes the M blocked in the poller (it was handed a P: `Sched::start_m`).
pub(crate) fn wake() {
    if let Some(poller) = poller_if_started() {
        poller.wake();
    }
}

/// What `idle_poll` did.
pub(crate) enum IdlePoll {
    /// Nothing to wait for, or another M polls: sleep in the idle list.
    NotPolled,
    /// Polled; no work for this M. Try again.
    Polled,
    /// Polled and got a P to run what it readied (or was handed one), with whether to spin.
    Work(&'static P, bool),
}

/// The idle M's poll (Go's blocking `netpoll` in `findrunnable`): blocks until an event, the
/// next timer, or a wake-up. The M must hold no P. See the module docs.
pub(crate) fn idle_poll(s: &Sched, m: &mut MLocal) -> IdlePoll {
    if !needs_poller(s) {
        return IdlePoll::NotPolled;
    }
    let poller = poller();
    let Some(right) = poller.try_acquire() else {
        if poller.blocked_until.load(Ordering::SeqCst) == NOT_BLOCKED {
            poller.contended.store(true, Ordering::SeqCst);
        }
        return IdlePoll::NotPolled;
    };
    // Visible to `start_m` as an M that can be handed a P (then woken through the waker) —
    // unless a P is owed to this M (it was on its way to an idle list, `runtime/idle.rs`).
    if let Some((p, spinning)) = s.set_idle_poller(m) {
        drop(right);
        return IdlePoll::Work(p, spinning);
    }
    let mut until = s.timers.next_deadline().unwrap_or(NO_DEADLINE).max(1);
    poller.blocked_until.store(until, Ordering::SeqCst);
    // StoreLoad: pairs with the timer adder's insert-then-read of `blocked_until`; a timer
    // added before our store is seen here.
    fence(Ordering::SeqCst);
    if let Some(next) = s.timers.next_deadline() {
        if next < until {
            until = next.max(1);
            poller.blocked_until.store(until, Ordering::SeqCst);
        }
    }
    // Nothing left to wait for (the last signal subscription ended before our store: see
    // `waiter_abandoned`): poll once without blocking, then sleep in the idle list.
    let nothing_to_wait_for = until == NO_DEADLINE && !poller.has_waiters();
    let timeout = if m.handle.has_handoff() || nothing_to_wait_for {
        Some(Duration::ZERO)
    } else if until == NO_DEADLINE {
        None
    } else {
        Some(Duration::from_nanos(
            until.saturating_sub(clock::now_nanos()),
        ))
    };
    let mut events = event_buffer();
    let n = poller.wait(&mut events, timeout);
    poller.blocked_until.store(NOT_BLOCKED, Ordering::SeqCst);
    poller.wake_sent.store(false, Ordering::Release);
    // Leave the poller slot; if `start_m` took us out of it, a P is on its way. Otherwise
    // this M is arriving again (`runtime/idle.rs`) until it takes a P or registers.
    let spinning = if s.take_back_idle_poller(m) {
        debug_assert!(
            !m.handle.has_handoff(),
            "a handoff comes with leaving the slot"
        );
        s.take_idle_p_for(m);
        false
    } else {
        let (p, spinning) = crate::runtime::m::wait_for_handoff(m);
        m.acquire_p(p);
        spinning
    };
    dispatch_here(poller, &events[..n]);
    drop(right);
    crate::runtime::timer::fire_due(s);
    let Some(p) = m.p else {
        return IdlePoll::Polled;
    };
    if spinning || !p.is_empty() || !s.global.is_empty() || s.give_back_p(m) {
        return IdlePoll::Work(m.release_p().expect("held"), spinning);
    }
    IdlePoll::Polled
}

/// Whether goroutines wait for I/O or signals (a hint for the scheduler's spinning).
#[inline]
pub(crate) fn has_io_waiters() -> bool {
    poller_if_started().is_some_and(|p| p.waiters.load(Ordering::Relaxed) != 0)
}

/// Goroutines waiting on descriptors, plus signal subscriptions (tests, metrics).
#[allow(dead_code)]
pub(crate) fn waiters() -> usize {
    poller_if_started().map_or(0, |p| p.waiters.load(Ordering::Relaxed))
}
