//! Exports hyperlight-js's `tracing` spans to an OpenTelemetry collector
//! over OTLP/HTTP (protobuf), with the standard crates: `tracing` →
//! `tracing-opentelemetry` → the OpenTelemetry SDK → `opentelemetry-otlp`.
//!
//! The endpoint comes from the standard variables
//! (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`;
//! default `http://localhost:4318/v1/traces`). Run against a collector
//! with `cargo run -p hyperlight-js --example otlp_tracing`; the test
//! `tests/examples.rs` runs it against a collector endpoint of its own on
//! 127.0.0.1 and checks what arrives.

use std::time::Duration;

use hyperlight_js::{SandboxBuilder, WallClockMonitor};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(Duration::from_secs(10))
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("hyperlight-js-example")
                .build(),
        )
        .with_batch_exporter(exporter)
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("hyperlight-js")));
    tracing::subscriber::with_default(subscriber, run)?;
    // Flushes the batch: every span above is sent before the process ends.
    provider.shutdown()?;
    Ok(())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let _root = tracing::info_span!("example.request", request_id = 42).entered();
    let mut proto = SandboxBuilder::new().build()?;
    proto.register("math", "double", |(n,): (i64,)| Ok::<_, String>(n * 2))?;
    let mut sandbox = proto.load_runtime()?;
    sandbox.add_handler(
        "double",
        "import { double } from 'host:math'; function handler(e) { return double(e.n); }",
    )?;
    sandbox.add_handler("spin", "function handler() { for (;;) {} }")?;
    let mut loaded = sandbox.get_loaded_sandbox()?;
    let snapshot = loaded.snapshot()?;
    assert_eq!(loaded.handle_event("double", r#"{"n":21}"#, None)?, "42");
    let monitor = WallClockMonitor::new(Duration::from_millis(50))?;
    let err = loaded
        .handle_event_with_monitor("spin", "{}", &monitor, None)
        .unwrap_err();
    assert_eq!(err.code().as_str(), "ERR_CANCELLED");
    loaded.restore(&snapshot)?;
    loaded.unload()?;
    Ok(())
}
