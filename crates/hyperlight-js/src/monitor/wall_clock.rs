//! The wall-clock monitor.

use std::future::Future;
use std::time::{Duration, Instant};

use super::ExecutionMonitor;
use crate::error::{Error, Result};

/// Kills a call that runs longer than a wall-clock duration, whatever it is
/// doing (computing, or blocked in a slow host function).
#[derive(Clone, Debug)]
pub struct WallClockMonitor {
    limit: Duration,
}

impl WallClockMonitor {
    /// A monitor with the given limit; a zero duration is an
    /// [`Error::InvalidArgument`].
    pub fn new(limit: Duration) -> Result<Self> {
        if limit.is_zero() {
            return Err(Error::invalid(
                "the wall-clock timeout must be greater than zero",
            ));
        }
        Ok(Self { limit })
    }

    /// The configured limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

impl ExecutionMonitor for WallClockMonitor {
    fn get_monitor(&self) -> Result<impl Future<Output = ()> + Send + 'static> {
        // The deadline is taken now, on the calling thread, just before the
        // handler starts.
        let deadline = Instant::now() + self.limit;
        Ok(super::sleep_until_precise(deadline))
    }

    fn name(&self) -> &'static str {
        "wall-clock"
    }
}
