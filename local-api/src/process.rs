//! The one libc call: signalling a run's process group.

/// Sends `signal` to the process group `pgid` (nothing when it is gone).
pub fn kill_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: killpg has no memory effects; a stale group id only yields ESRCH.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}
