//! Spawning goroutines: `Builder`, `spawn`, and the G's entry wrapper.
//!
//! Spawn builds the G header in a recycled block (`gref.rs`), then writes the closure into
//! it (`entry.rs`); the stack comes later, when an M first runs the G. The new G goes into
//! `runnext` of the spawning M's P (Go's rule: the child runs next, the spawner's queue order
//! is otherwise kept), or onto the global queue from a plain thread.
//!
//! The entry wrapper catches a panic, takes the G out of the live count (so `num_goroutines`
//! has dropped by the time `join` returns), marks it `Dead`, then publishes the result; its M
//! gives up the G's own reference (`registry.rs`) with its own once the coroutine returns.
//!
//! The leak tracker's part of a spawn (`leak/mod.rs`): `go!` passes its call site's static
//! counter, which costs one atomic increment here and one decrement when the G finishes (the
//! function forms `spawn`/`Builder::spawn` pass none); the new G inherits its spawner's
//! leak-check scope; with `GORT_TRACEBACK=spawn` the spawner's backtrace is captured.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};

use super::g::{GName, GRef, GState, LeakTag, G};
use super::join::JoinHandle;
use super::{m, registry, sched};
use crate::leak::site::SiteCounter;

/// Configures a goroutine before spawning it: its name and stack size.
///
/// ```
/// let handle = gort::Builder::new()
///     .name("worker")
///     .stack_size(128 * 1024)
///     .spawn(|| gort::current().unwrap().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(handle.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine. The name shows in `gort::current()`, join errors, panic and
    /// stack-overflow reports, and goroutine dumps.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes (rounded up to whole pages). A goroutine's stack
    /// does not grow: a stack overflow is caught by a guard page and reported, then the
    /// process aborts, as for a thread.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns a goroutine running `f` and returns a handle to join it.
    ///
    /// # Errors
    /// An error if the stack size is unusable (below the minimum, or beyond what the pool can
    /// map).
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_at(self, f, Location::caller())
    }
}

/// Spawns a goroutine running `f`: the function form of [`go!`](crate::go).
///
/// ```
/// let h = gort::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
///
/// # Panics
/// Panics with the error's message if the goroutine cannot be created (see [`Builder::spawn`]).
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match spawn_at(Builder::new(), f, Location::caller()) {
        Ok(handle) => handle,
        Err(e) => panic!("gort: cannot spawn a goroutine: {e}"),
    }
}

pub(crate) fn spawn_at<F, T>(
    builder: Builder,
    f: F,
    site: &'static Location<'static>,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_at_site(builder, f, site, None)
}

/// `go!(f)`: spawns with the call site's live counter (the macro declares the static).
#[doc(hidden)]
#[track_caller]
pub fn go_counted<F, T>(f: F, counter: &'static SiteCounter) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match spawn_at_site(Builder::new(), f, Location::caller(), Some(counter)) {
        Ok(handle) => handle,
        Err(e) => panic!("gort: cannot spawn a goroutine: {e}"),
    }
}

/// `go!(builder, f)`: as [`Builder::spawn`], with the call site's live counter.
#[doc(hidden)]
#[track_caller]
pub fn go_counted_with<F, T>(
    builder: Builder,
    f: F,
    counter: &'static SiteCounter,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_at_site(builder, f, Location::caller(), Some(counter))
}

pub(crate) fn spawn_at_site<F, T>(
    builder: Builder,
    f: F,
    site: &'static Location<'static>,
    counter: Option<&'static SiteCounter>,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let s = sched::sched();
    let stack_size = match builder.stack_size {
        Some(size) => super::stack::checked_stack_size(size)?,
        None => s.stack_size,
    };
    let id = registry::next_goroutine_id();
    // The leak-check scope is inherited: a goroutine's children belong to its scope, and a
    // plain thread's spawns to the scope the thread opened (`leak/scope.rs`).
    let (parent, scope) = match m::current_g() {
        Some(g) => (
            g.id,
            g.leak.scope.load(std::sync::atomic::Ordering::Relaxed),
        ),
        None => (0, crate::leak::scope::thread_scope()),
    };
    let entry = move || {
        // The G's own header (not a thread-local): valid wherever the G runs, and kept alive
        // by its M's reference while it runs.
        let g = m::current_g().expect("a goroutine entry runs in its goroutine");
        let result = panic::catch_unwind(AssertUnwindSafe(f))
            .map(|value| Box::new(value) as Box<dyn Any + Send>);
        // Goroutine-local values die with the G, before it counts as finished (`local.rs`).
        let result = g.locals.destroy_at_exit(result);
        // Like the live count, the site count drops before `join` can return.
        if let Some(counter) = g.leak.site_counter {
            counter.finished();
        }
        registry::finished(m::current_p());
        // From here walkers (dumps, the leak tracker, the deadlock detector) skip this G,
        // so its own reference, which its M gives up once the coroutine has returned
        // (`GRef::drop_finished`), can never leave a walker a finished G as alive.
        g.set_state_untimed(GState::Dead);
        g.join.complete(result);
    };
    let name = GName::new(builder.name);
    if let Some(counter) = counter {
        counter.spawned(site);
    }
    let leak = LeakTag {
        site_counter: counter,
        scope: std::sync::atomic::AtomicU64::new(scope),
        spawn_backtrace: crate::leak::backtrace::capture_at_spawn(),
    };
    // Three references: the G's own (keeps it alive until it finishes, see `registry.rs`),
    // its run-queue entry and its handle.
    let [own, g, handle] = GRef::new_with::<3>(|| G::new(id, name, site, parent, stack_size, leak));
    // SAFETY: the G is not queued yet: we hold the only right to run it.
    unsafe { g.set_entry(entry) };
    // Given up by the G's M once the G has finished (`GRef::drop_finished`).
    let _ = own.into_raw();
    let p = m::current_p();
    registry::spawned(p);
    match p {
        Some(p) => {
            // Only the M holding `p` writes its counters: a load and a store, no locked
            // instruction (metrics only read them).
            let spawned = &p.counters.spawned;
            let count = spawned.load(std::sync::atomic::Ordering::Relaxed);
            spawned.store(count + 1, std::sync::atomic::Ordering::Relaxed);
        }
        None => {
            s.spawned_from_threads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    sched::ready(g, true);
    Ok(JoinHandle::new(handle))
}
