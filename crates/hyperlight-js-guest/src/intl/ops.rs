//! The operations behind `Intl`'s native `op(name, ...args)`: thin calls
//! into ICU4X (and `jiff` for time-zone offsets). Every argument is a
//! string; see `intl.js` for what the glue passes.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::{self, Write as _};

use fixed_decimal::{Decimal, SignDisplay, SignedRoundingMode, UnsignedRoundingMode};
use icu_locale_core::{LanguageIdentifier, Locale};
use writeable::{Part, PartsWrite, Writeable};

use crate::sync::Single;

/// Why an operation failed: the JavaScript error class and its message.
pub enum Fail {
    Range(String),
    Type(String),
}

impl Fail {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Fail::Range(m) | Fail::Type(m) => m,
        }
    }
}

type R = Result<String, Fail>;

fn range(m: impl Into<String>) -> Fail {
    Fail::Range(m.into())
}

fn arg<'a>(a: &'a [String], i: usize) -> &'a str {
    a.get(i).map_or("", String::as_str)
}

fn num(a: &[String], i: usize) -> i16 {
    arg(a, i).parse().unwrap_or(0)
}

/// Runs operation `name` on `a`.
pub fn run(name: &str, a: &[String]) -> R {
    match name {
        "canonicalize" => canonicalize(arg(a, 0)),
        "lookup" => Ok(lookup(arg(a, 0))),
        "maximize" => expand(arg(a, 0), true),
        "minimize" => expand(arg(a, 0), false),
        "timeZone" => Ok(canonical_time_zone(arg(a, 0)).unwrap_or_default()),
        "timeZones" => Ok(time_zones()),
        "offset" => offset(arg(a, 0), arg(a, 1)),
        "number" => number(a),
        "plural" => plural(a),
        "pluralCategories" => plural_categories(arg(a, 0), arg(a, 1)),
        "collate" => collate(a),
        "dateTime" => date_time(a),
        "list" => list(a),
        "segment" => segment(a),
        "relativeTime" => relative_time(a),
        "upper" | "lower" => case(name == "upper", arg(a, 0), arg(a, 1)),
        _ => Err(Fail::Type(format!("Intl: unknown operation {name}"))),
    }
}

// ---------------------------------------------------------------------
// Locales

fn parse_locale(tag: &str) -> Result<Locale, Fail> {
    Locale::try_from_str(tag).map_err(|_| range(format!("Incorrect locale information provided: {tag}")))
}

/// The canonical form of a BCP 47 language tag (UTS 35 canonicalisation,
/// with the CLDR alias data), or a RangeError for a malformed one.
pub fn canonicalize(tag: &str) -> R {
    // ECMA-402 IsStructurallyValidLanguageTag: no extlang, no duplicate
    // variants or singletons; icu_locale_core enforces the rest.
    if tag.is_empty() || !tag.is_ascii() || tag.contains('_') {
        return Err(range(format!("Incorrect locale information provided: {tag}")));
    }
    let mut loc = parse_locale(tag)?;
    icu_locale::LocaleCanonicalizer::new_extended().canonicalize(&mut loc);
    Ok(loc.to_string())
}

/// Whether ICU4X's data has `id`'s language: loading data for it falls
/// back (en-US is stored as en) and stops at a locale of the same language
/// rather than at the root. Data that equals the root's is stored only
/// there (English decimal symbols, Japanese plural rules), so two markers
/// that differ for nearly every language are asked: decimal symbols and
/// "and" list patterns. A region or script of an available language is
/// available too (CLDR has no data for many of them of its own, and falls
/// back to the language's).
fn available(id: &LanguageIdentifier) -> bool {
    use icu_provider::prelude::*;
    fn has<M: DataMarker>(p: &impl DataProvider<M>, attrs: &DataMarkerAttributes, lang: &LanguageIdentifier) -> bool {
        let dl = DataLocale::from(lang.clone());
        let mut metadata = DataRequestMetadata::default();
        metadata.silent = true;
        let req = DataRequest {
            id: DataIdentifierBorrowed::for_marker_attributes_and_locale(attrs, &dl),
            metadata,
        };
        match p.load(req) {
            Ok(r) => r.metadata.locale.is_none_or(|l| l.language == lang.language),
            Err(_) => false,
        }
    }
    if id.language.is_unknown() {
        return false;
    }
    let lang = LanguageIdentifier::from((id.language, None, None));
    has::<icu_decimal::provider::DecimalSymbolsV1>(&icu_decimal::provider::Baked, Default::default(), &lang)
        || has::<icu_list::provider::ListAndV1>(&icu_list::provider::Baked, icu_list::provider::ListFormatterPatterns::WIDE, &lang)
}

/// ECMA-402 LookupMatcher for one locale (extensions removed): the longest
/// available prefix, or "" if none.
pub fn lookup(tag: &str) -> String {
    let Ok(loc) = Locale::try_from_str(tag) else {
        return String::new();
    };
    let mut id = loc.id.clone();
    loop {
        if available(&id) {
            return id.to_string();
        }
        if !id.variants.is_empty() {
            id.variants = Default::default();
        } else if id.region.is_some() {
            id.region = None;
        } else if id.script.is_some() {
            id.script = None;
        } else {
            return String::new();
        }
    }
}

fn expand(tag: &str, max: bool) -> R {
    let mut loc = parse_locale(tag)?;
    let e = icu_locale::LocaleExpander::new_extended();
    if max {
        e.maximize(&mut loc.id);
    } else {
        e.minimize(&mut loc.id);
    }
    Ok(loc.to_string())
}

// ---------------------------------------------------------------------
// Time zones

/// The canonical IANA name of a time zone (case-insensitive), `UTC` for
/// the UTC aliases, or `None` when the database does not have it. Offsets
/// (`+01:00`) are returned normalised.
pub fn canonical_time_zone(name: &str) -> Option<String> {
    if let Some(off) = parse_offset(name) {
        let sign = if off < 0 { '-' } else { '+' };
        let m = off.unsigned_abs() / 60;
        return Some(format!("{sign}{:02}:{:02}", m / 60, m % 60));
    }
    if name.eq_ignore_ascii_case("utc") {
        return Some("UTC".into());
    }
    let tz = jiff::tz::db().get(name).ok()?;
    tz.iana_name().map(ToOwned::to_owned)
}

/// Every zone of the bundled IANA database whose name is canonical (its
/// own primary name, not a link), sorted, as a JSON array; `UTC` for the
/// UTC aliases.
fn time_zones() -> String {
    let db = jiff::tz::db();
    let mut names: Vec<String> = db
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| !n.starts_with("posix") && !n.starts_with("right/") && n.contains('/') || n == "UTC")
        .collect();
    names.sort();
    names.dedup();
    let mut out = String::from("[");
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, n);
    }
    out.push(']');
    out
}

/// `±HH:MM` (or `±HH`, `±HHMM`) as seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: Vec<u8> = b[1..].iter().copied().filter(|&c| c != b':').collect();
    if !digits.iter().all(u8::is_ascii_digit) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    if b.len() == 6 && b[3] != b':' {
        return None;
    }
    let h = ((digits[0] - b'0') * 10 + (digits[1] - b'0')) as i32;
    let m = if digits.len() == 4 { ((digits[2] - b'0') * 10 + (digits[3] - b'0')) as i32 } else { 0 };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Seconds east of UTC of zone `tz` at `ms` milliseconds since the epoch.
fn offset_at(tz: &str, ms: f64) -> Result<i32, Fail> {
    if let Some(o) = parse_offset(tz) {
        return Ok(o);
    }
    if tz == "UTC" {
        return Ok(0);
    }
    let zone = jiff::tz::db().get(tz).map_err(|_| range(format!("Invalid time zone specified: {tz}")))?;
    let ts = jiff::Timestamp::from_millisecond(ms as i64).map_err(|_| range("Invalid time value"))?;
    Ok(zone.to_offset(ts).seconds())
}

fn offset(tz: &str, ms: &str) -> R {
    let ms: f64 = ms.parse().map_err(|_| range("Invalid time value"))?;
    Ok(offset_at(tz, ms)?.to_string())
}

// ---------------------------------------------------------------------
// Parts

/// Collects a `Writeable`'s output as (part, text) runs; text outside any
/// part is `literal`. A date field names everything inside it (it wraps
/// the digits the number formatter marks); otherwise the innermost part
/// does (a group separator inside an integer). Adjacent text of the same
/// part is one run; each new top-level part starts a run.
#[derive(Default)]
struct Parts {
    runs: Vec<(&'static str, String)>,
    stack: Vec<Part>,
    fresh: bool,
}

impl fmt::Write for Parts {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        let label = match self.stack.first() {
            None => "literal",
            Some(p) if p.category == "datetime" => p.value,
            Some(_) => self.stack.last().map_or("literal", |p| p.value),
        };
        match self.runs.last_mut() {
            Some((l, text)) if *l == label && !self.fresh => text.push_str(s),
            _ => self.runs.push((label, s.to_owned())),
        }
        self.fresh = false;
        Ok(())
    }
}

impl PartsWrite for Parts {
    type SubPartsWrite = Self;
    fn with_part(&mut self, part: Part, mut f: impl FnMut(&mut Self) -> fmt::Result) -> fmt::Result {
        if self.stack.is_empty() && part.category == "datetime" {
            self.fresh = true;
        }
        self.stack.push(part);
        let r = f(self);
        self.stack.pop();
        r
    }
}

impl Parts {
    fn of(w: &impl Writeable) -> Self {
        let mut p = Parts::default();
        let _ = w.write_to_parts(&mut p);
        p.runs.retain(|(_, t)| !t.is_empty());
        p
    }

    /// `[["type","value"],...]`.
    fn json(&self) -> String {
        let mut out = String::from("[");
        for (i, (t, v)) in self.runs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "[\"{t}\",");
            json_str(&mut out, v);
            out.push(']');
        }
        out.push(']');
        out
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------
// Numbers

fn rounding_mode(s: &str) -> SignedRoundingMode {
    use SignedRoundingMode as S;
    use UnsignedRoundingMode as U;
    match s {
        "ceil" => S::Ceil,
        "floor" => S::Floor,
        "expand" => S::Unsigned(U::Expand),
        "trunc" => S::Unsigned(U::Trunc),
        "halfCeil" => S::HalfCeil,
        "halfFloor" => S::HalfFloor,
        "halfTrunc" => S::Unsigned(U::HalfTrunc),
        "halfEven" => S::Unsigned(U::HalfEven),
        _ => S::Unsigned(U::HalfExpand),
    }
}

/// Digit options as the glue resolved them (ECMA-402
/// SetNumberFormatDigitOptions): `[minInt, minFD, maxFD, minSD, maxSD,
/// roundingMode, roundingPriority]`, maxSD 0 meaning fraction digits.
struct Digits {
    min_int: i16,
    min_fd: i16,
    max_fd: i16,
    min_sd: i16,
    max_sd: i16,
    mode: SignedRoundingMode,
    priority: String,
}

impl Digits {
    fn from(a: &[String], at: usize) -> Self {
        Digits {
            min_int: num(a, at),
            min_fd: num(a, at + 1),
            max_fd: num(a, at + 2),
            min_sd: num(a, at + 3),
            max_sd: num(a, at + 4),
            mode: rounding_mode(arg(a, at + 5)),
            priority: arg(a, at + 6).to_owned(),
        }
    }

    fn by_significant(&self, d: &Decimal) -> Decimal {
        let mut x = d.clone();
        if x.absolute.is_zero() {
            x.absolute.pad_end(-(self.min_sd - 1));
            return x;
        }
        let msd = x.absolute.nonzero_magnitude_start();
        x.round_with_mode(msd - self.max_sd + 1, self.mode);
        let msd = x.absolute.nonzero_magnitude_start();
        x.absolute.pad_end(msd - self.min_sd + 1);
        x
    }

    fn by_fraction(&self, d: &Decimal) -> Decimal {
        let mut x = d.clone();
        x.round_with_mode(-self.max_fd, self.mode);
        x.absolute.pad_end(-self.min_fd);
        x
    }

    fn apply(&self, d: &Decimal) -> Decimal {
        let mut x = match (self.max_sd > 0, self.priority.as_str()) {
            (true, "morePrecision" | "lessPrecision") => {
                let s = self.by_significant(d);
                let f = self.by_fraction(d);
                let (smag, fmag) = (s.absolute.nonzero_magnitude_end(), f.absolute.nonzero_magnitude_end());
                let s_more = smag <= fmag;
                if (self.priority == "morePrecision") == s_more {
                    s
                } else {
                    f
                }
            }
            (true, _) => self.by_significant(d),
            (false, _) => self.by_fraction(d),
        };
        // Trailing zeros beyond the minimum go (1.50 with minFD 0 → 1.5).
        let keep = if self.max_sd > 0 && self.priority != "morePrecision" && self.priority != "lessPrecision" {
            let msd = x.absolute.nonzero_magnitude_start().max(0);
            msd - self.min_sd + 1
        } else {
            -self.min_fd
        };
        let end = x.absolute.nonzero_magnitude_end();
        if end > keep || x.absolute.is_zero() {
            x.absolute.trim_end();
            x.absolute.pad_end(keep.min(0));
        }
        x.absolute.pad_start(self.min_int.max(1));
        x
    }
}

fn parse_decimal(s: &str) -> Result<Decimal, Fail> {
    Decimal::try_from_str(s.trim_start_matches('+')).map_err(|_| range(format!("Intl: cannot format {s}")))
}

fn locale_prefs(tag: &str) -> Result<Locale, Fail> {
    parse_locale(tag)
}

/// `number(locale, style, currency, currencyDisplay, useGrouping,
/// signDisplay, minInt, minFD, maxFD, minSD, maxSD, roundingMode,
/// roundingPriority, value)` → parts. `value` is a decimal string
/// (finite); style `percent` multiplies by 100 first.
fn number(a: &[String]) -> R {
    use icu_decimal::options::{DecimalFormatterOptions, GroupingStrategy};
    use icu_decimal::DecimalFormatter;
    let loc = locale_prefs(arg(a, 0))?;
    let style = arg(a, 1);
    let grouping = match arg(a, 4) {
        "false" => GroupingStrategy::Never,
        "min2" => GroupingStrategy::Min2,
        "always" => GroupingStrategy::Always,
        _ => GroupingStrategy::Auto,
    };
    let sign = match arg(a, 5) {
        "never" => SignDisplay::Never,
        "always" => SignDisplay::Always,
        "exceptZero" => SignDisplay::ExceptZero,
        "negative" => SignDisplay::Negative,
        _ => SignDisplay::Auto,
    };
    let digits = Digits::from(a, 6);
    let mut d = parse_decimal(arg(a, 13))?;
    if style == "percent" {
        d.multiply_pow10(2);
    }
    let notation = arg(a, 14);
    if (notation == "compact" || notation == "scientific" || notation == "engineering") && style == "decimal" {
        d.apply_sign_display(sign);
        return notated(&loc, notation, arg(a, 15), grouping, &digits, d);
    }
    let mut d = digits.apply(&d);
    d.apply_sign_display(sign);
    let parts = match style {
        "currency" => {
            use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
            use icu_experimental::dimension::currency::options::CurrencyFormatterOptions;
            use icu_experimental::dimension::currency::CurrencyType;
            let code = CurrencyType::try_from_str(&arg(a, 2).to_ascii_lowercase()).map_err(|_| range("Invalid currency code"))?;
            let mut opts = CurrencyFormatterOptions::default();
            if arg(a, 16) == "accounting" {
                opts.usage = icu_experimental::dimension::currency::options::CurrencyUsage::Accounting;
            }
            let f = match arg(a, 3) {
                "code" => CurrencyFormatter::try_new_code((&loc).into(), code, opts),
                "name" => CurrencyFormatter::try_new_name((&loc).into(), code),
                "narrowSymbol" => CurrencyFormatter::try_new_symbol_narrow((&loc).into(), code, opts),
                _ => CurrencyFormatter::try_new_symbol((&loc).into(), code, opts),
            }
            .map_err(|e| range(format!("Intl.NumberFormat: no currency data: {e}")))?;
            let p = Parts::of(&f.format_fixed_decimal(&d));
            p
        }
        "percent" => {
            use icu_experimental::dimension::percent::formatter::PercentFormatter;
            let f = PercentFormatter::try_new((&loc).into(), Default::default()).map_err(|e| range(format!("Intl.NumberFormat: {e}")))?;
            // The percent formatter marks no parts: find the number's own
            // (marked) digits in its output and name what surrounds them.
            let full = f.format(&d).write_to_string().into_owned();
            let mut o = DecimalFormatterOptions::default();
            o.grouping_strategy = Some(grouping);
            let df = DecimalFormatter::try_new((&loc).into(), o).map_err(|e| range(format!("Intl.NumberFormat: {e}")))?;
            let mut abs = d.clone();
            abs.sign = fixed_decimal::Sign::None;
            let digits = Parts::of(&df.format(&abs));
            let text: String = digits.runs.iter().map(|r| r.1.as_str()).collect();
            match full.find(&text) {
                Some(i) => {
                    let mut p = Parts::default();
                    affix_parts(&mut p, &full[..i]);
                    p.runs.extend(digits.runs);
                    affix_parts(&mut p, &full[i + text.len()..]);
                    p
                }
                None => Parts { runs: alloc::vec![("literal", full)], ..Default::default() },
            }
        }
        _ => {
            let mut o = DecimalFormatterOptions::default();
            o.grouping_strategy = Some(grouping);
            let f = DecimalFormatter::try_new((&loc).into(), o).map_err(|e| range(format!("Intl.NumberFormat: {e}")))?;
            Parts::of(&f.format(&d))
        }
    };
    Ok(parts.json())
}

/// Compact, scientific and engineering notation (ECMA-402
/// ComputeExponent): the exponent chosen from the magnitude, the
/// significand rounded with the digit options, once more if rounding
/// carried into the next power of ten. `d` is already signed as
/// `signDisplay` says (and, for percent, scaled).
fn notated(loc: &Locale, notation: &str, display: &str, grouping: icu_decimal::options::GroupingStrategy, digits: &Digits, d: Decimal) -> R {
    use icu_decimal::options::{CompactDecimalFormatterOptions, DecimalFormatterOptions};
    use icu_decimal::{CompactDecimalFormatter, DecimalFormatter};
    let magnitude = |x: &Decimal| if x.absolute.is_zero() { 0 } else { x.absolute.nonzero_magnitude_start() };
    if notation == "compact" {
        let mut o = CompactDecimalFormatterOptions::default();
        o.grouping_strategy = Some(grouping);
        let f = if display == "long" {
            CompactDecimalFormatter::try_new_long(loc.into(), o)
        } else {
            CompactDecimalFormatter::try_new_short(loc.into(), o)
        }
        .map_err(|e| range(format!("Intl.NumberFormat: {e}")))?;
        let m = magnitude(&d);
        let mut e = m.max(0);
        loop {
            let mut sig = d.clone();
            sig.multiply_pow10(-e);
            let r = digits.apply(&sig);
            if let Ok(w) = f.format_with_exponent(&r, e as u8) {
                return Ok(Parts::of(&w).json());
            }
            if e == 0 {
                let r = digits.apply(&d);
                return Ok(Parts::of(&f.format(&r)).json());
            }
            e -= 1;
        }
    }
    let mut o = DecimalFormatterOptions::default();
    o.grouping_strategy = Some(grouping);
    let f = DecimalFormatter::try_new(loc.into(), o).map_err(|e| range(format!("Intl.NumberFormat: {e}")))?;
    let exp_for = |m: i16| if notation == "engineering" { m.div_euclid(3) * 3 } else { m };
    let mut e = exp_for(magnitude(&d));
    let mut sig = d.clone();
    sig.multiply_pow10(-e);
    let mut r = digits.apply(&sig);
    if magnitude(&r) - magnitude(&sig) > 0 && !r.absolute.is_zero() {
        e = exp_for(magnitude(&d) + 1);
        sig = d.clone();
        sig.multiply_pow10(-e);
        r = digits.apply(&sig);
    }
    let mut p = Parts::of(&f.format(&r));
    p.runs.push(("exponentSeparator", "E".into()));
    if e < 0 {
        p.runs.push(("exponentMinusSign", "-".into()));
    }
    p.runs.push(("exponentInteger", e.unsigned_abs().to_string()));
    Ok(p.json())
}

/// Names the characters around a number: signs, percent signs, the rest
/// literal.
fn affix_parts(p: &mut Parts, s: &str) {
    for c in s.chars() {
        let t = match c {
            '-' | '\u{2212}' => "minusSign",
            '+' => "plusSign",
            '%' | '\u{066A}' | '\u{FF05}' | '\u{2030}' => "percentSign",
            _ => "literal",
        };
        match p.runs.last_mut() {
            Some((l, text)) if *l == t && t == "literal" => text.push(c),
            _ => p.runs.push((t, c.to_string())),
        }
    }
}

fn plural_rules(tag: &str, kind: &str) -> Result<icu_plurals::PluralRules, Fail> {
    let loc = locale_prefs(tag)?;
    let r = if kind == "ordinal" {
        icu_plurals::PluralRules::try_new_ordinal((&loc).into())
    } else {
        icu_plurals::PluralRules::try_new_cardinal((&loc).into())
    };
    r.map_err(|e| range(format!("Intl.PluralRules: {e}")))
}

fn category_name(c: icu_plurals::PluralCategory) -> &'static str {
    use icu_plurals::PluralCategory as C;
    match c {
        C::Zero => "zero",
        C::One => "one",
        C::Two => "two",
        C::Few => "few",
        C::Many => "many",
        C::Other => "other",
    }
}

/// `plural(locale, type, minInt, minFD, maxFD, minSD, maxSD, mode,
/// priority, value)` → category.
fn plural(a: &[String]) -> R {
    let rules = plural_rules(arg(a, 0), arg(a, 1))?;
    let digits = Digits::from(a, 2);
    let d = digits.apply(&parse_decimal(arg(a, 9))?);
    Ok(category_name(rules.category_for(&d)).into())
}

fn plural_categories(tag: &str, kind: &str) -> R {
    let rules = plural_rules(tag, kind)?;
    let mut out = String::from("[");
    for (i, c) in rules.categories().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\"", category_name(c));
    }
    out.push(']');
    Ok(out)
}

// ---------------------------------------------------------------------
// Collation

type CollatorKey = String;
static COLLATORS: Single<RefCell<Vec<(CollatorKey, icu_collator::CollatorBorrowed<'static>)>>> = Single::new(RefCell::new(Vec::new()));

/// `collate(locale, sensitivity, ignorePunctuation, a, b)` → -1, 0 or 1.
/// The locale carries `-u-kn`/`-u-kf`/`-u-co` as the glue resolved them.
fn collate(a: &[String]) -> R {
    use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, Strength};
    let key = format!("{}\u{0}{}\u{0}{}", arg(a, 0), arg(a, 1), arg(a, 2));
    let mut cache = COLLATORS.get().borrow_mut();
    let at = match cache.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            let loc = locale_prefs(arg(a, 0))?;
            let mut o = CollatorOptions::default();
            match arg(a, 1) {
                "base" => o.strength = Some(Strength::Primary),
                "accent" => o.strength = Some(Strength::Secondary),
                "case" => {
                    o.strength = Some(Strength::Primary);
                    o.case_level = Some(CaseLevel::On);
                }
                _ => o.strength = Some(Strength::Tertiary),
            }
            if arg(a, 2) == "true" {
                o.alternate_handling = Some(AlternateHandling::Shifted);
            }
            let c = icu_collator::Collator::try_new((&loc).into(), o).map_err(|e| range(format!("Intl.Collator: {e}")))?;
            if cache.len() >= 8 {
                cache.remove(0);
            }
            cache.push((key, c));
            cache.len() - 1
        }
    };
    let ord = cache[at].1.compare(arg(a, 3), arg(a, 4));
    Ok(match ord {
        core::cmp::Ordering::Less => "-1",
        core::cmp::Ordering::Equal => "0",
        core::cmp::Ordering::Greater => "1",
    }
    .into())
}

// ---------------------------------------------------------------------
// Dates

/// `dateTime(locale, kind, spec, timeZone, epochMs)` → parts. `kind` is
/// `skeleton` (spec: a UTS 35 skeleton built from the component options)
/// or `style` (spec: `dateStyle,timeStyle`, either may be empty). The
/// locale carries `-u-ca`/`-u-hc`/`-u-nu`.
fn date_time(a: &[String]) -> R {
    use icu_datetime::fieldsets::builder::{DateFields, FieldSetBuilder, ZoneStyle};
    use icu_datetime::fieldsets::enums::CompositeFieldSet;
    use icu_datetime::options::{Length, TimePrecision};
    use icu_datetime::DateTimeFormatter;
    use icu_time::zone::{IanaParser, UtcOffset};
    use icu_time::{DateTime, ZonedDateTime};

    let loc = locale_prefs(arg(a, 0))?;
    let tz = arg(a, 3);
    let ms: f64 = arg(a, 4).parse().map_err(|_| range("Invalid time value"))?;
    let set: CompositeFieldSet = if arg(a, 1) == "skeleton" {
        icu_datetime::fieldbag::DateTimeFieldBag::from_skeleton(arg(a, 2)).to_composite_field_set()
    } else {
        let (ds, ts) = arg(a, 2).split_once(',').unwrap_or(("", ""));
        let len = |s: &str| match s {
            "full" | "long" => Length::Long,
            "short" => Length::Short,
            _ => Length::Medium,
        };
        let mut b = FieldSetBuilder::new();
        if !ds.is_empty() {
            b.length = Some(len(ds));
            b.date_fields = Some(if ds == "full" { DateFields::YMDE } else { DateFields::YMD });
        }
        if !ts.is_empty() {
            if ds.is_empty() {
                b.length = Some(len(ts));
            }
            b.time_precision = Some(if ts == "short" { TimePrecision::Minute } else { TimePrecision::Second });
            match ts {
                "full" => b.zone_style = Some(ZoneStyle::SpecificLong),
                "long" => b.zone_style = Some(ZoneStyle::SpecificShort),
                _ => {}
            }
        }
        b.build_composite().map_err(|e| range(format!("Intl.DateTimeFormat: {e:?}")))?
    };
    let f = DateTimeFormatter::try_new((&loc).into(), set).map_err(|e| range(format!("Intl.DateTimeFormat: {e}")))?;
    let secs = offset_at(tz, ms)?;
    let off = UtcOffset::try_from_seconds(secs).map_err(|_| range("Intl.DateTimeFormat: offset out of range"))?;
    let local = ZonedDateTime::from_epoch_milliseconds_and_utc_offset(ms as i64, off);
    let zone_id = if parse_offset(tz).is_some() { icu_time::TimeZone::UNKNOWN } else { IanaParser::new().parse(tz) };
    let zone = zone_id.with_offset(Some(off)).at_date_time(DateTime { date: local.date, time: local.time });
    let input = ZonedDateTime { date: local.date, time: local.time, zone };
    Ok(Parts::of(&f.format(&input)).json())
}

// ---------------------------------------------------------------------
// Lists, segments, relative time, case

/// `list(locale, type, style, json items)` → parts.
fn list(a: &[String]) -> R {
    use icu_list::options::{ListFormatterOptions, ListLength};
    use icu_list::ListFormatter;
    let loc = locale_prefs(arg(a, 0))?;
    let len = match arg(a, 2) {
        "short" => ListLength::Short,
        "narrow" => ListLength::Narrow,
        _ => ListLength::Wide,
    };
    let o = ListFormatterOptions::default().with_length(len);
    let f = match arg(a, 1) {
        "disjunction" => ListFormatter::try_new_or((&loc).into(), o),
        "unit" => ListFormatter::try_new_unit((&loc).into(), o),
        _ => ListFormatter::try_new_and((&loc).into(), o),
    }
    .map_err(|e| range(format!("Intl.ListFormat: {e}")))?;
    let items: Vec<&str> = a[3..].iter().map(String::as_str).collect();
    Ok(Parts::of(&f.format(items.iter())).json())
}

/// `segment(granularity, locale, text)` → `[[start, isWordLike], ...]`
/// in UTF-16 code units, the last entry being the end.
fn segment(a: &[String]) -> R {
    use icu_segmenter::options::{SentenceBreakInvariantOptions, WordBreakInvariantOptions};
    let text: Vec<u16> = arg(a, 2).encode_utf16().collect();
    let mut out = String::from("[");
    let mut push = |i: usize, w: bool, first: bool| {
        if !first {
            out.push(',');
        }
        let _ = write!(out, "[{i},{}]", if w { 1 } else { 0 });
    };
    match arg(a, 0) {
        "word" => {
            let s = icu_segmenter::WordSegmenter::new_for_non_complex_scripts(WordBreakInvariantOptions::default());
            let mut it = s.segment_utf16(&text);
            let mut first = true;
            while let Some(i) = it.next() {
                push(i, it.is_word_like(), first);
                first = false;
            }
        }
        "sentence" => {
            let s = icu_segmenter::SentenceSegmenter::new(SentenceBreakInvariantOptions::default());
            for (n, i) in s.segment_utf16(&text).enumerate() {
                push(i, false, n == 0);
            }
        }
        _ => {
            let s = icu_segmenter::GraphemeClusterSegmenter::new();
            for (n, i) in s.segment_utf16(&text).enumerate() {
                push(i, false, n == 0);
            }
        }
    }
    out.push(']');
    Ok(out)
}

/// `relativeTime(locale, style, numeric, unit, value)` → parts.
fn relative_time(a: &[String]) -> R {
    use icu_experimental::relativetime::options::{Numeric, RelativeTimeFormatterOptions};
    use icu_experimental::relativetime::RelativeTimeFormatter as F;
    let loc = locale_prefs(arg(a, 0))?;
    let mut o = RelativeTimeFormatterOptions::default();
    o.numeric = Some(if arg(a, 2) == "auto" { Numeric::Auto } else { Numeric::Always });
    let p = (&loc).into();
    let f = match (arg(a, 1), arg(a, 3)) {
        ("short", "second") => F::try_new_short_second(p, o),
        ("short", "minute") => F::try_new_short_minute(p, o),
        ("short", "hour") => F::try_new_short_hour(p, o),
        ("short", "day") => F::try_new_short_day(p, o),
        ("short", "week") => F::try_new_short_week(p, o),
        ("short", "month") => F::try_new_short_month(p, o),
        ("short", "quarter") => F::try_new_short_quarter(p, o),
        ("short", _) => F::try_new_short_year(p, o),
        ("narrow", "second") => F::try_new_narrow_second(p, o),
        ("narrow", "minute") => F::try_new_narrow_minute(p, o),
        ("narrow", "hour") => F::try_new_narrow_hour(p, o),
        ("narrow", "day") => F::try_new_narrow_day(p, o),
        ("narrow", "week") => F::try_new_narrow_week(p, o),
        ("narrow", "month") => F::try_new_narrow_month(p, o),
        ("narrow", "quarter") => F::try_new_narrow_quarter(p, o),
        ("narrow", _) => F::try_new_narrow_year(p, o),
        (_, "second") => F::try_new_long_second(p, o),
        (_, "minute") => F::try_new_long_minute(p, o),
        (_, "hour") => F::try_new_long_hour(p, o),
        (_, "day") => F::try_new_long_day(p, o),
        (_, "week") => F::try_new_long_week(p, o),
        (_, "month") => F::try_new_long_month(p, o),
        (_, "quarter") => F::try_new_long_quarter(p, o),
        _ => F::try_new_long_year(p, o),
    }
    .map_err(|e| range(format!("Intl.RelativeTimeFormat: {e}")))?;
    let d = parse_decimal(arg(a, 4))?;
    Ok(Parts::of(&f.format(d)).json())
}

fn case(upper: bool, tag: &str, s: &str) -> R {
    let id = if tag.is_empty() { LanguageIdentifier::UNKNOWN } else { parse_locale(tag)?.id };
    let m = icu_casemap::CaseMapper::new();
    Ok(if upper { m.uppercase_to_string(s, &id) } else { m.lowercase_to_string(s, &id) }.into_owned())
}


