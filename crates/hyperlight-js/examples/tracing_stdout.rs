//! Prints hyperlight-js's `tracing` spans to stdout: one line per span as it
//! closes, with its fields (sandbox id, handler, outcome) and timing.
//!
//! Run with `cargo run -p hyperlight-js --example tracing_stdout`; the
//! test `tests/examples.rs` runs it and checks the spans it prints.

use hyperlight_js::SandboxBuilder;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::time::Uptime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // DEBUG also shows the host-call and module-load spans.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_timer(Uptime::default())
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .init();

    let mut proto = SandboxBuilder::new().build()?;
    proto.register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))?;
    let mut sandbox = proto.load_runtime()?;
    sandbox.add_module("greeting.js", "export const hello = 'Hello';", None)?;
    sandbox.add_handler(
        "greet",
        r#"
        import { hello } from './greeting.js';
        import { add } from 'host:math';
        function handler(event) {
            if (event.fail) throw new TypeError('asked to fail');
            return { message: `${hello}, ${event.name}!`, sum: add(1, 2) };
        }
        "#,
    )?;
    let mut loaded = sandbox.get_loaded_sandbox()?;
    let snapshot = loaded.snapshot()?;
    let out = loaded.handle_event("greet", r#"{"name":"World"}"#, None)?;
    assert_eq!(out, r#"{"message":"Hello, World!","sum":3}"#);
    let err = loaded
        .handle_event("greet", r#"{"fail":true}"#, None)
        .unwrap_err();
    assert_eq!(err.code().as_str(), "ERR_HANDLER");
    loaded.restore(&snapshot)?;
    loaded.unload()?;
    Ok(())
}
