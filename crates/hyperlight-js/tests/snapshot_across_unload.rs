//! A snapshot is of the VM, not of one load: it restores after `unload()`
//! and a new load, bringing back its own handlers and module state.

mod common;
use common::*;
use hyperlight_js::ErrorCode;
use serde_json::json;

const COUNTER: &str = "let n = 0; function handler() { return ++n; }";

#[test]
fn a_snapshot_restores_after_unload_with_its_own_handlers() {
    let mut sb = js_sandbox();
    sb.add_module(
        "state.js",
        "export let log = []; export function add(x) { log.push(x); return log; }",
        None,
    )
    .unwrap();
    sb.add_handler("count", COUNTER).unwrap();
    sb.add_handler(
        "log",
        "import { add } from './state.js'; function handler(e) { return add(e.x); }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("count", "{}", None).unwrap(), "1");
    assert_eq!(
        l.handle_event("log", r#"{"x":"a"}"#, None).unwrap(),
        r#"["a"]"#
    );
    let snap = l.snapshot().unwrap();
    assert_eq!(snap.handler_names().collect::<Vec<_>>(), ["count", "log"]);

    // Unload, load something else entirely.
    let mut sb = l.unload().unwrap();
    sb.add_handler("other", "function handler() { return 'other'; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call_named(&mut l, "other"), json!("other"));

    // Restore: the snapshot's handlers and their state are back, the
    // current load's are gone.
    l.restore(&snap).unwrap();
    assert_eq!(l.handle_event("count", "{}", None).unwrap(), "2");
    assert_eq!(
        l.handle_event("log", r#"{"x":"b"}"#, None).unwrap(),
        r#"["a","b"]"#
    );
    let gone = l.handle_event("other", "{}", None).unwrap_err();
    assert_eq!(gone.code(), ErrorCode::InvalidArg);
    assert!(gone.to_string().contains("other"), "{gone}");

    // Restoring again rewinds again, and the sandbox unloads as usual.
    l.restore(&snap).unwrap();
    assert_eq!(l.handle_event("count", "{}", None).unwrap(), "2");
    let mut sb = l.unload().unwrap();
    sb.add_handler("count", COUNTER).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("count", "{}", None).unwrap(), "1");
}

#[test]
fn a_snapshot_restores_a_poisoned_reload() {
    let mut sb = js_sandbox();
    sb.add_handler("count", COUNTER).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let snap = l.snapshot().unwrap();
    let mut sb = l.unload().unwrap();
    sb.add_handler("spin", "function handler() { for (;;) {} }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let t = kill_when_running(l.interrupt_handle(), std::time::Duration::from_millis(20));
    assert_eq!(
        l.handle_event("spin", "{}", None).unwrap_err().code(),
        ErrorCode::Cancelled
    );
    t.join().unwrap();
    assert!(l.poisoned());
    l.restore(&snap).unwrap();
    assert!(!l.poisoned());
    assert_eq!(l.handle_event("count", "{}", None).unwrap(), "1");
}

#[test]
fn a_snapshot_of_another_sandbox_is_refused_after_unload_too() {
    let mut other = loaded_with(COUNTER);
    let foreign = other.snapshot().unwrap();
    let l = loaded_with(COUNTER);
    let mut sb = l.unload().unwrap();
    sb.add_handler("h", "function handler() { return 'mine'; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let err = l.restore(&foreign).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArg);
    assert!(err.to_string().contains("another sandbox"), "{err}");
    assert_eq!(call(&mut l, "{}"), json!("mine"));
}

fn call_named(l: &mut hyperlight_js::LoadedJSSandbox, name: &str) -> serde_json::Value {
    serde_json::from_str(&l.handle_event(name, "{}", None).unwrap()).unwrap()
}
