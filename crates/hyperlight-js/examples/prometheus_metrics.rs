//! Exports hyperlight-js metrics as Prometheus text.
//!
//! Installs the `metrics-exporter-prometheus` recorder, runs a few calls
//! (one of them killed by a monitor), and prints the rendered metrics:
//! `monitor_terminations_total{monitor_type="..."}`,
//! `hyperlight_js_calls_total{outcome="..."}` and the
//! `hyperlight_js_call_duration_seconds` summary.
//!
//! Run with `cargo run -p hyperlight-js --example prometheus_metrics`.

use std::time::Duration;

use hyperlight_js::{CpuTimeMonitor, SandboxBuilder, WallClockMonitor};
use metrics_exporter_prometheus::PrometheusBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let mut sandbox = SandboxBuilder::new().build()?.load_runtime()?;
    sandbox.add_handler(
        "handler",
        "function handler(e) { if (e.spin) for (;;) {} return e.n * 2; }",
    )?;
    let mut loaded = sandbox.get_loaded_sandbox()?;
    let snapshot = loaded.snapshot()?;

    for n in 0..5 {
        loaded.handle_event("handler", format!(r#"{{"n":{n}}}"#), None)?;
    }
    let monitor = (
        WallClockMonitor::new(Duration::from_secs(5))?,
        CpuTimeMonitor::new(Duration::from_millis(50))?,
    );
    let err = loaded
        .handle_event_with_monitor("handler", r#"{"spin":true}"#, &monitor, None)
        .unwrap_err();
    eprintln!("killed as expected: {err}");
    loaded.restore(&snapshot)?;

    let text = prometheus.render();
    assert!(
        text.contains(r#"monitor_terminations_total{monitor_type="cpu-time"} 1"#),
        "the termination metric is missing:\n{text}"
    );
    print!("{text}");
    Ok(())
}
