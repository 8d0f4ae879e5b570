//! Web platform APIs in the guest: URL and URLSearchParams (with the
//! web-platform-tests data), structuredClone, timers, TextDecoder streaming,
//! crypto.subtle, createHash md5/sha1 and getRandomValues' DOMExceptions.

mod common;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use hyperlight_js::{CpuTimeMonitor, SandboxBuilder, WallClockMonitor};
use serde_json::{json, Value};

/// `shared/conformance/` beside the repository (as CI lays it out), or
/// `HYPERLIGHT_JS_CONFORMANCE_DIR`. A missing directory fails the test.
fn conformance(rel: &str) -> PathBuf {
    let dir = std::env::var_os("HYPERLIGHT_JS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let p = dir.join(rel);
    assert!(
        p.exists(),
        "{} is missing: the WPT URL data must be in shared/conformance beside the repository \
         (or set HYPERLIGHT_JS_CONFORMANCE_DIR to the conformance directory)",
        p.display()
    );
    p
}

fn read_json(rel: &str) -> Value {
    let text = std::fs::read_to_string(conformance(rel)).expect("read the conformance data");
    serde_json::from_str(&text).expect("the conformance data is JSON")
}

/// An event for the timer handlers: a wait of 2e9 ms (23 days, below the
/// 2^31 - 1 ms cap of `setTimeout`), which only a kill or an interrupt can
/// end within a test.
const FOREVER: &str = r#"{"ms":2000000000}"#;

const PROPS: [&str; 11] = [
    "href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname",
    "search", "hash",
];

/// A loaded sandbox with one handler `h`, from `builder`.
fn loaded_from(builder: SandboxBuilder, src: &str) -> hyperlight_js::LoadedJSSandbox {
    let mut sb = builder
        .build()
        .expect("build")
        .load_runtime()
        .expect("load_runtime");
    sb.add_handler("h", src).expect("add_handler");
    sb.get_loaded_sandbox().expect("get_loaded_sandbox")
}

/// A sandbox with room for the whole WPT data set in one event.
fn big_loaded(src: &str) -> hyperlight_js::LoadedJSSandbox {
    kvm();
    let mut sb = SandboxBuilder::new()
        .with_input_buffer_size(4 << 20)
        .with_output_buffer_size(4 << 20)
        .build()
        .expect("build")
        .load_runtime()
        .expect("load_runtime");
    sb.add_handler("h", src).expect("add_handler");
    sb.get_loaded_sandbox().expect("get_loaded_sandbox")
}

/// The WPT cases the guest does not pass, with their reasons
/// (`wpt-url-expected-failures.tsv`): (kind, case) → reason.
fn expected_failures() -> Vec<(String, Value, String)> {
    let text = include_str!("wpt-url-expected-failures.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let (kind, key, reason) =
                (f.next().unwrap(), f.next().unwrap(), f.next().unwrap_or(""));
            assert!(
                !reason.is_empty(),
                "an expected failure without a reason: {l}"
            );
            (
                kind.to_string(),
                serde_json::from_str(key).expect("the case is JSON"),
                reason.to_string(),
            )
        })
        .collect()
}

/// Prints the pass rate of `file` and fails on any difference from the
/// expected-failures list (see `check_against_list`).
fn report(file: &str, kind: &str, outcomes: Vec<(Value, Vec<String>)>) {
    let total = outcomes.len();
    let (passed, excluded, failures) = check_against_list(kind, outcomes);
    eprintln!(
        "WPT {file}: {passed} of {total} cases pass, {excluded} expected failures (wpt-url-expected-failures.tsv)"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Compares outcomes with the expected-failures list: a failure not on
/// the list, or a listed case that passes or does not exist, is an error.
fn check_against_list(
    kind: &str,
    outcomes: Vec<(Value, Vec<String>)>,
) -> (usize, usize, Vec<String>) {
    let listed: Vec<Value> = expected_failures()
        .into_iter()
        .filter(|(k, _, _)| k == kind)
        .map(|(_, v, _)| v)
        .collect();
    let mut errors = Vec::new();
    let (mut passed, mut excluded) = (0, 0);
    for key in &listed {
        if !outcomes.iter().any(|(k, _)| k == key) {
            errors.push(format!(
                "{kind} {key}: listed as an expected failure but not in the WPT data"
            ));
        }
    }
    for (key, problems) in outcomes {
        match (problems.is_empty(), listed.contains(&key)) {
            (true, false) => passed += 1,
            (true, true) => errors.push(format!(
                "{kind} {key}: passes now; remove it from wpt-url-expected-failures.tsv"
            )),
            (false, true) => excluded += 1,
            (false, false) => errors.push(format!("{kind} {key}: {}", problems.join("; "))),
        }
    }
    (passed, excluded, errors)
}

#[test]
fn wpt_urltestdata_passes() {
    let data = read_json("wpt-url/urltestdata.json");
    let cases: Vec<&Value> = data
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.is_object())
        .collect();
    let inputs: Vec<Value> = cases
        .iter()
        .map(|c| json!([c["input"], c["base"]]))
        .collect();
    let mut l = big_loaded(
        r#"function handler(cases) {
             const props = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
             return cases.map(([input, base]) => {
               let u;
               try { u = base === null ? new URL(input) : new URL(input, base); }
               catch (e) { return e instanceof TypeError ? { threw: true, canParse: URL.canParse(input, base ?? undefined) } : { other: String(e) }; }
               const o = { canParse: URL.canParse(input, base ?? undefined), searchParams: u.searchParams.toString() };
               for (const p of props) o[p] = u[p];
               return o;
             });
           }"#,
    );
    let out = l
        .handle_event("h", serde_json::to_string(&inputs).unwrap(), None)
        .expect("handle_event");
    let out: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(out.len(), cases.len());
    let mut outcomes = Vec::new();
    for (c, got) in cases.iter().zip(&out) {
        let mut problems = Vec::new();
        if c.get("failure").and_then(Value::as_bool) == Some(true) {
            if got.get("threw") != Some(&json!(true)) {
                problems.push(format!("expected a TypeError, got {got}"));
            } else if got["canParse"] != json!(false) {
                problems.push("URL.canParse was true".to_string());
            }
        } else if got.get("threw").is_some() || got.get("other").is_some() {
            problems.push(format!("threw: {got}"));
        } else {
            for p in PROPS {
                if let Some(want) = c.get(p) {
                    if got[p] != *want {
                        problems.push(format!("{p}: expected {want}, got {}", got[p]));
                    }
                }
            }
            if got["canParse"] != json!(true) {
                problems.push("URL.canParse was false".to_string());
            }
            if let Some(want) = c.get("searchParams") {
                if got["searchParams"] != *want {
                    problems.push(format!(
                        "searchParams: expected {want}, got {}",
                        got["searchParams"]
                    ));
                }
            }
        }
        outcomes.push((json!([c["input"], c["base"]]), problems));
    }
    report("urltestdata.json", "constructor", outcomes);
}

#[test]
fn wpt_setters_tests_pass() {
    let data = read_json("wpt-url/setters_tests.json");
    let mut cases = Vec::new();
    for (setter, list) in data.as_object().unwrap() {
        if setter == "comment" {
            continue;
        }
        for c in list.as_array().unwrap() {
            cases.push((setter.clone(), c.clone()));
        }
    }
    let inputs: Vec<Value> = cases
        .iter()
        .map(|(s, c)| json!([c["href"], s, c["new_value"]]))
        .collect();
    let mut l = big_loaded(
        r#"function handler(cases) {
             const props = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
             return cases.map(([href, setter, value]) => {
               const u = new URL(href);
               try { u[setter] = value; } catch (e) { return { threw: String(e) }; }
               const o = {};
               for (const p of props) o[p] = u[p];
               return o;
             });
           }"#,
    );
    let out = l
        .handle_event("h", serde_json::to_string(&inputs).unwrap(), None)
        .expect("handle_event");
    let out: Vec<Value> = serde_json::from_str(&out).unwrap();
    let mut outcomes = Vec::new();
    for ((setter, c), got) in cases.iter().zip(&out) {
        let mut problems = Vec::new();
        for (p, want) in c["expected"].as_object().unwrap() {
            if got[p] != *want {
                problems.push(format!("{p}: expected {want}, got {}", got[p]));
            }
        }
        outcomes.push((json!([c["href"], setter, c["new_value"]]), problems));
    }
    report("setters_tests.json", "setter", outcomes);
}

#[test]
fn url_search_params_behave_as_in_node() {
    let mut l = loaded_with(
        r#"function handler() {
             const u = new URL('https://example.com/p?a=1&b=x%20y&a=2#frag');
             const p = u.searchParams;
             const out = { all: p.getAll('a'), b: p.get('b'), size: p.size, has: p.has('a', '2') };
             p.append('c', 'é &=');
             p.delete('a', '1');
             p.set('b', 'z');
             p.sort();
             out.href = u.href;
             u.search = '?q=1';
             out.afterSearch = [...p];
             out.fromRecord = new URLSearchParams({ x: '1', y: '2' }).toString();
             out.fromPairs = new URLSearchParams([['k', 'v'], ['k', 'w']]).toString();
             out.fromString = new URLSearchParams('?a=b+c&d').toString();
             out.json = JSON.stringify({ u: new URL('http://x/y') });
             out.relative = new URL('../c?d', 'http://h/a/b/').href;
             out.idna = new URL('http://münchen.de/').host;
             out.canParse = [URL.canParse('nope'), URL.canParse('/x', 'http://h')];
             out.parse = URL.parse('::') === null;
             try { new URL('nope'); } catch (e) { out.error = e.name; }
             out.tag = Object.prototype.toString.call(u);
             return out;
           }"#,
    );
    // The expected values are what Node 20 prints for the same code.
    assert_eq!(
        call(&mut l, "{}"),
        json!({
            "all": ["1", "2"], "b": "x y", "size": 3, "has": true,
            "href": "https://example.com/p?a=2&b=z&c=%C3%A9+%26%3D#frag",
            "afterSearch": [["q", "1"]],
            "fromRecord": "x=1&y=2",
            "fromPairs": "k=v&k=w",
            "fromString": "a=b+c&d=",
            "json": "{\"u\":\"http://x/y\"}",
            "relative": "http://h/a/c?d",
            "idna": "xn--mnchen-3ya.de",
            "canParse": [false, true],
            "parse": true,
            "error": "TypeError",
            "tag": "[object URL]"
        })
    );
}

#[test]
fn structured_clone_copies_what_html_says() {
    let mut l = loaded_with(
        r#"function handler() {
             const o = { n: -0, big: 5n, d: new Date(1e12), r: /a+/gi, m: new Map([[1, { x: 1 }]]), s: new Set(['a']),
                         u8: new Uint8Array([1, 2, 3]), e: new RangeError('bad'), arr: [1, , 3], nested: { deep: [1] } };
             o.self = o;
             o.m.set('o', o);
             const c = structuredClone(o);
             const out = {
               distinct: c !== o && c.self === c && c.m.get('o') === c && c.nested !== o.nested,
               negZero: Object.is(c.n, -0), big: c.big === 5n, date: c.d instanceof Date && c.d.getTime() === 1e12,
               regexp: c.r instanceof RegExp && c.r.source === 'a+' && c.r.flags === 'gi',
               map: c.m instanceof Map && c.m.get(1).x === 1 && c.m.get(1) !== o.m.get(1),
               set: c.s instanceof Set && c.s.has('a'),
               u8: c.u8 instanceof Uint8Array && c.u8.join() === '1,2,3' && c.u8.buffer !== o.u8.buffer,
               error: c.e instanceof RangeError && c.e.message === 'bad',
               sparse: !(1 in c.arr) && c.arr.length === 3,
             };
             const fail = (v) => { try { structuredClone(v); return 'cloned'; } catch (e) { return e.name + ':' + (e instanceof DOMException) + ':' + e.code; } };
             out.fn = fail(() => 1);
             out.sym = fail(Symbol('s'));
             out.inObject = fail({ f() {} });
             out.promise = fail(Promise.resolve());
             out.weak = fail(new WeakMap());
             class K { constructor() { this.a = 1; } }
             const k = structuredClone(new K());
             out.classInstance = [Object.getPrototypeOf(k) === Object.prototype, k.a];
             const de = structuredClone(new DOMException('gone', 'NotFoundError'));
             out.domException = [de instanceof DOMException, de.name, de.message, de.code];
             return out;
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!({
            "distinct": true, "negZero": true, "big": true, "date": true, "regexp": true, "map": true,
            "set": true, "u8": true, "error": true, "sparse": true,
            "fn": "DataCloneError:true:25", "sym": "DataCloneError:true:25", "inObject": "DataCloneError:true:25",
            "promise": "DataCloneError:true:25", "weak": "DataCloneError:true:25",
            "classInstance": [true, 1],
            "domException": [true, "NotFoundError", "gone", 8]
        })
    );
}

#[test]
fn text_decoder_streams_split_characters() {
    let mut l = loaded_with(
        r#"function handler() {
             const euro = new TextEncoder().encode('€');
             const d = new TextDecoder();
             const a = d.decode(euro.subarray(0, 1), { stream: true });
             const b = d.decode(euro.subarray(1), { stream: true });
             const end = d.decode();
             const bom = new TextDecoder();
             const withBom = bom.decode(new Uint8Array([0xEF, 0xBB]), { stream: true }) +
                             bom.decode(new Uint8Array([0xBF, 0x41]), { stream: true }) + bom.decode();
             const trailing = new TextDecoder().decode(euro.subarray(0, 2));
             const dangling = new TextDecoder();
             const partial = dangling.decode(euro.subarray(0, 2), { stream: true }) + dangling.decode();
             let fatal;
             try { const f = new TextDecoder('utf-8', { fatal: true }); f.decode(euro.subarray(0, 1), { stream: true }); f.decode(); } catch (e) { fatal = e.name; }
             return [a, b, end, withBom, trailing, partial, fatal];
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!(["", "€", "", "A", "\u{FFFD}", "\u{FFFD}", "TypeError"])
    );
}

#[test]
fn create_hash_supports_md5_and_sha1() {
    let mut l = loaded_with(
        r#"import { createHash, createHmac } from 'crypto';
           function handler() {
             return [createHash('md5').update('abc').digest('hex'), createHash('sha1').update('abc').digest('hex'),
                     createHmac('sha1', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex'),
                     createHmac('md5', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex')];
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!([
            "900150983cd24fb0d6963f7d28e17f72",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
            "80070713463e7749b90c2dc24911e275"
        ])
    );
}

#[test]
fn get_random_values_throws_the_web_crypto_dom_exceptions() {
    let mut l = loaded_with(
        r#"function handler() {
             const t = (f) => { try { f(); return 'ok'; } catch (e) { return e.name + ':' + (e instanceof DOMException) + ':' + e.code; } };
             return [t(() => crypto.getRandomValues(new Uint8Array(65537))), t(() => crypto.getRandomValues(new Float64Array(2))),
                     t(() => crypto.getRandomValues(new Uint8Array(65536)))];
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!([
            "QuotaExceededError:true:22",
            "TypeMismatchError:true:17",
            "ok"
        ])
    );
}

#[test]
fn subtle_digest_hmac_and_aes_gcm_match_node() {
    let mut l = loaded_with(
        r#"async function handler() {
             const enc = new TextEncoder();
             const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
             const out = {};
             for (const h of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) out[h] = hex(await crypto.subtle.digest(h, enc.encode('abc')));
             const key = await crypto.subtle.importKey('raw', enc.encode('key'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
             const sig = await crypto.subtle.sign('HMAC', key, enc.encode('The quick brown fox jumps over the lazy dog'));
             out.hmac = hex(sig);
             out.verify = [await crypto.subtle.verify('HMAC', key, sig, enc.encode('The quick brown fox jumps over the lazy dog')),
                           await crypto.subtle.verify('HMAC', key, sig, enc.encode('tampered'))];
             out.keyAlg = [key.type, key.algorithm.name, key.algorithm.hash.name, key.algorithm.length, key.extractable, key.usages];
             const aes = await crypto.subtle.importKey('raw', new Uint8Array(16).fill(7), 'AES-GCM', true, ['encrypt', 'decrypt']);
             const iv = new Uint8Array(12).fill(1);
             const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode('aad') }, aes, enc.encode('secret message'));
             out.ct = hex(ct);
             out.pt = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: enc.encode('aad') }, aes, ct));
             try { await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, aes, ct); } catch (e) { out.badTag = e.name; }
             out.jwk = await crypto.subtle.exportKey('jwk', aes);
             const gen = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
             out.gen = [gen.algorithm.length, gen.extractable];
             try { await crypto.subtle.exportKey('raw', gen); } catch (e) { out.notExtractable = e.name; }
             try { await crypto.subtle.sign('HMAC', aes, enc.encode('x')); } catch (e) { out.wrongKey = e.name; }
             try { await crypto.subtle.digest('MD5', enc.encode('x')); } catch (e) { out.md5 = e.name; }
             return out;
           }"#,
    );
    // Node 20 gives the same values for the same calls.
    assert_eq!(
        call(&mut l, "{}"),
        json!({
            "SHA-1": "a9993e364706816aba3e25717850c26c9cd0d89d",
            "SHA-256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            "SHA-512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            "hmac": "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            "verify": [true, false],
            "keyAlg": ["secret", "HMAC", "SHA-256", 24, false, ["sign", "verify"]],
            "ct": NODE_AES_GCM_CT,
            "pt": "secret message",
            "badTag": "OperationError",
            "jwk": { "kty": "oct", "k": "BwcHBwcHBwcHBwcHBwcHBw", "alg": "A128GCM", "ext": true, "key_ops": ["encrypt", "decrypt"] },
            "gen": [256, false],
            "notExtractable": "InvalidAccessError",
            "wrongKey": "InvalidAccessError",
            "md5": "NotSupportedError"
        })
    );
}

/// AES-128-GCM of "secret message" with key 16×0x07, iv 12×0x01 and
/// additional data "aad", as Node 20's `crypto.subtle.encrypt` gives it.
const NODE_AES_GCM_CT: &str = "d267af9aefc0d2044d2bdb9abeaacd0bf0ab83065991a5c3aacc47091a0b";

#[test]
fn set_timeout_waits_in_the_host() {
    let (builder, lines) = capturing_builder();
    let mut l = loaded_from(
        builder,
        r#"async function handler(e) {
             const t0 = Date.now();
             const order = [];
             setTimeout(() => order.push('b'), 20);
             setTimeout((x, y) => order.push(x + y), 5, 'a', '!');
             const id = setTimeout(() => order.push('never'), 1);
             clearTimeout(id);
             let n = 0;
             await new Promise((r) => { const i = setInterval(() => { if (++n === 3) { clearInterval(i); r(); } }, 2); });
             await new Promise((r) => setTimeout(r, e.ms));
             setTimeout(() => { throw new Error('dropped at the end of the call'); }, 0);
             return { order, n, waited: Date.now() - t0 };
           }"#,
    );
    let v = call(&mut l, r#"{"ms":30}"#);
    assert_eq!(v["order"], json!(["a!", "b"]));
    assert_eq!(v["n"], json!(3));
    // A timer never fires early by the guest's own clock (HTML: "wait at
    // least ms"), which a wait advances like the host's.
    assert!(v["waited"].as_i64().unwrap() >= 30, "{v}");
    // A timer left pending when the result was ready never fires, not even
    // in the next call (its callback would print an uncaught error).
    let v = call(&mut l, r#"{"ms":30}"#);
    assert_eq!(v["order"], json!(["a!", "b"]));
    let printed = lines.lock().unwrap();
    assert!(printed.is_empty(), "{printed:?}");
}

#[test]
fn a_timer_wait_counts_against_wall_clock_not_cpu_time() {
    let mut l = loaded_with(
        r#"async function handler(e) { await new Promise((r) => setTimeout(r, e.ms)); return e.ms; }"#,
    );
    let snap = l.snapshot().unwrap();
    // A wait four times the CPU budget completes: waiting is not charged.
    let cpu = CpuTimeMonitor::new(Duration::from_millis(100)).unwrap();
    assert_eq!(
        l.handle_event_with_monitor("h", r#"{"ms":400}"#, &cpu, None)
            .unwrap(),
        "400"
    );
    assert_eq!(l.last_call_stats().unwrap().terminated_by, None);
    // Under both limits, a wait of 23 days is ended by the wall clock, never
    // by the (smaller) CPU budget; only the kill can end it (the guard fails
    // the run if it does not).
    let both = (
        CpuTimeMonitor::new(Duration::from_millis(100)).unwrap(),
        WallClockMonitor::new(Duration::from_millis(500)).unwrap(),
    );
    let guard = hang_guard("a timer wait under both monitors", HANG_AFTER);
    let err = l
        .handle_event_with_monitor("h", FOREVER, &both, None)
        .unwrap_err();
    drop(guard);
    assert_cancelled(&err, Some("wall-clock"));
    l.restore(&snap).unwrap();
    assert_eq!(call(&mut l, r#"{"ms":1}"#), json!(1));
}

#[test]
fn kill_and_interrupt_end_a_timer_wait_at_once() {
    let mut l = loaded_with(
        r#"async function handler(e) { await new Promise((r) => setTimeout(r, e.ms)); return 'done'; }"#,
    );
    let snap = l.snapshot().unwrap();
    // The polite path: the wait ends, the call is cancelled, the sandbox
    // stays usable.
    // Both waits last 23 days: only the interrupt or the kill can end them
    // (the guard fails the run if they do not).
    let h = l.interrupt_handle();
    let asker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        while !h.request_interrupt() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let guard = hang_guard("a timer wait ended by request_interrupt()", HANG_AFTER);
    let err = l.handle_event("h", FOREVER, None).unwrap_err();
    drop(guard);
    asker.join().unwrap();
    assert_cancelled(&err, None);
    assert_eq!(call(&mut l, r#"{"ms":1}"#), json!("done"));
    // The hard path.
    let killer = kill_when_running(l.interrupt_handle(), Duration::from_millis(100));
    let guard = hang_guard("a timer wait ended by kill()", HANG_AFTER);
    let err = l.handle_event("h", FOREVER, None).unwrap_err();
    drop(guard);
    killer.join().unwrap();
    assert_cancelled(&err, None);
    l.restore(&snap).unwrap();
    assert_eq!(call(&mut l, r#"{"ms":1}"#), json!("done"));
}

#[test]
fn lazily_loaded_globals_behave_like_plain_ones() {
    let mut l = loaded_with(
        r#"function handler() {
             const before = [typeof URL, typeof structuredClone, typeof crypto.subtle.digest, 'URL' in globalThis];
             // A handler that replaces a global before first use keeps its own.
             globalThis.URLSearchParams = function Mine() {};
             const mine = URLSearchParams.name;
             const url = new URL('https://h/p?q=1');
             return { before, mine, after: URLSearchParams.name, q: url.searchParams.get('q'),
                      desc: typeof Object.getOwnPropertyDescriptor(globalThis, 'URL').value };
           }"#,
    );
    assert_eq!(
        call(&mut l, "{}"),
        json!({ "before": ["function", "function", "function", true], "mine": "Mine", "after": "Mine", "q": "1", "desc": "function" })
    );
}
