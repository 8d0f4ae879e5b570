//! `LoadedJSSandbox`, `Snapshot`, `InterruptHandle` and `CallStats`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyperlight_js::{CpuTimeMonitor, WallClockMonitor};
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, ToNapiValue, Unknown};
use napi::{sys, Env, Result};
use napi_derive::napi;

use crate::args;
use crate::errors::Failure;
use crate::js::Raw;
use crate::js_sandbox::JSSandbox;
use crate::main_thread::{rejected, EnvState};
use crate::worker::{Core, HostChannel, Stage};

/// Options of `callHandler`. Without a timeout the handler runs without
/// monitors; with both, the first to fire ends the call.
#[napi(object)]
pub struct CallHandlerOptions {
    /// Wall-clock timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub wall_clock_timeout_ms: Option<f64>,
    /// CPU-time timeout in milliseconds (an integer from 1 to 3,600,000):
    /// catches compute-bound abuse. Default: none.
    pub cpu_timeout_ms: Option<f64>,
    /// Whether to run the guest's garbage collector after the call.
    /// Default: true.
    pub gc: Option<bool>,
}

/// Statistics of the most recent `callHandler()` call.
#[napi(object)]
pub struct CallStats {
    /// Wall-clock time of the call in milliseconds.
    pub wall_clock_ms: f64,
    /// CPU time of the sandbox thread over the call in milliseconds, or
    /// null when it cannot be measured.
    #[napi(ts_type = "number | null")]
    pub cpu_time_ms: Option<f64>,
    /// The monitor that ended the call (`"wall-clock"`, `"cpu-time"`), or
    /// null when no monitor did.
    #[napi(ts_type = "string | null")]
    pub terminated_by: Option<String>,
}

/// A point-in-time copy of a loaded sandbox (guest memory and vCPU state),
/// from `LoadedJSSandbox.snapshot()`. Opaque; restore it into the sandbox
/// (and the load) it was taken from.
#[napi]
pub struct Snapshot {
    inner: hyperlight_js::Snapshot,
}

/// Stops the handler call running in a sandbox, from any callback, timer
/// or signal handler.
#[napi]
pub struct InterruptHandle {
    handle: hyperlight_js::InterruptHandle,
    channel: Arc<HostChannel>,
    published: Arc<crate::worker::Published>,
}

impl InterruptHandle {
    pub(crate) fn new(
        handle: hyperlight_js::InterruptHandle,
        channel: Arc<HostChannel>,
        published: Arc<crate::worker::Published>,
    ) -> Self {
        Self {
            handle,
            channel,
            published,
        }
    }
}

#[napi]
impl InterruptHandle {
    /// Stops the call (or load) running now: it rejects with
    /// `ERR_CANCELLED` and a killed call poisons the sandbox. A call that
    /// was queued or starting (`callHandler()` returned but the call has
    /// not reached the sandbox yet, e.g. `kill()` in the same tick) is
    /// cancelled too: it rejects with `ERR_CANCELLED` without running and
    /// without poisoning. With nothing running or queued, `kill()` does
    /// nothing and does not affect a later call. Returns whether a call or
    /// load was running or queued (and is now cancelled). Returns at once,
    /// whatever the sandbox thread is doing.
    #[napi]
    pub fn kill(&self) -> bool {
        let queued = self.published.calls.load(Ordering::SeqCst) > 0;
        let hit = if queued {
            self.handle.kill_next();
            true
        } else {
            self.handle.kill()
        };
        // A call waiting on a host function notices at once.
        self.channel.wake();
        hit
    }
}

/// A sandbox with its handlers loaded, ready to handle events. Calls are
/// queued: overlapping calls run one after the other, never interleaved.
#[napi(js_name = "LoadedJSSandbox")]
pub struct LoadedJSSandbox {
    core: Option<Arc<Core>>,
    consumed_by: &'static str,
    published: Arc<crate::worker::Published>,
    handle: hyperlight_js::InterruptHandle,
    channel: Arc<HostChannel>,
}

impl LoadedJSSandbox {
    pub(crate) fn new(core: Arc<Core>, handle: hyperlight_js::InterruptHandle) -> Self {
        Self {
            published: core.published.clone(),
            channel: core.channel.clone(),
            core: Some(core),
            consumed_by: "",
            handle,
        }
    }

    fn core(&self) -> std::result::Result<&Arc<Core>, Failure> {
        self.core
            .as_ref()
            .ok_or_else(|| Failure::consumed("LoadedJSSandbox", self.consumed_by))
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats_object(
    env: sys::napi_env,
    stats: &hyperlight_js::CallStats,
) -> napi::Result<sys::napi_value> {
    let value = CallStats {
        wall_clock_ms: millis(stats.wall_clock),
        cpu_time_ms: stats.cpu_time.map(millis),
        terminated_by: stats.terminated_by.map(str::to_string),
    };
    // SAFETY: valid env on the main thread.
    let object = unsafe { ToNapiValue::to_napi_value(env, value) }?;
    // Absent fields are null, not undefined.
    if stats.cpu_time.is_none() {
        crate::js::set_property(env, object, "cpuTimeMs", crate::js::null(env)?)?;
    }
    if stats.terminated_by.is_none() {
        crate::js::set_property(env, object, "terminatedBy", crate::js::null(env)?)?;
    }
    Ok(object)
}

#[napi]
impl LoadedJSSandbox {
    /// Calls the handler `handlerName` with `eventData` (any
    /// JSON-serialisable value) and resolves to its result.
    #[napi(
        ts_args_type = "handlerName: string, eventData: any, options?: CallHandlerOptions",
        ts_return_type = "Promise<any>"
    )]
    pub fn call_handler(
        &self,
        env: Env,
        handler_name: Unknown<'_>,
        event_data: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<Raw> {
        let e = env.raw();
        let checked = (|| {
            let name = args::name(e, args::raw(&handler_name), "the handler name")?;
            let opts = args::call_options(e, options.as_ref().map(args::raw))?;
            let state = EnvState::get(e).map_err(Failure::internal)?;
            let event = state.stringify(e, args::raw(&event_data), "the event")?;
            let core = self.core()?;
            if core.published.waiting.load(Ordering::SeqCst) > 0 && state.waited_for_by(e, core.id)
            {
                return Err(Failure::invalid(
                    "callHandler() was called from a host function that this sandbox's running \
                     call is waiting for: the new call would wait for that call to end, which \
                     waits for the host function, forever. Call it after the host function \
                     has returned (or on another sandbox)",
                ));
            }
            Ok((name, opts, event, core.clone()))
        })();
        let (name, opts, event, core) = match checked {
            Ok(x) => x,
            Err(failure) => return rejected(e, failure),
        };
        let published = self.published.clone();
        published.calls.fetch_add(1, Ordering::SeqCst);
        let counted = crate::worker::CallDone(published.clone());
        let promise = core.submit(
            e,
            move |stage| {
                let _done = counted;
                let Stage::Loaded(loaded) = stage else {
                    return Err(Failure::internal("the sandbox is not loaded"));
                };
                let gc = opts.gc;
                let wall = opts
                    .wall_clock_ms
                    .map(|ms| WallClockMonitor::new(Duration::from_millis(ms)))
                    .transpose()?;
                let cpu = opts
                    .cpu_ms
                    .map(|ms| CpuTimeMonitor::new(Duration::from_millis(ms)))
                    .transpose()?;
                let result = match (wall, cpu) {
                    (None, None) => loaded.handle_event(&name, &event, gc),
                    (Some(w), None) => loaded.handle_event_with_monitor(&name, &event, &w, gc),
                    (None, Some(c)) => loaded.handle_event_with_monitor(&name, &event, &c, gc),
                    (Some(w), Some(c)) => {
                        loaded.handle_event_with_monitor(&name, &event, &(w, c), gc)
                    }
                };
                Core::publish(&published, loaded);
                result.map_err(Failure::from)
            },
            |env, json| {
                EnvState::get(env)
                    .map_err(Failure::internal)?
                    .parse(env, &json)
            },
        )?;
        Ok(Raw(promise))
    }

    /// Drops every handler and module and returns to the state right after
    /// `loadRuntime()` (also from a poisoned sandbox). Consumes this object.
    #[napi(ts_return_type = "Promise<JSSandbox>")]
    pub fn unload(&mut self, env: Env) -> Result<Raw> {
        let core = match self.core() {
            Ok(core) => core.clone(),
            Err(failure) => return rejected(env.raw(), failure),
        };
        self.core = None;
        self.consumed_by = "unload()";
        let next = core.clone();
        let published = self.published.clone();
        let promise = core.submit(
            env.raw(),
            move |stage| {
                let Stage::Loaded(loaded) = stage.take() else {
                    return Err(Failure::internal("the sandbox is not loaded"));
                };
                let js = loaded.unload()?;
                published.poisoned.store(false, Ordering::Release);
                *stage = Stage::Js(js);
                Ok(())
            },
            move |env, ()| {
                // SAFETY: valid env on the main thread.
                unsafe { ToNapiValue::to_napi_value(env, JSSandbox::new(next)) }
                    .map_err(Failure::internal)
            },
        )?;
        Ok(Raw(promise))
    }

    /// Captures the sandbox's state (not possible while poisoned).
    #[napi(ts_return_type = "Promise<Snapshot>")]
    pub fn snapshot(&self, env: Env) -> Result<Raw> {
        let core = match self.core() {
            Ok(core) => core.clone(),
            Err(failure) => return rejected(env.raw(), failure),
        };
        let promise = core.submit(
            env.raw(),
            |stage| match stage {
                Stage::Loaded(loaded) => Ok(loaded.snapshot()?),
                _ => Err(Failure::internal("the sandbox is not loaded")),
            },
            |env, inner| {
                // SAFETY: valid env on the main thread.
                unsafe { ToNapiValue::to_napi_value(env, Snapshot { inner }) }
                    .map_err(Failure::internal)
            },
        )?;
        Ok(Raw(promise))
    }

    /// Returns the sandbox to `snapshot`, taken from this sandbox since it
    /// was loaded. Clears poisoning.
    #[napi(ts_args_type = "snapshot: Snapshot", ts_return_type = "Promise<void>")]
    pub fn restore(&self, env: Env, snapshot: Unknown<'_>) -> Result<Raw> {
        let e = env.raw();
        let raw = args::raw(&snapshot);
        let inner = if crate::js::type_of(e, raw) == sys::ValueType::napi_object {
            // SAFETY: valid env and value; the class's type tag is checked.
            unsafe { ClassInstance::<Snapshot>::from_napi_value(e, raw) }
                .ok()
                .map(|s| s.inner.clone())
        } else {
            None
        };
        let Some(inner) = inner else {
            return rejected(
                e,
                Failure::invalid("restore() takes a Snapshot from snapshot()"),
            );
        };
        let core = match self.core() {
            Ok(core) => core.clone(),
            Err(failure) => return rejected(e, failure),
        };
        let published = self.published.clone();
        let promise = core.submit(
            e,
            move |stage| match stage {
                Stage::Loaded(loaded) => {
                    let r = loaded.restore(&inner);
                    Core::publish(&published, loaded);
                    Ok(r?)
                }
                _ => Err(Failure::internal("the sandbox is not loaded")),
            },
            |env, ()| crate::js::undefined(env).map_err(Failure::internal),
        )?;
        Ok(Raw(promise))
    }

    /// A handle that can kill the running call (a getter).
    #[napi(getter)]
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle::new(
            self.handle.clone(),
            self.channel.clone(),
            self.published.clone(),
        )
    }

    /// Whether an earlier failure (kill, timeout, crash, out of memory)
    /// left the sandbox unusable until `restore()` or `unload()`.
    #[napi(getter)]
    pub fn poisoned(&self) -> bool {
        self.published.poisoned.load(Ordering::Acquire)
    }

    /// Statistics of the most recent `callHandler()` call, or null before
    /// the first. Replaced by each call, failed ones included.
    #[napi(getter, ts_return_type = "CallStats | null")]
    pub fn last_call_stats(&self, env: Env) -> Result<Raw> {
        let stats = self
            .published
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(Raw(match stats {
            Some(s) => stats_object(env.raw(), &s)?,
            None => crate::js::null(env.raw())?,
        }))
    }

    /// Releases the micro-VM (for `await using`). Does nothing if this
    /// object was already consumed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn dispose(&mut self, env: Env) -> Result<Raw> {
        let core = self.core.take();
        if core.is_some() {
            self.consumed_by = "dispose()";
        }
        crate::worker::release(env.raw(), core)
    }
}
