//! `LoadedJSSandbox`, `Snapshot`, `InterruptHandle` and `CallStats`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyperlight_js::{CpuTimeMonitor, MonitorSet, WallClockMonitor};
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, ToNapiValue, Unknown};
use napi::{sys, Env, Result};
use napi_derive::napi;

use crate::abort::{AbortMonitor, AbortOptions, Abortable, Stops, Ticket};
use crate::args;
use crate::errors::{Failure, Request};
use crate::js::Raw;
use crate::js_sandbox::JSSandbox;
use crate::main_thread::{rejected, Deferred, EnvState};
use crate::options::Options;
use crate::worker::{Core, HostChannel, Stage};

/// Options of `callHandler`. Without a timeout the handler runs without
/// monitors; with both, the first to fire ends the call.
#[napi(object)]
pub struct CallHandlerOptions<'a> {
    /// Wall-clock timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub wall_clock_timeout_ms: Option<f64>,
    /// CPU-time timeout in milliseconds (an integer from 1 to 3,600,000):
    /// catches compute-bound abuse. Default: none.
    pub cpu_timeout_ms: Option<f64>,
    /// Whether to run the guest's cycle collector after the call (only
    /// once the heap grew by 64 KiB since the last collection). Default: true.
    pub gc: Option<bool>,
    /// Cancels the call when it aborts: first politely (the engine's
    /// interrupt: `ERR_CANCELLED`, sandbox not poisoned), then by a kill
    /// after `abortGracePeriodMs` (sandbox poisoned). Already aborted: the
    /// call rejects without running. Default: none.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<napi::bindgen_prelude::Object<'a>>,
    /// Milliseconds between an abort's polite stop and the kill (an
    /// integer from 0 to 3,600,000; 0 kills at once). Default: 100.
    pub abort_grace_period_ms: Option<f64>,
}

/// Options of `evalScript`.
#[napi(object)]
pub struct EvalScriptOptions<'a> {
    /// The script's name in stack traces and the base of its relative
    /// `import()` specifiers (name it `<namespace>:<path>` to import beside
    /// it): a non-empty string without NUL. Default: `<script>`.
    pub filename: Option<String>,
    /// Wall-clock timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub wall_clock_timeout_ms: Option<f64>,
    /// CPU-time timeout in milliseconds (an integer from 1 to 3,600,000).
    /// Default: none.
    pub cpu_timeout_ms: Option<f64>,
    /// Cancels the script as `callHandler`'s `signal` cancels a call.
    /// Default: none.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<napi::bindgen_prelude::Object<'a>>,
    /// Milliseconds between an abort's polite stop and the kill (an
    /// integer from 0 to 3,600,000). Default: 100.
    pub abort_grace_period_ms: Option<f64>,
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
    /// VM exits during the call: one for a call through the sandbox's
    /// thread plus one per host-function call, print flush or timer wait;
    /// 0 for a warm call answered in memory, host calls included (see
    /// `docs/warm-path.md`).
    pub vm_exits: f64,
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
    /// Stops the oldest call (or load) whose Promise has not settled, the
    /// one the caller waits for: it rejects with `ERR_CANCELLED` and a
    /// killed call poisons the sandbox. That includes a call that is queued
    /// or starting (`callHandler()` returned but the call has not reached
    /// the sandbox yet, e.g. `kill()` in the same tick): it is cancelled as
    /// it starts, before any guest code runs. Already finished (its result
    /// is on its way) or nothing pending: `kill()` does nothing, and it
    /// never affects a later call. Returns whether a call or load was hit.
    /// Returns at once, whatever the sandbox thread is doing.
    #[napi]
    pub fn kill(&self) -> bool {
        let hit = self.published.kill();
        // A call waiting on a host function notices at once.
        self.channel.wake();
        hit
    }

    /// The polite stop: asks the engine to stop the running call at its
    /// next interrupt check (every few thousand bytecodes). The call
    /// rejects with `ERR_CANCELLED` (`terminatedBy: null`) and the sandbox
    /// is **not** poisoned. A guest inside a long native operation or
    /// waiting on a host function stops only once that returns: keep
    /// `kill()` as the backstop. Returns whether a call was running.
    #[napi]
    pub fn request_interrupt(&self) -> bool {
        self.handle.request_interrupt()
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
        vm_exits: stats.exits as f64,
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

/// The monitors of one call, script or load, from its options.
pub(crate) struct CallMonitors {
    wall: Option<WallClockMonitor>,
    cpu: Option<CpuTimeMonitor>,
    abort: Option<AbortMonitor>,
}

impl CallMonitors {
    /// The monitors of the timeouts (milliseconds, already validated) and
    /// of an armed signal. Fails as the monitors' constructors do (the
    /// wall-clock one first).
    pub(crate) fn new(
        wall_ms: Option<u64>,
        cpu_ms: Option<u64>,
        abort: Option<AbortMonitor>,
    ) -> hyperlight_js::Result<Self> {
        Ok(Self {
            wall: wall_ms
                .map(|ms| WallClockMonitor::new(Duration::from_millis(ms)))
                .transpose()?,
            cpu: cpu_ms
                .map(|ms| CpuTimeMonitor::new(Duration::from_millis(ms)))
                .transpose()?,
            abort,
        })
    }

    /// The call's monitors as one set (a tuple when several, so that the
    /// first to fire ends the call and is named), or `None` when it has
    /// none (no monitor task at all).
    pub(crate) fn into_set(self) -> Option<Box<dyn MonitorSet>> {
        Some(match (self.wall, self.cpu, self.abort) {
            (None, None, None) => return None,
            (Some(w), None, None) => Box::new(w),
            (None, Some(c), None) => Box::new(c),
            (None, None, Some(a)) => Box::new(a),
            (Some(w), Some(c), None) => Box::new((w, c)),
            (Some(w), None, Some(a)) => Box::new((w, a)),
            (None, Some(c), Some(a)) => Box::new((c, a)),
            (Some(w), Some(c), Some(a)) => Box::new((w, c, a)),
        })
    }
}

/// Runs one call watched by whichever monitors it has.
fn run_call(
    loaded: &mut hyperlight_js::LoadedJSSandbox,
    name: &str,
    event: &str,
    gc: Option<bool>,
    m: CallMonitors,
) -> hyperlight_js::Result<Option<String>> {
    match m.into_set() {
        None => loaded.handle_event(name, event, gc),
        Some(set) => loaded.handle_event_with_monitor(name, event, &*set, gc),
    }
    .map(Some)
}

/// Runs one classic script watched by whichever monitors it has.
fn run_script(
    loaded: &mut hyperlight_js::LoadedJSSandbox,
    source: &str,
    filename: Option<&str>,
    m: CallMonitors,
) -> hyperlight_js::Result<Option<String>> {
    match m.into_set() {
        None => loaded.eval_script(source, filename),
        Some(set) => loaded.eval_script_with_monitor(source, filename, &*set),
    }
}

/// The failure of a call, with the message saying what the sandbox's state
/// is now (a polite interrupt cancels without poisoning).
pub(crate) fn call_failure(e: hyperlight_js::Error, poisoned: bool, request: Request) -> Failure {
    match e {
        hyperlight_js::Error::Cancelled {
            terminated_by: None,
        } if !poisoned => Failure::cancelled(
            format!(
                "the {} was stopped by interruptHandle.requestInterrupt(); the engine unwound \
                 cleanly and the sandbox is still usable",
                if request == Request::Script {
                    "script"
                } else {
                    "handler call"
                }
            ),
            None,
        ),
        other => Failure::of(other, request),
    }
}

/// Refuses a request made from a host function that this sandbox's
/// running call is waiting for: it would wait for that call to end, which
/// waits for the host function, forever (`ERR_INVALID_ARG`).
fn refuse_reentry(
    e: sys::napi_env,
    core: &Core,
    state: &EnvState,
    what: &str,
) -> std::result::Result<(), Failure> {
    if core.published.waiting.load(Ordering::SeqCst) > 0 && state.waited_for_by(e, core.id) {
        return Err(Failure::invalid(format!(
            "{what} was called from a host function that this sandbox's running call is \
             waiting for: the new request would wait for that call to end, which waits for \
             the host function, forever. Call it after the host function has returned (or on \
             another sandbox)"
        )));
    }
    Ok(())
}

/// Queues one guest request (a handler call or a script) on the sandbox's
/// thread, watched by its timeouts and its signal's monitor, and settles
/// `deferred` with its JSON answer parsed (`undefined` for none). The
/// statistics and the `kill()` target follow the request as for a call.
#[allow(clippy::too_many_arguments)]
fn queue_watched(
    core: &Arc<Core>,
    published: &Arc<crate::worker::Published>,
    deferred: Deferred,
    abortable: Option<Arc<Abortable>>,
    wall: Option<u64>,
    cpu: Option<u64>,
    request: Request,
    run: impl FnOnce(
            &mut hyperlight_js::LoadedJSSandbox,
            CallMonitors,
        ) -> hyperlight_js::Result<Option<String>>
        + Send
        + 'static,
) {
    let ticket = Ticket::new(deferred, abortable.clone());
    let published = published.clone();
    let record = published.enqueue();
    core.queue(move |stage| {
        if let Some(a) = &abortable {
            if !a.begin() {
                return;
            }
        }
        published.start(record.seq);
        let result = (|| {
            let Stage::Loaded(loaded) = stage else {
                return Err(Failure::internal("the sandbox is not loaded"));
            };
            let monitors =
                CallMonitors::new(wall, cpu, abortable.as_ref().map(Abortable::monitor))?;
            let before = loaded.last_call_stats().cloned();
            let result = run(loaded, monitors);
            let poisoned = loaded.poisoned();
            if let Some(a) = &abortable {
                a.end(poisoned);
            }
            Core::publish_request(&published, loaded, before.as_ref());
            if abortable.as_ref().is_some_and(|a| a.aborted()) {
                // A polite stop leaves `terminated_by` empty in Rust:
                // the abort ended this call either way.
                if let Err(hyperlight_js::Error::Cancelled { .. }) = &result {
                    if let Some(stats) = published
                        .stats
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_mut()
                    {
                        stats.terminated_by = Some(crate::abort::MONITOR_NAME);
                    }
                }
            }
            result.map_err(|e| call_failure(e, poisoned, request))
        })();
        published.finish(record.seq);
        if let Some(a) = &abortable {
            // Also after a failure before the call ran (ends once).
            a.end_if_running(false);
        }
        ticket.settle(Box::new(move |env| {
            // The call stops being the target of `kill()` once its
            // Promise settles.
            drop(record);
            match result? {
                Some(json) => EnvState::get(env)
                    .map_err(Failure::internal)?
                    .parse(env, &json),
                None => crate::js::undefined(env).map_err(Failure::internal),
            }
        }));
    });
}

#[napi]
impl LoadedJSSandbox {
    /// Calls the handler `handlerName` with `eventData` (any
    /// JSON-serialisable value) and resolves to its result.
    #[napi(
        ts_args_type = "handlerName: string, eventData: unknown, options?: CallHandlerOptions",
        ts_return_type = "Promise<unknown>"
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
            let opts = Options::parse(
                e,
                options.as_ref().map(args::raw),
                "callHandler",
                crate::options::CALL_KEYS,
            )?;
            let wall = opts.timeout_ms("wallClockTimeoutMs")?;
            let cpu = opts.timeout_ms("cpuTimeoutMs")?;
            let gc = opts.boolean("gc")?;
            let abort = AbortOptions::from_options(&opts)?;
            let state = EnvState::get(e).map_err(Failure::internal)?;
            let event = state.stringify(e, args::raw(&event_data), "the event")?;
            let core = self.core()?.clone();
            refuse_reentry(e, &core, state, "callHandler()")?;
            let polite = self.handle.clone();
            let kill = self.interrupt_handle();
            let abortable = Abortable::arm(
                e,
                &abort,
                "handler call",
                Stops {
                    polite: Box::new(move || polite.request_interrupt()),
                    kill: Box::new(move || kill.kill()),
                },
            )?;
            Ok((name, wall, cpu, gc, abortable, event, core))
        })();
        let (name, wall, cpu, gc, abortable, event, core) = match checked {
            Ok(x) => x,
            Err(failure) => return rejected(e, failure),
        };
        let (deferred, promise) = Deferred::new(e)?;
        // A call without a signal may take the exit-less warm path.
        let deferred = if abortable.is_none() {
            match core
                .warm
                .try_call(e, deferred, &name, &event, gc, wall, cpu)
            {
                crate::warm::Tried::Posted => return Ok(Raw(promise)),
                crate::warm::Tried::NotPosted(d) => d,
            }
        } else {
            deferred
        };
        queue_watched(
            &core,
            &self.published,
            deferred,
            abortable,
            wall,
            cpu,
            Request::Call,
            move |l, m| run_call(l, &name, &event, gc, m),
        );
        Ok(Raw(promise))
    }

    /// Evaluates `source` as a classic script (global code, as a
    /// `<script>` element or Node's `vm.runInThisContext`) in the
    /// sandbox's realm and resolves to its completion value (after a JSON
    /// round trip; `undefined` when it is `undefined`, a function or a
    /// symbol). Top-level `let`/`const`/`class` stay visible to later
    /// scripts and to handlers; `var` and functions become properties of
    /// the global object. Options: `filename` (default `<script>`: names
    /// the script in stack traces and is the base of its relative
    /// `import()`), and the timeouts, `signal` and `abortGracePeriodMs` of
    /// `callHandler`.
    #[napi(
        ts_args_type = "source: string, options?: EvalScriptOptions",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn eval_script(
        &self,
        env: Env,
        source: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<Raw> {
        let e = env.raw();
        let checked = (|| {
            let source = args::string(e, args::raw(&source), "the script")?;
            let opts = Options::parse(
                e,
                options.as_ref().map(args::raw),
                "evalScript",
                crate::options::EVAL_KEYS,
            )?;
            let filename = opts
                .get("filename")?
                .map(|v| args::string(e, v, "filename"))
                .transpose()?;
            let wall = opts.timeout_ms("wallClockTimeoutMs")?;
            let cpu = opts.timeout_ms("cpuTimeoutMs")?;
            let abort = AbortOptions::from_options(&opts)?;
            let state = EnvState::get(e).map_err(Failure::internal)?;
            let core = self.core()?.clone();
            refuse_reentry(e, &core, state, "evalScript()")?;
            let polite = self.handle.clone();
            let kill = self.interrupt_handle();
            let abortable = Abortable::arm(
                e,
                &abort,
                "script",
                Stops {
                    polite: Box::new(move || polite.request_interrupt()),
                    kill: Box::new(move || kill.kill()),
                },
            )?;
            Ok((source, filename, wall, cpu, abortable, core))
        })();
        let (source, filename, wall, cpu, abortable, core) = match checked {
            Ok(x) => x,
            Err(failure) => return rejected(e, failure),
        };
        let (deferred, promise) = Deferred::new(e)?;
        queue_watched(
            &core,
            &self.published,
            deferred,
            abortable,
            wall,
            cpu,
            Request::Script,
            move |l, m| run_script(l, &source, filename.as_deref(), m),
        );
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

    /// Statistics of the most recent `callHandler()` call that ran, failed
    /// ones included, or null before the first. A call refused before it
    /// runs (invalid argument, unknown handler, poisoned) leaves it unchanged.
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
