//! What a sandbox costs the host: guest image size, cold start, resident
//! memory per loaded sandbox with many alive, creation time, and snapshot
//! size; each for a handler that never touches `Intl`, for one that
//! formats a number and a date with it, and for handlers that use the
//! built-ins the guest loads on first use (web APIs, the console
//! formatter).
//!
//! Prints markdown tables. Run with
//! `cargo bench -p hyperlight-js --bench density` (`DENSITY_N=1000` by
//! default: the number of loaded sandboxes kept alive at once).

use std::time::{Duration, Instant};

use hyperlight_js::{LoadedJSSandbox, SandboxBuilder};

const PLAIN: &str = "function handler(e) { return e; }";
const WEBAPI: &str =
    "function handler(e) { return [new URL('https://example.com/a?b=1').searchParams.get('b'), \
    structuredClone({ m: new Map([[1, 2]]) }).m.size]; }";
const CONSOLE: &str =
    "function handler(e) { console.log({ e, m: new Map([[1, { a: [1, 2] }]]) }); return e; }";
const INTL: &str = "function handler(e) { if (typeof Intl === 'undefined') return null; \
    return [new Intl.NumberFormat('de-DE').format(1234567.891), \
            new Date(0).toLocaleString('en-US', { timeZone: 'Asia/Tokyo' })]; }";

fn loaded(source: &str) -> LoadedJSSandbox {
    let mut sb = SandboxBuilder::new()
        .with_print_sink(|_, _| {})
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("h", source).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    l.handle_event("h", r#"{"a":1}"#, None).unwrap();
    l
}

fn median(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[v.len() / 2]), ms(v[(v.len() - 1) * 99 / 100]))
}

/// (RSS, PSS, anonymous) bytes of this process from `smaps_rollup`. RSS
/// counts a page once per mapping of it, so a page of the shared guest
/// image that N VMs touched counts N times; PSS divides it among them;
/// anonymous memory is what each VM holds privately.
fn memory() -> (u64, u64, u64) {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
    let field = |name: &str| -> u64 {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("Rss:"), field("Pss:"), field("Anonymous:"))
}

fn main() {
    kvm_preflight::require_kvm();
    let n: usize = std::env::var("DENSITY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let elf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/guest/x86_64-unknown-linux-gnu/release/hyperlight-js-guest"
    );
    match std::fs::metadata(elf) {
        Ok(m) => println!(
            "guest image: {:.2} MiB ({elf})\n",
            m.len() as f64 / 1048576.0
        ),
        Err(e) => println!("guest image: not found at {elf}: {e}\n"),
    }
    // Warm the template and the pool (the first sandbox of the process
    // boots the guest image once: engine, built-ins, bundled JavaScript).
    let t = Instant::now();
    drop(loaded(PLAIN));
    println!(
        "first sandbox of the process (boots the template): {:.1} ms\n",
        t.elapsed().as_secs_f64() * 1e3
    );

    println!("| handler | cold start median ms (p99) | snapshot of a loaded sandbox KiB | per loaded sandbox, {n} alive: RSS / PSS / anonymous (MiB) | time to create all {n} |");
    println!("|---|---|---|---|---|");
    for (name, src) in [
        ("never touches Intl", PLAIN),
        ("formats with Intl", INTL),
        ("uses URL and structuredClone (loaded on first use)", WEBAPI),
        (
            "console.log of an object (formatter loaded on first use)",
            CONSOLE,
        ),
    ] {
        let cold: Vec<Duration> = (0..30)
            .map(|_| {
                let t = Instant::now();
                let l = loaded(src);
                let d = t.elapsed();
                drop(l);
                d
            })
            .collect();
        let (med, p99) = median(cold);
        let mut one = loaded(src);
        let snap = one.snapshot().unwrap().stored_bytes() / 1024;
        drop(one);
        let before = memory();
        let t = Instant::now();
        let all: Vec<LoadedJSSandbox> = (0..n).map(|_| loaded(src)).collect();
        let took = t.elapsed();
        let after = memory();
        let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / n as f64 / 1048576.0;
        drop(all);
        println!(
            "| {name} | {med:.2} ({p99:.2}) | {snap} | {:.2} / {:.2} / {:.2} | {:.2} s |",
            per(after.0, before.0),
            per(after.1, before.1),
            per(after.2, before.2),
            took.as_secs_f64()
        );
    }
}
