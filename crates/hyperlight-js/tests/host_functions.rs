//! Host functions: registration, values crossing, errors.

mod common;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use hyperlight_js::{ErrorCode, SandboxBuilder};
use serde_json::{json, Value};

#[test]
fn typed_and_raw_host_functions_are_callable_from_the_guest() {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
        .unwrap();
    proto
        .host_module("strings")
        .unwrap()
        .register("upper", |(s,): (String,)| Ok::<_, String>(s.to_uppercase()))
        .unwrap()
        .register_raw("echo", |args| Ok(args.to_string()))
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import * as math from "host:math";
           import { upper, echo } from "host:strings";
           function handler(e) { return { sum: math.add(e.a, e.b), up: upper("abc"), echo: echo(1, "two", [3], {four: 4}, null) }; }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(
        call(&mut l, r#"{"a":10,"b":32}"#),
        json!({"sum": 42, "up": "ABC", "echo": [1, "two", [3], {"four": 4}, null]})
    );
}

#[test]
fn a_host_error_is_a_catchable_guest_error_with_the_message() {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register(
            "auth",
            "validate",
            |(token,): (Option<String>,)| match token {
                Some(t) if !t.is_empty() => Ok(json!({"valid": true})),
                _ => Err("Token is required"),
            },
        )
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import * as auth from "host:auth";
           function handler(e) { try { return auth.validate(e.token); } catch (err) { return { error: err.message, isError: err instanceof Error }; } }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, r#"{"token":"t"}"#), json!({"valid": true}));
    assert_eq!(
        call(&mut l, r#"{}"#),
        json!({"error": "Token is required", "isError": true})
    );
}

#[test]
fn arguments_of_the_wrong_shape_are_an_error_not_a_crash() {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler("h", r#"import * as math from "host:math"; function handler() { try { return math.add("x"); } catch (e) { return e.message; } }"#)
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let msg = call(&mut l, "{}");
    assert!(msg.as_str().unwrap().contains("arguments"), "{msg}");
}

#[test]
fn complex_values_round_trip() {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register_raw("id", "same", |args| {
            let v: Value = serde_json::from_str(args).map_err(|e| e.to_string())?;
            Ok(v[0].to_string())
        })
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import { same } from "host:id"; function handler(e) { return same(e); }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let v = json!({"s": "ünïcødé ✓ \u{1F600}", "n": [1.5, -2, 1e300], "o": {"deep": {"er": [true, false, null]}}, "e": ""});
    assert_eq!(call(&mut l, &v.to_string()), v);
}

#[test]
fn host_state_survives_snapshot_and_restore() {
    kvm();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("stats", "hit", move |(): ()| {
            Ok::<_, String>(h.fetch_add(1, Ordering::SeqCst) + 1)
        })
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler("h", r#"import * as stats from "host:stats"; function handler() { return { count: stats.hit() }; }"#)
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let snap = l.snapshot().unwrap();
    assert_eq!(call(&mut l, "{}"), json!({"count": 1}));
    assert_eq!(call(&mut l, "{}"), json!({"count": 2}));
    l.restore(&snap).unwrap();
    assert_eq!(call(&mut l, "{}"), json!({"count": 3}));
}

#[test]
fn registration_validates_names_and_refuses_duplicates() {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    assert_eq!(
        proto.host_module("").err().unwrap().code(),
        ErrorCode::InvalidArg
    );
    assert_eq!(
        proto
            .register_raw("m", "", |a| Ok(a.into()))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArg
    );
    proto.register_raw("m", "f", |a| Ok(a.into())).unwrap();
    assert_eq!(
        proto
            .register_raw("m", "f", |a| Ok(a.into()))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArg
    );
}
