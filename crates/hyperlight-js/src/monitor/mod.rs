//! Execution monitors: watchdogs that kill a handler call that runs away
//! with CPU or wall-clock time, or breaks any rule you write yourself.
//!
//! A monitor is two-phase (see `docs/monitors.md`):
//!
//! 1. [`ExecutionMonitor::get_monitor`] runs synchronously **on the thread
//!    that will run the guest**, so it can capture thread-local state (the
//!    CPU-time monitor takes that thread's CPU clock here). If it fails, the
//!    handler is never run (fail closed).
//! 2. The future it returns is spawned on the shared monitor runtime. It
//!    stays pending while all is well; when it completes, the call is
//!    killed. If the handler finishes first the future is aborted.
//!
//! Monitors compose as tuples of up to five ([`MonitorSet`]); the first to
//! complete wins, and its name is reported in
//! [`CallStats::terminated_by`](crate::CallStats), the
//! `monitor_terminations_total{monitor_type}` metric and a `tracing` warning.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};

#[cfg(feature = "monitor-cpu-time")]
mod cpu_time;
mod runtime;
#[cfg(feature = "monitor-wall-clock")]
mod wall_clock;

#[cfg(feature = "monitor-cpu-time")]
pub use cpu_time::CpuTimeMonitor;
#[cfg(feature = "monitor-cpu-time")]
pub(crate) use cpu_time::{with_guest_thread, ThreadCpuClock};
#[cfg(feature = "monitor-wall-clock")]
pub use wall_clock::WallClockMonitor;

/// Name of the metric counting calls killed by a monitor.
pub const METRIC_TERMINATIONS: &str = "monitor_terminations_total";

/// Sleeps on the shared monitor runtime's timer, so custom monitors need not
/// depend on tokio themselves. Only meaningful inside a monitor future.
pub fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
    tokio::time::sleep(duration)
}

/// Sleeps until `deadline` with sub-millisecond precision: tokio's timer
/// has a 1 ms granularity, so the last stretch is slept on a blocking-pool
/// thread with `std::thread::sleep` (about 0.1 ms late instead of about
/// 1.3 ms; see `docs/monitors.md`).
pub(crate) async fn sleep_until_precise(deadline: std::time::Instant) {
    const COARSE_MARGIN: Duration = Duration::from_micros(1500);
    if let Some(coarse) = deadline.checked_sub(COARSE_MARGIN) {
        if coarse > std::time::Instant::now() {
            tokio::time::sleep_until(coarse.into()).await;
        }
    }
    let rest = deadline.saturating_duration_since(std::time::Instant::now());
    if !rest.is_zero() {
        // If the blocking pool cannot run it, fall back to the coarse timer.
        if tokio::task::spawn_blocking(move || std::thread::sleep(rest))
            .await
            .is_err()
        {
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A watchdog for one handler call. See the [module docs](self).
pub trait ExecutionMonitor: Send + Sync {
    /// Runs on the thread that will run the guest; returns the future that
    /// completes when the call must be killed. Return `Err` if the monitor
    /// cannot work: the handler is then not run.
    fn get_monitor(&self) -> Result<impl Future<Output = ()> + Send + 'static>;

    /// A short, stable name (`"wall-clock"`, `"cpu-time"`, ...), used in
    /// [`CallStats`](crate::CallStats), metrics and logs.
    fn name(&self) -> &'static str;
}

/// The monitor future of a set: resolves to the name of the monitor that
/// fired.
pub type Armed = Pin<Box<dyn Future<Output = &'static str> + Send + 'static>>;

mod private {
    pub trait Sealed {}
}

/// One monitor or a tuple of up to five, accepted by
/// [`LoadedJSSandbox::handle_event_with_monitor`](crate::LoadedJSSandbox::handle_event_with_monitor).
///
/// Sealed: implement [`ExecutionMonitor`] and the blanket implementation
/// makes your monitor a set of one.
pub trait MonitorSet: private::Sealed + Send + Sync {
    /// Starts every monitor of the set on the calling thread (all or none:
    /// the first failure is returned) and composes their futures.
    #[doc(hidden)]
    fn arm(&self) -> Result<Armed>;
}

type Started = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

fn start_one<M: ExecutionMonitor + ?Sized>(m: &M) -> Result<Started> {
    let fut = m.get_monitor().map_err(|e| Error::MonitorStart {
        monitor: m.name(),
        reason: match e {
            Error::MonitorStart { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
    Ok(Box::pin(fut))
}

impl<M: ExecutionMonitor> private::Sealed for M {}
impl<M: ExecutionMonitor> MonitorSet for M {
    fn arm(&self) -> Result<Armed> {
        let fut = start_one(self)?;
        let name = self.name();
        Ok(Box::pin(async move {
            fut.await;
            name
        }))
    }
}

macro_rules! tuple_set {
    ($($m:ident $f:ident $n:ident),+) => {
        impl<$($m: ExecutionMonitor),+> private::Sealed for ($($m,)+) {}
        impl<$($m: ExecutionMonitor),+> MonitorSet for ($($m,)+) {
            #[allow(non_snake_case)]
            fn arm(&self) -> Result<Armed> {
                let ($($m,)+) = self;
                $(let $f = start_one($m)?; let $n = $m.name();)+
                Ok(Box::pin(async move {
                    tokio::select! {
                        $(_ = $f => $n,)+
                    }
                }))
            }
        }
    };
}

tuple_set!(A fa na);
tuple_set!(A fa na, B fb nb);
tuple_set!(A fa na, B fb nb, C fc nc);
tuple_set!(A fa na, B fb nb, C fc nc, D fd nd);
tuple_set!(A fa na, B fb nb, C fc nc, D fd nd, E fe ne);

/// A running monitor set for one call.
pub(crate) struct Watch {
    task: tokio::task::JoinHandle<()>,
    fired: Arc<OnceLock<&'static str>>,
}

impl Watch {
    /// Arms `set` on this thread and spawns it on the shared runtime; when it
    /// fires, `kill` is called once.
    pub(crate) fn start<S: MonitorSet + ?Sized>(
        set: &S,
        kill: impl FnOnce() + Send + 'static,
    ) -> Result<Self> {
        let armed = set.arm()?;
        let fired = Arc::new(OnceLock::new());
        let flag = fired.clone();
        let task = runtime::handle().spawn(async move {
            let name = armed.await;
            let _ = flag.set(name);
            // Record before killing: the call returns as soon as the kill
            // lands, and whoever reads the metric after it must see it.
            metrics::counter!(METRIC_TERMINATIONS, "monitor_type" => name).increment(1);
            tracing::warn!(
                triggered_by = name,
                "execution monitor fired; killing the handler call"
            );
            kill();
        });
        Ok(Watch { task, fired })
    }

    /// Stops watching; returns the monitor that fired, if one did.
    pub(crate) fn finish(self) -> Option<&'static str> {
        self.task.abort();
        self.fired.get().copied()
    }
}

/// The shared runtime's worker count as configured by
/// `HYPERLIGHT_MONITOR_THREADS` (default 2).
pub fn monitor_threads() -> usize {
    runtime::threads()
}
