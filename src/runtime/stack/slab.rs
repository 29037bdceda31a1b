//! The memory under goroutine stacks: slab mappings, guard pages, and giving memory back.
//!
//! A slab is one `mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)` region cut into equal
//! slots, each `[guard page][usable stack]`. Guards are installed slot by slot, when a slot is
//! first handed out, by one of two [`GuardMode`]s decided once per process:
//!
//! - [`GuardMode::GuardInstall`]: `madvise(MADV_GUARD_INSTALL)` (Linux ≥ 6.13) marks the page
//!   in the page tables; the mapping is not split, so a slab stays one VMA however many stacks
//!   it holds.
//! - [`GuardMode::ProtNone`]: `mprotect(PROT_NONE)` splits the mapping around every guard, two
//!   VMAs per stack, and `vm.max_map_count` (65,530 by default) caps a process at about 32,700
//!   stacks. Hitting it is reported as an error that names the limit, never a bare `ENOMEM`.
//!
//! One guard page is enough for Rust code, which probes any frame bigger than a page one page
//! at a time. Foreign code built without `-fstack-clash-protection` could step over it into
//! the top of the neighbouring slot's stack, exactly as it could step over a glibc thread's
//! one-page guard.
//!
//! Measured on Linux 6.18 (`stack/tests.rs`): with `MADV_GUARD_INSTALL`, 200,000 stacks of
//! 256 KiB add 4 mappings in all (adjacent slabs merge); with `mprotect`, each stack adds 2.
//!
//! Slabs also get `MADV_NOHUGEPAGE`: a transparent huge page would make one touch of a stack
//! resident 2 MiB spread over several stacks.

use std::io;
use std::sync::OnceLock;

/// `madvise` advice that installs guard markers (Linux 6.13, `include/uapi/asm-generic/mman-common.h`);
/// not yet in the `libc` crate.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How this process installs guard pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: no extra mapping per stack.
    GuardInstall,
    /// `mprotect(PROT_NONE)`: two mappings per stack.
    ProtNone,
}

impl GuardMode {
    /// The name shown in diagnostics.
    pub(super) fn name(self) -> &'static str {
        match self {
            GuardMode::GuardInstall => "MADV_GUARD_INSTALL",
            GuardMode::ProtNone => "mprotect(PROT_NONE)",
        }
    }
}

static GUARD_MODE: OnceLock<GuardMode> = OnceLock::new();

/// The process's guard mode, probed on first call.
pub(super) fn guard_mode() -> GuardMode {
    *GUARD_MODE.get_or_init(probe_guard_mode)
}

/// Makes this process use `mode` (tests of the fallback run in a child process that calls this
/// before any stack exists). Returns false when the mode was already decided.
#[cfg(test)]
pub(super) fn force_guard_mode(mode: GuardMode) -> bool {
    GUARD_MODE.set(mode).is_ok()
}

/// Tries `MADV_GUARD_INSTALL` on a scratch page: kernels before 6.13 reject the advice with
/// `EINVAL`.
fn probe_guard_mode() -> GuardMode {
    let page = super::page_size();
    let Ok(scratch) = map_anonymous(2 * page) else {
        // No memory even for a probe: the first slab will fail with a real error anyway.
        return GuardMode::ProtNone;
    };
    // SAFETY: `scratch` is a private anonymous mapping of two pages that we own; advising on
    // its first page cannot affect any other memory.
    let installed =
        unsafe { libc::madvise(scratch as *mut libc::c_void, page, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: unmapping the scratch mapping created above; nothing refers to it.
    unsafe { libc::munmap(scratch as *mut libc::c_void, 2 * page) };
    if installed {
        GuardMode::GuardInstall
    } else {
        GuardMode::ProtNone
    }
}

/// Maps `len` bytes of read-write, not-reserved, private anonymous memory.
fn map_anonymous(len: usize) -> io::Result<usize> {
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing cannot alias
    // any existing memory.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if address == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(address as usize)
}

/// Maps scratch memory for tests that need to use up mappings.
#[cfg(test)]
pub(super) fn map_anonymous_for_tests(len: usize) -> usize {
    map_anonymous(len).expect("map scratch memory")
}

/// Maps a new slab of `len` bytes (a multiple of the page size) and returns its lowest
/// address. The memory is read-write and has no guard yet.
///
/// # Errors
/// `OutOfMemory`, naming `vm.max_map_count` when that is the limit that was hit.
pub(super) fn map_slab(len: usize) -> io::Result<usize> {
    let base = map_anonymous(len).map_err(|error| {
        if error.raw_os_error() == Some(libc::ENOMEM)
            && guard_mode() == GuardMode::ProtNone
            && map_count_exhausted()
        {
            map_count_error()
        } else {
            io::Error::new(
                error.kind(),
                format!(
                    "gort: cannot map {len} bytes of address space for goroutine stacks: {error}"
                ),
            )
        }
    })?;
    // SAFETY: advising on the mapping we just created. Only a hint: failure is harmless.
    unsafe { libc::madvise(base as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) };
    Ok(base)
}

/// Makes `[lo, lo + len)` fault on every access, for good.
///
/// # Safety
/// `[lo, lo + len)` must be page-aligned memory inside a slab that nothing uses (a guard of a
/// slot not yet handed out).
///
/// # Errors
/// `OutOfMemory` naming `vm.max_map_count` when `mprotect` cannot split the mapping any more.
pub(super) unsafe fn install_guard(lo: usize, len: usize) -> io::Result<()> {
    if guard_mode() == GuardMode::GuardInstall {
        // SAFETY: per this function's contract the range is an unused part of our slab.
        if unsafe { libc::madvise(lo as *mut libc::c_void, len, MADV_GUARD_INSTALL) } == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        // EINVAL here means this mapping cannot take guard markers (it was mlock'ed, say):
        // fall back to mprotect for this guard only.
        if error.raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::new(
                error.kind(),
                format!("gort: cannot install a stack guard page: {error}"),
            ));
        }
    }
    // SAFETY: per this function's contract the range is an unused part of our slab.
    if unsafe { libc::mprotect(lo as *mut libc::c_void, len, libc::PROT_NONE) } == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ENOMEM) {
        return Err(map_count_error());
    }
    Err(io::Error::new(
        error.kind(),
        format!("gort: cannot install a stack guard page: {error}"),
    ))
}

/// Gives the physical pages of `[lo, lo + len)` back to the system; the range stays mapped
/// and reads as zeros when next touched. Failure (which `madvise` on our own anonymous memory
/// cannot produce in practice) only means the memory stays resident.
///
/// # Safety
/// `[lo, lo + len)` must be page-aligned usable stack memory that nothing is using and whose
/// contents nobody needs.
pub(super) unsafe fn release_memory(lo: usize, len: usize) {
    // SAFETY: per this function's contract nothing uses or needs the range.
    unsafe { libc::madvise(lo as *mut libc::c_void, len, libc::MADV_DONTNEED) };
}

/// The kernel's per-process mapping limit (`vm.max_map_count`), 65,530 when unreadable.
pub(super) fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(65_530)
}

/// The number of mappings this process has now (lines of `/proc/self/maps`).
pub(super) fn map_count() -> usize {
    std::fs::read("/proc/self/maps")
        .map(|maps| maps.iter().filter(|&&byte| byte == b'\n').count())
        .unwrap_or(0)
}

/// Whether an `ENOMEM` from `mmap` comes from the mapping limit rather than from memory.
fn map_count_exhausted() -> bool {
    map_count() + 16 >= max_map_count()
}

/// The error for "no mapping left to guard a stack with", with the way out.
pub(super) fn map_count_error() -> io::Error {
    let limit = max_map_count();
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "gort: cannot guard another goroutine stack: the process has hit vm.max_map_count ({} mappings, ~{} guarded stacks without MADV_GUARD_INSTALL); raise it with `sysctl -w vm.max_map_count={}` or use a kernel ≥ 6.13",
            group_thousands(limit),
            group_thousands(limit / 2),
            limit.saturating_mul(4),
        ),
    )
}

/// `32700` → `"32,700"`.
fn group_thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::group_thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(32_765), "32,765");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
