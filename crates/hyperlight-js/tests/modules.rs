//! User modules: namespaces, lazy compilation, shared state, errors.

mod common;
use common::*;
use hyperlight_js::ErrorCode;
use serde_json::json;

#[test]
fn modules_resolve_in_any_registration_order() {
    let mut sb = js_sandbox();
    sb.add_module(
        "geometry",
        "import { PI } from 'user:constants'; export function circleArea(r) { return PI * r * r; }",
        None,
    )
    .unwrap();
    sb.add_module("constants", "export const PI = 3.14159;", None)
        .unwrap();
    sb.add_handler("h", "import { circleArea } from 'user:geometry'; function handler(e) { return circleArea(e.r); }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, r#"{"r":2}"#), json!(12.56636));
}

#[test]
fn custom_namespace() {
    let mut sb = js_sandbox();
    sb.add_module(
        "utils",
        "export function greet() { return 'hi'; }",
        Some("mylib"),
    )
    .unwrap();
    sb.add_handler(
        "h",
        "import { greet } from 'mylib:utils'; export function handler() { return greet(); }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!("hi"));
}

#[test]
fn module_state_is_shared_between_handlers_and_persists() {
    let mut sb = js_sandbox();
    sb.add_module("counter", "let count = 0; export function increment() { return ++count; } export function getCount() { return count; }", None)
        .unwrap();
    sb.add_handler("writer", "import { increment } from 'user:counter'; function handler(e) { e.count = increment(); return e; }")
        .unwrap();
    sb.add_handler("reader", "import { getCount } from 'user:counter'; function handler(e) { e.count = getCount(); return e; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(
        l.handle_event("writer", "{}", None).unwrap(),
        r#"{"count":1}"#
    );
    assert_eq!(
        l.handle_event("reader", "{}", None).unwrap(),
        r#"{"count":1}"#
    );
    assert_eq!(
        l.handle_event("writer", "{}", None).unwrap(),
        r#"{"count":2}"#
    );
    assert_eq!(
        l.handle_event("reader", "{}", None).unwrap(),
        r#"{"count":2}"#
    );
}

#[test]
fn a_missing_import_fails_loading_and_names_the_module() {
    let mut sb = js_sandbox();
    sb.add_handler(
        "h",
        "import { x } from 'user:nope'; function handler() { return x; }",
    )
    .unwrap();
    let err = sb.get_loaded_sandbox().unwrap_err().error;
    // A module that does not resolve is the caller's argument: ERR_INVALID_ARG.
    assert_eq!(err.code(), ErrorCode::InvalidArg, "{err}");
    assert!(err.to_string().contains("user:nope"), "{err}");
}

#[test]
fn host_namespace_is_reserved_and_names_are_validated() {
    let mut sb = js_sandbox();
    assert_eq!(
        sb.add_module("db", "export const x = 1;", Some("host"))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArg
    );
    assert_eq!(
        sb.add_module("", "export const x = 1;", None)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArg
    );
    // The guest resolves `<namespace>:<name>`; it refuses '/' and ':' in a
    // namespace, so the host refuses them up front (not at load time).
    for ns in ["a/b", "a:b"] {
        assert_eq!(
            sb.add_module("m", "export const x = 1;", Some(ns))
                .unwrap_err()
                .code(),
            ErrorCode::InvalidArg,
            "{ns}"
        );
    }
    sb.add_module("m", "export const x = 1;", None).unwrap();
    assert_eq!(
        sb.add_module("m", "export const x = 2;", None)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArg
    );
    assert!(sb.remove_module("m", None).unwrap());
    // Removing a module that is not there is not an error: it reports false.
    assert!(!sb.remove_module("m", None).unwrap());
    assert!(!sb.remove_module("m", Some("other")).unwrap());
    // Invalid names still are.
    assert_eq!(
        sb.remove_module("", None).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
    assert_eq!(
        sb.remove_module("db", Some("host")).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
}

#[test]
fn unload_clears_handlers_modules_and_state() {
    let mut sb = js_sandbox();
    sb.add_module("counter", "let n = 0; export const inc = () => ++n;", None)
        .unwrap();
    sb.add_handler(
        "h",
        "import { inc } from 'user:counter'; function handler() { return inc(); }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!(1));
    assert_eq!(call(&mut l, "{}"), json!(2));
    let mut sb = l.unload().unwrap();
    assert_eq!(sb.handler_names().count(), 0);
    // The module is gone too: importing it now fails.
    sb.add_handler(
        "h",
        "import { inc } from 'user:counter'; function handler() { return inc(); }",
    )
    .unwrap();
    let mut sb = sb.get_loaded_sandbox().unwrap_err().sandbox;
    sb.add_module(
        "counter",
        "let n = 100; export const inc = () => ++n;",
        None,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!(101));
}
