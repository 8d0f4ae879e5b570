//! Is this machine's CPU oversubscribed right now?
//!
//! Every spin of this addon (the event loop kept awake while a call is
//! due, sandbox threads that look for their next job before sleeping, the
//! warm path's polling guest and spinning poster) only pays when the thread
//! that will answer has a core of its own. When more threads want to run
//! than there are cores, a spin steals the core from the thread it waits
//! for. So each spin first asks [`oversubscribed`].
//!
//! The signal is the kernel's CPU pressure stall information
//! (`/proc/pressure/cpu`, "some avg10": the share of the last 10 s in which
//! at least one runnable task waited for a CPU), re-read at most every
//! [`REFRESH`]. At or above [`THRESHOLD_PERCENT`] the spins are skipped.
//! Without PSI (kernels before 4.20, or `psi=0`) the spins always run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// "some avg10" at or above which the CPU counts as oversubscribed.
pub(crate) const THRESHOLD_PERCENT: f64 = 20.0;
/// How long a reading is reused.
pub(crate) const REFRESH: Duration = Duration::from_millis(100);

static BUSY: AtomicBool = AtomicBool::new(false);
static READ_AT_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Parses the "some" line of `/proc/pressure/cpu`: its avg10.
fn some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let field = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?;
    field.parse().ok()
}

/// Whether runnable threads are waiting for a CPU (see the module docs).
pub(crate) fn oversubscribed() -> bool {
    if std::env::var_os("HYPERLIGHT_JS_IGNORE_CPU_PRESSURE").is_some() {
        return false;
    }
    let now = epoch().elapsed().as_millis() as u64 + 1;
    let last = READ_AT_MS.load(Ordering::Relaxed);
    if last != 0 && now - last < REFRESH.as_millis() as u64 {
        return BUSY.load(Ordering::Relaxed);
    }
    if READ_AT_MS
        .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        let busy = std::fs::read_to_string("/proc/pressure/cpu")
            .ok()
            .and_then(|t| some_avg10(&t))
            .is_some_and(|v| v >= THRESHOLD_PERCENT);
        BUSY.store(busy, Ordering::Relaxed);
    }
    BUSY.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::some_avg10;

    #[test]
    fn reads_the_some_line() {
        let t = "some avg10=98.61 avg60=98.39 avg300=93.92 total=972674591\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(some_avg10(t), Some(98.61));
        assert_eq!(some_avg10("full avg10=1.00"), None);
        assert_eq!(some_avg10(""), None);
        // The field is found wherever it sits on the line; a malformed value
        // reads as no reading (not busy), never a panic.
        assert_eq!(
            some_avg10("some total=1 avg60=3.00 avg10=25.50\n"),
            Some(25.5)
        );
        assert_eq!(some_avg10("some avg10=lots avg60=0.00\n"), None);
        assert_eq!(some_avg10("some avg60=1.00 total=2\n"), None);
        assert_eq!(some_avg10("something avg10=50.00\n"), None);
    }

    #[test]
    fn the_threshold_separates_idle_from_oversubscribed() {
        let busy = |t: &str| some_avg10(t).is_some_and(|v| v >= super::THRESHOLD_PERCENT);
        assert!(!busy("some avg10=19.99 avg60=0 avg300=0 total=0\n"));
        assert!(busy("some avg10=20.00 avg60=0 avg300=0 total=0\n"));
        assert!(!busy("full avg10=99.00 avg60=0 avg300=0 total=0\n"));
    }
}
