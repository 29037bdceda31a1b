//! `sysmon`: the runtime's monitor thread (Go's `sysmon`). It holds no P and runs no G.
//!
//! Each round it:
//! - **retakes** the P of an M that has sat in a blocking call since its previous round
//!   (`syscall.rs`) and hands it to another M when there is work for it;
//! - **detects hogs**: a P whose schedule tick has not moved for 10 ms runs one G that has not
//!   reached a scheduling point in that time. gort does not preempt it (see ARCHITECTURE.md:
//!   no asynchronous preemption); it records the G (id now; name and spawn site when the G
//!   finally switches out) in [`hogs`], so users can find the loop that needs a `yield_now`;
//! - **polls the netpoller** if nobody has for 10 ms (every M busy with long computations);
//! - **wakes an M for overdue timers** when no M is blocked in the poller to fire them;
//! - **trims the stack pool** (`stack::trim_excess`): free stacks that sat unused beyond the
//!   pool's bound give their memory back here, a batch per round, instead of on a goroutine's
//!   exit path. One relaxed load per round when there is nothing to trim; while there is, the
//!   rounds stay short and sysmon does not go to its deep sleep, so an idle program gets the
//!   memory back too (stacks freed by a thread with no P while sysmon sleeps deeply wait for
//!   the next time a P is taken).
//!
//! It sleeps 20 µs between rounds while it finds work to do, doubling up to 10 ms after 50
//! rounds with nothing to retake (Go's schedule). From 1 ms on, a goroutine entering
//! `blocking` wakes it (`note_blocking_call`: one relaxed load on that path), so a handoff
//! never waits for a long sleep. After five rounds at 10 ms with every P idle it sleeps until
//! a P is taken out of the idle list (`wake_if_sleeping`, called from
//! `Sched::take_idle_p`/`start_m`), so an idle program costs nothing; a busy one never gets
//! there, so the hot path of taking a P rarely finds it asleep.
//!
//! # The per-P watch table (`ProcWatch`)
//! One cache-line-sized record per P id, written by the M holding the P (relaxed stores of
//! its own ticks) and read by sysmon. The `syscall` word is the syscall slot (`syscall.rs`):
//! Release store of `IN_SYSCALL` by the holder; whoever wins the AcqRel/Acquire CAS back to
//! `NOT_IN_SYSCALL` holds the P.
//!
//! # Deep sleep without a lost wake-up
//! sysmon sets `SLEEPING` (SeqCst), then re-reads `npidle` (SeqCst) and parks only if every P
//! is still idle; a P leaving the idle list decrements `npidle` (SeqCst RMW), then reads
//! `SLEEPING` (SeqCst). One of the two sees the other.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use super::clock;
use super::g::G;
use super::p::{P, P_HELD};
use super::sched::{lock, Sched, MAX_PROCS};

const NOT_IN_SYSCALL: u8 = 0;
const IN_SYSCALL: u8 = 1;

/// Shortest sleep between rounds.
const MIN_DELAY: Duration = Duration::from_micros(20);
/// Longest sleep between rounds while some P is busy.
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Rounds with nothing to retake before the sleep starts doubling.
const IDLE_ROUNDS_BEFORE_BACKOFF: u32 = 50;
/// From this sleep on, a goroutine entering `blocking` wakes sysmon (so a handoff never waits
/// for a long sleep to end).
const SLOW_DELAY: Duration = Duration::from_millis(1);
/// Rounds at `MAX_DELAY` with every P idle before the deep sleep.
const IDLE_ROUNDS_BEFORE_DEEP_SLEEP: u32 = 5;
/// A G running this long without a scheduling point is a hog.
const HOG_THRESHOLD_NANOS: u64 = 10_000_000;
/// Poll the netpoller if nobody has for this long.
const POLL_STALE_NANOS: u64 = 10_000_000;
/// Retake a P in a syscall even with idle capacity elsewhere after this long (Go's 10 ms).
const SYSCALL_RETAKE_ANYWAY_NANOS: u64 = 10_000_000;
/// Hog reports kept.
const HOG_HISTORY: usize = 64;

/// What sysmon watches of one P.
#[repr(align(64))]
pub(crate) struct ProcWatch {
    /// The syscall slot: `IN_SYSCALL` while the P's M is in `blocking` and nobody took it.
    syscall: AtomicU8,
    /// Bumped at every `blocking` entry on this P.
    syscall_tick: AtomicU32,
    /// Bumped at every `execute` on this P.
    sched_tick: AtomicU32,
    /// The id of the G last started on this P.
    running: AtomicU64,
    /// Set by sysmon to the `sched_tick` of a run it judged a hog; the M completes the report.
    hog_tick: AtomicU32,
}

impl ProcWatch {
    const fn new() -> ProcWatch {
        ProcWatch {
            syscall: AtomicU8::new(NOT_IN_SYSCALL),
            syscall_tick: AtomicU32::new(0),
            sched_tick: AtomicU32::new(0),
            running: AtomicU64::new(0),
            hog_tick: AtomicU32::new(0),
        }
    }

    /// The holder of this P enters a blocking call: the P goes into the syscall slot.
    #[inline]
    pub(crate) fn enter_syscall(&self) {
        let tick = self.syscall_tick.load(Ordering::Relaxed);
        self.syscall_tick
            .store(tick.wrapping_add(1), Ordering::Relaxed);
        // Release: pairs with the Acquire of `try_retake`.
        self.syscall.store(IN_SYSCALL, Ordering::Release);
    }

    /// The blocking call returned: take the P back if nobody took it.
    #[inline]
    pub(crate) fn try_exit_syscall(&self) -> bool {
        self.syscall
            .compare_exchange(
                IN_SYSCALL,
                NOT_IN_SYSCALL,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// sysmon takes the P out of the syscall slot.
    fn try_retake(&self) -> bool {
        self.syscall
            .compare_exchange(
                IN_SYSCALL,
                NOT_IN_SYSCALL,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}

static WATCH: [ProcWatch; MAX_PROCS] = [const { ProcWatch::new() }; MAX_PROCS];

/// P number `id`'s watch record.
#[inline]
pub(crate) fn watch(id: usize) -> &'static ProcWatch {
    &WATCH[id]
}

/// `execute` is about to run `g` on the P whose record is `watch` (from [`watch`], looked up
/// once per `execute`); returns the run's tick for [`after_run`].
#[inline]
pub(crate) fn before_run(watch: &ProcWatch, g: &G) -> u32 {
    let tick = watch.sched_tick.load(Ordering::Relaxed).wrapping_add(1);
    watch.sched_tick.store(tick, Ordering::Relaxed);
    watch.running.store(g.id, Ordering::Relaxed);
    tick
}

/// `execute` finished running `g` (run `tick`, from [`before_run`]): if sysmon judged that
/// run a hog, complete its report.
#[inline]
pub(crate) fn after_run(watch: &ProcWatch, tick: u32, g: &G) {
    if watch.hog_tick.load(Ordering::Relaxed) == tick {
        complete_hog_report(g);
    }
}

/// A goroutine that ran over 10 ms without reaching a scheduling point (a "hog"), as recorded
/// by the runtime's monitor. gort does not preempt such goroutines; put a
/// [`yield_now`](crate::yield_now) in the loop.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HogReport {
    /// The goroutine's id.
    pub id: u64,
    /// Its name, once known (when it switched out).
    pub name: Option<String>,
    /// Where it was spawned, once known (when it switched out).
    pub spawn_site: Option<&'static Location<'static>>,
    /// How long it ran without a scheduling point: at least this (a lower bound while it
    /// still runs; measured to within one monitor period once it switched out).
    pub ran_for: Duration,
    /// Whether it has switched out since.
    pub switched_out: bool,
}

struct Hogs {
    recent: VecDeque<(HogReport, u64)>,
    total: u64,
}

static HOGS: Mutex<Hogs> = Mutex::new(Hogs {
    recent: VecDeque::new(),
    total: 0,
});

/// The most recent hog reports (up to 64), oldest first, and how many hogs were seen since
/// start.
///
/// ```no_run
/// gort::go!(|| {
///     let start = std::time::Instant::now();
///     while start.elapsed() < std::time::Duration::from_millis(30) {} // no yield_now
/// })
/// .join()
/// .unwrap();
/// let (reports, total) = gort::hogs();
/// assert!(total >= 1 && !reports.is_empty());
/// ```
pub fn hogs() -> (Vec<HogReport>, u64) {
    let hogs = lock(&HOGS);
    (
        hogs.recent.iter().map(|(r, _)| r.clone()).collect(),
        hogs.total,
    )
}

fn record_hog(id: u64, since: u64, now: u64) {
    let mut hogs = lock(&HOGS);
    if hogs.recent.len() == HOG_HISTORY {
        hogs.recent.pop_front();
    }
    hogs.recent.push_back((
        HogReport {
            id,
            name: None,
            spawn_site: None,
            ran_for: Duration::from_nanos(now.saturating_sub(since)),
            switched_out: false,
        },
        since,
    ));
    hogs.total += 1;
}

#[cold]
fn complete_hog_report(g: &G) {
    let now = clock::now_nanos();
    let mut hogs = lock(&HOGS);
    if let Some((report, since)) = hogs
        .recent
        .iter_mut()
        .rev()
        .find(|(r, _)| r.id == g.id && !r.switched_out)
    {
        report.name = g.name.as_deref().map(str::to_owned);
        report.spawn_site = Some(g.spawn_site);
        report.ran_for = Duration::from_nanos(now.saturating_sub(*since));
        report.switched_out = true;
    }
}

/// sysmon's thread, once started.
static SYSMON: OnceLock<Thread> = OnceLock::new();
/// sysmon is in its deep sleep (every P idle).
static SLEEPING: AtomicBool = AtomicBool::new(false);
/// sysmon sleeps `SLOW_DELAY` or more: `blocking` wakes it.
static SLOW: AtomicBool = AtomicBool::new(false);

/// Starts sysmon (once; called when the first M starts).
pub(crate) fn ensure_started() {
    static START: Once = Once::new();
    START.call_once(|| {
        match std::thread::Builder::new()
            .name("gort-sysmon".into())
            .spawn(sysmon_main)
        {
            Ok(handle) => {
                let _ = SYSMON.set(handle.thread().clone());
            }
            Err(e) => eprintln!(
                "gort: could not start the monitor thread (sysmon): {e}; blocking calls will \
                 not hand their processor off"
            ),
        }
    });
}

/// A P left the idle list: wake sysmon if it sleeps because every P was idle.
#[inline]
pub(crate) fn wake_if_sleeping() {
    // SeqCst: pairs with sysmon's store of SLEEPING then read of npidle.
    if SLEEPING.load(Ordering::SeqCst) && SLEEPING.swap(false, Ordering::SeqCst) {
        // The state timestamps' clock stood still while sysmon slept.
        clock::refresh_stamp();
        if let Some(t) = SYSMON.get() {
            t.unpark();
        }
    }
}

/// A goroutine enters `blocking`: if sysmon is in a long sleep, wake it, so the handoff
/// comes within tens of microseconds (one relaxed load otherwise).
#[inline]
pub(crate) fn note_blocking_call() {
    if SLOW.load(Ordering::Relaxed) && SLOW.swap(false, Ordering::AcqRel) {
        if let Some(t) = SYSMON.get() {
            t.unpark();
        }
    }
}

/// What sysmon remembers of one P between rounds.
#[derive(Clone, Copy, Default)]
struct Seen {
    sched_tick: u32,
    sched_since: u64,
    hog_reported: bool,
    syscall_tick: u32,
    syscall_since: u64,
}

fn sysmon_main() {
    // [leak] The deadlock detector's thread census must know this thread: it runs nothing
    // that wakes a goroutine while every P is idle (its netpoll fallback only matters when
    // goroutines wait for I/O, which rules a deadlock verdict out anyway).
    crate::diag::threads::register_runtime_thread();
    // Timer slack: without this a 20 µs sleep lasts 70 µs or more (the default slack is 50 µs).
    // SAFETY: PR_SET_TIMERSLACK takes an unsigned long and affects only this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let s = super::sched::sched();
    let mut seen = vec![Seen::default(); MAX_PROCS];
    let mut delay = MIN_DELAY;
    let mut idle_rounds = 0u32;
    let mut all_idle_rounds = 0u32;
    let mut polls_seen = 0u64;
    let mut polls_since = clock::now_nanos();
    loop {
        if idle_rounds == 0 {
            delay = MIN_DELAY;
        } else if idle_rounds > IDLE_ROUNDS_BEFORE_BACKOFF {
            delay = (delay * 2).min(MAX_DELAY);
        }
        let slow = delay >= SLOW_DELAY;
        if slow {
            SLOW.store(true, Ordering::Release);
        }
        std::thread::park_timeout(delay);
        clock::refresh_stamp();
        if slow && !SLOW.swap(false, Ordering::AcqRel) {
            // A goroutine entered `blocking` and woke us: watch closely again.
            idle_rounds = 0;
        }
        // [stack] Give back the memory of free stacks piled up beyond the pool's bound; while
        // batches remain, rounds stay short.
        let trimmed = super::stack::trim_excess();
        if trimmed {
            idle_rounds = 0;
        }
        if s.npidle.load(Ordering::SeqCst) >= s.nprocs() {
            // Every P idle: after a while at the longest sleep, sleep until one is busy.
            all_idle_rounds += 1;
            // An idle round counts towards the back-off too (else a program that goes idle
            // less than 50 rounds after start, a retake or a `blocking` wake-up would keep
            // sysmon waking every 20 µs for ever: measured, 26,000 wake-ups a second).
            if !trimmed {
                idle_rounds = idle_rounds.saturating_add(1);
            }
            if delay == MAX_DELAY
                && all_idle_rounds >= IDLE_ROUNDS_BEFORE_DEEP_SLEEP
                && !super::stack::has_excess()
            {
                deep_sleep(s);
                idle_rounds = 0;
                all_idle_rounds = 0;
            }
            continue;
        }
        all_idle_rounds = 0;
        let now = clock::now_nanos();
        let polls = crate::netpoll::poll_count_or_poll(
            polls_seen,
            now.saturating_sub(polls_since) >= POLL_STALE_NANOS,
        );
        if polls != polls_seen {
            polls_seen = polls;
            polls_since = now;
        }
        wake_for_overdue_timers(s, now);
        if retake(s, &mut seen, now) > 0 {
            idle_rounds = 0;
        } else {
            idle_rounds = idle_rounds.saturating_add(1);
        }
    }
}

/// Every P is idle: sleep until one is taken (or spuriously).
fn deep_sleep(s: &Sched) {
    SLEEPING.store(true, Ordering::SeqCst);
    if s.npidle.load(Ordering::SeqCst) >= s.nprocs() {
        std::thread::park();
    }
    SLEEPING.store(false, Ordering::SeqCst);
    clock::refresh_stamp();
}

/// Timers past due by a millisecond and nobody to fire them (no M blocked in the poller, all
/// Ms busy with long runs): start an M on an idle P, whose scheduling loop fires them.
fn wake_for_overdue_timers(s: &Sched, now: u64) {
    if let Some(next) = s.timers.next_deadline() {
        if now > next.saturating_add(1_000_000) && !crate::netpoll::wake_for_timer(next) {
            s.wakep();
        }
    }
}

/// One pass over the Ps: syscall retakes and hog detection. Returns the number of retakes.
fn retake(s: &Sched, seen: &mut [Seen], now: u64) -> usize {
    let mut retaken = 0;
    for (id, seen) in seen.iter_mut().enumerate().take(s.nprocs()) {
        let Some(p) = s.p_if_created(id) else {
            break;
        };
        if p.status.load(Ordering::Relaxed) != P_HELD {
            continue;
        }
        let w = &WATCH[id];
        if w.syscall.load(Ordering::Relaxed) == IN_SYSCALL {
            let tick = w.syscall_tick.load(Ordering::Relaxed);
            if seen.syscall_tick != tick {
                // First sighting of this call: give it one round to return by itself.
                seen.syscall_tick = tick;
                seen.syscall_since = now;
                continue;
            }
            // Go's rule: leave it if it has no queued work, others can look for work, and
            // it has not been long.
            let capacity = s.nmspinning.load(Ordering::SeqCst) + s.npidle.load(Ordering::SeqCst);
            if p.is_empty()
                && capacity > 0
                && now.saturating_sub(seen.syscall_since) < SYSCALL_RETAKE_ANYWAY_NANOS
            {
                continue;
            }
            if w.try_retake() {
                hand_off(s, p);
                retaken += 1;
            }
            continue;
        }
        let tick = w.sched_tick.load(Ordering::Relaxed);
        if seen.sched_tick != tick {
            seen.sched_tick = tick;
            seen.sched_since = now;
            seen.hog_reported = false;
        } else if !seen.hog_reported && now.saturating_sub(seen.sched_since) >= HOG_THRESHOLD_NANOS
        {
            seen.hog_reported = true;
            w.hog_tick.store(tick, Ordering::Relaxed);
            record_hog(w.running.load(Ordering::Relaxed), seen.sched_since, now);
        }
    }
    retaken
}

/// Gives a P taken from a blocking call to an M (Go's `handoffp`).
fn hand_off(s: &Sched, p: &'static P) {
    if !p.is_empty() || !s.global.is_empty() {
        s.run_p_on_m(p, false);
        return;
    }
    // Nothing queued: if nobody looks for work, start an M that will (as a spinner).
    if s.nmspinning.load(Ordering::SeqCst) == 0
        && s.npidle.load(Ordering::SeqCst) == 0
        && s.nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    {
        s.run_p_on_m(p, true);
        return;
    }
    if let Some(p) = s.put_idle_p_and_recheck(p) {
        s.run_p_on_m(p, false);
    }
}
