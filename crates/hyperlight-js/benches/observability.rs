//! What the tracing spans and metrics cost on a warm call: the same echo
//! call with no subscriber, with a subscriber that filters the spans out,
//! and with one that records them (formatted into a sink), interleaved
//! round by round so that a busy machine hits all three alike.
//!
//! `cargo bench -p hyperlight-js --bench observability` prints the table;
//! add `--features tracing/max_level_off` to compile every span out (the
//! baseline without instrumentation). Results: `docs/observability.md`.

use std::time::{Duration, Instant};

use hyperlight_js::SandboxBuilder;
use tracing::level_filters::LevelFilter;

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let p = |q: f64| us(v[((v.len() as f64 - 1.0) * q).round() as usize]);
    (p(0.5), p(0.99))
}

fn main() {
    kvm_preflight::require_kvm();
    let mut sb = SandboxBuilder::new()
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("echo", "function handler(e) { return e; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let event = r#"{"a":1}"#;
    let mut call = || {
        let t = Instant::now();
        l.handle_event("echo", event, Some(false)).unwrap();
        t.elapsed()
    };
    for _ in 0..500 {
        call();
    }
    let filtered = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::WARN)
        .with_writer(std::io::sink)
        .finish();
    let recording = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::INFO)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::sink)
        .finish();
    let filtered = tracing::Dispatch::new(filtered);
    let recording = tracing::Dispatch::new(recording);
    let (mut none, mut off, mut on) = (vec![], vec![], vec![]);
    for _ in 0..40 {
        for _ in 0..100 {
            none.push(call());
        }
        tracing::dispatcher::with_default(&filtered, || {
            for _ in 0..100 {
                off.push(call());
            }
        });
        tracing::dispatcher::with_default(&recording, || {
            for _ in 0..100 {
                on.push(call());
            }
        });
    }
    let compiled_out = !tracing::enabled!(tracing::Level::ERROR)
        && cfg!(debug_assertions) == false
        && tracing::level_filters::STATIC_MAX_LEVEL == LevelFilter::OFF;
    println!(
        "warm echo call, {} (4,000 calls each, µs)\n",
        if compiled_out {
            "spans compiled out (tracing/max_level_off)"
        } else {
            "spans compiled in"
        }
    );
    println!("| subscriber | median | p99 |");
    println!("|---|---|---|");
    for (name, v) in [
        ("none", none),
        ("installed, filters INFO out", off),
        ("records INFO spans (fmt into a sink)", on),
    ] {
        let (m, p99) = stats(v);
        println!("| {name} | {m:.1} | {p99:.1} |");
    }
}
