//! Host functions of warm calls, through the Rust API: a handler making
//! 1000 calls of a registered Rust function, called through a `WarmPath`
//! from another thread (the host function runs on that thread and answers
//! in guest memory, see `docs/warm-path.md`) and through the sandbox's own
//! thread (`handle_event`: one VM exit per host call). Prints a Markdown
//! table: per host call, median and p99 over the runs, and the VM exits of
//! the last call.
//!
//!   cargo bench -p hyperlight-js --bench warm_host_calls
//!
//! Spinning needs both threads on a core each: on a busy machine run it at
//! real-time priority (`chrt -f 10`).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use hyperlight_js::{LoadedJSSandbox, SandboxBuilder, WallClockMonitor, WarmOutcome};

const RUNS: usize = 50;
const HOST_CALLS: u32 = 1000;

fn sandbox() -> LoadedJSSandbox {
    let mut proto = SandboxBuilder::new().build().expect("build");
    proto
        .register("h", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
        .expect("register");
    let mut js = proto.load_runtime().expect("load_runtime");
    js.add_handler(
        "h",
        r#"import { add } from "host:h";
        function handler(e) { let s = 0; for (let i = 0; i < e.n; i++) s = add(s, 1); return s; }"#,
    )
    .expect("add_handler");
    js.get_loaded_sandbox().expect("get_loaded_sandbox")
}

fn row(name: &str, mut per_call_us: Vec<f64>, exits: u64) {
    per_call_us.sort_by(f64::total_cmp);
    let median = per_call_us[per_call_us.len() / 2];
    let p99 = per_call_us[(per_call_us.len() * 99 / 100).min(per_call_us.len() - 1)];
    println!("| {name} | {median:.2} µs | {p99:.2} µs | {exits} |");
}

fn main() {
    kvm_preflight::require_kvm();
    let event = format!("{{\"n\":{HOST_CALLS}}}");
    println!("| one host call, {HOST_CALLS} per handler, {RUNS} runs | median | p99 | VM exits of the last call |");
    println!("|---|---|---|---|");

    // Through the sandbox's thread: one exit per host call.
    let mut loaded = sandbox();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        loaded.handle_event("h", &event, Some(false)).expect("call");
        times.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(HOST_CALLS));
    }
    let exits = loaded.last_call_stats().map_or(0, |s| s.exits);
    row("`handle_event` (exits)", times, exits);

    // Through the warm path: the sandbox's thread serves, this thread posts.
    let warm = loaded.warm_path();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (handed_tx, handed_rx) = mpsc::channel();
    let server = std::thread::spawn(move || loop {
        while let Some(r) = loaded.serve_warm(Duration::from_millis(20)) {
            handed_tx.send(r).expect("send");
        }
        if stop_rx.try_recv().is_ok() {
            return;
        }
    });
    let mut times = Vec::new();
    let mut exits = 0;
    for _ in 0..RUNS {
        let call = loop {
            if let Some(c) = warm
                .call::<WallClockMonitor>("h", &event, false, None)
                .expect("post")
            {
                break c;
            }
            std::hint::spin_loop();
        };
        let t = Instant::now();
        match warm.wait(call, Duration::from_secs(1)) {
            WarmOutcome::Done(r, stats) => {
                r.expect("call");
                exits = stats.exits;
            }
            WarmOutcome::Handed(h) => {
                let r = handed_rx.recv().expect("handed");
                let (r, stats) = warm.complete(h, r);
                r.expect("call");
                exits = stats.exits;
            }
        }
        times.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(HOST_CALLS));
    }
    row("`WarmPath::wait` (in memory)", times, exits);
    stop_tx.send(()).expect("stop");
    warm.release();
    server.join().expect("server");
}
