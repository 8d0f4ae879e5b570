//! The language smoke suite: ES2015–ES2023 syntax and built-ins, run inside
//! the guest, compared against the checked-in baseline of known failures.

mod common;
use std::collections::BTreeSet;

use common::*;

const SMOKE: &str = include_str!("language/smoke.js");
const BASELINE: &str = include_str!("language/baseline.txt");

#[test]
fn language_features_match_the_baseline() {
    let mut l = loaded_with(SMOKE);
    let names: Vec<String> = serde_json::from_value(call(&mut l, r#"{"list":true}"#)).unwrap();
    assert!(names.len() > 50, "only {} checks listed", names.len());
    let mut failing = BTreeSet::new();
    let mut report = Vec::new();
    for name in &names {
        let r = call(&mut l, &serde_json::json!({ "name": name }).to_string());
        if r["ok"] != serde_json::json!(true) {
            report.push(format!("{name}: {}", r["why"]));
            failing.insert(name.clone());
        }
    }
    let baseline: BTreeSet<String> = BASELINE
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let new_failures: Vec<_> = failing.difference(&baseline).collect();
    let now_passing: Vec<_> = baseline.difference(&failing).collect();
    assert!(
        new_failures.is_empty() && now_passing.is_empty(),
        "language smoke suite differs from tests/language/baseline.txt\n\
         new failures: {new_failures:?}\nnow passing (remove from the baseline): {now_passing:?}\n\
         all failures:\n{}",
        report.join("\n")
    );
}
