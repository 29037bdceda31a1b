//! The idle lists: the Ps nobody holds, the Ms asleep until they are handed one, the M
//! blocked in the netpoller, and the Ms on their way to one of those. Every change of a P's
//! status and every hand-off of a P to a sleeping M happens under this one lock
//! (`Sched::idle`); the counters `npidle` and `nmidle` mirror the lists for lock-free reads.
//!
//! # Who runs a P taken for new work (`start_m`)
//! 1. The M blocked in the netpoller, woken through the poller's waker: it comes back with
//!    whatever I/O is ready as well and runs those Gs on the P at once (`choose_m` has the
//!    figures).
//! 2. An M asleep in the idle list, the last one to go to sleep.
//! 3. An *arriving* M (below): the P is owed to it.
//! 4. A new thread.
//!
//! # Arriving Ms, and the Ps owed to them
//! An M that gives its P back is in no list yet: with the P already idle, it looks at the
//! global queue once more (the barriers in `sched.rs`), at the other Ps if it spun, at the
//! timers, and it may poll. An M that leaves a list on its own (woken for a timer, back from
//! the netpoller) is in the same position. A `start_m` in that window found no M to hand the
//! P to and started a new thread. Under the HTTP load of `benches/http` (2 procs, 100
//! connections) that left a third M in about half the runs, and three Ms taking turns on the
//! two CPUs doubled the voluntary context switches: p99 3.9–4.2 ms in those runs against
//! 2.3–2.4 in the runs with two Ms. So such an M counts as *arriving* (`Idle::arriving`,
//! and `MLocal::arriving` on the M), from the same critical section that made its P idle or
//! took it out of a list, and a `start_m` that finds no sleeping M while more Ms are arriving
//! than Ps are owed to them leaves the P in `owed` instead of starting a thread.
//!
//! An arriving M ends its arrival under the lock, one of two ways:
//! - it registers (idle list or poller slot) — and takes an owed P instead, if there is one;
//! - it takes an idle P for itself — and if that leaves more owed Ps than arriving Ms, it
//!   hands the extra one on as `start_m` would have (to a sleeping M or a new thread).
//!
//! Invariant: `owed.len() <= arriving`. So every owed P has an M that will run it within the
//! few microseconds an M takes to reach its list: the rule that readying a G while a P is
//! idle and no M spins wakes an M (`sched.rs`) still holds, with the owed P's spinner counted
//! in `nmspinning` from the moment `start_m` owed it. An arriving M never blocks before it
//! ends its arrival.

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

use super::m::MLocal;
use super::p::{P, P_HELD, P_IDLE, P_RETIRED};
use super::sched::{lock, MHandle, Sched};

/// Idle Ps and Ms, and the Ms on their way (module docs).
#[derive(Debug, Default)]
pub(super) struct Idle {
    pub(super) ps: Vec<&'static P>,
    pub(super) ms: Vec<Arc<MHandle>>,
    /// [netpoll] The idle M blocked in the netpoller: the first to be handed a P.
    pub(super) poller: Option<Arc<MHandle>>,
    /// Ms that hold no P, are in no list, and will register or take a P next.
    arriving: usize,
    /// Ps taken for new work that arriving Ms will run, each with whether it starts spinning.
    owed: Vec<(&'static P, bool)>,
}

/// Who runs a P taken for new work.
enum Target {
    /// The M blocked in the netpoller: woken through the poller's waker.
    Poller(Arc<MHandle>),
    /// An M asleep in the idle list.
    Sleeper(Arc<MHandle>),
    /// An arriving M: the P waits in `owed`.
    Owed,
    /// Nobody: a new thread.
    NewThread,
}

impl Sched {
    /// Puts a P the caller held into the idle list — or, if `set_maxprocs` retired it
    /// meanwhile, drains it to the global queue and leaves it retired.
    pub(crate) fn put_idle_p(&self, p: &'static P) {
        let kept = self.put_idle_p_locked(&mut lock(&self.idle), p);
        if !kept {
            self.wakep();
        }
    }

    /// `put_idle_p` under the lock. False if `p` was retired instead: the caller wakes an M
    /// for the Gs it drained to the global queue, once it has let go of the lock.
    fn put_idle_p_locked(&self, idle: &mut Idle, p: &'static P) -> bool {
        if p.id >= self.nprocs.load(Ordering::SeqCst) {
            // SAFETY: the caller held `p` until now; under the idle lock it passes to us.
            unsafe { p.drain_to(&self.global) };
            p.status.store(P_RETIRED, Ordering::Relaxed);
            return false;
        }
        p.status.store(P_IDLE, Ordering::Relaxed);
        idle.ps.push(p);
        self.npidle.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// An M gives back the P it found no work for, on its way to sleep: the P goes into the
    /// idle list and the M counts as arriving, in one step; then (StoreLoad) one more look at
    /// the global queue. A thread with no P that queued a G after the M's last look saw no
    /// idle P and woke nobody, trusting the holder to find it; so if the queue has work now,
    /// an idle P is taken back for `m`. True if `m` holds a P again. Every "nothing to do,
    /// give the P back" path of an M goes through here (`find::release_and_recheck` adds a
    /// spinner's checks after it); sysmon's goes through `put_idle_p_and_recheck`.
    #[must_use]
    pub(crate) fn give_back_p(&self, m: &mut MLocal) -> bool {
        let p = m.release_p().expect("holding a P");
        let mut idle = lock(&self.idle);
        let kept = self.put_idle_p_locked(&mut idle, p);
        begin_arrival(&mut idle, m);
        drop(idle);
        if !kept {
            self.wakep();
        }
        self.recheck_global() && self.take_idle_p_for(m)
    }

    /// `give_back_p` for a P that no M held (sysmon took it from an M in a blocking call):
    /// returns the P the recheck took back, for the caller to run on some M.
    #[must_use]
    pub(crate) fn put_idle_p_and_recheck(&self, p: &'static P) -> Option<&'static P> {
        self.put_idle_p(p);
        if self.recheck_global() {
            self.take_idle_p()
        } else {
            None
        }
    }

    /// The look at the global queue after a P went idle: whether it holds work.
    fn recheck_global(&self) -> bool {
        // StoreLoad: pairs with the fence in `wakep` after a global push.
        fence(Ordering::SeqCst);
        if self.global.is_empty() {
            #[cfg(test)]
            super::find::tests::widen_the_window_after_the_last_global_look();
            return false;
        }
        true
    }

    /// Takes a P out of the idle list; the caller then holds it. For callers that are not an
    /// arriving M (those use `take_idle_p_for`).
    pub(crate) fn take_idle_p(&self) -> Option<&'static P> {
        if self.npidle.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut idle = lock(&self.idle);
        let p = idle.ps.pop()?;
        self.mark_held(p);
        drop(idle);
        // [sysmon] A P is busy again: sysmon may be asleep because every P was idle.
        super::sysmon::wake_if_sleeping();
        Some(p)
    }

    /// Takes an idle P for `m`, which holds none; that ends `m`'s arrival if it was arriving
    /// (module docs). False if no P is idle: `m` then stays arriving.
    pub(crate) fn take_idle_p_for(&self, m: &mut MLocal) -> bool {
        debug_assert!(m.p.is_none(), "an M holds one P");
        if self.npidle.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let mut idle = lock(&self.idle);
        let Some(p) = idle.ps.pop() else {
            return false;
        };
        self.mark_held(p);
        let extra = self.end_arrival_with_p(&mut idle, m);
        drop(idle);
        super::sysmon::wake_if_sleeping();
        m.acquire_p(p);
        if let Some((p, spinning, target)) = extra {
            self.hand_to(p, target, spinning);
        }
        true
    }

    /// A P leaves the idle list (under the lock).
    fn mark_held(&self, p: &'static P) {
        p.status.store(P_HELD, Ordering::Relaxed);
        self.npidle.fetch_sub(1, Ordering::SeqCst);
    }

    /// `m` took a P for itself: it is no longer arriving. If it was counted for an owed P,
    /// that P needs another M: returned with who it goes to.
    fn end_arrival_with_p(
        &self,
        idle: &mut Idle,
        m: &mut MLocal,
    ) -> Option<(&'static P, bool, Target)> {
        if !end_arrival(idle, m) || idle.owed.len() <= idle.arriving {
            return None;
        }
        let (p, spinning) = idle.owed.pop()?;
        // With one arriving M fewer than owed Ps before the pop, `choose_m` cannot owe it again.
        let target = self.choose_m(idle, p, spinning);
        Some((p, spinning, target))
    }

    /// Registers `m` as asleep in the idle list, ending its arrival — unless a P is owed:
    /// then `m` takes that P (returned, with whether to spin) and does not sleep.
    #[must_use]
    pub(crate) fn put_idle_m(&self, m: &mut MLocal) -> Option<(&'static P, bool)> {
        let mut idle = lock(&self.idle);
        if let Some(owed) = end_arrival_registering(&mut idle, m) {
            return Some(owed);
        }
        idle.ms.push(m.handle.clone());
        self.nmidle.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Takes `m` out of the idle list, where it woke without being handed a P: it is
    /// arriving again. False if someone already took it out (and so is about to hand it a P).
    pub(crate) fn remove_idle_m(&self, m: &mut MLocal) -> bool {
        let mut idle = lock(&self.idle);
        match idle.ms.iter().position(|x| Arc::ptr_eq(x, &m.handle)) {
            Some(i) => {
                idle.ms.swap_remove(i);
                self.nmidle.fetch_sub(1, Ordering::Relaxed);
                begin_arrival(&mut idle, m);
                true
            }
            None => false,
        }
    }

    /// [netpoll] Registers `m`, about to block in the netpoller, as the first M `start_m`
    /// hands a P to, ending its arrival — unless a P is owed: then `m` takes that P
    /// (returned, with whether to spin) instead of polling.
    #[must_use]
    pub(crate) fn set_idle_poller(&self, m: &mut MLocal) -> Option<(&'static P, bool)> {
        let mut idle = lock(&self.idle);
        if let Some(owed) = end_arrival_registering(&mut idle, m) {
            return Some(owed);
        }
        debug_assert!(
            idle.poller.is_none(),
            "one M blocks in the poller at a time"
        );
        idle.poller = Some(m.handle.clone());
        self.nmidle.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// [netpoll] `m` left the netpoller: it is arriving again. False if `start_m` took it out
    /// of the slot first (and so is about to hand it a P).
    pub(crate) fn take_back_idle_poller(&self, m: &mut MLocal) -> bool {
        let mut idle = lock(&self.idle);
        match &idle.poller {
            Some(x) if Arc::ptr_eq(x, &m.handle) => {
                idle.poller = None;
                self.nmidle.fetch_sub(1, Ordering::Relaxed);
                begin_arrival(&mut idle, m);
                true
            }
            _ => false,
        }
    }

    /// Wakes an idle M without handing it a P (it re-evaluates: timers). With no idle M —
    /// before the first goroutine, no M exists at all — starts one (it finds the timer, then
    /// sleeps as the timer sleeper), so a timer added from a plain thread still fires.
    pub(crate) fn poke_idle_m(&self) {
        let idle = lock(&self.idle);
        match idle.ms.last() {
            Some(m) => {
                if let Some(t) = m.thread.get() {
                    t.unpark();
                }
            }
            None => {
                drop(idle);
                self.wakep();
            }
        }
    }

    /// Takes an idle P and runs it on an M (module docs: which one). With `spinning`, the
    /// caller has already counted that M in `nmspinning`.
    pub(crate) fn start_m(&self, spinning: bool) {
        let mut idle = lock(&self.idle);
        let Some(p) = idle.ps.pop() else {
            drop(idle);
            if spinning {
                self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
            return;
        };
        self.mark_held(p);
        let target = self.choose_m(&mut idle, p, spinning);
        drop(idle);
        // [sysmon] A P is busy again: sysmon may be asleep because every P was idle.
        super::sysmon::wake_if_sleeping();
        self.hand_to(p, target, spinning);
    }

    /// [syscall] Runs `p`, which the caller holds (sysmon took it from an M in a blocking
    /// call), on another M. With `spinning`, the caller has already counted that M in
    /// `nmspinning`.
    pub(crate) fn run_p_on_m(&self, p: &'static P, spinning: bool) {
        let target = self.choose_m(&mut lock(&self.idle), p, spinning);
        self.hand_to(p, target, spinning);
    }

    /// Who runs `p` (module docs), taking that M out of its list, or owing `p` to an arriving
    /// M. The poller first: woken, it comes back with whatever I/O is ready as well and runs
    /// those Gs on the P at once, and one thread fewer takes turns on the CPUs. With the idle
    /// list first, the ready Gs stayed in the kernel until some M polled. Under the HTTP load
    /// of `benches/http` (100 connections, alternated with the idle list first and with tokio,
    /// 24 runs each): p99 medians of the three sets 2.95 / 2.58 / 2.61 ms against 3.02 / 3.40
    /// / 2.77 (tokio 2.73 / 2.44 / 2.54), the spawn and channel benches at 2 procs unchanged.
    fn choose_m(&self, idle: &mut Idle, p: &'static P, spinning: bool) -> Target {
        if let Some(m) = idle.poller.take() {
            self.nmidle.fetch_sub(1, Ordering::Relaxed);
            return Target::Poller(m);
        }
        if let Some(m) = idle.ms.pop() {
            self.nmidle.fetch_sub(1, Ordering::Relaxed);
            return Target::Sleeper(m);
        }
        if idle.arriving > idle.owed.len() {
            idle.owed.push((p, spinning));
            return Target::Owed;
        }
        Target::NewThread
    }

    /// Hands `p` to the M `choose_m` picked (outside the idle lock).
    fn hand_to(&self, p: &'static P, target: Target, spinning: bool) {
        match target {
            Target::Poller(m) => {
                self.handoffs.fetch_add(1, Ordering::Relaxed);
                m.hand(p, spinning);
                crate::netpoll::wake();
            }
            Target::Sleeper(m) => {
                self.handoffs.fetch_add(1, Ordering::Relaxed);
                m.hand(p, spinning);
            }
            Target::Owed => {}
            Target::NewThread => {
                if let Err(e) = super::m::spawn_m(self, p, spinning) {
                    // No thread: give the P back. The Gs stay queued and run on the Ms that
                    // exist, so nothing is lost; the program just gets less parallelism.
                    self.put_idle_p(p);
                    if spinning {
                        self.nmspinning.fetch_sub(1, Ordering::SeqCst);
                    }
                    super::m::report_thread_error(&e);
                }
            }
        }
    }
}

/// `m` holds no P and is in no list: it counts as arriving (once).
fn begin_arrival(idle: &mut Idle, m: &mut MLocal) {
    if !m.arriving {
        m.arriving = true;
        idle.arriving += 1;
    }
}

/// `m` is no longer arriving (if it was: returns whether).
fn end_arrival(idle: &mut Idle, m: &mut MLocal) -> bool {
    let was = m.arriving;
    if was {
        m.arriving = false;
        idle.arriving -= 1;
    }
    was
}

/// `m` is about to register in a list: it is no longer arriving, and takes an owed P if
/// there is one (any registering M may: that keeps `owed.len() <= arriving`).
fn end_arrival_registering(idle: &mut Idle, m: &mut MLocal) -> Option<(&'static P, bool)> {
    end_arrival(idle, m);
    idle.owed.pop()
}
