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
    // Lines reach a user sink on the printer thread, after the call.
    assert!(hyperlight_js::flush_prints(std::time::Duration::from_secs(
        10
    )));
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

#[test]
fn a_line_longer_than_the_print_region_arrives_whole() {
    let (b, lines) = capturing_builder();
    let mut sb = b.build().unwrap().load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"function handler() { console.log('y'.repeat(1 << 20) + 'é'.repeat(70000) + 'end'); console.warn('after'); return 1; }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    l.handle_event("h", "{}", None).unwrap();
    assert!(hyperlight_js::flush_prints(std::time::Duration::from_secs(
        10
    )));
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 2);
    let expected = format!("{}{}end", "y".repeat(1 << 20), "é".repeat(70000));
    assert_eq!(lines[0].0, PrintLevel::Info);
    assert!(
        lines[0].1 == expected,
        "the long line came back {} bytes long",
        lines[0].1.len()
    );
    assert_eq!(lines[1], (PrintLevel::Warn, "after".to_string()));
}

#[test]
fn a_sink_that_blocks_never_blocks_the_guest_and_drops_are_reported() {
    common::kvm();
    let gate = std::sync::Arc::new(std::sync::Mutex::new(()));
    let held = gate.lock().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (g, s) = (gate.clone(), seen.clone());
    let b = hyperlight_js::SandboxBuilder::new().with_print_sink(move |_, text| {
        // Blocks until the test lets go of the gate.
        drop(g.lock().unwrap());
        s.lock().unwrap().push(text.to_string());
    });
    let mut sb = b.build().unwrap().load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"function handler() { const l = 'x'.repeat(10000); for (let i = 0; i < 2000; i++) console.log(l); return 1; }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    // 20 MB of output against an 8 MiB per-sandbox queue and a stuck sink:
    // both calls return while the sink is still blocked (were the guest to
    // wait for the sink, they never would: the guard fails the run).
    let guard = common::hang_guard("calls printing into a blocked sink", common::HANG_AFTER);
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), "1");
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), "1");
    drop(guard);
    drop(held);
    assert!(hyperlight_js::flush_prints(std::time::Duration::from_secs(
        30
    )));
    let seen = seen.lock().unwrap();
    assert!(seen.len() < 4000, "every line was queued despite the bound");
    let report = seen
        .iter()
        .find(|t| t.starts_with("[hyperlight-js: ") && t.contains("of guest output were dropped"))
        .expect("the drop is reported");
    eprintln!("two calls printing 20 MB each into a stuck sink: {report}");
}

/// Set in the child process of the `stdio_sink` test.
const STDIO_CHILD: &str = "HYPERLIGHT_JS_TEST_STDIO_SINK_CHILD";

#[test]
fn stdio_sink_writes_neutralised_lines_to_stdout_and_warnings_to_stderr() {
    if std::env::var_os(STDIO_CHILD).is_some() {
        // Called directly, and as a sandbox's sink (what the guest prints).
        let sink = hyperlight_js::stdio_sink();
        sink(PrintLevel::Info, "direct \u{1b}[31mred\u{202e}");
        sink(PrintLevel::Error, "direct error");
        let to = sink.clone();
        let b = hyperlight_js::SandboxBuilder::new().with_print_sink(move |l, t| to(l, t));
        let mut sb = b.build().unwrap().load_runtime().unwrap();
        sb.add_handler(
            "h",
            r#"function handler() { console.log('from the guest'); console.warn('two\nlines'); console.debug('dbg'); return 1; }"#,
        )
        .unwrap();
        let mut l = sb.get_loaded_sandbox().unwrap();
        assert_eq!(l.handle_event("h", "{}", None).unwrap(), "1");
        assert!(hyperlight_js::flush_prints(std::time::Duration::from_secs(
            60
        )));
        return;
    }
    common::kvm();
    let guard = common::hang_guard("the stdio_sink child", common::HANG_AFTER);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stdio_sink_writes_neutralised_lines_to_stdout_and_warnings_to_stderr",
            "--nocapture",
            "--test-threads",
            "1",
            "--quiet",
        ])
        .env(STDIO_CHILD, "1")
        .output()
        .unwrap();
    drop(guard);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines = |text: &str| -> Vec<String> {
        // The test harness's own lines ("running 1 test", the result) are
        // not the sink's.
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with("running ") && !l.starts_with("test "))
            .filter(|l| !l.starts_with('.') && !l.contains("finished in"))
            .map(String::from)
            .collect()
    };
    // Control characters and bidirectional overrides come out escaped; an
    // embedded newline continues with "| "; debug and info go to stdout.
    assert_eq!(
        lines(&stdout),
        [r"direct \x1b[31mred\u{202e}", "from the guest", "dbg",],
        "{stdout}"
    );
    assert_eq!(
        lines(&stderr),
        ["direct error", "two", "| lines"],
        "{stderr}"
    );
}
