//! Kill latency of the built-in monitors: how long after its limit a
//! runaway handler's call actually returns.
//!
//! * wall clock: (time the call returned) − (call start + limit)
//! * CPU time: (CPU time the guest thread used) − limit, and the wall time
//!   from start to return minus the limit
//!
//! Prints a markdown table (median, p99, n). Run with
//! `cargo bench -p hyperlight-js --bench monitors`.

use std::time::{Duration, Instant};

use hyperlight_js::{CpuTimeMonitor, LoadedJSSandbox, SandboxBuilder, WallClockMonitor};

const RUNS: usize = 40;
const LIMIT: Duration = Duration::from_millis(20);

fn sandbox() -> LoadedJSSandbox {
    let mut sb = SandboxBuilder::new()
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("spin", "function handler() { for (;;) {} }")
        .unwrap();
    sb.get_loaded_sandbox().unwrap()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn row(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "| {name} | {:.3} | {:.3} | {} |",
        pct(&v, 0.5),
        pct(&v, 0.99),
        v.len()
    );
}

fn main() {
    kvm_preflight::require_kvm();
    let mut l = sandbox();
    let snap = l.snapshot().unwrap();
    let mut wall = Vec::new();
    for _ in 0..RUNS {
        let m = WallClockMonitor::new(LIMIT).unwrap();
        let start = Instant::now();
        let _ = l
            .handle_event_with_monitor("spin", "{}", &m, None)
            .unwrap_err();
        let late = start.elapsed().saturating_sub(LIMIT);
        assert_eq!(
            l.last_call_stats().unwrap().terminated_by,
            Some("wall-clock")
        );
        wall.push(late.as_secs_f64() * 1e3);
        l.restore(&snap).unwrap();
    }
    let (mut cpu_over, mut cpu_wall) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let m = CpuTimeMonitor::new(LIMIT).unwrap();
        let start = Instant::now();
        let _ = l
            .handle_event_with_monitor("spin", "{}", &m, None)
            .unwrap_err();
        let elapsed = start.elapsed();
        let stats = l.last_call_stats().unwrap();
        assert_eq!(stats.terminated_by, Some("cpu-time"));
        cpu_over.push(stats.cpu_time.unwrap().saturating_sub(LIMIT).as_secs_f64() * 1e3);
        cpu_wall.push(elapsed.saturating_sub(LIMIT).as_secs_f64() * 1e3);
        l.restore(&snap).unwrap();
    }
    println!(
        "Kill latency of the monitors, limit {} ms, {RUNS} runs each\n",
        LIMIT.as_millis()
    );
    println!("| measure (ms past the limit) | median | p99 | n |");
    println!("|---|---|---|---|");
    row("wall-clock: call returned after deadline", wall);
    row("cpu-time: CPU used past the budget", cpu_over);
    row(
        "cpu-time: call returned after start + budget (wall)",
        cpu_wall,
    );
}
