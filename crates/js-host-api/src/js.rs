//! Small, checked wrappers over the raw N-API calls this addon makes on the
//! main thread. Every function takes the current `napi_env` and must be
//! called on its thread; values returned are valid for the current handle
//! scope only.

use napi::sys;

use crate::main_thread::check;

/// A JavaScript exception caught while calling into JavaScript.
pub(crate) type Thrown = sys::napi_value;

pub(crate) fn string(env: sys::napi_env, s: &str) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env; the pointer and length describe `s`.
    check(
        unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) },
        "napi_create_string_utf8",
    )?;
    Ok(out)
}

pub(crate) fn number(env: sys::napi_env, n: f64) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out pointer.
    check(
        unsafe { sys::napi_create_double(env, n, &mut out) },
        "napi_create_double",
    )?;
    Ok(out)
}

pub(crate) fn null(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out pointer.
    check(
        unsafe { sys::napi_get_null(env, &mut out) },
        "napi_get_null",
    )?;
    Ok(out)
}

pub(crate) fn undefined(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out pointer.
    check(
        unsafe { sys::napi_get_undefined(env, &mut out) },
        "napi_get_undefined",
    )?;
    Ok(out)
}

pub(crate) fn global(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out pointer.
    check(
        unsafe { sys::napi_get_global(env, &mut out) },
        "napi_get_global",
    )?;
    Ok(out)
}

pub(crate) fn global_property(
    env: sys::napi_env,
    object: sys::napi_value,
    name: &str,
) -> napi::Result<sys::napi_value> {
    let key = string(env, name)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env, object and key.
    check(
        unsafe { sys::napi_get_property(env, object, key, &mut out) },
        "napi_get_property",
    )?;
    Ok(out)
}

pub(crate) fn set_property(
    env: sys::napi_env,
    object: sys::napi_value,
    name: &str,
    value: sys::napi_value,
) -> napi::Result<()> {
    let key = string(env, name)?;
    // SAFETY: valid env, object, key and value.
    check(
        unsafe { sys::napi_set_property(env, object, key, value) },
        "napi_set_property",
    )
}

pub(crate) fn type_of(env: sys::napi_env, value: sys::napi_value) -> sys::napi_valuetype {
    let mut t = sys::ValueType::napi_undefined;
    // SAFETY: valid env and value.
    unsafe { sys::napi_typeof(env, value, &mut t) };
    t
}

/// The string's contents, if `value` is a string.
pub(crate) fn get_string(env: sys::napi_env, value: sys::napi_value) -> Option<String> {
    if type_of(env, value) != sys::ValueType::napi_string {
        return None;
    }
    let mut len = 0usize;
    // SAFETY: a null buffer asks for the length.
    unsafe { sys::napi_get_value_string_utf8(env, value, std::ptr::null_mut(), 0, &mut len) };
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    // SAFETY: `buf` holds len + 1 bytes (the terminating NUL).
    unsafe {
        sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), len + 1, &mut written)
    };
    buf.truncate(written);
    String::from_utf8(buf).ok()
}

/// The number, if `value` is a number.
pub(crate) fn get_number(env: sys::napi_env, value: sys::napi_value) -> Option<f64> {
    if type_of(env, value) != sys::ValueType::napi_number {
        return None;
    }
    let mut n = 0f64;
    // SAFETY: valid env and a number value.
    unsafe { sys::napi_get_value_double(env, value, &mut n) };
    Some(n)
}

pub(crate) fn reference(env: sys::napi_env, value: sys::napi_value) -> napi::Result<sys::napi_ref> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and value.
    check(
        unsafe { sys::napi_create_reference(env, value, 1, &mut out) },
        "napi_create_reference",
    )?;
    Ok(out)
}

pub(crate) fn deref(env: sys::napi_env, r: sys::napi_ref) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and a live reference of it.
    check(
        unsafe { sys::napi_get_reference_value(env, r, &mut out) },
        "napi_get_reference_value",
    )?;
    Ok(out)
}

/// Calls `f` with `this = undefined`; a thrown exception is returned (and
/// cleared).
pub(crate) fn call(
    env: sys::napi_env,
    f: sys::napi_value,
    args: &[sys::napi_value],
) -> Result<sys::napi_value, Thrown> {
    let this = undefined(env).unwrap_or(std::ptr::null_mut());
    call_method(env, this, f, args)
}

/// The boolean, if `value` is a boolean.
pub(crate) fn get_bool(env: sys::napi_env, value: sys::napi_value) -> Option<bool> {
    if type_of(env, value) != sys::ValueType::napi_boolean {
        return None;
    }
    let mut b = false;
    // SAFETY: valid env and a boolean value.
    unsafe { sys::napi_get_value_bool(env, value, &mut b) };
    Some(b)
}

/// Calls `f` with `this`; a thrown exception is returned (and cleared).
pub(crate) fn call_method(
    env: sys::napi_env,
    this: sys::napi_value,
    f: sys::napi_value,
    args: &[sys::napi_value],
) -> Result<sys::napi_value, Thrown> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env, function and argument values.
    let status =
        unsafe { sys::napi_call_function(env, this, f, args.len(), args.as_ptr(), &mut out) };
    if status == sys::Status::napi_ok {
        return Ok(out);
    }
    let mut error = std::ptr::null_mut();
    let mut pending = false;
    // SAFETY: valid env.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            sys::napi_get_and_clear_last_exception(env, &mut error);
        }
    }
    if error.is_null() {
        error = string(
            env,
            &format!("calling a function failed (N-API status {status})"),
        )
        .unwrap_or(std::ptr::null_mut());
    }
    Err(error)
}

/// `String(value)` for messages, or its `message` for an `Error`.
pub(crate) fn describe(env: sys::napi_env, value: sys::napi_value) -> String {
    if type_of(env, value) == sys::ValueType::napi_object {
        if let Ok(m) = global_property(env, value, "message") {
            if let Some(s) = get_string(env, m) {
                return s;
            }
        }
    }
    let mut s = std::ptr::null_mut();
    // SAFETY: valid env and value.
    unsafe { sys::napi_coerce_to_string(env, value, &mut s) };
    if s.is_null() {
        let mut pending = false;
        // SAFETY: valid env; clears what coercion threw.
        unsafe {
            sys::napi_is_exception_pending(env, &mut pending);
            if pending {
                let mut e = std::ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut e);
            }
        }
        return "an error that cannot be printed".into();
    }
    get_string(env, s).unwrap_or_default()
}

/// A napi error that rethrows `thrown` as it is.
pub(crate) fn to_napi(env: sys::napi_env, thrown: Thrown) -> napi::Error {
    // SAFETY: `thrown` is a live value of `env`.
    napi::Error::from(unsafe { napi::bindgen_prelude::Unknown::from_raw_unchecked(env, thrown) })
}

pub(crate) fn run_script(env: sys::napi_env, source: &str) -> napi::Result<sys::napi_value> {
    let s = string(env, source)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and a string value.
    check(
        unsafe { sys::napi_run_script(env, s, &mut out) },
        "napi_run_script",
    )?;
    Ok(out)
}

pub(crate) fn function(
    env: sys::napi_env,
    name: &str,
    cb: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env; `name` pointer and length describe it.
    check(
        unsafe {
            sys::napi_create_function(
                env,
                name.as_ptr().cast(),
                name.len() as isize,
                Some(cb),
                std::ptr::null_mut(),
                &mut out,
            )
        },
        "napi_create_function",
    )?;
    Ok(out)
}

/// A raw value handed back to napi-rs as a return value.
pub struct Raw(pub(crate) sys::napi_value);

impl napi::bindgen_prelude::TypeName for Raw {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Unknown
    }
}

impl napi::bindgen_prelude::ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}
