//! Spawning goroutines: `Builder`, `spawn`, and the G's entry wrapper.
//!
//! Spawn allocates the G header and boxes the closure; the stack comes later, when an M first
//! runs the G. The new G goes into `runnext` of the spawning M's P (Go's rule: the child runs
//! next, the spawner's queue order is otherwise kept), or onto the global queue from a plain
//! thread.
//!
//! The entry wrapper catches a panic, removes the G from the registry (so `num_goroutines`
//! has dropped by the time `join` returns), then publishes the result.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};

use super::entry::EntrySlot;
use super::g::{GRef, G};
use super::join::JoinHandle;
use super::{m, registry, sched};

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
    let s = sched::sched();
    let stack_size = match builder.stack_size {
        Some(size) => super::stack::checked_stack_size(size)?,
        None => s.stack_size,
    };
    let id = registry::next_goroutine_id();
    let parent = m::current_g().map_or(0, |g| g.id);
    let entry = EntrySlot::new(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(f))
            .map(|value| Box::new(value) as Box<dyn Any + Send>);
        // Goroutine-local values die with the G, before it counts as finished (`local.rs`).
        let result = crate::local::destroy_goroutine_locals(result);
        let g = m::current_g().expect("a goroutine entry runs in its goroutine");
        super::registry().remove(g);
        g.join.complete(result);
    });
    let name = builder.name.map(String::into_boxed_str);
    let g = GRef::new(G::new(id, name, site, parent, stack_size, entry));
    if let Some(p) = m::current_p() {
        p.counters
            .spawned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    // Shard by goroutine id, not by spawning P: a G often finishes on another P (stolen), and
    // consecutive ids land in different shards, so the spawner's insert and the other P's
    // remove rarely meet on one lock.
    super::registry().insert(&g, id as usize);
    let handle = JoinHandle::new(g.clone());
    sched::ready(g, true);
    Ok(handle)
}
