//! Metrics and tracing spans over a sandbox's whole lifecycle. One test:
//! the metrics recorder is global to the process, and the gauges count
//! every sandbox alive in it.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperlight_js::observability as obs;
use hyperlight_js::{ErrorCode, SandboxBuilder, WallClockMonitor};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Metric values by `name{label=value,...}` (labels sorted), accumulated:
/// the debugging recorder hands out deltas (each snapshot resets counters
/// and gauges to 0 and drains histograms), so counters and gauges are
/// summed and histogram samples appended.
#[derive(Default)]
struct Totals(BTreeMap<String, V>);

/// A metric's accumulated value: counter, gauge, number of histogram
/// samples.
#[derive(Clone, Debug, PartialEq)]
enum V {
    C(u64),
    G(f64),
    H(usize),
}

impl Totals {
    fn update(&mut self, s: &Snapshotter) -> BTreeMap<String, V> {
        for (key, _, _, value) in s.snapshot().into_vec() {
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.key().name(), labels.join(","));
            let merged = match (self.0.remove(&name), value) {
                (Some(V::C(a)), DebugValue::Counter(b)) => V::C(a + b),
                (None, DebugValue::Counter(b)) => V::C(b),
                (Some(V::G(a)), DebugValue::Gauge(b)) => V::G(a + b.into_inner()),
                (None, DebugValue::Gauge(b)) => V::G(b.into_inner()),
                (Some(V::H(a)), DebugValue::Histogram(b)) => V::H(a + b.len()),
                (None, DebugValue::Histogram(b)) => V::H(b.len()),
                (old, new) => panic!("{name}: {old:?} then {new:?}"),
            };
            self.0.insert(name, merged);
        }
        self.0.clone()
    }
}

fn counter(m: &BTreeMap<String, V>, key: &str) -> u64 {
    match m.get(key) {
        Some(V::C(n)) => *n,
        None => 0,
        other => panic!("{key} is {other:?}"),
    }
}

fn gauge(m: &BTreeMap<String, V>, stage: &str) -> f64 {
    match m.get(&format!("{}{{stage={stage}}}", obs::SANDBOXES)) {
        Some(V::G(g)) => *g,
        None => 0.0,
        other => panic!("gauge {stage} is {other:?}"),
    }
}

fn histogram_len(m: &BTreeMap<String, V>, key: &str) -> usize {
    match m.get(key) {
        Some(V::H(n)) => *n,
        None => 0,
        other => panic!("{key} is {other:?}"),
    }
}

/// Spans as they close: name and fields.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<ClosedSpan>>>);

/// A span's name and its fields' values.
type ClosedSpan = (String, BTreeMap<String, String>);

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S> Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        ctx.span(id).unwrap().extensions_mut().insert(f);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        values.record(ext.get_mut::<Fields>().unwrap());
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let fields = span.extensions_mut().remove::<Fields>().unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((span.name().to_string(), fields.0));
    }
}

#[test]
fn metrics_and_spans_cover_the_lifecycle() {
    kvm();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut totals = Totals::default();
    let mut metrics = |s: &Snapshotter| totals.update(s);
    recorder
        .install()
        .expect("no other recorder in this test binary");

    // --- metrics ---
    let proto = SandboxBuilder::new().build().unwrap();
    let m = metrics(&snapshotter);
    assert_eq!(gauge(&m, "proto"), 1.0);
    let mut sb = proto.load_runtime().unwrap();
    let m = metrics(&snapshotter);
    assert_eq!((gauge(&m, "proto"), gauge(&m, "runtime")), (0.0, 1.0));

    // A failed load is counted with its code and leaves a `runtime`.
    sb.add_handler("h", "import 'user:nope'; function handler() {}")
        .unwrap();
    let mut sb = sb.get_loaded_sandbox().unwrap_err().sandbox;
    sb.clear_handlers();
    sb.add_handler(
        "h",
        "let keep = []; function handler(e) { if (e.spin) for (;;) {} \
         keep.push(new Array(e.n).fill(1)); if (e.fail) throw new Error('no'); return keep.length; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let m = metrics(&snapshotter);
    assert_eq!((gauge(&m, "runtime"), gauge(&m, "loaded")), (0.0, 1.0));
    assert_eq!(counter(&m, &format!("{}{{outcome=ok}}", obs::LOADS)), 1);
    assert_eq!(
        counter(&m, &format!("{}{{outcome=ERR_INVALID_ARG}}", obs::LOADS)),
        1
    );

    let snap = l.snapshot().unwrap();
    let before = l.guest_heap_used();
    l.handle_event("h", r#"{"n":100000}"#, None).unwrap();
    assert!(
        l.guest_heap_used() > before + 100_000 * 8 / 2,
        "heap {} -> {}",
        before,
        l.guest_heap_used()
    );
    assert!(l.guest_heap_peak() >= l.guest_heap_used());
    assert_eq!(
        l.handle_event("h", r#"{"n":1,"fail":true}"#, None)
            .unwrap_err()
            .code(),
        ErrorCode::Handler
    );
    let wall = WallClockMonitor::new(Duration::from_millis(30)).unwrap();
    l.handle_event_with_monitor("h", r#"{"spin":true}"#, &wall, None)
        .unwrap_err();
    l.restore(&snap).unwrap();
    assert!(
        l.guest_heap_used() < before + 4096,
        "a restore rewinds the heap"
    );
    let m = metrics(&snapshotter);
    assert_eq!(counter(&m, &format!("{}{{outcome=ok}}", obs::CALLS)), 1);
    assert_eq!(
        counter(&m, &format!("{}{{outcome=ERR_HANDLER}}", obs::CALLS)),
        1
    );
    assert_eq!(
        counter(&m, &format!("{}{{outcome=ERR_CANCELLED}}", obs::CALLS)),
        1
    );
    assert_eq!(
        histogram_len(&m, &format!("{}{{outcome=ok}}", obs::CALL_DURATION)),
        1
    );
    // Heap is recorded after the calls that left a healthy sandbox.
    assert_eq!(
        histogram_len(&m, &format!("{}{{}}", obs::GUEST_HEAP_USED)),
        2
    );
    assert_eq!(
        counter(
            &m,
            &format!("{}{{monitor_type=wall-clock}}", obs::TERMINATIONS)
        ),
        1
    );
    assert_eq!(counter(&m, &format!("{}{{}}", obs::SNAPSHOTS)), 1);
    assert_eq!(counter(&m, &format!("{}{{outcome=ok}}", obs::RESTORES)), 1);

    // The handler label only when asked for.
    obs::set_handler_label(true);
    l.handle_event("h", r#"{"n":1}"#, None).unwrap();
    obs::set_handler_label(false);
    let m = metrics(&snapshotter);
    assert_eq!(
        counter(&m, &format!("{}{{handler=h,outcome=ok}}", obs::CALLS)),
        1
    );
    assert_eq!(counter(&m, &format!("{}{{outcome=ok}}", obs::CALLS)), 1);

    let sb = l.unload().unwrap();
    let m = metrics(&snapshotter);
    assert_eq!(counter(&m, &format!("{}{{}}", obs::UNLOADS)), 1);
    assert_eq!((gauge(&m, "runtime"), gauge(&m, "loaded")), (1.0, 0.0));
    drop(sb);
    let m = metrics(&snapshotter);
    assert_eq!(
        (
            gauge(&m, "proto"),
            gauge(&m, "runtime"),
            gauge(&m, "loaded")
        ),
        (0.0, 0.0, 0.0)
    );

    // --- spans ---
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        let mut proto = SandboxBuilder::new().build().unwrap();
        proto
            .register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
            .unwrap();
        let mut sb = proto.load_runtime().unwrap();
        sb.add_handler(
            "sum",
            "import { add } from 'host:math'; function handler(e) { return add(e.a, e.b); }",
        )
        .unwrap();
        let mut l = sb.get_loaded_sandbox().unwrap();
        let snap = l.snapshot().unwrap();
        assert_eq!(
            l.handle_event("sum", r#"{"a":1,"b":2}"#, None).unwrap(),
            "3"
        );
        l.restore(&snap).unwrap();
        l.unload().unwrap();
    });
    let spans = spans.0.lock().unwrap().clone();
    let names: Vec<&str> = spans.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "hyperlight_js.build",
            "hyperlight_js.load_runtime",
            "hyperlight_js.load",
            "hyperlight_js.snapshot",
            "hyperlight_js.host_call",
            "hyperlight_js.call",
            "hyperlight_js.restore",
            "hyperlight_js.unload",
        ]
    );
    let id = spans[0].1["sandbox_id"].clone();
    for (name, fields) in &spans {
        if name != "hyperlight_js.host_call" {
            assert_eq!(fields.get("sandbox_id"), Some(&id), "{name}: {fields:?}");
        }
    }
    let call = &spans[5].1;
    assert_eq!(call["handler"], "sum");
    assert_eq!(call["outcome"], "ok");
    assert_eq!(spans[4].1["module"], "math");
    assert_eq!(spans[4].1["function"], "add");
    assert_eq!(spans[2].1["outcome"], "ok");
    assert_eq!(spans[2].1["handlers"], "1");

    // --- a warm call (exit-less, posted from another thread) has its span ---
    let mut sb = SandboxBuilder::new()
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("echo", "function handler(e) { return e; }")
        .unwrap();
    let loaded = sb.get_loaded_sandbox().unwrap();
    let warm = loaded.warm_path();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (handed_tx, handed_rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut l = loaded;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(r) = l.serve_warm(Duration::from_millis(20)) {
                    let _ = handed_tx.send(r);
                }
            }
        })
    };
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let call = loop {
            if let Some(c) = warm
                .call::<WallClockMonitor>("echo", r#"{"w":1}"#, true, None)
                .unwrap()
            {
                break c;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the guest never polled"
            );
            std::thread::sleep(Duration::from_micros(200));
        };
        let result = match warm.wait(call, Duration::from_secs(5)) {
            hyperlight_js::WarmOutcome::Done(r, _) => r,
            hyperlight_js::WarmOutcome::Handed(h) => {
                let r = handed_rx.recv_timeout(Duration::from_secs(30)).unwrap();
                warm.complete(h, r).0
            }
        };
        assert_eq!(result.unwrap(), r#"{"w":1}"#);
    });
    warm.release();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    server.join().unwrap();
    let spans = spans.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let (name, fields) = &spans[0];
    assert_eq!(name, "hyperlight_js.call");
    assert_eq!(fields["handler"], "echo");
    assert_eq!(fields["path"], "warm");
    assert_eq!(fields["outcome"], "ok");
    assert!(fields.contains_key("sandbox_id"), "{fields:?}");
}
