//! `Intl` (ECMA-402 on ICU4X) in the guest, and the ECMA-262 methods routed
//! through it, against real micro-VMs. Expected strings are what Node 22
//! (ICU 74+) prints for the same calls, except where a comment says why not.

mod common;
use common::*;
use serde_json::{json, Value};

/// Evaluates each expression (a JavaScript source string) in one sandbox
/// and returns their values.
fn eval_all(exprs: &[&str]) -> Vec<Value> {
    let body = exprs
        .iter()
        .map(|e| format!("(() => {{ try {{ return {e}; }} catch (x) {{ return 'threw ' + x.name + ': ' + x.message; }} }})()"))
        .collect::<Vec<_>>()
        .join(",\n");
    let mut l = loaded_with(&format!("function handler() {{ return [{body}]; }}"));
    match call(&mut l, "{}") {
        Value::Array(v) => v,
        v => panic!("not an array: {v}"),
    }
}

#[test]
fn the_issue_examples_now_match_node() {
    let v = eval_all(&[
        "typeof Intl",
        "new Date(Date.UTC(2024, 6, 1, 23, 0)).toLocaleString('en-US', { timeZone: 'America/New_York' })",
        "(1234567.891).toLocaleString('en-US')",
        "['b', 'a', 'B', 'A'].sort((x, y) => x.localeCompare(y)).join('')",
    ]);
    assert_eq!(
        v,
        vec![
            json!("object"),
            json!("7/1/2024, 7:00:00\u{202f}PM"),
            json!("1,234,567.891"),
            json!("aAbB")
        ]
    );
}

#[test]
fn numbers_currencies_percent_and_parts() {
    let v = eval_all(&[
        "(1234567.891).toLocaleString('de-DE')",
        "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(-1234.5)",
        "new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' }).format(1234.5)",
        "new Intl.NumberFormat('ja-JP', { style: 'currency', currency: 'JPY' }).format(1234.5)",
        "new Intl.NumberFormat('en-US', { style: 'percent' }).format(0.256)",
        "new Intl.NumberFormat('en', { maximumSignificantDigits: 3 }).format(123456)",
        "new Intl.NumberFormat('en', { minimumFractionDigits: 2 }).format(1.5)",
        "new Intl.NumberFormat('en', { useGrouping: false }).format(1234567)",
        "new Intl.NumberFormat('en-IN').format(12345678)",
        "new Intl.NumberFormat('ar-EG').format(1234.5)",
        "(1e21).toLocaleString('en')",
        "(12345678901234567890n).toLocaleString('en-US')",
        "new Intl.NumberFormat('en-US').formatToParts(-1234.56).map(p => p.type + ':' + p.value).join(' ')",
        "NaN.toLocaleString('en')",
        "new Intl.NumberFormat('en', { style: 'currency' })",
    ]);
    assert_eq!(
        v,
        vec![
            json!("1.234.567,891"),
            json!("-$1,234.50"),
            json!("1.234,50\u{a0}€"),
            json!("￥1,235"),
            json!("26%"),
            json!("123,000"),
            json!("1.50"),
            json!("1234567"),
            json!("1,23,45,678"),
            json!("١٬٢٣٤٫٥"),
            json!("1,000,000,000,000,000,000,000"),
            json!("12,345,678,901,234,567,890"),
            json!("minusSign:- integer:1 group:, integer:234 decimal:. fraction:56"),
            json!("NaN"),
            json!("threw TypeError: Currency code is required with currency style."),
        ]
    );
}

#[test]
fn dates_in_time_zones_styles_components_and_parts() {
    let v = eval_all(&[
        "new Intl.DateTimeFormat('en-US', { dateStyle: 'full', timeStyle: 'long', timeZone: 'Asia/Tokyo' }).format(0)",
        "new Intl.DateTimeFormat('ja-JP', { hour: 'numeric', minute: 'numeric', second: 'numeric', timeZone: 'Asia/Tokyo' }).format(0)",
        "new Intl.DateTimeFormat('de-DE', { dateStyle: 'long', timeZone: 'Europe/Berlin' }).format(Date.UTC(2024, 11, 31, 23, 30))",
        "new Intl.DateTimeFormat('en-US', { month: 'long', day: 'numeric', year: 'numeric', timeZone: 'UTC' }).format(0)",
        "new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', hour12: false, timeZone: 'UTC' }).format(0)",
        "new Date(0).toLocaleDateString('en-GB', { timeZone: 'UTC' })",
        "new Date(0).toLocaleTimeString('en-US', { timeZone: 'UTC' })",
        "new Date(NaN).toLocaleString()",
        "new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).formatToParts(0).map(p => p.type).join()",
        "JSON.stringify(new Intl.DateTimeFormat('en-US').resolvedOptions())",
        "new Intl.DateTimeFormat('en', { timeZone: 'Nowhere/Special' })",
        "new Intl.DateTimeFormat('en', { timeZone: 'america/new_york' }).resolvedOptions().timeZone",
        "['Europe/Zurich', 'Asia/Kolkata', 'Etc/GMT+1', 'UTC'].every(z => Intl.supportedValuesOf('timeZone').includes(z))",
    ]);
    assert_eq!(
        v,
        vec![
            json!("Thursday, January 1, 1970 at 9:00:00\u{202f}AM GMT+9"),
            json!("9:00:00"),
            json!("1. Januar 2025"),
            json!("January 1, 1970"),
            json!("00:00"),
            json!("01/01/1970"),
            json!("12:00:00\u{202f}AM"),
            json!("Invalid Date"),
            json!("month,literal,day,literal,year,literal,hour,literal,minute,literal,dayPeriod"),
            json!(
                r#"{"locale":"en-US","calendar":"gregory","numberingSystem":"latn","timeZone":"UTC","year":"numeric","month":"numeric","day":"numeric"}"#
            ),
            json!("threw RangeError: Invalid time zone specified: Nowhere/Special"),
            json!("America/New_York"),
            json!(true),
        ]
    );
}

#[test]
fn collation_plurals_lists_relative_time_segments_locales_and_case() {
    let v = eval_all(&[
        "new Intl.Collator('de', { sensitivity: 'base' }).compare('ä', 'a')",
        "['10', '9', '2'].sort(new Intl.Collator('en', { numeric: true }).compare).join()",
        "['a', 'B', 'A', 'b'].sort(new Intl.Collator('en', { caseFirst: 'upper' }).compare).join('')",
        "new Intl.PluralRules('en', { type: 'ordinal' }).select(22)",
        "new Intl.PluralRules('ar').resolvedOptions().pluralCategories.join()",
        "new Intl.ListFormat('en').format(['a', 'b', 'c'])",
        "new Intl.ListFormat('de', { type: 'disjunction' }).format(['a', 'b'])",
        "new Intl.RelativeTimeFormat('en', { numeric: 'auto' }).format(-1, 'day')",
        "new Intl.RelativeTimeFormat('es').format(3, 'hours')",
        "[...new Intl.Segmenter('en', { granularity: 'word' }).segment('Hello, world!')].filter(s => s.isWordLike).map(s => s.segment).join('|')",
        "[...new Intl.Segmenter().segment('e\\u0301👍🏽')].length",
        "new Intl.Locale('en-latn-us-u-ca-gregory').toString()",
        "new Intl.Locale('zh').maximize().toString()",
        "new Intl.Locale('en', { region: 'GB', hourCycle: 'h23' }).toString()",
        "Intl.getCanonicalLocales(['EN-us', 'zh-hant-tw', 'en-US']).join()",
        "Intl.getCanonicalLocales('en_US')",
        "Intl.NumberFormat.supportedLocalesOf(['en-US', 'xx', 'de']).join()",
        "'istanbul'.toLocaleUpperCase('tr')",
        "'I'.toLocaleLowerCase('tr')",
        "[1234, new Date(0)].toLocaleString('en-US', { timeZone: 'UTC' })",
    ]);
    assert_eq!(
        v,
        vec![
            json!(0),
            json!("2,9,10"),
            json!("AaBb"),
            json!("two"),
            json!("zero,one,two,few,many,other"),
            json!("a, b, and c"),
            json!("a oder b"),
            json!("yesterday"),
            json!("dentro de 3 horas"),
            json!("Hello|world"),
            json!(2),
            json!("en-Latn-US-u-ca-gregory"),
            json!("zh-Hans-CN"),
            json!("en-GB-u-hc-h23"),
            json!("en-US,zh-Hant-TW"),
            json!("threw RangeError: Incorrect locale information provided: en_US"),
            json!("en-US,de"),
            json!("İSTANBUL"),
            json!("ı"),
            json!("1,234,1/1/1970, 12:00:00\u{202f}AM"),
        ]
    );
}

#[test]
fn default_locale_and_time_zone_are_builder_options() {
    use hyperlight_js::SandboxBuilder;
    let src = "function handler() { return [new Date(0).toLocaleString(), (1234.5).toLocaleString(), \
               new Intl.DateTimeFormat().resolvedOptions().timeZone, new Intl.NumberFormat().resolvedOptions().locale]; }";
    let load = |b: SandboxBuilder| {
        let mut sb = b.build().unwrap().load_runtime().unwrap();
        sb.add_handler("h", src).unwrap();
        sb.get_loaded_sandbox().unwrap()
    };
    let mut l = load(SandboxBuilder::new());
    assert_eq!(
        l.handle_event("h", "{}", None).unwrap(),
        "[\"1/1/1970, 12:00:00\u{202f}AM\",\"1,234.5\",\"UTC\",\"en-US\"]"
    );
    let mut l = load(
        SandboxBuilder::new()
            .with_locale("de-CH")
            .with_time_zone("Europe/Zurich"),
    );
    // CLDR 47 (ICU4X 2.4): numeric day/month padded, ASCII apostrophe grouping.
    let expected = r#"["01.01.1970, 01:00:00","1'234.5","Europe/Zurich","de-CH"]"#;
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), expected);
    // The defaults survive unload (which resets the guest) and a reload.
    let mut sb = l.unload().unwrap();
    sb.add_handler("h", src).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), expected);
    // Bad values are clear errors at build time.
    for (b, what) in [
        (SandboxBuilder::new().with_locale("en_US"), "en_US"),
        (SandboxBuilder::new().with_locale("xx"), "xx"),
        (
            SandboxBuilder::new().with_time_zone("Mars/Olympus"),
            "Mars/Olympus",
        ),
    ] {
        match b.build() {
            Err(hyperlight_js::Error::InvalidArgument(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}
