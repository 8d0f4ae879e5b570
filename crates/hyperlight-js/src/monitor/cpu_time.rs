//! The CPU-time monitor.

use std::future::Future;
use std::time::Duration;

use super::ExecutionMonitor;
use crate::error::{Error, Result};

/// Kills a call once the thread running the guest has used a given amount
/// of CPU time. Time the guest spends blocked (for example waiting for a
/// host function) does not count.
///
/// The clock is the guest thread's own CPU clock (`pthread_getcpuclockid`),
/// which includes time inside `KVM_RUN`. It is polled adaptively: the
/// monitor sleeps for half the remaining budget, clamped to 1–10 ms, and
/// for the last 3 ms sleeps exactly the remaining budget, so the overshoot
/// shrinks as the deadline nears: about 0.2 ms past the budget, against
/// about 4 ms for a POSIX CPU timer on this kernel (see `docs/monitors.md`).
#[derive(Clone, Debug)]
pub struct CpuTimeMonitor {
    limit: Duration,
}

impl CpuTimeMonitor {
    /// A monitor with the given CPU budget; zero is an
    /// [`Error::InvalidArgument`].
    pub fn new(limit: Duration) -> Result<Self> {
        if limit.is_zero() {
            return Err(Error::invalid(
                "the CPU-time timeout must be greater than zero",
            ));
        }
        Ok(Self { limit })
    }

    /// The configured budget.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

/// A CPU clock of one thread, readable from any thread.
#[derive(Clone, Copy)]
pub(crate) struct ThreadCpuClock(libc::clockid_t);

std::thread_local! {
    /// The thread that runs the guest when it is not the calling thread
    /// (a call posted through the warm path runs on the sandbox's own
    /// thread while the monitors are armed on the poster's).
    static GUEST_THREAD: std::cell::Cell<Option<libc::pthread_t>> =
        const { std::cell::Cell::new(None) };
}

/// Runs `f` with `thread` as the guest's thread for [`ThreadCpuClock::current`].
pub(crate) fn with_guest_thread<R>(thread: libc::pthread_t, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<libc::pthread_t>);
    impl Drop for Reset {
        fn drop(&mut self) {
            GUEST_THREAD.with(|g| g.set(self.0));
        }
    }
    let _reset = Reset(GUEST_THREAD.with(|g| g.replace(Some(thread))));
    f()
}

impl ThreadCpuClock {
    /// The CPU clock of the thread that runs the guest: the calling thread,
    /// unless [`with_guest_thread`] names another.
    pub(crate) fn current() -> Result<Self> {
        // SAFETY: `pthread_self()` is always a valid thread handle.
        let thread = GUEST_THREAD
            .with(|g| g.get())
            .unwrap_or(unsafe { libc::pthread_self() });
        Self::of(thread)
    }

    /// The CPU clock of `thread`, which must be alive (the caller's, or the
    /// sandbox's thread, which serves the call being measured).
    pub(crate) fn of(thread: libc::pthread_t) -> Result<Self> {
        let mut id: libc::clockid_t = 0;
        // SAFETY: `thread` is a live thread (the caller's contract) and `id`
        // is a valid place for the result.
        let rc = unsafe { libc::pthread_getcpuclockid(thread, &mut id) };
        if rc != 0 {
            return Err(Error::Internal(format!(
                "pthread_getcpuclockid failed: {}",
                std::io::Error::from_raw_os_error(rc)
            )));
        }
        Ok(Self(id))
    }

    /// CPU time used so far. A thread that has exited reads as `None`.
    pub(crate) fn now(&self) -> Option<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out pointer; an invalid clock id is
        // reported through the return value.
        let rc = unsafe { libc::clock_gettime(self.0, &mut ts) };
        (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
}

const MIN_POLL: Duration = Duration::from_millis(1);
const MAX_POLL: Duration = Duration::from_millis(10);
/// Below this remaining budget, sleep precisely instead of polling.
const PRECISE_BELOW: Duration = Duration::from_millis(3);

impl ExecutionMonitor for CpuTimeMonitor {
    fn get_monitor(&self) -> Result<impl Future<Output = ()> + Send + 'static> {
        let clock = ThreadCpuClock::current()?;
        let start = clock
            .now()
            .ok_or_else(|| Error::Internal("the thread CPU clock cannot be read".into()))?;
        let deadline = start + self.limit;
        Ok(async move {
            loop {
                let Some(used) = clock.now() else { return };
                if used >= deadline {
                    return;
                }
                let remaining = deadline - used;
                if remaining <= PRECISE_BELOW {
                    // The CPU clock advances at most as fast as the wall
                    // clock, so sleeping `remaining` cannot overshoot.
                    super::sleep_until_precise(std::time::Instant::now() + remaining).await;
                } else {
                    tokio::time::sleep((remaining / 2).clamp(MIN_POLL, MAX_POLL)).await;
                }
            }
        })
    }

    fn name(&self) -> &'static str {
        "cpu-time"
    }
}
