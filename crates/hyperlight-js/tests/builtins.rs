//! Built-ins: console/print, crypto, time, randomness, text codecs.

mod common;
use common::*;
use hyperlight_js::PrintLevel;
use serde_json::json;

#[test]
fn hmac_sha256_matches_the_known_vector() {
    let mut l = loaded_with(
        r#"import { createHmac } from 'crypto';
           function handler(e) {
             const h = () => createHmac('sha256', 'key').update('The quick brown fox jumps over the lazy dog');
             return { hex: h().digest('hex'), b64: h().digest('base64'), b64url: h().digest('base64url') };
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!({
            "hex": "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            "b64": "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
            "b64url": "97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0aPNg"
        })
    );
}

#[test]
fn hmac_sha384_and_sha512_work() {
    let mut l = loaded_with(
        r#"import { createHmac } from 'crypto';
           function handler() {
             return [createHmac('sha384', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex').length,
                     createHmac('sha512', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex')];
           }"#,
    );
    let v = call(&mut l, "{}");
    assert_eq!(v[0], json!(96));
    assert_eq!(
        v[1],
        json!("b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a")
    );
}

#[test]
fn random_values_and_uuids_come_from_host_entropy() {
    let mut l = loaded_with(
        r#"import { getRandomValues, randomUUID } from 'crypto';
           function handler() {
             const a = getRandomValues(new Uint8Array(32));
             return { nonzero: a.some(x => x !== 0), uuid: randomUUID(), global: typeof crypto.randomUUID };
           }"#,
    );
    let a = call(&mut l, "{}");
    let b = call(&mut l, "{}");
    assert_eq!(a["nonzero"], json!(true));
    assert_eq!(a["global"], json!("function"));
    let uuid = a["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "{uuid} is not a v4 UUID");
    assert_ne!(a["uuid"], b["uuid"]);
}

#[test]
fn math_random_does_not_replay_after_restore() {
    let mut l = loaded_with("function handler() { return [Math.random(), Math.random()]; }");
    let snap = l.snapshot().unwrap();
    let first = call(&mut l, "{}");
    l.restore(&snap).unwrap();
    let second = call(&mut l, "{}");
    assert_ne!(
        first, second,
        "Math.random replayed the same sequence after a restore"
    );
}

#[test]
fn date_now_is_the_host_time() {
    let mut l = loaded_with("function handler() { return Date.now(); }");
    let host_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    let guest_ms = call(&mut l, "{}").as_f64().unwrap();
    assert!(
        (guest_ms - host_ms).abs() < 60_000.0,
        "guest {guest_ms} vs host {host_ms}"
    );
}

#[test]
fn text_encoder_and_decoder_round_trip_utf8() {
    let mut l = loaded_with(
        r#"function handler(e) {
             const bytes = new TextEncoder().encode(e.s);
             return { len: bytes.length, back: new TextDecoder().decode(bytes) };
           }"#,
    );
    assert_eq!(
        call(&mut l, r#"{"s":"héllo ✓"}"#),
        json!({"len": 10, "back": "héllo ✓"})
    );
}

#[test]
fn console_and_print_reach_the_print_sink_with_levels() {
    let (b, lines) = capturing_builder();
    let mut sb = b.build().unwrap().load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"function handler() {
             print('p'); console.log('l', 1, {a: 1}); console.info('i'); console.warn('w'); console.error('e'); console.debug('d');
             for (let i = 0; i < 5000; i++) console.log('line ' + i);
             return 1;
           }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    l.handle_event("h", "{}", None).unwrap();
    let lines = lines.lock().unwrap();
    assert_eq!(lines[0], (PrintLevel::Print, "p".to_string()));
    assert_eq!(lines[1].0, PrintLevel::Info);
    assert!(lines[1].1.starts_with("l 1"), "{:?}", lines[1]);
    assert_eq!(lines[2], (PrintLevel::Info, "i".to_string()));
    assert_eq!(lines[3], (PrintLevel::Warn, "w".to_string()));
    assert_eq!(lines[4], (PrintLevel::Error, "e".to_string()));
    assert_eq!(lines[5], (PrintLevel::Debug, "d".to_string()));
    // Many lines overflow the print buffer and are flushed, none lost.
    assert_eq!(lines.len(), 6 + 5000);
    assert_eq!(lines.last().unwrap().1, "line 4999");
}

#[test]
fn no_ambient_authority() {
    let mut l = loaded_with(
        r#"function handler() {
             // `require` only loads what the module loader resolves (built-in
             // and registered modules): no file system, no Node modules.
             let fs;
             try { require('fs'); fs = 'loaded'; } catch (e) { fs = e.name; }
             return [typeof process, fs, typeof setTimeout, typeof fetch, typeof std, typeof os];
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!([
            "undefined",
            "ReferenceError",
            // Timers exist, but only inside a request (see tests/web_platform.rs).
            "function",
            "undefined",
            "undefined",
            "undefined"
        ])
    );
}
