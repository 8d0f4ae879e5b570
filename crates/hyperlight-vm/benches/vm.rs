//! Benchmark of the VM layer: a plain program that prints a markdown table
//! (median, p99, n). Run with `cargo bench -p hyperlight-vm --bench vm`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{args, guest_elf, require_kvm, tag, Recorder};
use hyperlight_vm::{CancelToken, HostHandler, Vm, VmConfig};

struct Row {
    name: String,
    median: Duration,
    p99: Duration,
    n: usize,
}

fn row(name: impl Into<String>, mut samples: Vec<Duration>) -> Row {
    samples.sort();
    let n = samples.len();
    Row {
        name: name.into(),
        median: samples[n / 2],
        p99: samples[((n * 99) / 100).min(n - 1)],
        n,
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

/// Timestamps every flush (the guest's PRINT_FLUSH exits) and host call.
#[derive(Default)]
struct Stamps {
    flushes: Vec<Instant>,
    calls: Vec<Instant>,
}

impl HostHandler for Stamps {
    fn host_call(
        &mut self,
        _tag: u32,
        payload: &[u8],
        _cancel: &CancelToken,
    ) -> Result<(u32, Vec<u8>), String> {
        self.calls.push(Instant::now());
        Ok((101, payload.to_vec()))
    }
    fn flush(&mut self) {
        self.flushes.push(Instant::now());
    }
}

fn deltas(t: &[Instant]) -> Vec<Duration> {
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    require_kvm();
    let elf = guest_elf();
    let config = VmConfig::default();
    let mut rows = Vec::new();

    // VM create -> ready (teardown not included).
    let mut s = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let vm = Vm::new(&config, elf).unwrap();
        s.push(t.elapsed());
        drop(vm);
    }
    rows.push(row("VM create → ready (16 MiB heap)", s));

    let mut vm = Vm::new(&config, elf).unwrap();
    // Warm up.
    for _ in 0..200 {
        vm.call(tag::ECHO, b"warm", &mut Recorder::default())
            .unwrap();
    }

    // Raw exit floor: guest `out` on PRINT_FLUSH in a loop; the host does
    // nothing but check the (empty) print buffer and resume.
    let mut h = Stamps::default();
    vm.call(tag::FLUSH_SPIN, &args(&[5000]), &mut h).unwrap();
    let floor = row(
        "raw exit round trip (guest `out` → host → resume), the floor",
        deltas(&h.flushes),
    );

    // Protocol call: host writes request, resumes, guest answers with one exit.
    let payload = [7u8; 16];
    let mut s = Vec::new();
    let mut null = Recorder::default();
    for _ in 0..5000 {
        let t = Instant::now();
        vm.call(tag::ECHO, &payload, &mut null).unwrap();
        s.push(t.elapsed());
    }
    let call = row("host → guest call round trip (`Vm::call`, 16-byte echo)", s);

    // Guest -> host call round trip.
    let mut h = Stamps::default();
    vm.call(tag::HOST_CALLS, &args(&[5000]), &mut h).unwrap();
    let host_call = row("guest → host call round trip", deltas(&h.calls));
    let ratio = call.median.as_secs_f64() / floor.median.as_secs_f64();
    rows.push(floor);
    rows.push(call);
    rows.push(host_call);

    // Snapshot.
    let mut s = Vec::new();
    let mut snap = vm.snapshot().unwrap();
    for _ in 0..200 {
        let t = Instant::now();
        snap = vm.snapshot().unwrap();
        s.push(t.elapsed());
    }
    rows.push(row("snapshot (16 MiB heap, mostly untouched)", s));

    // Restore with nothing changed since the last restore.
    let mut s = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        vm.restore(&snap).unwrap();
        s.push(t.elapsed());
    }
    rows.push(row("restore, nothing changed", s));

    for pages in [0u64, 16, 256, 4096] {
        let mut s = Vec::new();
        let iters = if pages >= 4096 { 100 } else { 500 };
        for i in 0..iters {
            vm.call(tag::DIRTY, &args(&[pages, i]), &mut null).unwrap();
            let t = Instant::now();
            vm.restore(&snap).unwrap();
            s.push(t.elapsed());
        }
        rows.push(row(
            format!(
                "restore after a call that dirtied {pages} heap pages (+~6 pages any call touches)"
            ),
            s,
        ));
    }

    // Kill latency: kill() from another thread until call() returns.
    let handle = vm.interrupt_handle();
    let (tx, rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<Instant>();
    let killer = thread::spawn(move || {
        while rx.recv().is_ok() {
            thread::sleep(Duration::from_millis(2));
            let t = Instant::now();
            while !handle.kill() {
                thread::yield_now();
            }
            done_tx.send(t).unwrap();
        }
    });
    let mut s = Vec::new();
    for _ in 0..200 {
        tx.send(()).unwrap();
        let e = vm.call(tag::LOOP, b"", &mut null).unwrap_err();
        let end = Instant::now();
        assert!(matches!(e, hyperlight_vm::Error::Cancelled));
        let t = done_rx.recv().unwrap();
        s.push(end - t);
        vm.restore(&snap).unwrap();
    }
    drop(tx);
    killer.join().unwrap();
    rows.push(row("kill latency (kill() → call returns Cancelled)", s));

    // Memory: resident growth per VM, with and without huge pages.
    let mut rss = Vec::new();
    for huge_pages in [true, false] {
        let config = VmConfig {
            huge_pages,
            ..VmConfig::default()
        };
        let before = rss_kib();
        let vms: Vec<Vm> = (0..32)
            .map(|_| {
                let mut v = Vm::new(&config, elf).unwrap();
                v.call(tag::ECHO, b"x", &mut null).unwrap();
                v
            })
            .collect();
        rss.push((rss_kib().saturating_sub(before)) / 32);
        drop(vms);
    }

    // First touch of 4 MiB of heap in a fresh VM, with and without THP.
    for huge_pages in [true, false] {
        let config = VmConfig {
            huge_pages,
            ..VmConfig::default()
        };
        let mut s = Vec::new();
        for _ in 0..30 {
            let mut v = Vm::new(&config, elf).unwrap();
            let t = Instant::now();
            v.call(tag::DIRTY, &args(&[1024, 1]), &mut null).unwrap();
            s.push(t.elapsed());
        }
        rows.push(row(
            format!("first touch of 4 MiB of heap in a fresh VM (call writing 1024 pages), huge pages {}",
                if huge_pages { "on" } else { "off" }),
            s,
        ));
    }

    println!("| operation | median | p99 | n |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} |",
            r.name,
            fmt(r.median),
            fmt(r.p99),
            r.n
        );
    }
    println!();
    println!(
        "call round trip / raw exit floor (medians): {ratio:.2}x (requirement: ≤ 1.5x) {}",
        if ratio <= 1.5 { "OK" } else { "NOT MET" }
    );
    println!(
        "resident memory per booted VM after one call: {} KiB with huge pages, {} KiB without",
        rss[0], rss[1]
    );
}
