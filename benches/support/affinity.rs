//! Pinning the calling OS thread to CPU 0, for the "1 processor" OS-thread baselines
//! (what `taskset -c 0` does for a whole process). Threads spawned while the pin is held
//! inherit it.

use std::io;
use std::mem;

/// Restores the thread's previous CPU mask when dropped.
#[derive(Debug)]
pub struct PinnedToCpu0 {
    previous: libc::cpu_set_t,
}

/// Pins the calling thread (and the threads it spawns from now on) to CPU 0.
pub fn pin_current_thread_to_cpu0() -> io::Result<PinnedToCpu0> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the valid empty set.
    let mut previous: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `previous` is a live, writable cpu_set_t and the size passed is its size; pid 0
    // names the calling thread.
    let got =
        unsafe { libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut previous) };
    if got != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above, the all-zero cpu_set_t is the empty set.
    let mut only_cpu0: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: CPU_SET writes bit 0 of a live cpu_set_t, well inside its size.
    unsafe { libc::CPU_SET(0, &mut only_cpu0) };
    set_affinity(&only_cpu0)?;
    Ok(PinnedToCpu0 { previous })
}

fn set_affinity(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` points to a live cpu_set_t of the size passed; pid 0 is the calling thread.
    let got = unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), set) };
    if got == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Drop for PinnedToCpu0 {
    fn drop(&mut self) {
        set_affinity(&self.previous).expect("restoring the thread's CPU mask failed");
    }
}
