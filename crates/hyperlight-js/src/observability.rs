//! Metrics and tracing: what this crate reports, under which names.
//!
//! **Metrics** go through the [`metrics`] facade: install any recorder
//! (Prometheus, OpenTelemetry, StatsD...) and they appear; without one
//! they cost a relaxed atomic load each. Names follow the Prometheus and
//! OpenTelemetry conventions (`_total` counters, base units: seconds,
//! bytes):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | [`SANDBOXES`] | gauge | `stage`: `proto`, `runtime` or `loaded` |
//! | [`LOADS`] | counter | `outcome`: `ok` or the error code |
//! | [`UNLOADS`] | counter | — |
//! | [`CALLS`] | counter | `outcome`; `handler` when [`set_handler_label`] is on |
//! | [`CALL_DURATION`] | histogram (seconds) | `outcome`; `handler` when on |
//! | [`SNAPSHOTS`] | counter | — |
//! | [`RESTORES`] | counter | `outcome` |
//! | [`TERMINATIONS`] | counter | `monitor_type`: the monitor that fired |
//! | [`GUEST_HEAP_USED`] | histogram (bytes) | — : the guest heap in use after each call |
//!
//! The handler label is off by default: handler names are chosen by
//! whoever loads the sandbox, and a label per name can grow a metrics
//! backend without bound. Turn it on where the set of handlers is known.
//!
//! **Tracing**: every lifecycle operation and call is a [`tracing`] span at
//! `INFO` (`hyperlight_js.build`, `.load_runtime`, `.load`, `.call`,
//! `.snapshot`, `.restore`, `.unload`) with the sandbox's id, and for calls
//! the handler and the outcome; host-function calls are `.host_call` spans
//! and module loads `.load_module` spans (both `DEBUG`). With no subscriber,
//! or one that filters them out, a span costs one relaxed load of the
//! callsite's cached interest (measured in `docs/observability.md`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Result;

/// Gauge: live sandboxes by stage (`stage` = `proto` | `runtime` |
/// `loaded`).
pub const SANDBOXES: &str = "hyperlight_js_sandboxes";
/// Counter: `get_loaded_sandbox` attempts by `outcome`.
pub const LOADS: &str = "hyperlight_js_loads_total";
/// Counter: `unload` calls.
pub const UNLOADS: &str = "hyperlight_js_unloads_total";
/// Counter: handler calls by `outcome` (and `handler` when enabled).
pub const CALLS: &str = "hyperlight_js_calls_total";
/// Histogram: handler call wall-clock duration in seconds, by `outcome`
/// (and `handler` when enabled).
pub const CALL_DURATION: &str = "hyperlight_js_call_duration_seconds";
/// Counter: snapshots taken.
pub const SNAPSHOTS: &str = "hyperlight_js_snapshots_total";
/// Counter: restores by `outcome`.
pub const RESTORES: &str = "hyperlight_js_restores_total";
/// Counter: calls killed by a monitor, by `monitor_type` (the name
/// upstream hyperlight-js uses).
pub const TERMINATIONS: &str = crate::monitor::METRIC_TERMINATIONS;
/// Histogram: bytes of guest heap in use after each call.
pub const GUEST_HEAP_USED: &str = "hyperlight_js_guest_heap_used_bytes";

static HANDLER_LABEL: AtomicBool = AtomicBool::new(false);

/// Adds the `handler` label (the routing key) to [`CALLS`] and
/// [`CALL_DURATION`], for every sandbox of the process, from the next call
/// on. Default: off (see the module docs on cardinality).
pub fn set_handler_label(enabled: bool) {
    HANDLER_LABEL.store(enabled, Ordering::Relaxed);
}

/// Whether [`set_handler_label`] is on.
pub fn handler_label() -> bool {
    HANDLER_LABEL.load(Ordering::Relaxed)
}

/// The outcome label of a result: `ok` or its error code.
pub(crate) fn outcome<T>(r: &Result<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    }
}

/// Keeps [`SANDBOXES`] for one stage up while it lives.
#[derive(Debug)]
pub(crate) struct StageGauge(&'static str);

impl StageGauge {
    pub(crate) fn new(stage: &'static str) -> Self {
        metrics::gauge!(SANDBOXES, "stage" => stage).increment(1.0);
        StageGauge(stage)
    }
}

impl Drop for StageGauge {
    fn drop(&mut self) {
        metrics::gauge!(SANDBOXES, "stage" => self.0).decrement(1.0);
    }
}

/// Records one handler call.
pub(crate) fn record_call(
    outcome: &'static str,
    handler: &str,
    duration: Duration,
    heap_used: Option<u64>,
) {
    let secs = duration.as_secs_f64();
    if handler_label() {
        let handler = handler.to_string();
        metrics::counter!(CALLS, "outcome" => outcome, "handler" => handler.clone()).increment(1);
        metrics::histogram!(CALL_DURATION, "outcome" => outcome, "handler" => handler).record(secs);
    } else {
        metrics::counter!(CALLS, "outcome" => outcome).increment(1);
        metrics::histogram!(CALL_DURATION, "outcome" => outcome).record(secs);
    }
    if let Some(bytes) = heap_used {
        metrics::histogram!(GUEST_HEAP_USED).record(bytes as f64);
    }
}
