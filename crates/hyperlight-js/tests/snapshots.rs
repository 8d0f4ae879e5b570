//! Snapshots, restore, poisoning, kill.

mod common;
use std::time::Duration;

use common::*;
use hyperlight_js::ErrorCode;
use serde_json::json;

#[test]
fn restore_rolls_back_guest_state() {
    let mut l = loaded_with("let n = 0; function handler() { return ++n; }");
    assert_eq!(call(&mut l, "{}"), json!(1));
    let snap = l.snapshot().unwrap();
    assert_eq!(call(&mut l, "{}"), json!(2));
    assert_eq!(call(&mut l, "{}"), json!(3));
    l.restore(&snap).unwrap();
    assert_eq!(call(&mut l, "{}"), json!(2));
    l.restore(&snap).unwrap();
    assert_eq!(call(&mut l, "{}"), json!(2));
}

#[test]
fn kill_cancels_poisons_and_restore_recovers() {
    let mut l = loaded_with("function handler(e) { if (e.spin) for (;;) {} return 'ok'; }");
    let snap = l.snapshot().unwrap();
    let handle = l.interrupt_handle();
    let killer = kill_when_running(handle, Duration::from_millis(100));
    let err = l.handle_event("h", r#"{"spin":true}"#, None).unwrap_err();
    killer.join().unwrap();
    assert_cancelled(&err, None);
    assert!(l.poisoned());
    assert_eq!(
        l.handle_event("h", "{}", None).unwrap_err().code(),
        ErrorCode::Poisoned
    );
    assert_eq!(l.snapshot().unwrap_err().code(), ErrorCode::Poisoned);
    l.restore(&snap).unwrap();
    assert!(!l.poisoned());
    assert_eq!(call(&mut l, "{}"), json!("ok"));
}

#[test]
fn a_kill_while_idle_does_not_leak_into_the_next_call() {
    let mut l = loaded_with(
        "function handler() { let s = 0; for (let i = 0; i < 100000; i++) s += i; return s; }",
    );
    l.interrupt_handle().kill();
    assert_eq!(call(&mut l, "{}"), json!(4999950000u64));
    assert!(!l.poisoned());
}

#[test]
fn a_snapshot_from_another_sandbox_is_refused() {
    let mut a = loaded_with("function handler() { return 'a'; }");
    let mut b = loaded_with("function handler() { return 'b'; }");
    let snap_b = b.snapshot().unwrap();
    assert_eq!(
        a.restore(&snap_b).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
    assert_eq!(call(&mut a, "{}"), json!("a"));
}

#[test]
fn unload_works_on_a_poisoned_sandbox() {
    let mut l = loaded_with("function handler() { for (;;) {} }");
    let handle = l.interrupt_handle();
    let t = kill_when_running(handle, Duration::from_millis(50));
    assert_eq!(
        l.handle_event("h", "{}", None).unwrap_err().code(),
        ErrorCode::Cancelled
    );
    t.join().unwrap();
    let mut sb = l.unload().unwrap();
    sb.add_handler("h", "function handler() { return 7; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!(7));
}

#[test]
fn many_sandboxes_at_once_are_independent() {
    let mut all: Vec<_> = (0..32)
        .map(|i| {
            loaded_with(&format!(
                "let n = {i}; function handler() {{ return n++; }}"
            ))
        })
        .collect();
    for (i, l) in all.iter_mut().enumerate() {
        assert_eq!(call(l, "{}"), json!(i));
        assert_eq!(call(l, "{}"), json!(i + 1));
    }
}

#[test]
fn a_polite_interrupt_cancels_without_poisoning() {
    let mut l = loaded_with("function handler(e) { if (e.spin) { try { for (;;) {} } catch (x) { return 'caught'; } } return 'ok'; }");
    let handle = l.interrupt_handle();
    let t = std::thread::spawn(move || {
        // Retry until the call is running.
        while !handle.request_interrupt() {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let err = l.handle_event("h", r#"{"spin":true}"#, None).unwrap_err();
    t.join().unwrap();
    assert_cancelled(&err, None);
    assert!(!l.poisoned());
    assert_eq!(call(&mut l, "{}"), json!("ok"));
}
