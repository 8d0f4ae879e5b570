//! Statistics of one handler call.

use std::time::Duration;

/// What one call to [`handle_event`](crate::LoadedJSSandbox::handle_event)
/// cost, kept by the sandbox until the next call replaces it (available
/// after a failed call too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStats {
    /// Wall-clock time from the start of the call to its end.
    pub wall_clock: Duration,
    /// CPU time used by the thread that ran the guest, over the same span
    /// (includes time inside the hypervisor). `None` without the
    /// `monitor-cpu-time` feature.
    pub cpu_time: Option<Duration>,
    /// The monitor that killed the call, or `None` if it was not killed by
    /// a monitor.
    pub terminated_by: Option<&'static str>,
    /// VM exits during the call (each costs the machine's exit price, tens
    /// of µs; see `docs/warm-path.md`): 1 for a call through the sandbox's
    /// thread plus one per host-function call, print flush or timer wait;
    /// 0 for a warm call answered in memory, host calls included.
    pub exits: u64,
}

/// Reads the calling thread's CPU time.
#[cfg(feature = "monitor-cpu-time")]
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out pointer for clock_gettime.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Without the `monitor-cpu-time` feature no CPU time is read.
#[cfg(not(feature = "monitor-cpu-time"))]
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Reads `thread`'s CPU time (the sandbox's thread, read from the thread
/// that posted a warm call).
#[cfg(feature = "monitor-cpu-time")]
pub(crate) fn cpu_time_of(thread: libc::pthread_t) -> Option<Duration> {
    crate::monitor::ThreadCpuClock::of(thread).ok()?.now()
}

/// Without the `monitor-cpu-time` feature no CPU time is read.
#[cfg(not(feature = "monitor-cpu-time"))]
pub(crate) fn cpu_time_of(_thread: libc::pthread_t) -> Option<Duration> {
    None
}
