//! Exact number ↔ decimal string conversion for the engine.
//!
//! QuickJS-ng's own conversions (`dtoa.c`, "tiny float64 printing and
//! parsing library") have two faults:
//!
//! * parsing (`js_atod`) keeps at most a fixed number of significant
//!   digits and *truncates* the rest, so a decimal just above a halfway
//!   point between two doubles rounds down:
//!   `Number('2.00000000000000022204460492503130808472633361816406250001')`
//!   gave `2` instead of `2.0000000000000004`;
//! * shortest printing (`js_dtoa` in free format) tries ever fewer digits
//!   and stops at the first count that does not round-trip, but
//!   round-tripping is not monotonic in the digit count, so some values
//!   print with more digits than needed: `String(2 ** 149)` gave
//!   `7.1362384635297994e+44` instead of `7.1362384635298e+44`.
//!
//! Both are used by every path (number literals, `Number()`,
//! `parseFloat`, `String()`, `toString()`, `toExponential()` without
//! digits, JSON output); `JSON.parse` uses libc's `strtod`, which is
//! correct. The fix is in how the engine is linked: the guest is linked
//! with `-Wl,--wrap=js_dtoa,--wrap=js_atod` (see `.cargo/config.toml`), so
//! the engine's calls (from `quickjs.c`, a different object than `dtoa.c`)
//! reach `__wrap_js_dtoa` / `__wrap_js_atod` below, which handle base 10
//! with Rust's `core` conversions (correctly rounded parsing, Eisel-Lemire
//! with an arbitrary-precision fallback; shortest round-trip printing,
//! Grisu with a Dragon4 fallback) and pass everything else (other radixes,
//! fixed digit counts for `toFixed`/`toPrecision`/`toExponential(n)`, which
//! are exact in `dtoa.c`) to the original, `__real_js_dtoa` /
//! `__real_js_atod`.

use core::ffi::{c_char, c_int, c_void};
use core::fmt::Write;

// Flags of dtoa.h (QuickJS-ng 0.16).
const JS_DTOA_FORMAT_MASK: c_int = 3;
const JS_DTOA_FORMAT_FREE: c_int = 0;
const JS_DTOA_EXP_MASK: c_int = 3 << 2;
const JS_DTOA_EXP_ENABLED: c_int = 1 << 2;
const JS_DTOA_EXP_DISABLED: c_int = 2 << 2;
const JS_DTOA_MINUS_ZERO: c_int = 1 << 4;
const JS_ATOD_ACCEPT_UNDERSCORES: c_int = 1 << 3;

extern "C" {
    fn __real_js_dtoa(buf: *mut c_char, d: f64, radix: c_int, n_digits: c_int, flags: c_int, tmp: *mut c_void) -> c_int;
    fn __real_js_atod(s: *const c_char, pnext: *mut *const c_char, radix: c_int, flags: c_int, tmp: *mut c_void) -> f64;
}

/// A fixed-size writer for `{:e}` output.
struct Buf {
    b: [u8; 40],
    n: usize,
}

impl Write for Buf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.n.checked_add(s.len()).filter(|&e| e <= self.b.len()).ok_or(core::fmt::Error)?;
        self.b[self.n..end].copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

/// Decimal digits (no trailing zeros) and the exponent `n` such that the
/// value is `0.d × 10^n`, from Rust's `{:e}` output (`d.ddde±x`).
fn split_exp(s: &[u8]) -> ([u8; 17], usize, i32) {
    let e_pos = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let mut digits = [0u8; 17];
    let mut k = 0;
    for &c in &s[..e_pos] {
        if c.is_ascii_digit() && k < digits.len() {
            digits[k] = c;
            k += 1;
        }
    }
    while k > 1 && digits[k - 1] == b'0' {
        k -= 1;
    }
    let mut exp: i32 = 0;
    let mut neg = false;
    for &c in s.get(e_pos + 1..).unwrap_or(&[]) {
        match c {
            b'-' => neg = true,
            b'0'..=b'9' => exp = exp * 10 + i32::from(c - b'0'),
            _ => {}
        }
    }
    if neg {
        exp = -exp;
    }
    (digits, k, exp + 1)
}

/// The digits of Number::toString (ECMA-262 6.1.6.1.20) for a finite
/// positive `x`: the fewest digits `k` that round-trip and, among those,
/// the `k`-digit decimal closest to `x`, the even one on a tie.
fn shortest(x: f64) -> ([u8; 17], usize, i32) {
    let mut w = Buf { b: [0; 40], n: 0 };
    // `{:e}` prints the fewest digits that round-trip (Grisu, Dragon4
    // fallback), but rounds a tie between two such `k`-digit decimals up:
    // 2 ** -25 = 2.98023223876953125e-8 gives "...313e-8" where the spec's
    // even choice is "...312e-8".
    let _ = write!(w, "{:e}", x);
    let short = split_exp(&w.b[..w.n]);
    let k = short.1;
    // The correctly rounded `k`-digit decimal (Rust's exact mode rounds
    // ties to even) is the closest one; use it when it round-trips.
    let mut exact = Buf { b: [0; 40], n: 0 };
    let _ = write!(exact, "{:.*e}", k - 1, x);
    let round_trips = core::str::from_utf8(&exact.b[..exact.n])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        == Some(x);
    if round_trips {
        let closest = split_exp(&exact.b[..exact.n]);
        if closest.1 <= k {
            return closest;
        }
    }
    short
}

/// Writes `x` in the free (shortest) format with `flags`' exponent mode;
/// returns the length. `out` has room for `js_dtoa_max_len` bytes, which
/// is at least 25 for radix 10 in free format.
fn free_format(out: &mut [u8], x: f64, flags: c_int) -> usize {
    let mut p = 0;
    let mut put = |c: u8| {
        out[p] = c;
        p += 1;
    };
    if x.is_nan() {
        b"NaN".iter().for_each(|&c| put(c));
        return p;
    }
    if x.is_sign_negative() && (x != 0.0 || flags & JS_DTOA_MINUS_ZERO != 0) {
        put(b'-');
    }
    if x.is_infinite() {
        b"Infinity".iter().for_each(|&c| put(c));
        return p;
    }
    let (digits, k, n) = if x == 0.0 { ([b'0'; 17], 1, 1) } else { shortest(x.abs()) };
    let digits = &digits[..k];
    let exp_mode = flags & JS_DTOA_EXP_MASK;
    // Number::toString: plain notation when -6 < n <= 21.
    let exponential = exp_mode == JS_DTOA_EXP_ENABLED || (exp_mode != JS_DTOA_EXP_DISABLED && (n <= -6 || n > 21));
    if exponential {
        put(digits[0]);
        if k > 1 {
            put(b'.');
            digits[1..].iter().for_each(|&c| put(c));
        }
        put(b'e');
        let e = n - 1;
        put(if e < 0 { b'-' } else { b'+' });
        let mut tmp = [0u8; 4];
        let mut m = e.unsigned_abs();
        let mut t = 0;
        loop {
            tmp[t] = b'0' + (m % 10) as u8;
            t += 1;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        tmp[..t].iter().rev().for_each(|&c| put(c));
    } else if n <= 0 {
        put(b'0');
        put(b'.');
        (0..-n).for_each(|_| put(b'0'));
        digits.iter().for_each(|&c| put(c));
    } else {
        let n = n as usize;
        if k <= n {
            digits.iter().for_each(|&c| put(c));
            (k..n).for_each(|_| put(b'0'));
        } else {
            digits[..n].iter().for_each(|&c| put(c));
            put(b'.');
            digits[n..].iter().for_each(|&c| put(c));
        }
    }
    p
}

/// Upper bound of [`free_format`]'s output in exponential notation or in
/// plain notation for `-6 < n <= 21`: sign, 21 digits/zeros, point, and
/// `e-324` never coincide; 27 is a safe bound.
const FREE_MAX: usize = 27;

/// The engine's number → string conversion (see the module docs).
///
/// # Safety
/// The engine's contract: `buf` has room for `js_dtoa_max_len(d, radix,
/// n_digits, flags)` bytes plus a NUL; `tmp` is its scratch memory.
#[no_mangle]
pub unsafe extern "C" fn __wrap_js_dtoa(buf: *mut c_char, d: f64, radix: c_int, n_digits: c_int, flags: c_int, tmp: *mut c_void) -> c_int {
    let plain_range = flags & JS_DTOA_EXP_MASK != JS_DTOA_EXP_DISABLED;
    if radix == 10 && flags & JS_DTOA_FORMAT_MASK == JS_DTOA_FORMAT_FREE && plain_range {
        let mut out = [0u8; FREE_MAX];
        let len = free_format(&mut out, d, flags);
        // SAFETY: `js_dtoa_max_len` for radix 10 in free format with the
        // exponent allowed is 17 digits + 8 = 25 ≥ `len` (at most 25: sign,
        // 21 characters of plain digits and zeros, or 17 digits, point and
        // "e-324"); the engine's buffer has one more byte for the NUL.
        unsafe {
            core::ptr::copy_nonoverlapping(out.as_ptr(), buf.cast::<u8>(), len);
            *buf.add(len) = 0;
        }
        return len as c_int;
    }
    // SAFETY: same contract, passed through.
    unsafe { __real_js_dtoa(buf, d, radix, n_digits, flags, tmp) }
}

/// The engine's string → number conversion (see the module docs).
///
/// # Safety
/// The engine's contract: `s` is NUL-terminated; `pnext` is null or
/// writable; `tmp` is its scratch memory.
#[no_mangle]
pub unsafe extern "C" fn __wrap_js_atod(s: *const c_char, pnext: *mut *const c_char, radix: c_int, flags: c_int, tmp: *mut c_void) -> f64 {
    let mut end: *const c_char = core::ptr::null();
    // The original parses the grammar (prefixes, separators, where the
    // number ends); for decimal input only its value is replaced.
    // SAFETY: same contract, with our own `pnext`.
    let value = unsafe { __real_js_atod(s, &mut end, radix, flags, tmp) };
    if !pnext.is_null() {
        // SAFETY: the caller's `pnext` is writable.
        unsafe { *pnext = end };
    }
    if radix != 10 || value.is_nan() || end.is_null() {
        return value;
    }
    // SAFETY: `s..end` is the text the original consumed, inside the
    // caller's NUL-terminated string.
    let text = unsafe { core::slice::from_raw_parts(s.cast::<u8>(), end.offset_from(s) as usize) };
    if text.contains(&b'_') || flags & JS_ATOD_ACCEPT_UNDERSCORES != 0 {
        let mut clean = alloc::vec::Vec::with_capacity(text.len());
        clean.extend(text.iter().copied().filter(|&c| c != b'_'));
        return reparse(&clean).unwrap_or(value);
    }
    reparse(text).unwrap_or(value)
}

fn reparse(text: &[u8]) -> Option<f64> {
    let t = core::str::from_utf8(text).ok()?;
    // Only plain decimal text: `Infinity` and anything else the original
    // accepted keeps its value.
    if !t.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E')) {
        return None;
    }
    t.parse::<f64>().ok()
}
