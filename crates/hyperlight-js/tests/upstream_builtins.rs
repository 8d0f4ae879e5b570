//! What handlers written for upstream hyperlight-js use (issue 12 §6):
//! `require()` of the built-in modules, the `console`, `io` and `require`
//! modules, `String.bytesFrom(data, 'base64url')`, and `print()` without a
//! trailing newline.

mod common;

use hyperlight_js::PrintLevel;

#[test]
fn an_upstream_style_handler_runs_unchanged() {
    common::kvm();
    let (builder, lines) = common::capturing_builder();
    let mut sb = builder.build().unwrap().load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import { print, flush } from 'io';
        import * as console2 from 'console';
        import { require as req } from 'require';
        const crypto = require('crypto');
        function handler(event) {
            print('no ');
            print('newline');
            flush();
            console2.log('a line');
            const bytes = String.bytesFrom(event.data, 'base64url');
            const hex = crypto.createHash('sha256').update(bytes).digest('hex');
            return {
                text: new TextDecoder().decode(bytes), hex: hex.slice(0, 8),
                same: req('crypto') === crypto, io: typeof require('io').flush,
                b64: Array.from(String.bytesFrom('/+8=', 'base64')), hexb: Array.from(String.bytesFrom('0aff', 'hex')),
                utf8: String.bytesFrom('é').length, latin1: Array.from(String.bytesFrom('é', 'latin1')),
            };
        }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    // "hello?>" in base64url: the '-'/'_' alphabet, no padding.
    let out = l
        .handle_event("h", r#"{"data":"aGVsbG8_Pg"}"#, None)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["text"], "hello?>");
    assert_eq!(v["same"], true);
    assert_eq!(v["io"], "function");
    assert_eq!(v["b64"], serde_json::json!([255, 239]));
    assert_eq!(v["hexb"], serde_json::json!([10, 255]));
    assert_eq!(v["utf8"], 2);
    assert_eq!(v["latin1"], serde_json::json!([233]));
    let lines = lines.lock().unwrap();
    // print records carry the text exactly (no newline added by the guest).
    assert_eq!(lines[0], (PrintLevel::Print, "no ".to_string()));
    assert_eq!(lines[1], (PrintLevel::Print, "newline".to_string()));
    assert_eq!(lines[2], (PrintLevel::Info, "a line".to_string()));
}

#[test]
fn bad_encodings_and_async_modules_are_clear_errors() {
    let mut l = common::loaded_with(
        r#"function handler() {
            const r = [];
            try { String.bytesFrom('x', 'utf16'); } catch (e) { r.push(e.name); }
            try { require('nope:missing'); } catch (e) { r.push(e.name); }
            return r;
        }"#,
    );
    assert_eq!(
        common::call(&mut l, "{}"),
        serde_json::json!(["TypeError", "ReferenceError"])
    );
}
