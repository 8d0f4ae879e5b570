//! What the default sizes cost (issue 12 §3): the old defaults (heap
//! 16 MiB, scratch 1 MiB, input and output buffers 1 MiB) against
//! `SandboxBuilder::new()`, in the same run: cold start, snapshot, restore,
//! RSS per idle loaded sandbox, and which of the handler cases of
//! `tests/defaults.rs` work.
//!
//! `cargo bench -p hyperlight-js --bench defaults` prints a markdown table.

use std::time::{Duration, Instant};

use hyperlight_js::{LoadedJSSandbox, SandboxBuilder};

const MIB: u64 = 1 << 20;

/// A configuration of the comparison: its name and how to make its builder.
type Config = (&'static str, fn() -> SandboxBuilder);

fn old_defaults() -> SandboxBuilder {
    SandboxBuilder::new()
        .with_heap_size(16 * MIB)
        .with_scratch_size(MIB)
        .with_input_buffer_size(MIB)
        .with_output_buffer_size(MIB)
}

fn median_p99(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p99 = v[((v.len() as f64 - 1.0) * 0.99).round() as usize];
    format!("{:.2} ({:.2})", ms(v[v.len() / 2]), ms(p99))
}

fn loaded(b: SandboxBuilder, src: &str) -> LoadedJSSandbox {
    let mut sb = b.build().unwrap().load_runtime().unwrap();
    sb.add_handler("h", src).unwrap();
    sb.get_loaded_sandbox().unwrap()
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

const CASES: [(&str, &str, &str); 6] = [
    ("recursion 10,000 frames", "function sum(n) { return n === 0 ? 0 : n + sum(n - 1); } function handler(e) { return sum(10000); }", "{}"),
    ("1,000 nested awaits", "async function nest(n) { return n === 0 ? 0 : 1 + await nest(n - 1); } async function handler() { return nest(1000); }", "{}"),
    ("JSON.parse 10,000-deep array", "function handler() { JSON.parse('['.repeat(10000) + ']'.repeat(10000)); return 1; }", "{}"),
    ("sort 1,000,000 numbers", "function handler() { const a = []; for (let i = 0; i < 1e6; i++) a.push((i * 7919) % 1e6); a.sort((x, y) => x - y); return a.length; }", "{}"),
    ("return 100,000 objects", "function handler() { return Array.from({ length: 100000 }, (_, i) => ({ id: i, name: 'item ' + i, ok: true })); }", "{}"),
    ("4 MiB event", "function handler(e) { return e.length; }", ""),
];

fn main() {
    kvm_preflight::require_kvm();
    let configs: [Config; 2] = [
        (
            "old defaults (16 MiB heap, 1 MiB scratch, 1 MiB buffers)",
            old_defaults,
        ),
        ("new defaults", SandboxBuilder::new),
    ];
    println!("| | {} | {} |", configs[0].0, configs[1].0);
    println!("| --- | --- | --- |");
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut push = |name: &str, i: usize, v: String| {
        if let Some(r) = rows.iter_mut().find(|r| r.0 == name) {
            r.1[i] = v;
        } else {
            let mut cells = vec![String::new(); 2];
            cells[i] = v;
            rows.push((name.to_string(), cells));
        }
    };
    for (i, (_, make)) in configs.iter().enumerate() {
        let c = make().config().clone();
        push(
            "heap / scratch / input / output",
            i,
            format!(
                "{} / {} / {} / {} MiB",
                c.heap_size / MIB,
                c.stack_size / MIB,
                c.input_size / MIB,
                c.output_size / MIB
            ),
        );
        // Cold start: build → loaded sandbox → first call.
        let mut cold = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let mut l = loaded(make(), "function handler(e) { return e; }");
            l.handle_event("h", "{}", None).unwrap();
            cold.push(t.elapsed());
        }
        push(
            "cold start to first result, ms median (p99)",
            i,
            median_p99(cold),
        );
        // Snapshot and restore after a call that allocates about 1 MiB.
        let mut l = loaded(make(), "function handler() { globalThis.keep = Array.from({ length: 20000 }, (_, i) => ({ i })); return 1; }");
        let (mut snaps, mut restores) = (Vec::new(), Vec::new());
        let base = l.snapshot().unwrap();
        for _ in 0..30 {
            l.handle_event("h", "{}", Some(false)).unwrap();
            let t = Instant::now();
            let s = l.snapshot().unwrap();
            snaps.push(t.elapsed());
            drop(s);
            let t = Instant::now();
            l.restore(&base).unwrap();
            restores.push(t.elapsed());
        }
        push(
            "snapshot after a call, ms median (p99)",
            i,
            median_p99(snaps),
        );
        push(
            "restore after a call, ms median (p99)",
            i,
            median_p99(restores),
        );
        drop(l);
        // RSS per idle loaded sandbox.
        let n = 16;
        let before = rss_bytes();
        let alive: Vec<_> = (0..n)
            .map(|_| {
                let mut l = loaded(make(), "function handler(e) { return e; }");
                l.handle_event("h", "{}", None).unwrap();
                l
            })
            .collect();
        let per = rss_bytes().saturating_sub(before) as f64 / n as f64 / MIB as f64;
        push(
            &format!("RSS per idle loaded sandbox ({n} alive), MiB"),
            i,
            format!("{per:.2}"),
        );
        drop(alive);
        for (name, src, event) in CASES {
            let mut l = loaded(make(), src);
            let event = if event.is_empty() {
                format!("\"{}\"", "x".repeat(4 << 20))
            } else {
                event.to_string()
            };
            let r = l.handle_event("h", &event, None);
            push(
                name,
                i,
                match r {
                    Ok(_) => "works".to_string(),
                    Err(e) => format!(
                        "fails: {}",
                        e.to_string().chars().take(60).collect::<String>()
                    ),
                },
            );
        }
    }
    for (name, cells) in rows {
        println!("| {name} | {} | {} |", cells[0], cells[1]);
    }
}
