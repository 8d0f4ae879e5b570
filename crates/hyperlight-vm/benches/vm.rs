//! Benchmark of the VM layer: a plain program that prints a markdown table
//! (median, p99, n). Run with `cargo bench -p hyperlight-vm --bench vm`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{args, guest_elf, require_kvm, tag, Recorder};
use hyperlight_vm::{CancelToken, ChildMemory, HostHandler, Template, Vm, VmConfig};

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
    rows.push(row("snapshot (16 MiB heap, mostly untouched), sparse", s));

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

    let (trows, notes) = templates(elf);
    rows.extend(trows);

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
    for n in notes {
        println!("{n}");
    }
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

/// Raw KVM object costs: CREATE_VM, the memslot, CREATE_VCPU + SET_CPUID2,
/// and tearing all of it down (the floor under any VM creation).
fn kvm_objects(total: usize, rows: &mut Vec<Row>) {
    use kvm_bindings::{
        kvm_userspace_memory_region, KVM_MAX_CPUID_ENTRIES, KVM_MEM_LOG_DIRTY_PAGES,
    };
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).unwrap();
    let (mut a, mut b, mut c, mut d) = (vec![], vec![], vec![], vec![]);
    for _ in 0..200 {
        // SAFETY: a fresh anonymous mapping, unmapped below.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        let t0 = Instant::now();
        let vm = kvm.create_vm().unwrap();
        let t1 = Instant::now();
        // SAFETY: the mapping outlives the VM (unmapped after drop).
        unsafe {
            vm.set_user_memory_region(kvm_userspace_memory_region {
                slot: 0,
                flags: KVM_MEM_LOG_DIRTY_PAGES,
                guest_phys_addr: 0,
                memory_size: total as u64,
                userspace_addr: mem as u64,
            })
            .unwrap()
        };
        let t2 = Instant::now();
        let vcpu = vm.create_vcpu(0).unwrap();
        vcpu.set_cpuid2(&cpuid).unwrap();
        let t3 = Instant::now();
        drop(vcpu);
        drop(vm);
        let t4 = Instant::now();
        // SAFETY: unmapping the mapping made above.
        unsafe { libc::munmap(mem, total) };
        a.push(t1 - t0);
        b.push(t2 - t1);
        c.push(t3 - t2);
        d.push(t4 - t3);
    }
    rows.push(row("raw KVM: CREATE_VM", a));
    rows.push(row(
        "raw KVM: memslot (SET_USER_MEMORY_REGION, dirty logging)",
        b,
    ));
    rows.push(row("raw KVM: CREATE_VCPU + SET_CPUID2", c));
    rows.push(row("raw KVM: close vCPU + VM (teardown)", d));
}

/// A template whose guest wrote `pages` heap pages before the capture (a
/// stand-in for a loaded JS runtime: the JS guest has written a few MiB).
fn template_with(elf: &[u8], pages: u64, mode: ChildMemory) -> Template {
    let mut vm = Vm::new(&VmConfig::default(), elf).unwrap();
    vm.call(tag::DIRTY, &args(&[pages, 1]), &mut Recorder::default())
        .unwrap();
    Template::from_vm_with(vm, mode).unwrap()
}

fn mode_name(m: ChildMemory) -> &'static str {
    match m {
        ChildMemory::Copy => "copy",
        ChildMemory::CopyOnWrite => "copy-on-write memfd",
        _ => "other",
    }
}

fn templates(elf: &[u8]) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let config = VmConfig::default();
    let mut null = Recorder::default();

    // Cold start for comparison: Vm::new and its first call.
    let (mut create, mut first) = (vec![], vec![]);
    for _ in 0..200 {
        let t = Instant::now();
        let mut vm = Vm::new(&config, elf).unwrap();
        create.push(t.elapsed());
        let t = Instant::now();
        vm.call(tag::ECHO, b"first", &mut null).unwrap();
        first.push(t.elapsed());
    }
    rows.push(row("Vm::new → ready (test guest)", create));
    rows.push(row("first call (echo) after Vm::new", first));

    let total = Vm::new(&config, elf).unwrap().layout().total as usize;
    kvm_objects(total, &mut rows);

    // Snapshot of a VM whose guest wrote 768 pages (3 MiB).
    let mut vm = Vm::new(&config, elf).unwrap();
    vm.call(tag::DIRTY, &args(&[768, 1]), &mut null).unwrap();
    let mut s = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let snap = vm.snapshot().unwrap();
        s.push(t.elapsed());
        drop(snap);
    }
    rows.push(row(
        "snapshot, guest wrote 3 MiB (768 heap pages), sparse",
        s,
    ));
    drop(vm);

    // Template capture (boot + capture).
    let mut s = Vec::new();
    for _ in 0..50 {
        let vm = Vm::new(&config, elf).unwrap();
        let t = Instant::now();
        let tp = Template::from_vm(vm).unwrap();
        s.push(t.elapsed());
        drop(tp);
    }
    rows.push(row("Template::from_vm (capture a booted VM)", s));

    for written in [0u64, 768] {
        for mode in [ChildMemory::Copy, ChildMemory::CopyOnWrite] {
            let t = template_with(elf, written, mode);
            let what = format!(
                "template ({} pages stored, {}):",
                t.stored_pages(),
                mode_name(mode)
            );
            let (mut create, mut first, mut touch, mut restore) = (vec![], vec![], vec![], vec![]);
            for i in 0..200 {
                let t0 = Instant::now();
                let mut vm = Vm::from_template(&t).unwrap();
                create.push(t0.elapsed());
                let t0 = Instant::now();
                vm.call(tag::ECHO, b"first", &mut null).unwrap();
                first.push(t0.elapsed());
                if written > 0 {
                    // First call that rewrites 256 of the template's pages.
                    let t0 = Instant::now();
                    vm.call(tag::DIRTY, &args(&[256, 2 + i]), &mut null)
                        .unwrap();
                    touch.push(t0.elapsed());
                }
                let t0 = Instant::now();
                vm.restore(t.snapshot()).unwrap();
                restore.push(t0.elapsed());
            }
            rows.push(row(format!("{what} Vm::from_template"), create));
            rows.push(row(
                format!("{what} first call (echo) after from_template"),
                first,
            ));
            if written > 0 {
                rows.push(row(
                    format!("{what} next call rewriting 256 of the template's pages"),
                    touch,
                ));
            }
            rows.push(row(
                format!("{what} restore of the template state into the child"),
                restore,
            ));

            // RSS per child, idle and after a call.
            let n = 64;
            let before = rss_kib();
            let mut vms: Vec<Vm> = (0..n).map(|_| Vm::from_template(&t).unwrap()).collect();
            let idle = rss_kib().saturating_sub(before) / n as u64;
            for vm in vms.iter_mut() {
                vm.call(tag::ECHO, b"x", &mut null).unwrap();
            }
            let called = rss_kib().saturating_sub(before) / n as u64;
            notes.push(format!(
                "RSS per VM from a {what} {idle} KiB idle, {called} KiB after one call ({n} VMs)"
            ));
            drop(vms);
        }
    }

    // 1000 VMs from one template, each answering a call.
    let t = template_with(elf, 0, ChildMemory::default());
    let before = rss_kib();
    let t0 = Instant::now();
    let mut vms: Vec<Vm> = (0..1000).map(|_| Vm::from_template(&t).unwrap()).collect();
    let created = t0.elapsed();
    let mut lat: Vec<f64> = Vec::new();
    for vm in vms.iter_mut() {
        let t1 = Instant::now();
        vm.call(tag::ECHO, b"x", &mut null).unwrap();
        lat.push(t1.elapsed().as_secs_f64() * 1e6);
    }
    let all = t0.elapsed();
    let rss = rss_kib().saturating_sub(before);
    let t1 = Instant::now();
    drop(vms);
    let teardown = t1.elapsed();
    notes.push(format!(
        "1000 VMs from one template (default, copy-on-write): created in {:.0} ms, created + one call each in {:.0} ms \
         (first call median {:.1} µs, p99 {:.1} µs), {} MiB RSS in total ({} KiB per VM), dropped in {:.0} ms",
        created.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e3,
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        rss / 1024,
        rss / 1000,
        teardown.as_secs_f64() * 1e3
    ));
    (rows, notes)
}
