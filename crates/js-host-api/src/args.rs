//! Argument validation, done on the main thread before anything else (in
//! particular before the consumed check), so a bad argument is always
//! `ERR_INVALID_ARG` whatever the object's state.

use napi::bindgen_prelude::{JsValue, Unknown};
use napi::sys;

use crate::errors::Failure;

/// Longest timeout accepted: one hour.
pub(crate) const MAX_TIMEOUT_MS: f64 = 3_600_000.0;

/// What kind of value `v` is, for messages ("a string", "null", ...).
pub(crate) fn kind(env: sys::napi_env, v: sys::napi_value) -> &'static str {
    match crate::js::type_of(env, v) {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "a boolean",
        sys::ValueType::napi_number => "a number",
        sys::ValueType::napi_string => "a string",
        sys::ValueType::napi_symbol => "a symbol",
        sys::ValueType::napi_object => "an object",
        sys::ValueType::napi_function => "a function",
        sys::ValueType::napi_bigint => "a bigint",
        _ => "an unsupported value",
    }
}

pub(crate) fn raw(v: &Unknown<'_>) -> sys::napi_value {
    v.raw()
}

/// Whether `v` is missing (`undefined` or `null`).
pub(crate) fn is_nullish(env: sys::napi_env, v: sys::napi_value) -> bool {
    matches!(
        crate::js::type_of(env, v),
        sys::ValueType::napi_undefined | sys::ValueType::napi_null
    )
}

/// A string argument.
pub(crate) fn string(
    env: sys::napi_env,
    v: sys::napi_value,
    what: &str,
) -> Result<String, Failure> {
    crate::js::get_string(env, v)
        .ok_or_else(|| Failure::invalid(format!("{what} must be a string, not {}", kind(env, v))))
}

/// A name: a non-empty string of at most 256 bytes without control
/// characters.
pub(crate) fn name(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<String, Failure> {
    let s = string(env, v, what)?;
    check_name(&s, what)?;
    Ok(s)
}

pub(crate) fn check_name(s: &str, what: &str) -> Result<(), Failure> {
    Ok(hyperlight_js::names::check_name(what, s)?)
}

/// A module namespace: absent (or nullish) means `user`; the rules are
/// `hyperlight_js::names::module_namespace`.
pub(crate) fn namespace(env: sys::napi_env, v: Option<sys::napi_value>) -> Result<String, Failure> {
    let given = match v {
        Some(v) if !is_nullish(env, v) => Some(string(env, v, "the module namespace")?),
        _ => None,
    };
    Ok(hyperlight_js::names::module_namespace(given.as_deref())?.to_string())
}

/// A size in bytes: a positive safe integer.
pub(crate) fn size(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<u64, Failure> {
    let n = crate::js::get_number(env, v).ok_or_else(|| {
        Failure::invalid(format!(
            "{what} must be a number of bytes, not {}",
            kind(env, v)
        ))
    })?;
    size_from(n, what)
}

/// [`size`] of a number already read: a positive safe integer.
fn size_from(n: f64, what: &str) -> Result<u64, Failure> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if !(n.is_finite() && n.fract() == 0.0 && n > 0.0 && n <= MAX_SAFE) {
        return Err(Failure::invalid(format!(
            "{what} must be a positive safe integer (bytes), not {n}"
        )));
    }
    Ok(n as u64)
}

/// A timeout in milliseconds: an integer in 1..=3,600,000.
pub(crate) fn timeout(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<u64, Failure> {
    let n = crate::js::get_number(env, v).ok_or_else(|| {
        Failure::invalid(format!(
            "{what} must be a number of milliseconds, not {}",
            kind(env, v)
        ))
    })?;
    milliseconds_from(n, 1.0, what)
}

/// A number of milliseconds already read: an integer from `min` (0 or 1)
/// to one hour.
fn milliseconds_from(n: f64, min: f64, what: &str) -> Result<u64, Failure> {
    if !(n.is_finite() && n.fract() == 0.0 && (min..=MAX_TIMEOUT_MS).contains(&n)) {
        return Err(Failure::invalid(format!(
            "{what} must be an integer from {min} to {MAX_TIMEOUT_MS} (one hour), not {n}"
        )));
    }
    Ok(n as u64)
}

/// A boolean.
pub(crate) fn boolean(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<bool, Failure> {
    if crate::js::type_of(env, v) != sys::ValueType::napi_boolean {
        return Err(Failure::invalid(format!(
            "{what} must be a boolean, not {}",
            kind(env, v)
        )));
    }
    let mut b = false;
    // SAFETY: valid env and a boolean value.
    unsafe { sys::napi_get_value_bool(env, v, &mut b) };
    Ok(b)
}

/// A function.
pub(crate) fn function(
    env: sys::napi_env,
    v: sys::napi_value,
    what: &str,
) -> Result<sys::napi_value, Failure> {
    if crate::js::type_of(env, v) != sys::ValueType::napi_function {
        return Err(Failure::invalid(format!(
            "{what} must be a function, not {}",
            kind(env, v)
        )));
    }
    Ok(v)
}

/// A duration in milliseconds that may be zero: an integer in
/// 0..=3,600,000.
pub(crate) fn duration(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<u64, Failure> {
    let n = crate::js::get_number(env, v).ok_or_else(|| {
        Failure::invalid(format!(
            "{what} must be a number of milliseconds, not {}",
            kind(env, v)
        ))
    })?;
    milliseconds_from(n, 0.0, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperlight_js::ErrorCode;

    #[test]
    fn sizes_are_positive_safe_integers() {
        assert_eq!(size_from(1.0, "s").unwrap(), 1);
        assert_eq!(
            size_from(9_007_199_254_740_991.0, "s").unwrap(),
            (1 << 53) - 1
        );
        for bad in [
            0.0,
            -1.0,
            1.5,
            f64::NAN,
            f64::INFINITY,
            9_007_199_254_740_992.0,
        ] {
            let f = size_from(bad, "the heap size").unwrap_err();
            assert_eq!(f.code, ErrorCode::InvalidArg, "{bad}");
            assert_eq!(
                f.message,
                format!("the heap size must be a positive safe integer (bytes), not {bad}")
            );
        }
    }

    #[test]
    fn timeouts_are_1_to_3600000_and_durations_may_be_0() {
        assert_eq!(milliseconds_from(1.0, 1.0, "t").unwrap(), 1);
        assert_eq!(milliseconds_from(3_600_000.0, 1.0, "t").unwrap(), 3_600_000);
        assert_eq!(milliseconds_from(0.0, 0.0, "d").unwrap(), 0);
        for (bad, min) in [
            (0.0, 1.0),
            (-1.0, 0.0),
            (3_600_001.0, 1.0),
            (0.5, 0.0),
            (f64::NAN, 1.0),
        ] {
            let f = milliseconds_from(bad, min, "wallClockTimeoutMs").unwrap_err();
            assert_eq!(f.code, ErrorCode::InvalidArg, "{bad}");
            assert_eq!(
                f.message,
                format!("wallClockTimeoutMs must be an integer from {min} to 3600000 (one hour), not {bad}")
            );
        }
    }
}
