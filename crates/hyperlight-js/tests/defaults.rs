//! The default sizes fit real handlers (issue 12 §3): each case below
//! failed at the old defaults (heap 16 MiB, scratch 1 MiB, buffers 1 MiB)
//! and must work with `SandboxBuilder::new()` as it is.

mod common;

fn run(src: &str, event: &str) -> serde_json::Value {
    let mut l = common::loaded_with(src);
    let out = l
        .handle_event("h", event, None)
        .unwrap_or_else(|e| panic!("{src}: {e}"));
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn deep_recursion() {
    // Node stops at about 10,000 frames of this function.
    let v = run(
        "function sum(n) { return n === 0 ? 0 : n + sum(n - 1); }
         function handler(e) { return sum(e.n); }",
        r#"{"n":10000}"#,
    );
    assert_eq!(v, serde_json::json!(50005000));
}

#[test]
fn a_thousand_nested_awaits() {
    let v = run(
        "async function nest(n) { return n === 0 ? 0 : 1 + await nest(n - 1); }
         async function handler(e) { return await nest(e.n); }",
        r#"{"n":1000}"#,
    );
    assert_eq!(v, serde_json::json!(1000));
}

#[test]
fn json_parse_of_a_10000_deep_array() {
    let v = run(
        "function handler(e) {
           let a = JSON.parse('['.repeat(e.n) + ']'.repeat(e.n)), depth = 0;
           while (Array.isArray(a)) { depth++; a = a[0]; }
           return depth;
         }",
        r#"{"n":10000}"#,
    );
    assert_eq!(v, serde_json::json!(10000));
}

#[test]
fn build_and_sort_a_million_numbers() {
    let v = run(
        "function handler(e) {
           const a = [];
           for (let i = 0; i < e.n; i++) a.push((i * 7919) % e.n);
           a.sort((x, y) => x - y);
           return [a.length, a[0], a[a.length - 1]];
         }",
        r#"{"n":1000000}"#,
    );
    assert_eq!(v, serde_json::json!([1000000, 0, 999999]));
}

#[test]
fn return_a_hundred_thousand_small_objects() {
    let v = run(
        "function handler(e) { return Array.from({ length: e.n }, (_, i) => ({ id: i, name: 'item ' + i, ok: true })); }",
        r#"{"n":100000}"#,
    );
    let a = v.as_array().expect("an array");
    assert_eq!(a.len(), 100000);
    assert_eq!(
        a[99999],
        serde_json::json!({"id": 99999, "name": "item 99999", "ok": true})
    );
}

#[test]
fn a_large_event_and_script() {
    // A 4 MiB event and a 3 MiB script (test262's staging/sm string
    // mapping test is 3.2 MB) fit the default input buffer.
    let mut l = common::loaded_with("function handler(e) { return e.s.length; }");
    let s = "x".repeat(4 << 20);
    let out = l
        .handle_event("h", format!(r#"{{"s":"{s}"}}"#), None)
        .unwrap();
    assert_eq!(out, (4u64 << 20).to_string());
    let script = format!("var big = '{}'; big.length", "y".repeat(3 << 20));
    assert_eq!(
        l.eval_script(&script, None).unwrap(),
        Some((3u64 << 20).to_string())
    );
}
