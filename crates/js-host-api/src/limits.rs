//! The limits of `getLoadedSandbox()` and `loadRuntime()`: the same
//! wall-clock and CPU-time timeouts and `AbortSignal` as `callHandler`,
//! bounding code that runs at load time (the top level of handlers and of
//! the modules they import). Parsed by the binding's one options parser
//! ([`Options`]) and abort helper ([`crate::abort`]).

use std::sync::Arc;

use hyperlight_js::{JSSandbox, LoadedJSSandbox};
use napi::sys;

use crate::abort::{AbortOptions, Abortable, Stops, GRACE_KEY, SIGNAL_KEY};
use crate::errors::Failure;
use crate::options::Options;

/// Options of `getLoadedSandbox()` and `loadRuntime()`: limits on the
/// guest code that runs at load time. Without a limit the load runs
/// without monitors; with several, the first to fire ends it.
#[napi_derive::napi(object)]
pub struct SandboxLoadOptions {
    /// Wall-clock timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub wall_clock_timeout_ms: Option<f64>,
    /// CPU-time timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub cpu_timeout_ms: Option<f64>,
    /// Cancels the load: queued, it rejects at once; running, the engine
    /// is asked to stop, and killed after `abortGracePeriodMs`. Default:
    /// none.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<napi::bindgen_prelude::Unknown<'static>>,
    /// Milliseconds between the polite stop of an abort and the kill (an
    /// integer from 0 to 3,600,000). Default: 100.
    pub abort_grace_period_ms: Option<f64>,
}

/// The keys of the load options.
pub(crate) const LOAD_KEYS: &[&str] =
    &["wallClockTimeoutMs", "cpuTimeoutMs", SIGNAL_KEY, GRACE_KEY];

/// The limits a load's options ask for.
#[derive(Default)]
pub(crate) struct LoadLimits {
    pub(crate) wall_clock_ms: Option<u64>,
    pub(crate) cpu_ms: Option<u64>,
    /// The `signal`, armed (`None` without one).
    pub(crate) abortable: Option<Arc<Abortable>>,
}

/// Parses the options of `method` (`"getLoadedSandbox"`, `"loadRuntime"`)
/// and arms its signal (polite stop: the engine's interrupt; forced stop:
/// `published`'s kill). Main thread.
pub(crate) fn load_options(
    env: sys::napi_env,
    v: Option<sys::napi_value>,
    method: &'static str,
    published: Option<Arc<crate::worker::Published>>,
) -> Result<LoadLimits, Failure> {
    let opts = Options::parse(env, v, method, LOAD_KEYS)?;
    let wall_clock_ms = opts.timeout_ms("wallClockTimeoutMs")?;
    let cpu_ms = opts.timeout_ms("cpuTimeoutMs")?;
    let abort = AbortOptions::from_options(&opts)?;
    let handle = published.as_ref().and_then(|p| p.handle.get().cloned());
    let abortable = Abortable::arm(
        env,
        &abort,
        "load",
        Stops {
            polite: Box::new(move || handle.as_ref().is_some_and(|h| h.request_interrupt())),
            kill: Box::new(move || published.as_ref().is_some_and(|p| p.kill())),
        },
    )?;
    Ok(LoadLimits {
        wall_clock_ms,
        cpu_ms,
        abortable,
    })
}

/// Loads `js` under the monitors `limits` asks for; on failure, the error
/// and the sandbox back in its pre-load state.
pub(crate) fn load(
    js: JSSandbox,
    limits: &LoadLimits,
) -> Result<LoadedJSSandbox, Box<(Failure, JSSandbox)>> {
    let monitors = match crate::loaded::CallMonitors::new(
        limits.wall_clock_ms,
        limits.cpu_ms,
        limits.abortable.as_ref().map(Abortable::monitor),
    ) {
        Ok(m) => m,
        Err(e) => return Err(Box::new((e.into(), js))),
    };
    let r = match monitors.into_set() {
        None => js.get_loaded_sandbox(),
        Some(set) => js.get_loaded_sandbox_with_monitor(&*set),
    };
    r.map_err(|f| {
        let hyperlight_js::LoadFailure { error, sandbox } = *f;
        let aborted = limits.abortable.as_ref().is_some_and(|a| a.aborted());
        let failure = match error {
            hyperlight_js::Error::Cancelled { .. } if aborted => Failure::cancelled(
                "the load was stopped by its AbortSignal; the sandbox is usable again",
                Some(crate::abort::MONITOR_NAME),
            ),
            other => Failure::of(other, crate::errors::Request::Load),
        };
        Box::new((failure, sandbox))
    })
}
