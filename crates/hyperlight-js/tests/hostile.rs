//! Hostile and faulty guests against the Rust API (issue 11): each test is
//! the bug report a user would have filed.

mod common;
use std::time::{Duration, Instant};

use common::*;
use hyperlight_js::{Error, ErrorCode, SandboxBuilder, WallClockMonitor};
use serde_json::{json, Value};

fn handler_error(r: hyperlight_js::Result<String>) -> hyperlight_js::GuestError {
    match r {
        Err(Error::Handler(g)) => g,
        other => panic!("expected ERR_HANDLER, got {other:?}"),
    }
}

#[test]
fn the_guest_clock_tracks_the_host_across_host_calls_and_print_flushes() {
    kvm();
    let mut proto = SandboxBuilder::new()
        .with_print_sink(|_, _| {})
        .build()
        .unwrap();
    // The host works 20 ms inside each host call: the guest must see that
    // time pass (its clock used to stay where it was before the call).
    proto
        .register("h", "work", |(): ()| {
            std::thread::sleep(Duration::from_millis(20));
            Ok::<_, String>(0)
        })
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import * as h from "host:h";
           function handler() {
             const d0 = Date.now(), p0 = performance.now();
             let last = p0, backwards = 0;
             const acrossCalls = [], acrossCallsDate = [];
             for (let i = 0; i < 8; i++) {
               const t = performance.now(), d = Date.now();
               h.work();
               acrossCalls.push(performance.now() - t);
               acrossCallsDate.push(Date.now() - d);
               for (let j = 0; j < 200; j++) console.log('flush me ' + 'x'.repeat(400));
               const until = performance.now() + 5;
               let now;
               while ((now = performance.now()) < until) { if (now < last) backwards++; last = now; }
             }
             return { guestMs: performance.now() - p0, dateMs: Date.now() - d0, backwards, acrossCalls, acrossCallsDate };
           }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let started = Instant::now();
    let r: Value = serde_json::from_str(&l.handle_event("h", "{}", None).unwrap()).unwrap();
    let host_ms = started.elapsed().as_secs_f64() * 1000.0;
    let guest_ms = r["guestMs"].as_f64().unwrap();
    // Never more time than passed on the host.
    assert!(
        guest_ms <= host_ms + 1.0,
        "guest {guest_ms} ms > host {host_ms} ms"
    );
    for key in ["acrossCalls", "acrossCallsDate"] {
        for dt in r[key].as_array().unwrap() {
            let dt = dt.as_f64().unwrap();
            assert!(
                dt >= 19.0,
                "{key}: the guest saw {dt} ms pass across a 20 ms host call"
            );
        }
    }
    assert_eq!(r["backwards"], 0);
}

#[test]
fn the_guest_clock_is_not_ahead_of_the_host_on_first_calls() {
    kvm();
    for _ in 0..5 {
        let mut l = loaded_with(
            "function handler() { const t = Date.now() + 30; while (Date.now() < t) {} return Date.now(); }",
        );
        let guest: f64 = l.handle_event("h", "{}", None).unwrap().parse().unwrap();
        let host = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as f64;
        assert!(
            guest <= host + 1.0,
            "guest Date.now() {guest} is ahead of the host's {host}"
        );
    }
}

#[test]
fn performance_now_is_coarsened_to_the_configured_resolution() {
    kvm();
    let src = "function handler() { const s = new Set(); for (let i = 0; i < 20000; i++) s.add(Math.round(performance.now() * 1e6) % 5000); return [...s]; }";
    let mut l = loaded_with(src);
    let residues: Vec<i64> =
        serde_json::from_str(&l.handle_event("h", "{}", None).unwrap()).unwrap();
    // Every reading is a multiple of 5 µs (allowing float rounding).
    assert!(
        residues.iter().all(|r| *r <= 1 || *r >= 4999),
        "{residues:?}"
    );
    let mut sb = SandboxBuilder::new()
        .with_clock_resolution(Duration::ZERO)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("h", src).unwrap();
    let mut fine = sb.get_loaded_sandbox().unwrap();
    let residues: Vec<i64> =
        serde_json::from_str(&fine.handle_event("h", "{}", None).unwrap()).unwrap();
    assert!(
        residues.len() > 10,
        "full resolution gave only {residues:?}"
    );
    let too_coarse = SandboxBuilder::new()
        .with_clock_resolution(Duration::from_secs(2))
        .build();
    assert_eq!(too_coarse.unwrap_err().code(), ErrorCode::InvalidArg);
}

#[test]
fn every_thrown_value_is_a_handler_error_and_the_sandbox_stays_usable() {
    let mut l = loaded_with(
        r#"function handler(e) {
             switch (e) {
               case 'null': throw null;
               case 'undefined': throw undefined;
               case 'number': throw 42;
               case 'symbol': throw Symbol('s');
               case 'proxy': throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw 1; }, has() { throw 1; }, ownKeys() { throw 1; } });
               case 'getters': throw { get name() { throw 1; }, get message() { throw 2; }, get stack() { throw 3; } };
               case 'interrupted': throw { name: 'InternalError', message: 'interrupted' };
               case 'oom': throw { name: 'InternalError', message: 'out of memory' };
               case 'huge': { const err = new Error('m'.repeat(10 * 1024 * 1024)); err.name = 'n'.repeat(1024 * 1024); throw err; }
               default: return 'ok';
             }
           }"#,
    );
    for case in [
        "null",
        "undefined",
        "number",
        "symbol",
        "proxy",
        "getters",
        "interrupted",
        "oom",
        "huge",
    ] {
        let g = handler_error(l.handle_event("h", format!("{case:?}"), None));
        assert!(
            g.name.len() <= 1024 && g.message.len() <= 64 * 1024,
            "{case}: not clipped"
        );
        assert!(!l.poisoned(), "{case} poisoned the sandbox");
        assert_eq!(
            l.handle_event("h", "\"fine\"", None).unwrap(),
            "\"ok\"",
            "{case}"
        );
        match case {
            "null" => assert_eq!(g.message, "null"),
            "number" => assert_eq!(g.message, "42"),
            "symbol" => assert_eq!(g.message, "Symbol(s)"),
            "huge" => assert!(
                g.message.contains("clipped") && g.message.contains("10485760"),
                "{}",
                &g.message[g.message.len() - 80..]
            ),
            _ => {}
        }
    }
}

#[test]
fn a_real_out_of_memory_still_poisons_and_a_restore_recovers() {
    let mut l = loaded_with(
        "function handler(e) { if (e) { const a = []; for (;;) a.push('x'.repeat(1000) + a.length); } return 1; }",
    );
    let snap = l.snapshot().unwrap();
    let err = l.handle_event("h", "true", None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::GuestAbort, "{err}");
    assert_eq!(err.to_string().matches("out of memory").count(), 1, "{err}");
    assert!(l.poisoned());
    l.restore(&snap).unwrap();
    assert_eq!(l.handle_event("h", "false", None).unwrap(), "1");
}

#[test]
fn a_result_that_runs_out_of_heap_while_serialising_is_the_recoverable_too_large_error() {
    kvm();
    let mut sb = SandboxBuilder::new()
        .with_heap_size(16 << 20)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("h", "function handler(n) { return 'x'.repeat(n); }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let g = handler_error(l.handle_event("h", (5 * 1024 * 1024).to_string(), None));
    assert!(g.message.contains("too large"), "{g}");
    assert!(!l.poisoned());
    assert_eq!(l.handle_event("h", "3", None).unwrap(), "\"xxx\"");
}

#[test]
fn promises_that_never_settle_are_handler_errors() {
    let mut l = loaded_with("function handler() { return new Promise(() => {}); }");
    let g = handler_error(l.handle_event("h", "{}", None));
    assert!(g.message.contains("never settles"), "{g}");
    let mut sb = js_sandbox();
    sb.add_handler(
        "h",
        "await new Promise(() => {}); function handler() { return 1; }",
    )
    .unwrap();
    let err = sb.get_loaded_sandbox().unwrap_err();
    assert_eq!(err.error.code(), ErrorCode::Handler, "{}", err.error);
}

#[test]
fn nul_bytes_and_built_in_names_are_refused_up_front() {
    let mut sb = js_sandbox();
    let e = sb
        .add_handler("h", "function handler() { return '\0'; }")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
    let e = sb
        .add_module("m", "export const a = '\0';", None)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
    let e = sb
        .add_module("crypto", "export const a = 1;", Some("node"))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg, "{e}");
    assert!(e.to_string().contains("shadowed"), "{e}");
    sb.add_module("crypto", "export const a = 1;", Some("mine"))
        .unwrap();
}

#[test]
fn endless_top_level_code_is_bounded_by_a_load_monitor_and_the_sandbox_comes_back() {
    kvm();
    let mut sb = js_sandbox();
    sb.add_module("spin", "for (;;) {} export const x = 1;", None)
        .unwrap();
    sb.add_handler(
        "h",
        "import { x } from 'user:spin'; function handler() { return x; }",
    )
    .unwrap();
    // Only the monitor can end the load (the guard fails the run if it does not).
    let guard = hang_guard("an endless top level under a load monitor", HANG_AFTER);
    let failure = sb
        .get_loaded_sandbox_with_monitor(
            &WallClockMonitor::new(Duration::from_millis(200)).unwrap(),
        )
        .unwrap_err();
    drop(guard);
    assert_cancelled(&failure.error, Some("wall-clock"));
    let mut sb = failure.sandbox;
    sb.remove_module("spin", None).unwrap();
    sb.remove_handler("h").unwrap();
    sb.add_handler("h", "function handler() { return 2; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), "2");
}

#[test]
fn the_interrupt_handle_of_a_js_sandbox_kills_its_load() {
    let mut sb = js_sandbox();
    sb.add_handler("h", "for (;;) {} function handler() { return 1; }")
        .unwrap();
    let killer = kill_when_running(sb.interrupt_handle(), Duration::from_millis(50));
    let failure = sb.get_loaded_sandbox().unwrap_err();
    killer.join().unwrap();
    assert_cancelled(&failure.error, None);
}

#[test]
fn sizes_below_what_boots_are_refused_and_the_minimums_boot() {
    kvm();
    use hyperlight_js::{MAX_BUFFER_SIZE, MIN_BUFFER_SIZE, MIN_HEAP_SIZE, MIN_SCRATCH_SIZE};
    for (b, names) in [
        (
            SandboxBuilder::new().with_heap_size(MIN_HEAP_SIZE - 4096),
            "4194304",
        ),
        (
            SandboxBuilder::new().with_scratch_size(MIN_SCRATCH_SIZE - 4096),
            "262144",
        ),
        (
            SandboxBuilder::new().with_input_buffer_size(MIN_BUFFER_SIZE - 1),
            "4096",
        ),
        (
            SandboxBuilder::new().with_output_buffer_size(MAX_BUFFER_SIZE + 4096),
            "268435456",
        ),
        (
            SandboxBuilder::new().with_heap_size(hyperlight_js::MAX_GUEST_MEMORY),
            "1073741824",
        ),
    ] {
        let err = b.build().unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArg, "{err}");
        // The refusal names the bound.
        assert!(err.to_string().contains(names), "{err}");
    }
    // Every minimum at once, with a locale whose data loads at boot.
    let mut sb = SandboxBuilder::new()
        .with_heap_size(MIN_HEAP_SIZE)
        .with_scratch_size(MIN_SCRATCH_SIZE)
        .with_input_buffer_size(MIN_BUFFER_SIZE)
        .with_output_buffer_size(MIN_BUFFER_SIZE)
        .with_locale("de-DE")
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler(
        "h",
        "function handler(e) { return { echo: e, s: JSON.stringify([e, e]), n: (1234.5).toLocaleString() }; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&l.handle_event("h", "{\"a\":1}", None).unwrap()).unwrap(),
        json!({"echo": {"a": 1}, "s": "[{\"a\":1},{\"a\":1}]", "n": "1.234,5"})
    );
}
