//! Handlers: forms, sync and async, errors, limits.

mod common;
use common::*;
use hyperlight_js::{Error, ErrorCode, SandboxBuilder};
use serde_json::json;

#[test]
fn quick_start_greets() {
    let mut l = loaded_with(
        "function handler(event) { event.message = 'Hello, ' + event.name + '!'; return event; }",
    );
    assert_eq!(
        call(&mut l, r#"{"name":"World"}"#),
        json!({"name":"World","message":"Hello, World!"})
    );
}

#[test]
fn exported_handler_works_too() {
    let mut l = loaded_with("export function handler(e) { return { doubled: e.n * 2 }; }");
    assert_eq!(call(&mut l, r#"{"n":21}"#), json!({"doubled":42}));
}

#[test]
fn async_handler_is_awaited_with_microtasks_drained() {
    let mut l = loaded_with(
        "async function handler(e) {
            let v = await Promise.resolve(e.n);
            await new Promise(r => queueMicrotask(r));
            return { v: v + 1 };
         }",
    );
    assert_eq!(call(&mut l, r#"{"n":1}"#), json!({"v":2}));
}

#[test]
fn handler_state_persists_across_calls() {
    let mut l = loaded_with("let n = 0; function handler() { return ++n; }");
    assert_eq!(call(&mut l, "{}"), json!(1));
    assert_eq!(call(&mut l, "{}"), json!(2));
}

#[test]
fn thrown_error_carries_name_message_and_stack_and_sandbox_stays_usable() {
    let mut l = loaded_with(
        "function handler(e) { if (e.fail) throw new TypeError('bad ' + e.fail); return 'ok'; }",
    );
    match l.handle_event("h", r#"{"fail":"input"}"#, None) {
        Err(Error::Handler(g)) => {
            assert_eq!(g.name, "TypeError");
            assert_eq!(g.message, "bad input");
            assert!(g.stack.contains("handler"), "stack: {}", g.stack);
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert!(!l.poisoned());
    assert_eq!(call(&mut l, "{}"), json!("ok"));
}

#[test]
fn undefined_result_is_a_clear_error() {
    let mut l = loaded_with("function handler() { }");
    let err = l.handle_event("h", "{}", None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Handler, "{err}");
    assert!(err.to_string().contains("undefined"), "{err}");
    assert!(!l.poisoned());
}

#[test]
fn invalid_json_event_is_invalid_argument() {
    let mut l = loaded_with("function handler(e) { return e; }");
    let err = l.handle_event("h", "{not json", None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArg, "{err}");
    assert_eq!(call(&mut l, "[1]"), json!([1]));
}

#[test]
fn unknown_and_empty_handler_names_are_invalid_arguments() {
    let mut l = loaded_with("function handler(e) { return e; }");
    let err = l.handle_event("nope", "{}", None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArg);
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(
        l.handle_event("", "{}", None).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
}

#[test]
fn duplicate_handler_is_refused() {
    let mut sb = js_sandbox();
    sb.add_handler("a", "function handler() { return 1; }")
        .unwrap();
    let err = sb
        .add_handler("a", "function handler() { return 2; }")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArg);
}

#[test]
fn remove_handler_reports_whether_it_removed_one() {
    let mut sb = js_sandbox();
    sb.add_handler("a", "function handler() { return 1; }")
        .unwrap();
    sb.add_handler("b", "function handler() { return 2; }")
        .unwrap();
    assert!(sb.remove_handler("a").unwrap());
    assert!(!sb.remove_handler("a").unwrap());
    assert!(!sb.remove_handler("never-added").unwrap());
    assert_eq!(
        sb.remove_handler("").unwrap_err().code(),
        ErrorCode::InvalidArg
    );
    assert_eq!(sb.handler_names().collect::<Vec<_>>(), ["b"]);
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("b", "{}", None).unwrap(), "2");
    assert_eq!(
        l.handle_event("a", "{}", None).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
}

#[test]
fn script_without_handler_fails_to_load_and_the_sandbox_comes_back() {
    let mut sb = js_sandbox();
    sb.add_handler("a", "function notHandler() { return 1; }")
        .unwrap();
    let failure = sb.get_loaded_sandbox().unwrap_err();
    assert_eq!(
        failure.error.code(),
        ErrorCode::InvalidArg,
        "{}",
        failure.error
    );
    assert!(
        failure.error.to_string().contains("handler"),
        "{}",
        failure.error
    );
    let mut sb = failure.sandbox;
    sb.clear_handlers();
    sb.add_handler("a", "function handler() { return 1; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("a", "{}", None).unwrap(), "1");
}

#[test]
fn syntax_error_is_reported_with_its_name() {
    let mut sb = js_sandbox();
    sb.add_handler("a", "function handler( { ").unwrap();
    let err = sb.get_loaded_sandbox().unwrap_err().error;
    assert_eq!(err.code(), ErrorCode::Handler, "{err}");
    assert!(
        matches!(&err, Error::Handler(guest) if guest.name == "SyntaxError"),
        "{err}"
    );
}

#[test]
fn event_larger_than_the_input_buffer_is_refused_and_sandbox_stays_usable() {
    kvm();
    let mut sb = SandboxBuilder::new()
        .with_input_buffer_size(16 * 1024)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("h", "function handler(e) { return e.length; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let big = format!("\"{}\"", "x".repeat(64 * 1024));
    let err = l.handle_event("h", &big, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArg, "{err}");
    assert!(err.to_string().contains("input buffer"), "{err}");
    assert_eq!(l.handle_event("h", "\"abc\"", None).unwrap(), "3");
}

#[test]
fn result_larger_than_the_output_buffer_is_a_clear_error_and_sandbox_stays_usable() {
    kvm();
    let mut sb = SandboxBuilder::new()
        .with_output_buffer_size(16 * 1024)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("h", "function handler(e) { return 'y'.repeat(e.n); }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let err = l.handle_event("h", r#"{"n":100000}"#, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Handler, "{err}");
    assert!(err.to_string().contains("output buffer"), "{err}");
    assert!(!l.poisoned());
    assert_eq!(l.handle_event("h", r#"{"n":2}"#, None).unwrap(), "\"yy\"");
}

#[test]
fn deep_recursion_is_a_range_error() {
    let mut l = loaded_with("function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } function handler(e) { return f(e.n); }");
    match l.handle_event("h", r#"{"n":100000000}"#, None) {
        Err(Error::Handler(g)) => assert_eq!(g.name, "RangeError", "{g:?}"),
        other => panic!("expected RangeError, got {other:?}"),
    }
    assert_eq!(call(&mut l, r#"{"n":10}"#), json!(10));
}

#[test]
fn heap_exhaustion_is_a_clear_out_of_memory_error() {
    kvm();
    let mut sb = SandboxBuilder::new()
        .with_heap_size(4 << 20)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler(
        "h",
        "function handler() { const a = []; for (;;) a.push('x'.repeat(1000) + a.length); }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let snap = l.snapshot().unwrap();
    let err = l.handle_event("h", "{}", None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::GuestAbort, "{err}");
    assert!(
        err.to_string().to_lowercase().contains("out of memory"),
        "{err}"
    );
    assert!(l.poisoned(), "an exhausted heap must poison the sandbox");
    assert_eq!(
        l.handle_event("h", "{}", None).unwrap_err().code(),
        ErrorCode::Poisoned
    );
    // A restore brings the sandbox back.
    l.restore(&snap).unwrap();
    assert!(!l.poisoned());
}

#[test]
fn gc_collects_cycles_after_a_call_by_default_and_not_when_false() {
    // A self-referencing object is freed only by the cycle collector, so
    // whether a WeakRef to it still derefs says whether the collector ran.
    // It holds 1 MiB: the collector runs once the heap grew by 64 KiB.
    let mut l = loaded_with(
        "let ref; function handler(e) { \
           if (e.make) { const o = { big: new Uint8Array(1 << 20) }; o.self = o; ref = new WeakRef(o); } \
           return ref.deref() === undefined ? 'collected' : 'alive'; }",
    );
    let alive = "\"alive\"";
    assert_eq!(
        l.handle_event("h", r#"{"make":true}"#, Some(false))
            .unwrap(),
        alive
    );
    assert_eq!(l.handle_event("h", "{}", Some(false)).unwrap(), alive);
    // This call still sees it (the collector runs after the call); the next
    // one does not.
    assert_eq!(l.handle_event("h", "{}", Some(true)).unwrap(), alive);
    assert_eq!(
        l.handle_event("h", "{}", Some(false)).unwrap(),
        "\"collected\""
    );
    // `None` is the default: collect.
    l.handle_event("h", r#"{"make":true}"#, None).unwrap();
    assert_eq!(
        l.handle_event("h", "{}", Some(false)).unwrap(),
        "\"collected\""
    );
}

/// How deep a plain recursive function gets before the engine's stack
/// limit throws, in a sandbox with `scratch` bytes of scratch (stack).
fn recursion_depth(scratch: u64) -> u64 {
    let mut sb = SandboxBuilder::new()
        .with_scratch_size(scratch)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler(
        "h",
        "function handler() { let d = 0; function f() { d++; f(); } \
           try { f(); } catch (e) { return [e.name, d]; } }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&l.handle_event("h", "{}", None).unwrap()).unwrap();
    assert_eq!(v[0], "RangeError", "{v}");
    v[1].as_u64().unwrap()
}

#[test]
fn the_scratch_size_bounds_the_recursion_depth() {
    kvm();
    // The scratch is the guest stack; the engine's stack limit is set from
    // it. Eight times the scratch: several times deeper, each overflow a
    // catchable RangeError.
    let small = recursion_depth(512 << 10);
    let large = recursion_depth(4 << 20);
    assert!(small > 100, "{small}");
    assert!(large > 4 * small, "512 KiB: {small} frames, 4 MiB: {large}");
}

#[test]
fn builder_rejects_zero_and_absurd_sizes() {
    kvm();
    for b in [
        SandboxBuilder::new().with_heap_size(0),
        SandboxBuilder::new().with_scratch_size(0),
        SandboxBuilder::new().with_input_buffer_size(0),
        SandboxBuilder::new().with_output_buffer_size(0),
        SandboxBuilder::new().with_heap_size(1 << 40),
    ] {
        let err = b.build().unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArg, "{err}");
    }
}
