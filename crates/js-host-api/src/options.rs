//! Options objects: **the** parser every options object of the API goes
//! through (`callHandler`'s today; the load options of `loadRuntime()` and
//! `getLoadedSandbox()`, and any option added later, reuse it).
//!
//! Rules, the same for every options object:
//! - `undefined` or `null` in place of the object means "all defaults";
//!   anything else that is not an object is `ERR_INVALID_ARG`;
//! - every own enumerable string key must be one the operation knows:
//!   an unknown key (a typo such as `wallClockTimeout`, or an option of
//!   another operation) is `ERR_INVALID_ARG` naming the key and listing
//!   the accepted ones, so a misspelt limit never silently runs without
//!   the limit;
//! - a key whose value is `undefined` or `null` takes its default;
//! - values are checked by the typed getters below, whose messages name
//!   the option.
//!
//! To add an option to an operation: add its key to that operation's key
//! list (e.g. [`CALL_KEYS`]) and read it with a getter. Cancellation options
//! (`signal`, `abortGracePeriodMs`) are read by
//! [`crate::abort::AbortOptions::from_options`]: include
//! [`crate::abort::ABORT_KEYS`] in the key list of any operation that
//! takes a signal.

use napi::sys;

use crate::args;
use crate::errors::Failure;

/// The keys of `evalScript`'s options.
pub(crate) const EVAL_KEYS: &[&str] = &[
    "filename",
    "wallClockTimeoutMs",
    "cpuTimeoutMs",
    crate::abort::SIGNAL_KEY,
    crate::abort::GRACE_KEY,
];

/// The keys of `callHandler`'s options.
pub(crate) const CALL_KEYS: &[&str] = &[
    "wallClockTimeoutMs",
    "cpuTimeoutMs",
    "gc",
    crate::abort::SIGNAL_KEY,
    crate::abort::GRACE_KEY,
];

/// A validated options object (main thread only; the values are valid for
/// the current handle scope).
pub(crate) struct Options {
    env: sys::napi_env,
    /// `None` when the caller passed no object.
    object: Option<sys::napi_value>,
    /// What the options belong to, for messages: `"callHandler"`.
    pub(crate) operation: &'static str,
}

impl Options {
    /// Checks `value` as the options object of `operation`, accepting only
    /// `keys`.
    pub(crate) fn parse(
        env: sys::napi_env,
        value: Option<sys::napi_value>,
        operation: &'static str,
        keys: &[&str],
    ) -> Result<Self, Failure> {
        let object = value.filter(|v| !args::is_nullish(env, *v));
        if let Some(v) = object {
            if crate::js::type_of(env, v) != sys::ValueType::napi_object {
                return Err(Failure::invalid(format!(
                    "the options of {operation} must be an object, not {}",
                    args::kind(env, v)
                )));
            }
            for key in own_keys(env, v)? {
                if !keys.contains(&key.as_str()) {
                    return Err(Failure::invalid(format!(
                        "{operation} has no option {key:?}; its options are {}",
                        keys.join(", ")
                    )));
                }
            }
        }
        Ok(Self {
            env,
            object,
            operation,
        })
    }

    pub(crate) fn env(&self) -> sys::napi_env {
        self.env
    }

    /// The value of `key`, or `None` when it is absent, `undefined` or
    /// `null`.
    pub(crate) fn get(&self, key: &str) -> Result<Option<sys::napi_value>, Failure> {
        let Some(object) = self.object else {
            return Ok(None);
        };
        let value = crate::js::global_property(self.env, object, key).map_err(|e| {
            Failure::invalid(format!(
                "reading option {key} of {} failed: {e}",
                self.operation
            ))
        })?;
        Ok((!args::is_nullish(self.env, value)).then_some(value))
    }

    /// A timeout in milliseconds (an integer from 1 to 3,600,000).
    pub(crate) fn timeout_ms(&self, key: &str) -> Result<Option<u64>, Failure> {
        self.get(key)?
            .map(|v| args::timeout(self.env, v, key))
            .transpose()
    }

    /// A duration in milliseconds that may be zero (an integer from 0 to
    /// 3,600,000).
    pub(crate) fn duration_ms(&self, key: &str) -> Result<Option<u64>, Failure> {
        self.get(key)?
            .map(|v| args::duration(self.env, v, key))
            .transpose()
    }

    /// A boolean.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, Failure> {
        self.get(key)?
            .map(|v| args::boolean(self.env, v, key))
            .transpose()
    }
}

/// The own enumerable string keys of `object`.
fn own_keys(env: sys::napi_env, object: sys::napi_value) -> Result<Vec<String>, Failure> {
    let mut names = std::ptr::null_mut();
    // SAFETY: valid env and object; valid out pointer.
    let status = unsafe {
        sys::napi_get_all_property_names(
            env,
            object,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        )
    };
    if status != sys::Status::napi_ok {
        // A Proxy whose ownKeys trap threw, for instance.
        clear_exception(env);
        return Err(Failure::invalid(
            "the options object's keys cannot be listed (a Proxy that throws?)",
        ));
    }
    let mut len = 0u32;
    // SAFETY: `names` is the array just returned.
    unsafe { sys::napi_get_array_length(env, names, &mut len) };
    let mut keys = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut key = std::ptr::null_mut();
        // SAFETY: index within the array's length.
        unsafe { sys::napi_get_element(env, names, i, &mut key) };
        if let Some(k) = crate::js::get_string(env, key) {
            keys.push(k);
        }
    }
    Ok(keys)
}

fn clear_exception(env: sys::napi_env) {
    let mut pending = false;
    // SAFETY: valid env; clears whatever was thrown.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            let mut e = std::ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut e);
        }
    }
}
