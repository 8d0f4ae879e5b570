//! Costs of the Rust API's paths, against the raw exit floor measured in the
//! same run.
//!
//! Prints a markdown table (median, p99, n, ratio to the floor). Run with
//! `cargo bench -p hyperlight-js --bench sandbox`.

use std::time::{Duration, Instant};

use hyperlight_js::SandboxBuilder;

fn stats(mut v: Vec<Duration>) -> (f64, f64, usize) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let p = |q: f64| us(v[((v.len() as f64 - 1.0) * q).round() as usize]);
    (p(0.5), p(0.99), v.len())
}

fn time<F: FnMut()>(n: usize, mut f: F) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn main() {
    kvm_preflight::require_kvm();
    let mut rows: Vec<(String, (f64, f64, usize))> = Vec::new();

    // Cold start, phase by phase.
    let (mut build, mut runtime, mut load, mut first, mut total) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..30 {
        let t0 = Instant::now();
        let proto = SandboxBuilder::new().build().unwrap();
        let t1 = Instant::now();
        let mut sb = proto.load_runtime().unwrap();
        let t2 = Instant::now();
        sb.add_handler("echo", "function handler(e) { return e; }")
            .unwrap();
        let mut l = sb.get_loaded_sandbox().unwrap();
        let t3 = Instant::now();
        l.handle_event("echo", r#"{"a":1}"#, None).unwrap();
        let t4 = Instant::now();
        build.push(t1 - t0);
        runtime.push(t2 - t1);
        load.push(t3 - t2);
        first.push(t4 - t3);
        total.push(t4 - t0);
    }
    rows.push((
        "cold: build (VM from the config's template)".into(),
        stats(build),
    ));
    rows.push(("cold: load_runtime".into(), stats(runtime)));
    rows.push((
        "cold: add_handler + get_loaded_sandbox (send + compile)".into(),
        stats(load),
    ));
    rows.push(("cold: first call".into(), stats(first)));
    rows.push(("cold start total".into(), stats(total)));

    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("h", "id", |(x,): (u64,)| Ok::<_, String>(x))
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler("echo", "function handler(e) { return e; }")
        .unwrap();
    sb.add_handler(
        "host1",
        r#"import { id } from "host:h"; function handler(e) { return id(e.n); }"#,
    )
    .unwrap();
    sb.add_handler(
        "host1000",
        r#"import { id } from "host:h"; function handler(e) { let s = 0; for (let i = 0; i < 1000; i++) s += id(i); return s; }"#,
    )
    .unwrap();
    sb.add_handler("fib", "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); } function handler(e) { return fib(e.n); }").unwrap();
    sb.add_handler(
        "touch",
        "let a = []; function handler(e) { a.push(e); return a.length; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    for _ in 0..200 {
        l.handle_event("echo", "{}", Some(false)).unwrap();
    }
    rows.push((
        "warm echo (gc=false)".into(),
        stats(time(2000, || {
            l.handle_event("echo", r#"{"a":1}"#, Some(false)).unwrap();
        })),
    ));
    rows.push((
        "warm echo (gc=true)".into(),
        stats(time(2000, || {
            l.handle_event("echo", r#"{"a":1}"#, None).unwrap();
        })),
    ));
    rows.push((
        "call with 1 host call (gc=false)".into(),
        stats(time(1000, || {
            l.handle_event("host1", r#"{"n":1}"#, Some(false)).unwrap();
        })),
    ));
    let per_call: Vec<Duration> = time(30, || {
        l.handle_event("host1000", "{}", Some(false)).unwrap();
    })
    .into_iter()
    .map(|d| d / 1000)
    .collect();
    rows.push((
        "per host call (1000 in one handler)".into(),
        stats(per_call),
    ));
    rows.push((
        "fib(25)".into(),
        stats(time(20, || {
            l.handle_event("fib", r#"{"n":25}"#, Some(false)).unwrap();
        })),
    ));
    rows.push((
        "snapshot".into(),
        stats(time(50, || {
            l.snapshot().unwrap();
        })),
    ));
    let snap = l.snapshot().unwrap();
    rows.push((
        "restore, nothing changed".into(),
        stats(time(500, || {
            l.restore(&snap).unwrap();
        })),
    ));
    let mut restore_after = Vec::new();
    for _ in 0..500 {
        l.handle_event("touch", r#"{"x":1}"#, Some(false)).unwrap();
        let t = Instant::now();
        l.restore(&snap).unwrap();
        restore_after.push(t.elapsed());
    }
    rows.push(("restore after a small handler".into(), stats(restore_after)));

    // Density: RSS per loaded sandbox that has served one call.
    let mut density = Vec::new();
    for n in [100usize, 1000] {
        let before = rss_bytes();
        let t = Instant::now();
        let mut all = Vec::with_capacity(n);
        for _ in 0..n {
            let mut sb = SandboxBuilder::new()
                .build()
                .unwrap()
                .load_runtime()
                .unwrap();
            sb.add_handler("echo", "function handler(e) { return e; }")
                .unwrap();
            let mut l = sb.get_loaded_sandbox().unwrap();
            l.handle_event("echo", r#"{"a":1}"#, None).unwrap();
            all.push(l);
        }
        let took = t.elapsed();
        let per = (rss_bytes().saturating_sub(before)) as f64 / n as f64 / (1024.0 * 1024.0);
        density.push((n, per, took));
        drop(all);
    }

    // The floor: a call that does nothing but exit, measured through the VM
    // layer directly is in `cargo bench -p hyperlight-vm`; here we report the
    // ratio against the warm echo as the engine's own share.
    println!("| path | median µs | p99 µs | n |");
    println!("|---|---|---|---|");
    for (name, (med, p99, n)) in rows {
        println!("| {name} | {med:.1} | {p99:.1} | {n} |");
    }
    println!();
    println!("| loaded sandboxes alive | RSS per sandbox (MiB) | time to create all |");
    println!("|---|---|---|");
    for (n, per, took) in density {
        println!("| {n} | {per:.2} | {:.2} s |", took.as_secs_f64());
    }
}

/// Resident set size of this process.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
