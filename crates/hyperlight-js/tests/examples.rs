//! Runs the observability and `run_handler` examples (built by `cargo
//! test` with the tests) and checks what they print or export. The OTLP
//! example exports to a collector endpoint this test serves on 127.0.0.1.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

/// `target/<profile>/examples/<name>`: cargo builds the examples before
/// running the tests.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run this test through `cargo test`, which builds the examples",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs `cmd` with a deadline (a hung example fails the test, never hangs it).
fn run(mut cmd: Command, deadline: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the example");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "the example ran longer than {deadline:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn tracing_stdout_prints_a_span_per_operation_and_call() {
    common::kvm();
    let out = run(example("tracing_stdout"), Duration::from_secs(120));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for needle in [
        "hyperlight_js.build",
        "hyperlight_js.load_runtime",
        "hyperlight_js.load{",
        "hyperlight_js.snapshot",
        "hyperlight_js.restore",
        "hyperlight_js.unload",
        "hyperlight_js.host_call{module=\"math\" function=\"add\"}",
        "handler=\"greet\" outcome=\"ok\"",
        "handler=\"greet\" outcome=\"ERR_HANDLER\"",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    let calls = stdout
        .lines()
        .filter(|l| l.contains(" INFO hyperlight_js.call{") && l.contains("close"))
        .count();
    assert_eq!(calls, 2, "{stdout}");
}

#[test]
fn otlp_tracing_exports_the_spans_to_a_collector() {
    common::kvm();
    let server = tiny_http::Server::http("127.0.0.1:0").expect("collector endpoint");
    let port = server.server_addr().to_ip().expect("ip address").port();
    let mut cmd = example("otlp_tracing");
    cmd.env(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        format!("http://127.0.0.1:{port}/v1/traces"),
    );
    cmd.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    let collector = std::thread::spawn(move || {
        let mut spans = Vec::new();
        let mut content_types = Vec::new();
        // Requests until the example closes (bounded by the deadline).
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(200)) else {
                if !spans.is_empty() {
                    break;
                }
                continue;
            };
            assert_eq!(req.url(), "/v1/traces");
            content_types.extend(
                req.headers()
                    .iter()
                    .filter(|h| h.field.equiv("content-type"))
                    .map(|h| h.value.to_string()),
            );
            let mut body = Vec::new();
            std::io::Read::read_to_end(req.as_reader(), &mut body).expect("body");
            let export = ExportTraceServiceRequest::decode(&body[..]).expect("OTLP protobuf");
            spans.push(export);
            let _ = req.respond(
                tiny_http::Response::from_data(Vec::new()).with_header(
                    "Content-Type: application/x-protobuf"
                        .parse::<tiny_http::Header>()
                        .unwrap(),
                ),
            );
        }
        (spans, content_types)
    });
    let out = run(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let (exports, content_types) = collector.join().expect("collector thread");
    assert!(!exports.is_empty(), "nothing was exported");
    assert!(
        content_types.iter().all(|c| c == "application/x-protobuf"),
        "{content_types:?}"
    );

    let mut found = Vec::new();
    for export in &exports {
        for rs in &export.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .and_then(|v| v.value.clone());
            assert_eq!(
                service,
                Some(Value::StringValue("hyperlight-js-example".into()))
            );
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let attr = |k: &str| {
                        span.attributes
                            .iter()
                            .find(|a| a.key == k)
                            .and_then(|a| a.value.as_ref())
                            .and_then(|v| v.value.clone())
                    };
                    found.push((
                        span.name.clone(),
                        attr("handler"),
                        attr("outcome"),
                        attr("terminated_by"),
                        attr("sandbox_id").is_some(),
                        span.trace_id.clone(),
                    ));
                }
            }
        }
    }
    let names: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    for name in [
        "example.request",
        "hyperlight_js.build",
        "hyperlight_js.load_runtime",
        "hyperlight_js.load",
        "hyperlight_js.snapshot",
        "hyperlight_js.restore",
        "hyperlight_js.unload",
    ] {
        assert!(names.contains(&name), "no span {name} in {names:?}");
    }
    let s = |v: &str| Some(Value::StringValue(v.into()));
    let calls: Vec<_> = found
        .iter()
        .filter(|f| f.0 == "hyperlight_js.call")
        .collect();
    assert_eq!(calls.len(), 2, "{found:?}");
    assert!(calls
        .iter()
        .any(|c| c.1 == s("double") && c.2 == s("ok") && c.4));
    assert!(calls
        .iter()
        .any(|c| c.1 == s("spin") && c.2 == s("ERR_CANCELLED") && c.3 == s("wall-clock")));
    // One trace: every span is a child of the example's request span.
    let trace = &found[0].5;
    assert!(found.iter().all(|f| &f.5 == trace), "{found:?}");
}

fn run_handler(args: &[&str]) -> Output {
    let mut cmd = example("run_handler");
    cmd.args(args);
    run(cmd, Duration::from_secs(60))
}

#[test]
fn run_handler_runs_the_example_handlers() {
    common::kvm();
    let dir = "examples/run_handler";
    let cases = [
        ("echo", r#"{"message":"hello","nested":{"list":[1,2,3]}}"#),
        (
            "fibonacci",
            r#"{"n":100,"fibonacci":"354224848179261915075"}"#,
        ),
        (
            "regex",
            r#"{"count":3,"byDomain":{"example.com":2,"test.org":1}}"#,
        ),
    ];
    for (name, expected) in cases {
        let out = run_handler(&[
            &format!("{dir}/{name}.js"),
            &format!("{dir}/{name}.json"),
            "--stats-json",
        ]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), expected, "{name}");
        let stats: serde_json::Value =
            serde_json::from_str(text(&out.stderr).trim()).expect("stats JSON on stderr");
        assert!(stats["wallClockMs"].as_f64().unwrap() > 0.0, "{stats}");
        assert!(stats["guestHeapUsedBytes"].as_u64().unwrap() > 0, "{stats}");
        assert!(stats["terminatedBy"].is_null(), "{stats}");
    }
}

#[test]
fn run_handler_applies_the_limits_and_reports_errors() {
    common::kvm();
    let out = run_handler(&[
        "examples/run_handler/spin.js",
        "--timeout-ms",
        "100",
        "--cpu-timeout-ms",
        "50",
        "--stats-json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ERR_CANCELLED"), "{stderr}");
    assert!(
        stderr.contains(r#""terminatedBy":"cpu-time""#)
            || stderr.contains(r#""terminatedBy":"wall-clock""#),
        "{stderr}"
    );

    // A heap below the minimum is the builder's validation error
    // (ERR_INVALID_ARG); an unknown flag or a missing file is a usage error.
    let out = run_handler(&["examples/run_handler/echo.js", "--heap-size", "1k"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ERR_INVALID_ARG"),
        "{}",
        text(&out.stderr)
    );
    let out = run_handler(&["examples/run_handler/echo.js", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_handler(&["examples/run_handler/nope.js"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nope.js"),
        "{}",
        text(&out.stderr)
    );
}
