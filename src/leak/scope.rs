//! Leak checks in tests: goleak for gort, with scopes that parallel tests do not share.
//!
//! # Membership is inherited, not counted
//! goleak compares the goroutines alive after a test with those alive before, so two tests
//! running at once see each other's goroutines. gort records, in every G header, the scope
//! its spawner was in (`LeakTag::scope`, copied at spawn): a plain thread's current scope
//! lives in a thread-local, a goroutine's in its own header. A [`Scope`] sets the current
//! scope of the thread or goroutine that opens it, so everything spawned inside — directly or
//! by descendants — carries its id, and the check at the end looks only for those.
//!
//! # Invariants
//! - A G's scope is written at spawn (by its spawner) and afterwards only by the G itself,
//!   when it opens or closes a scope; a thread's scope only by the thread. Relaxed accesses
//!   suffice: every write is read by the same thread of control, or by its children, which
//!   are spawned after it (the spawn's queueing is the happens-before edge).
//! - `PARENTS` maps every open scope (and every scope that ended with leaks) to the scope
//!   around it, so a check of an outer scope also finds goroutines of inner ones.
//!
//! # Retries
//! A goroutine that has been told to stop may still be finishing when the test body returns.
//! As goleak does, the check looks again with exponential backoff (from 1 µs, doubling, up to
//! `max_backoff`, `retries` times: by default 20 and 100 ms, about 0.4 s in all) before it
//! blames anyone. The backoff parks a goroutine caller, so its M keeps running the others.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::diag::dump;
use crate::leak::{snapshot::snapshot_filtered, IgnoreList, Snapshot};
use crate::runtime::m;
use crate::runtime::sched::lock;

thread_local! {
    static THREAD_SCOPE: Cell<u64> = const { Cell::new(0) };
}

/// The scope a plain thread is in (0: none). Not inlined, like the accessors in `m.rs`, so no
/// caller keeps a thread-local address across a goroutine switch.
#[inline(never)]
pub(crate) fn thread_scope() -> u64 {
    THREAD_SCOPE.with(Cell::get)
}

#[inline(never)]
fn set_thread_scope(id: u64) {
    THREAD_SCOPE.with(|c| c.set(id));
}

fn current_scope() -> u64 {
    match m::current_g() {
        Some(g) => g.leak.scope.load(Ordering::Relaxed),
        None => thread_scope(),
    }
}

fn set_current_scope(id: u64) {
    match m::current_g() {
        Some(g) => g.leak.scope.store(id, Ordering::Relaxed),
        None => set_thread_scope(id),
    }
}

static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

/// Scope → the scope it was opened in.
static PARENTS: Mutex<Option<HashMap<u64, u64>>> = Mutex::new(None);

/// Whether a goroutine tagged `tag` belongs to `scope` (is in it or in a scope opened in it).
fn is_within(mut tag: u64, scope: u64, parents: &HashMap<u64, u64>) -> bool {
    loop {
        if tag == scope {
            return true;
        }
        match parents.get(&tag) {
            Some(&parent) if parent != 0 => tag = parent,
            _ => return false,
        }
    }
}

/// How a leak check waits and what it ignores.
///
/// ```
/// use std::time::Duration;
/// let options = gort::leak::Options::new()
///     .retries(10)
///     .max_backoff(Duration::from_millis(50))
///     .ignore(gort::leak::IgnoreList::new().name("cache-janitor"));
/// gort::leak::check_with(options, || {});
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    retries: u32,
    max_backoff: Duration,
    ignore: IgnoreList,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            retries: 20,
            max_backoff: Duration::from_millis(100),
            ignore: IgnoreList::new(),
        }
    }
}

impl Options {
    /// goleak's defaults: 20 retries, backoff from 1 µs doubling up to 100 ms; nothing ignored.
    pub fn new() -> Options {
        Options::default()
    }

    /// How many times to look again before failing.
    pub fn retries(mut self, n: u32) -> Options {
        self.retries = n;
        self
    }

    /// The longest pause between two looks.
    pub fn max_backoff(mut self, d: Duration) -> Options {
        self.max_backoff = d;
        self
    }

    /// Goroutines not to blame (known long-lived ones).
    pub fn ignore(mut self, ignore: IgnoreList) -> Options {
        self.ignore = ignore;
        self
    }
}

/// The goroutines a [`Scope`] left alive: its error, whose `Display` is the dump.
#[derive(Debug, Clone)]
pub struct Leaked {
    goroutines: Snapshot,
    waited: Duration,
    retries: u32,
}

impl Leaked {
    /// The leaked goroutines, as last seen.
    pub fn goroutines(&self) -> &Snapshot {
        &self.goroutines
    }

    /// How long the check waited for them to finish.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Display for Leaked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.goroutines.len();
        writeln!(
            f,
            "gort::leak: {} goroutine{} spawned in this scope {} still alive {} after it ended ({} retries):",
            dump::format_count(n),
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" },
            dump::format_duration(self.waited),
            self.retries
        )?;
        write!(f, "{}", self.goroutines.dump())?;
        // Each goroutine on its own too when that adds something and stays readable: a few
        // goroutines, or spawn backtraces (`GORT_TRACEBACK=spawn`) to show.
        let backtraces = self
            .goroutines
            .iter()
            .any(|g| g.spawn_backtrace().is_some());
        if n <= 4 || (backtraces && n <= 32) {
            let mut each = String::new();
            dump::write_each(&mut each, self.goroutines.goroutines());
            write!(f, "\n\n{each}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Leaked {}

/// A leak-check scope: every goroutine spawned while it is open — by the thread or goroutine
/// that opened it, or by their descendants — must have finished by [`verify`](Scope::verify)
/// (goleak's `VerifyNone`, per test rather than per process).
///
/// Dropping an unverified scope verifies it and panics on a leak (unless the thread is
/// already panicking), so `let _scope = Scope::new();` at the top of a test is enough.
///
/// ```
/// let scope = gort::leak::Scope::new();
/// let h = gort::go!(|| 2 + 2);
/// assert_eq!(h.join().unwrap(), 4);
/// scope.verify().unwrap();
/// ```
///
/// Tests that cargo runs in parallel each see only their own goroutines: membership is
/// inherited from the spawner, not inferred from a global count.
pub struct Scope {
    id: u64,
    outer: u64,
    options: Options,
    verified: bool,
    /// Opened and closed by the same thread or goroutine.
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("id", &self.id)
            .field("options", &self.options)
            .finish()
    }
}

impl Default for Scope {
    fn default() -> Scope {
        Scope::new()
    }
}

impl Scope {
    /// Opens a scope with the default [`Options`].
    pub fn new() -> Scope {
        Scope::with_options(Options::default())
    }

    /// Opens a scope.
    pub fn with_options(options: Options) -> Scope {
        let id = NEXT_SCOPE.fetch_add(1, Ordering::Relaxed);
        let outer = current_scope();
        lock(&PARENTS)
            .get_or_insert_with(HashMap::new)
            .insert(id, outer);
        set_current_scope(id);
        Scope {
            id,
            outer,
            options,
            verified: false,
            _not_send: PhantomData,
        }
    }

    /// The scope's goroutines alive right now (no waiting), minus ignored ones.
    pub fn alive(&self) -> Snapshot {
        let parents = lock(&PARENTS).clone().unwrap_or_default();
        let me = crate::current().map(|g| g.id());
        snapshot_filtered(|g| {
            g.scope() != 0
                && Some(g.id()) != me
                && is_within(g.scope(), self.id, &parents)
                && !self.options.ignore.matches(g)
        })
    }

    /// Closes the scope and waits, with retries, for its goroutines to finish.
    ///
    /// # Errors
    /// [`Leaked`] with the goroutines still alive after the last retry.
    pub fn verify(mut self) -> Result<(), Leaked> {
        self.verified = true;
        self.close_and_verify()
    }

    fn close_and_verify(&mut self) -> Result<(), Leaked> {
        set_current_scope(self.outer);
        let started = Instant::now();
        let mut backoff = Duration::from_micros(1);
        let mut attempt = 0;
        loop {
            let alive = self.alive();
            if alive.is_empty() {
                if let Some(parents) = lock(&PARENTS).as_mut() {
                    parents.remove(&self.id);
                }
                return Ok(());
            }
            if attempt >= self.options.retries {
                // `PARENTS` keeps this scope, so an outer check still finds these goroutines.
                return Err(Leaked {
                    goroutines: alive,
                    waited: started.elapsed(),
                    retries: attempt,
                });
            }
            attempt += 1;
            crate::sleep(backoff);
            backoff = (backoff * 2).min(self.options.max_backoff);
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.verified {
            return;
        }
        if std::thread::panicking() {
            set_current_scope(self.outer);
            return;
        }
        if let Err(leaked) = self.close_and_verify() {
            panic!("{leaked}");
        }
    }
}

/// Runs `f` in a leak-check [`Scope`] and returns its result; panics with the dump of the
/// leaked goroutines if any goroutine spawned inside is still alive after the retries.
///
/// ```
/// let sum = gort::leak::check(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| gort::go!(move || i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 45);
/// ```
///
/// ```should_panic
/// // A goroutine nobody stops: the check fails, naming its spawn site.
/// gort::leak::check_with(gort::leak::Options::new().retries(3), || {
///     gort::go!(|| gort::sleep(std::time::Duration::from_secs(3600)));
/// });
/// ```
pub fn check<T>(f: impl FnOnce() -> T) -> T {
    check_with(Options::default(), f)
}

/// [`check`] with [`Options`] (retries, ignore list).
pub fn check_with<T>(options: Options, f: impl FnOnce() -> T) -> T {
    let scope = Scope::with_options(options);
    let value = f();
    if let Err(leaked) = scope.verify() {
        panic!("{leaked}");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_scopes_are_within_their_outer_scope() {
        let parents: HashMap<u64, u64> = [(5, 0), (6, 5), (7, 6), (9, 0)].into_iter().collect();
        assert!(is_within(7, 5, &parents));
        assert!(is_within(6, 6, &parents));
        assert!(!is_within(5, 6, &parents));
        assert!(!is_within(9, 5, &parents));
        assert!(!is_within(42, 5, &parents));
    }
}
