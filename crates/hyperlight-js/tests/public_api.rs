//! Public items of the Rust API that no other test exercised (issue 19):
//! `SandboxBuilder::default()`/`config()`, `JSSandbox::clear_modules`,
//! `ProtoJSSandbox::register_cancellable` with its `CancelToken`, and
//! handler results that cannot cross the boundary as JSON.

mod common;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hyperlight_js::{Error, ErrorCode, SandboxBuilder};

#[test]
fn default_is_new_and_config_shows_what_was_set() {
    assert_eq!(
        SandboxBuilder::default().config(),
        SandboxBuilder::new().config()
    );
    let b = SandboxBuilder::new()
        .with_heap_size(24 << 20)
        .with_scratch_size(2 << 20)
        .with_input_buffer_size(128 << 10)
        .with_output_buffer_size(256 << 10);
    let c = b.config();
    assert_eq!(
        (c.heap_size, c.stack_size, c.input_size, c.output_size),
        (24 << 20, 2 << 20, 128 << 10, 256 << 10)
    );
}

#[test]
fn clear_modules_removes_every_module() {
    let mut sb = js_sandbox();
    sb.add_module("a", "export const a = 1;", None).unwrap();
    sb.add_module("b", "export const b = 2;", None).unwrap();
    sb.add_handler(
        "h",
        "import { a } from 'user:a'; import { b } from 'user:b'; function handler() { return a + b; }",
    )
    .unwrap();
    sb.clear_modules();
    let failure = sb.get_loaded_sandbox().unwrap_err();
    assert_eq!(
        failure.error.code(),
        ErrorCode::InvalidArg,
        "{}",
        failure.error
    );
    let mut sb = failure.sandbox;
    // Both are gone: each can be added again under its name.
    sb.add_module("a", "export const a = 10;", None).unwrap();
    sb.add_module("b", "export const b = 20;", None).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), serde_json::json!(30));
}

#[test]
fn a_cancellable_host_function_sees_its_token_cancelled_by_a_kill() {
    kvm();
    let saw_cancel = Arc::new(AtomicBool::new(false));
    let saw = saw_cancel.clone();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register_cancellable("wait", "forever", move |_args, token| {
            assert!(!token.is_cancelled(), "cancelled before the kill");
            while !token.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            saw.store(true, Ordering::SeqCst);
            Ok("\"too late\"".to_string())
        })
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        "import { forever } from 'host:wait'; function handler() { return forever(); }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let killer = kill_when_running(l.interrupt_handle(), Duration::from_millis(20));
    let err = l.handle_event("h", "{}", None).unwrap_err();
    killer.join().unwrap();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert!(
        saw_cancel.load(Ordering::SeqCst),
        "the host function never saw its token cancelled"
    );
    // Its answer was discarded: the sandbox is poisoned, not answered.
    assert!(l.poisoned());
}

#[test]
fn results_that_are_not_json_are_handler_errors_and_the_sandbox_stays_usable() {
    for (what, source) in [
        (
            "a function",
            "function handler() { return function f() {}; }",
        ),
        ("a symbol", "function handler() { return Symbol('s'); }"),
        (
            "a cycle",
            "function handler() { const o = {}; o.self = o; return o; }",
        ),
        ("a BigInt", "function handler() { return 10n; }"),
    ] {
        let mut sb = js_sandbox();
        sb.add_handler("h", source).unwrap();
        sb.add_handler("ok", "function handler() { return 1; }")
            .unwrap();
        let mut l = sb.get_loaded_sandbox().unwrap();
        match l.handle_event("h", "{}", None) {
            Ok(json) => panic!("{what}: crossed as {json}"),
            Err(err) => {
                assert_eq!(err.code(), ErrorCode::Handler, "{what}: {err}");
                assert!(matches!(err, Error::Handler(_)), "{what}: {err}");
            }
        }
        assert!(!l.poisoned(), "{what}");
        assert_eq!(l.handle_event("ok", "{}", None).unwrap(), "1", "{what}");
    }
}
