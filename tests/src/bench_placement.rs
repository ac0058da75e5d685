//! Where a bench's processes run: the servers on a CPU of their own ("servers apart"), as when
//! the server is another machine, or anywhere (free placement).
//!
//! On the 2-core project machine, three busy processes (server, worker, client) share two
//! CPUs, and a call that wakes a process on an idle virtual CPU waits for that CPU to wake:
//! with free placement, the same row ran at either of two rates from one round to the next
//! (sequential small calls at 8-10k or 20-34k calls/s, isolated downloads at 2.2-2.5 or
//! 3.6-4.2 GB/s) as the scheduler placed the processes. Pinned, each placement gives one rate.

/// Where the bench's processes may run.
pub struct Placement {
    /// The server processes.
    pub servers: Vec<u32>,
    /// The CPUs this process may use, as it started.
    pub cpus: Vec<usize>,
}

impl Placement {
    /// Puts the servers on the last CPU, and this process and the worker on the others, until
    /// the guard drops (also when placing one of them failed). An error with fewer than two
    /// CPUs, or when the system refuses.
    pub fn servers_apart(&self, worker: Option<u32>) -> std::io::Result<ServersApart<'_>> {
        let Some((&last, rest)) = self.cpus.split_last().filter(|(_, rest)| !rest.is_empty())
        else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "this process may use {} CPU(s), and placing needs two",
                    self.cpus.len()
                ),
            ));
        };
        let guard = ServersApart {
            placement: self,
            worker,
        };
        for &pid in &self.servers {
            set_affinity(pid, &[last])?;
        }
        set_affinity(std::process::id(), rest)?;
        if let Some(pid) = worker {
            set_affinity(pid, rest)?;
        }
        Ok(guard)
    }
}

/// Gives the servers, this process and the worker every CPU back when dropped.
pub struct ServersApart<'a> {
    placement: &'a Placement,
    worker: Option<u32>,
}

impl Drop for ServersApart<'_> {
    fn drop(&mut self) {
        let all = &self.placement.cpus;
        for &pid in &self.placement.servers {
            let _ = set_affinity(pid, all);
        }
        let _ = set_affinity(std::process::id(), all);
        if let Some(pid) = self.worker {
            let _ = set_affinity(pid, all);
        }
    }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity fills it for this thread.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Puts every thread of process `pid` on `cpus` (threads it starts later inherit it).
pub fn set_affinity(pid: u32, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: CPU_SET on a zeroed set, for CPU numbers below CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        if let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        {
            // SAFETY: a thread id and a set of the size passed.
            if unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) }
                != 0
            {
                let e = std::io::Error::last_os_error();
                // A thread that ended meanwhile is no failure.
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}
