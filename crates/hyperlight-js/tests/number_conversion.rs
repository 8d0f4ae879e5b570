//! Exact number conversion (issue 12 §5), checked against V8.
//!
//! `tests/data/number_corpus.js` generates a deterministic corpus from a
//! seed (random doubles, powers of two, decimal strings exactly at, just
//! above and just below the halfway point between two doubles, random
//! decimal text of up to 40 digits) and prints each case's conversions:
//! `String(x)`, `toExponential()`, `toPrecision(p)`, `toFixed(f)`,
//! `Number(s)`, `parseFloat(s)` and number literals (as bit patterns).
//! The same code runs in the guest and in `node` (V8); every line must be
//! equal. Node is required (the README's setup installs it): a missing
//! `node` fails the test.

mod common;

use std::process::Command;

const CORPUS: &str = include_str!("data/number_corpus.js");
/// Seeds (chunks) and cases per chunk: 40 × 2,000 = 80,000 cases, about
/// 150,000 conversions each way.
const CHUNKS: u64 = 40;
const PER_CHUNK: u64 = 2000;

fn v8_outputs() -> Vec<String> {
    let script = format!(
        "{CORPUS}\nfor (let i = 1; i <= {CHUNKS}; i++) {{ process.stdout.write(evaluate(i, {PER_CHUNK}) + '\\n\\u0000\\n'); }}"
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run node (needed as the V8 reference; ./scripts/setup.sh installs it): {e}"
            )
        });
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("node printed UTF-8");
    let chunks: Vec<String> = text
        .split("\n\u{0}\n")
        .map(str::to_string)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(chunks.len() as u64, CHUNKS);
    chunks
}

#[test]
fn number_to_string_and_back_match_v8() {
    let expected = v8_outputs();
    let mut loaded = common::loaded_with(&format!(
        "{CORPUS}\nfunction handler(e) {{ return evaluate(e.seed, e.n); }}"
    ));
    let mut mismatches = Vec::new();
    let mut lines = 0;
    for (i, want) in expected.iter().enumerate() {
        let seed = i as u64 + 1;
        let got = loaded
            .handle_event("h", format!(r#"{{"seed":{seed},"n":{PER_CHUNK}}}"#), None)
            .expect("corpus chunk");
        let got: String = serde_json::from_str(&got).expect("a JSON string");
        for (g, w) in got.lines().zip(want.lines()) {
            lines += 1;
            if g != w && mismatches.len() < 20 {
                mismatches.push(format!("seed {seed}:\n  guest {g}\n  v8    {w}"));
            }
        }
        assert_eq!(
            got.lines().count(),
            want.lines().count(),
            "seed {seed}: line count"
        );
    }
    assert!(lines > 100_000, "the corpus is large ({lines} lines)");
    assert!(
        mismatches.is_empty(),
        "guest and V8 differ:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn the_reported_cases() {
    let mut loaded = common::loaded_with(
        r#"function handler() {
            const s = '2.00000000000000022204460492503130808472633361816406250001';
            return [Number(s), parseFloat(s), 2.00000000000000022204460492503130808472633361816406250001,
                    JSON.parse(s), String(2 ** 149), (2 ** 149).toString(), String(-0), (-0).toExponential(),
                    String(1e21), String(1e-7), String(123e-20), String(0.000001), (5e-324).toString()];
        }"#,
    );
    let out = common::call(&mut loaded, "null");
    assert_eq!(
        out,
        serde_json::json!([
            2.0000000000000004,
            2.0000000000000004,
            2.0000000000000004,
            2.0000000000000004,
            "7.1362384635298e+44",
            "7.1362384635298e+44",
            "0",
            "0e+0",
            "1e+21",
            "1e-7",
            "1.23e-18",
            "0.000001",
            "5e-324"
        ])
    );
}
