//! Catching a goroutine's stack overflow and reporting it like Rust's std reports a thread's.
//!
//! A goroutine that recurses past its fixed stack touches the guard page below it
//! ([`stack`](super::stack)) and gets `SIGSEGV`. Our handler (installed once by [`install`])
//! looks at what the faulting thread is running: if the fault address lies in the running
//! goroutine's guard, it writes
//!
//! ```text
//! goroutine 42 "worker" (spawned at src/main.rs:10:5) has overflowed its 64 KiB stack
//! fatal runtime error: stack overflow, aborting
//! ```
//!
//! to stderr and aborts. Any other fault goes to the handler that was installed before ours
//! (normally std's, which reports overflows of ordinary thread stacks and otherwise restores the
//! default action so the fault kills the process as usual).
//!
//! # How the runtime drives it
//! [`install`] once at start-up; [`ensure_altstack`] at the start of every M. When a goroutine
//! first runs, the M writes its [`RunningStack`] (id, name and spawn site from the G header,
//! [`StackBounds`] of the stack) into the top reserve of the goroutine's own stack
//! ([`RunningStack::place`]): it costs the G header one pointer, and a G that has not run yet
//! nothing. The M brackets every resume with [`set_running`] / [`clear_running`].
//!
//! # Invariants
//! - `RUNNING` of a thread is null or points at the [`RunningStack`] of the goroutine this
//!   thread is running right now, alive until `clear_running` (the [`set_running`] contract).
//! - `PREVIOUS` holds the actions that were installed before ours; it is written once, before
//!   our handler is installed, so the handler sees it whenever it runs (a `OnceLock` read is an
//!   Acquire load, pairing with the Release store of `set`).
//!
//! # Async-signal safety
//! The handler allocates nothing, takes no lock and touches only: a const-initialised
//! thread-local `Cell` of a raw pointer (a plain TLS read, no lazy initialisation and no
//! destructor), the `RunningStack` it points at, the `OnceLock` of previous actions, and the
//! `write`, `abort`, `sigaction` and `raise` system calls, all async-signal-safe.
//!
//! The handler runs on the thread's alternate signal stack (`SA_ONSTACK`): the faulting stack
//! has no room left. Threads spawned by std already have one; [`ensure_altstack`] gives one to
//! any worker thread that lacks it.

use std::cell::{Cell, RefCell};
use std::io;
use std::panic::Location;
use std::ptr::{self, NonNull};
use std::sync::{Once, OnceLock};

use super::stack::{self, Stack, StackBounds};

/// What the fault handler needs to know about the goroutine a thread is running. The M builds
/// one when the G first runs and places it at the top of the G's stack; before each resume it
/// points the handler at it with [`set_running`] (one thread-local store per switch).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunningStack {
    /// The goroutine's id.
    pub(crate) goid: u64,
    /// The name given with `Builder::name`, if any: points into the G header, and is read
    /// only under [`set_running`]'s contract.
    name: Option<NonNull<str>>,
    /// Where the goroutine was spawned (`#[track_caller]` location of the spawn call).
    pub(crate) spawn_site: &'static Location<'static>,
    /// Usable bytes of its stack, shown in the report.
    pub(crate) usable_size: usize,
    /// The guard's bytes `[guard_lo, guard_hi)`; `guard_hi` is the lowest usable byte.
    pub(crate) guard_lo: usize,
    /// See `guard_lo`.
    pub(crate) guard_hi: usize,
}

impl RunningStack {
    /// Describes goroutine `goid` running on a stack with `bounds` (kept from
    /// [`Stack::bounds`](super::stack::Stack::bounds) when the stack went into its coroutine).
    pub(crate) fn new(
        goid: u64,
        name: Option<&str>,
        spawn_site: &'static Location<'static>,
        bounds: StackBounds,
    ) -> RunningStack {
        RunningStack {
            goid,
            name: name.map(NonNull::from),
            spawn_site,
            usable_size: bounds.usable_size,
            guard_lo: bounds.guard_lo,
            guard_hi: bounds.guard_hi,
        }
    }

    /// Moves the record into the top reserve of `stack` (which the coroutine never touches)
    /// and returns where it now lies: valid for as long as the stack is not given back.
    pub(crate) fn place(self, stack: &Stack) -> NonNull<RunningStack> {
        const {
            assert!(std::mem::size_of::<RunningStack>() <= stack::OVERFLOW_RECORD_BYTES);
            assert!(std::mem::align_of::<RunningStack>() <= 16);
        };
        let at = stack.reserved_top().cast::<RunningStack>();
        // SAFETY: the top reserve is writable memory of `stack`, which the caller owns, large
        // and aligned enough for a `RunningStack` (checked above; the reserve starts 16-byte
        // aligned, see `stack.rs`), and no coroutine frame lies there.
        unsafe { at.write(self) };
        // SAFETY: a stack's top is never at address zero.
        unsafe { NonNull::new_unchecked(at) }
    }

    /// Whether a fault at `address` is this goroutine running off the bottom of its stack:
    /// inside its guard, or within a page below its lowest usable byte.
    fn overflowed_at(&self, address: usize) -> bool {
        let page_below = self.guard_hi.saturating_sub(stack::page_size());
        address < self.guard_hi && (address >= self.guard_lo || address >= page_below)
    }
}

thread_local! {
    /// The goroutine this thread runs now (null between goroutines). Const-initialised, with
    /// no destructor, so the signal handler can read it. The pointee lives as long as
    /// `set_running`'s contract says.
    static RUNNING: Cell<*const RunningStack> = const { Cell::new(ptr::null()) };
}

/// Tells the fault handler that this thread is about to run the goroutine `running` describes.
/// The M calls it before resuming a goroutine, and [`clear_running`] after it suspends.
///
/// # Safety
/// `running` (and the name it was built with) must stay where it is and alive until this
/// thread calls [`clear_running`] or `set_running` again: the signal handler may read it at
/// any moment.
pub(crate) unsafe fn set_running(running: &RunningStack) {
    RUNNING.set(ptr::from_ref(running));
}

/// Tells the fault handler that this thread runs no goroutine any more.
pub(crate) fn clear_running() {
    RUNNING.set(ptr::null());
}

/// The signal actions that were in place before [`install`], for chaining.
#[derive(Clone, Copy)]
struct PreviousActions {
    segv: libc::sigaction,
    bus: libc::sigaction,
}

static PREVIOUS: OnceLock<PreviousActions> = OnceLock::new();

/// Installs the `SIGSEGV`/`SIGBUS` handler, once per process; later calls do nothing. The
/// actions in place before are kept and called for faults that are not goroutine overflows.
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // The handler reads the page size; make sure it is cached (sysconf is not
        // async-signal-safe).
        stack::page_size();
        // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, empty mask, no flags).
        let mut previous: PreviousActions = unsafe { std::mem::zeroed() };
        for (signal, slot) in [
            (libc::SIGSEGV, &mut previous.segv),
            (libc::SIGBUS, &mut previous.bus),
        ] {
            // SAFETY: querying (null new action) into a valid out-pointer.
            unsafe { libc::sigaction(signal, ptr::null(), slot) };
        }
        // Published before our handler can run; the only writer is this Once.
        let _ = PREVIOUS.set(previous);
        // SAFETY: an all-zero sigaction is a valid value, completed below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handle_fault
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: sigemptyset initialises the mask it is given.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: `action` is fully initialised and its handler is async-signal-safe.
            unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
        }
    });
}

/// Usable bytes of the alternate signal stacks we create: the handler needs well under 1 KiB,
/// but a chained handler (std's formats a message) and the kernel's signal frame (several KiB
/// with AVX-512 state) need more. Only the touched pages become resident.
const ALTSTACK_SIZE: usize = 64 * 1024;

/// An alternate signal stack this module mapped for the current thread.
struct OwnedAltStack {
    /// Start of the mapping: one guard page, then `ALTSTACK_SIZE` usable bytes.
    mapping: usize,
    mapping_len: usize,
}

impl Drop for OwnedAltStack {
    fn drop(&mut self) {
        let usable = self.mapping + stack::page_size();
        // SAFETY: an all-zero stack_t is a valid out-value.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: querying into a valid out-pointer.
        unsafe { libc::sigaltstack(ptr::null(), &mut current) };
        if current.ss_sp as usize == usable && current.ss_flags & libc::SS_DISABLE == 0 {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling this thread's alternate stack; the thread is exiting and not
            // inside a signal handler (a thread-local destructor runs in normal context).
            unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
        }
        // SAFETY: the mapping is ours and no longer this thread's signal stack.
        unsafe { libc::munmap(self.mapping as *mut libc::c_void, self.mapping_len) };
    }
}

thread_local! {
    /// The alternate signal stack [`ensure_altstack`] made for this thread, unmapped when the
    /// thread exits.
    static OWNED_ALTSTACK: RefCell<Option<OwnedAltStack>> = const { RefCell::new(None) };
}

/// Gives the calling thread an alternate signal stack if it has none, so the fault handler can
/// run when a goroutine has used up its stack. Call at the start of every worker thread (M).
///
/// # Errors
/// When the stack cannot be mapped; the thread still works, but an overflow on it kills the
/// process with a bare `SIGSEGV` instead of the report.
pub(crate) fn ensure_altstack() -> io::Result<()> {
    // SAFETY: an all-zero stack_t is a valid out-value.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying into a valid out-pointer.
    if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return Ok(());
    }
    let page = stack::page_size();
    let mapping_len = page + ALTSTACK_SIZE;
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing; nothing can
    // alias it. PROT_NONE throughout until the usable part is opened below.
    let mapping = unsafe {
        libc::mmap(
            ptr::null_mut(),
            mapping_len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if mapping == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let owned = OwnedAltStack {
        mapping: mapping as usize,
        mapping_len,
    };
    let usable = (mapping as usize + page) as *mut libc::c_void;
    // SAFETY: opening the part of our own mapping above its guard page.
    if unsafe { libc::mprotect(usable, ALTSTACK_SIZE, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let altstack = libc::stack_t {
        ss_sp: usable,
        ss_flags: 0,
        ss_size: ALTSTACK_SIZE,
    };
    // SAFETY: `altstack` describes read-write memory owned by `owned`, which stays mapped until
    // the thread exits (it is kept in the thread-local below).
    if unsafe { libc::sigaltstack(&altstack, ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    OWNED_ALTSTACK.with(|slot| *slot.borrow_mut() = Some(owned));
    Ok(())
}

/// The `SIGSEGV`/`SIGBUS` handler.
extern "C" fn handle_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; si_addr is the fault
    // address for SIGSEGV and SIGBUS.
    let fault_address = unsafe { (*info).si_addr() } as usize;
    let running = RUNNING.get();
    if !running.is_null() {
        // SAFETY: `set_running`'s contract keeps the pointee alive while it is set, and only
        // this thread sets it.
        let running = unsafe { &*running };
        if running.overflowed_at(fault_address) {
            report_overflow(running);
        }
    }
    // SAFETY: forwarding the arguments the kernel gave us, unchanged, from a signal handler.
    unsafe { chain(signal, info, context) };
}

/// Hands a fault that is not a goroutine overflow to the action installed before ours.
///
/// # Safety
/// Must be called from the signal handler with the kernel's arguments.
unsafe fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = PREVIOUS.get().map(|previous| {
        if signal == libc::SIGBUS {
            previous.bus
        } else {
            previous.segv
        }
    });
    let handler = previous.map_or(libc::SIG_DFL, |action| action.sa_sigaction);
    // SAFETY: the kernel's siginfo is valid for the duration of the handler.
    let sent_by_a_process = unsafe { (*info).si_code } <= 0;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        if handler == libc::SIG_IGN && sent_by_a_process {
            // A `kill -SEGV` the program chose to ignore.
            return;
        }
        // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
        let default: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: restoring the default action is async-signal-safe.
        unsafe { libc::sigaction(signal, &default, ptr::null_mut()) };
        if sent_by_a_process {
            // Nothing will re-raise it: send it again (blocked until we return).
            // SAFETY: raise is async-signal-safe.
            unsafe { libc::raise(signal) };
        }
        // A hardware fault re-executes the faulting instruction on return and, with the
        // default action back, kills the process with the usual signal and core dump.
        return;
    }
    let flags = previous.map_or(0, |action| action.sa_flags);
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the recorded handler is a three-argument handler.
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        handler(signal, info, context);
    } else {
        // SAFETY: without SA_SIGINFO the recorded handler is a one-argument handler.
        let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        handler(signal);
    }
}

/// Writes the report for `running`'s overflow to stderr and aborts. Signal-safe: no
/// allocation, no lock, raw `write`.
fn report_overflow(running: &RunningStack) -> ! {
    const MIB: usize = 1 << 20;
    let mut out = RawStderr::new();
    out.push(b"\ngoroutine ");
    out.push_decimal(running.goid);
    if let Some(name) = running.name {
        // SAFETY: `set_running`'s contract keeps the name alive while `running` is set.
        let name = unsafe { name.as_ref() };
        out.push(b" \"");
        out.push(name.as_bytes());
        out.push(b"\"");
    }
    out.push(b" (spawned at ");
    out.push(running.spawn_site.file().as_bytes());
    out.push(b":");
    out.push_decimal(u64::from(running.spawn_site.line()));
    out.push(b":");
    out.push_decimal(u64::from(running.spawn_site.column()));
    out.push(b") has overflowed its ");
    if running.usable_size >= MIB && running.usable_size % MIB == 0 {
        out.push_decimal((running.usable_size / MIB) as u64);
        out.push(b" MiB");
    } else {
        out.push_decimal((running.usable_size / 1024) as u64);
        out.push(b" KiB");
    }
    out.push(b" stack\nfatal runtime error: stack overflow, aborting\n");
    out.flush();
    // SAFETY: abort is async-signal-safe and does not return.
    unsafe { libc::abort() }
}

/// A small buffer in front of `write(2, ...)`, usable in a signal handler.
struct RawStderr {
    buffer: [u8; 256],
    len: usize,
}

impl RawStderr {
    fn new() -> RawStderr {
        RawStderr {
            buffer: [0; 256],
            len: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.len == self.buffer.len() {
                self.flush();
            }
            let room = (self.buffer.len() - self.len).min(bytes.len());
            self.buffer[self.len..self.len + room].copy_from_slice(&bytes[..room]);
            self.len += room;
            bytes = &bytes[room..];
        }
    }

    fn push_decimal(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[start..]);
    }

    /// Writes out the buffer, retrying partial writes and `EINTR`; gives up on other errors
    /// (there is nowhere to report them).
    fn flush(&mut self) {
        let mut written = 0;
        while written < self.len {
            let rest = &self.buffer[written..self.len];
            // SAFETY: writing initialised bytes from our buffer to fd 2.
            let result =
                unsafe { libc::write(libc::STDERR_FILENO, rest.as_ptr().cast(), rest.len()) };
            if result > 0 {
                written += result as usize;
            } else if result < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            } else {
                break;
            }
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests;
