//! The limits of `getLoadedSandbox()` and `loadRuntime()`: the same
//! wall-clock and CPU-time timeouts as `callHandler` (and an `AbortSignal`
//! once the binding's abort plumbing has it), bounding code that runs at load
//! time (the top level of handlers and the modules they import).

use std::time::Duration;

use hyperlight_js::{CpuTimeMonitor, JSSandbox, LoadFailure, LoadedJSSandbox, WallClockMonitor};
use napi::sys;

use crate::args::{is_nullish, timeout};
use crate::errors::Failure;

/// Options of `getLoadedSandbox()` and `loadRuntime()`: limits on the
/// guest code that runs at load time. Without a timeout the load runs
/// without monitors; with both, the first to fire ends it.
#[napi_derive::napi(object)]
pub struct SandboxLoadOptions {
    /// Wall-clock timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub wall_clock_timeout_ms: Option<f64>,
    /// CPU-time timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub cpu_timeout_ms: Option<f64>,
}

/// The limits a load's options ask for.
#[derive(Clone, Copy, Default)]
pub(crate) struct LoadLimits {
    pub(crate) wall_clock_ms: Option<u64>,
    pub(crate) cpu_ms: Option<u64>,
}

/// Keys a load's options object may have.
const LOAD_KEYS: &[&str] = &["wallClockTimeoutMs", "cpuTimeoutMs"];

/// Parses the options of `method` (`"getLoadedSandbox"`, `"loadRuntime"`):
/// absent or nullish means no limit; unknown keys are refused.
pub(crate) fn load_options(
    env: sys::napi_env,
    v: Option<sys::napi_value>,
    method: &str,
) -> Result<LoadLimits, Failure> {
    let Some(v) = v.filter(|v| !is_nullish(env, *v)) else {
        return Ok(LoadLimits::default());
    };
    if crate::js::type_of(env, v) != sys::ValueType::napi_object {
        return Err(Failure::invalid(format!(
            "the options of {method} must be an object"
        )));
    }
    for key in own_keys(env, v).map_err(Failure::internal)? {
        if !LOAD_KEYS.contains(&key.as_str()) {
            return Err(Failure::invalid(format!(
                "{method} has no option {key:?} (its options are {})",
                LOAD_KEYS.join(", ")
            )));
        }
    }
    let field = |name: &str| -> Result<Option<sys::napi_value>, Failure> {
        let value = crate::js::global_property(env, v, name).map_err(Failure::internal)?;
        Ok((!is_nullish(env, value)).then_some(value))
    };
    Ok(LoadLimits {
        wall_clock_ms: field("wallClockTimeoutMs")?
            .map(|x| timeout(env, x, "wallClockTimeoutMs"))
            .transpose()?,
        cpu_ms: field("cpuTimeoutMs")?
            .map(|x| timeout(env, x, "cpuTimeoutMs"))
            .transpose()?,
    })
}

/// Loads `js` under the monitors `opts` asks for.
pub(crate) fn load(
    js: JSSandbox,
    opts: LoadLimits,
) -> Result<Result<LoadedJSSandbox, Box<LoadFailure>>, Failure> {
    let wall = opts
        .wall_clock_ms
        .map(|ms| WallClockMonitor::new(Duration::from_millis(ms)))
        .transpose()?;
    let cpu = opts
        .cpu_ms
        .map(|ms| CpuTimeMonitor::new(Duration::from_millis(ms)))
        .transpose()?;
    Ok(match (wall, cpu) {
        (None, None) => js.get_loaded_sandbox(),
        (Some(w), None) => js.get_loaded_sandbox_with_monitor(&w),
        (None, Some(c)) => js.get_loaded_sandbox_with_monitor(&c),
        (Some(w), Some(c)) => js.get_loaded_sandbox_with_monitor(&(w, c)),
    })
}

/// The own enumerable string keys of `obj`.
fn own_keys(env: sys::napi_env, obj: sys::napi_value) -> napi::Result<Vec<String>> {
    let mut names = std::ptr::null_mut();
    // SAFETY: valid env and object; `names` receives an array.
    let status = unsafe {
        sys::napi_get_all_property_names(
            env,
            obj,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        )
    };
    crate::main_thread::check(status, "listing the options")?;
    let mut len = 0u32;
    // SAFETY: `names` is an array.
    crate::main_thread::check(
        unsafe { sys::napi_get_array_length(env, names, &mut len) },
        "listing the options",
    )?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut key = std::ptr::null_mut();
        // SAFETY: index within the array.
        crate::main_thread::check(
            unsafe { sys::napi_get_element(env, names, i, &mut key) },
            "listing the options",
        )?;
        out.push(crate::js::get_string(env, key).unwrap_or_default());
    }
    Ok(out)
}
