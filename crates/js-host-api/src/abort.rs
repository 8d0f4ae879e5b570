//! Cancellation with an `AbortSignal`: **the** helper every operation that
//! takes a `signal` option uses (`callHandler` today; the load operations
//! `loadRuntime()` / `getLoadedSandbox()` plug in the same way).
//!
//! How an operation uses it:
//! 1. main thread: read [`AbortOptions::from_options`] from its validated
//!    [`Options`](crate::options::Options) (its key list includes
//!    [`ABORT_KEYS`]), then [`Abortable::arm`] with the operation's
//!    [`Stops`] (for a call: `InterruptHandle::request_interrupt` and
//!    `InterruptHandle::kill` plus a wake-up of a waiting host call). An already-aborted
//!    signal gives the `ERR_CANCELLED` failure to reject with at once,
//!    without running anything;
//! 2. create the Promise's [`Deferred`] and wrap it in a [`Ticket`];
//! 3. sandbox thread: [`Abortable::begin`] (false: it was aborted while
//!    queued and has already been rejected: do nothing), run the work
//!    watched by [`Abortable::monitor`] (with any other monitors), then
//!    [`Abortable::end`], then settle the ticket.
//!
//! What an abort does (the listener runs on the main thread, synchronously
//! inside `controller.abort()`):
//! - queued: the Promise rejects at once; the work never runs;
//! - running: the polite stop is requested (the engine's interrupt check:
//!   the guest unwinds cleanly, `ERR_CANCELLED`, sandbox **not**
//!   poisoned); if the work has not ended after the grace period
//!   (`abortGracePeriodMs`, default [`DEFAULT_GRACE_MS`]) the `abort`
//!   monitor fires and kills it (sandbox poisoned);
//! - the Promise then rejects with `ERR_CANCELLED`, `terminatedBy:
//!   'abort'`, `cause: signal.reason`, whatever the work returned: an abort
//!   that happened before the Promise settled always wins (as with Node's
//!   own APIs), and the message says whether the sandbox is still usable.
//!
//! The listener is removed when the Promise settles, so a long-lived
//! signal shared by many calls does not collect listeners.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use napi::sys;

use crate::errors::{Failure, JsRef};
use crate::main_thread::{Deferred, Settle};
use crate::options::Options;

/// The option naming the `AbortSignal`.
pub(crate) const SIGNAL_KEY: &str = "signal";
/// The option setting the grace period between the polite stop and the kill.
pub(crate) const GRACE_KEY: &str = "abortGracePeriodMs";
/// The options this module reads; add them to the key list of any
/// operation that takes a signal.
#[allow(dead_code)]
pub(crate) const ABORT_KEYS: &[&str] = &[SIGNAL_KEY, GRACE_KEY];
/// How long a guest has to stop by itself after an abort before it is
/// killed, when `abortGracePeriodMs` is not given. The engine checks for
/// the interrupt every few thousand bytecodes (well under a millisecond);
/// 100 ms leaves room for a busy machine while keeping a guest stuck in a
/// long native operation from outliving its caller's patience.
pub(crate) const DEFAULT_GRACE_MS: u64 = 100;
/// The name of the monitor that kills after the grace period: the
/// `terminatedBy` of an aborted call.
pub(crate) const MONITOR_NAME: &str = "abort";

/// The cancellation options of one operation (main thread only).
pub(crate) struct AbortOptions {
    signal: Option<sys::napi_value>,
    grace: Duration,
}

impl AbortOptions {
    /// Reads and checks `signal` (an `AbortSignal`) and
    /// `abortGracePeriodMs` (an integer from 0 to 3,600,000; 0 kills at
    /// once).
    pub(crate) fn from_options(options: &Options) -> Result<Self, Failure> {
        let env = options.env();
        let signal = options.get(SIGNAL_KEY)?;
        if let Some(s) = signal {
            if !is_abort_signal(env, s) {
                return Err(Failure::invalid(format!(
                    "option signal of {} must be an AbortSignal, not {}",
                    options.operation,
                    crate::args::kind(env, s)
                )));
            }
        }
        let grace = options.duration_ms(GRACE_KEY)?.unwrap_or(DEFAULT_GRACE_MS);
        Ok(Self {
            signal,
            grace: Duration::from_millis(grace),
        })
    }
}

/// An `AbortSignal`, or anything shaped like one (a boolean `aborted`, an
/// `addEventListener` and a `removeEventListener` function).
fn is_abort_signal(env: sys::napi_env, v: sys::napi_value) -> bool {
    if crate::js::type_of(env, v) != sys::ValueType::napi_object {
        return false;
    }
    let is_fn = |name| {
        crate::js::global_property(env, v, name)
            .map(|f| crate::js::type_of(env, f) == sys::ValueType::napi_function)
            .unwrap_or(false)
    };
    let aborted = crate::js::global_property(env, v, "aborted")
        .ok()
        .and_then(|a| crate::js::get_bool(env, a));
    aborted.is_some() && is_fn("addEventListener") && is_fn("removeEventListener")
}

/// How to stop a running operation. Each returns whether something was
/// running; both are only called while the operation runs (under its
/// phase lock), so they never reach the sandbox's next operation.
pub(crate) struct Stops {
    /// The polite stop (the engine's interrupt).
    pub(crate) polite: Box<dyn Fn() -> bool + Send + Sync>,
    /// The forced stop, after the grace period (poisons the sandbox).
    pub(crate) kill: Box<dyn Fn() -> bool + Send + Sync>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Queued,
    Running,
    Done,
}

/// The main-thread side of the listener: removed when the Promise settles.
struct Listener {
    signal: JsRef,
    function: JsRef,
}

impl Listener {
    fn detach(self, env: sys::napi_env) {
        let _ = (|| -> napi::Result<()> {
            let signal = crate::js::deref(env, self.signal_ref())?;
            let remove = crate::js::global_property(env, signal, "removeEventListener")?;
            let kind = crate::js::string(env, "abort")?;
            let function = crate::js::deref(env, self.function_ref())?;
            let _ = crate::js::call_method(env, signal, remove, &[kind, function]);
            Ok(())
        })();
    }

    fn signal_ref(&self) -> sys::napi_ref {
        self.signal.raw()
    }

    fn function_ref(&self) -> sys::napi_ref {
        self.function.raw()
    }

    /// `signal.reason`, as a reference for the error's `cause`.
    fn reason(&self, env: sys::napi_env) -> Option<JsRef> {
        let signal = crate::js::deref(env, self.signal_ref()).ok()?;
        let reason = crate::js::global_property(env, signal, "reason").ok()?;
        JsRef::new(env, reason).ok()
    }
}

/// One operation that an `AbortSignal` can cancel. See the module docs.
pub(crate) struct Abortable {
    /// What is cancelled, for messages: `"handler call"`.
    what: &'static str,
    grace: Duration,
    stops: Stops,
    phase: Mutex<Phase>,
    aborted: AtomicBool,
    /// Whether the work was stopped by the kill (sandbox poisoned).
    poisoned: AtomicBool,
    /// The `abort` monitor's future, waiting for the abort.
    waker: Mutex<Option<Waker>>,
    deferred: Mutex<Option<Deferred>>,
    listener: Mutex<Option<Listener>>,
}

impl Abortable {
    /// Arms cancellation for one operation: `Ok(None)` without a signal,
    /// `Err` (the rejection, `ERR_CANCELLED` with the signal's reason as
    /// `cause`) when the signal is already aborted. Main thread only.
    pub(crate) fn arm(
        env: sys::napi_env,
        options: &AbortOptions,
        what: &'static str,
        stops: Stops,
    ) -> Result<Option<Arc<Abortable>>, Failure> {
        let Some(signal) = options.signal else {
            return Ok(None);
        };
        let aborted = crate::js::global_property(env, signal, "aborted")
            .ok()
            .and_then(|a| crate::js::get_bool(env, a))
            .unwrap_or(false);
        if aborted {
            let reason = crate::js::global_property(env, signal, "reason")
                .ok()
                .and_then(|r| JsRef::new(env, r).ok());
            return Err(Failure::cancelled(
                format!("the {what} was not started: its AbortSignal was already aborted"),
                Some(MONITOR_NAME),
            )
            .with_cause(reason));
        }
        let abortable = Arc::new(Abortable {
            what,
            grace: options.grace,
            stops,
            phase: Mutex::new(Phase::Queued),
            aborted: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            waker: Mutex::new(None),
            deferred: Mutex::new(None),
            listener: Mutex::new(None),
        });
        let listener = attach(env, signal, &abortable).map_err(Failure::internal)?;
        *lock(&abortable.listener) = Some(listener);
        Ok(Some(abortable))
    }

    /// Removes the signal's listener of an operation that will never run
    /// under this `Abortable` (e.g. `loadRuntime()`, whose options are only
    /// validated): without it, the listener would stay on a long-lived
    /// signal for as long as the signal lives. Main thread only.
    pub(crate) fn disarm(&self, env: sys::napi_env) {
        if let Some(listener) = lock(&self.listener).take() {
            listener.detach(env);
        }
    }

    /// Sandbox thread, before the work: `false` when the operation was
    /// aborted while queued (its Promise is already rejected).
    pub(crate) fn begin(&self) -> bool {
        let mut phase = lock(&self.phase);
        if *phase != Phase::Queued {
            return false;
        }
        *phase = Phase::Running;
        true
    }

    /// Sandbox thread, after the work; `poisoned` is the sandbox's state
    /// now. After this, an abort no longer touches the sandbox.
    pub(crate) fn end(&self, poisoned: bool) {
        *lock(&self.phase) = Phase::Done;
        self.poisoned.store(poisoned, Ordering::Release);
    }

    /// [`end`](Self::end), unless it was already called.
    pub(crate) fn end_if_running(&self, poisoned: bool) {
        if *lock(&self.phase) == Phase::Running {
            self.end(poisoned);
        }
    }

    /// Whether the signal aborted (so far).
    pub(crate) fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The monitor that kills the work `abortGracePeriodMs` after an abort.
    pub(crate) fn monitor(self: &Arc<Self>) -> AbortMonitor {
        AbortMonitor(self.clone())
    }

    /// The listener: runs on the main thread inside `controller.abort()`.
    fn on_abort(self: &Arc<Self>) {
        let mut phase = lock(&self.phase);
        if self.aborted.swap(true, Ordering::AcqRel) {
            return;
        }
        match *phase {
            Phase::Queued => {
                *phase = Phase::Done;
                drop(phase);
                // Rejected now; `begin` will skip the work.
                self.settle(Box::new(|_| Err(Failure::internal("unreachable"))));
            }
            Phase::Running => {
                // Under the phase lock: the work cannot end (and another
                // operation start) between this check and the request.
                (self.stops.polite)();
                drop(phase);
                if let Some(waker) = lock(&self.waker).take() {
                    waker.wake();
                }
            }
            Phase::Done => {}
        }
    }

    /// Settles the Promise once (later calls do nothing): with what
    /// `settle` builds, unless the signal aborted first, in which case it
    /// rejects with `ERR_CANCELLED` whatever the work returned.
    fn settle(self: &Arc<Self>, settle: Settle) {
        let Some(deferred) = lock(&self.deferred).take() else {
            return;
        };
        let listener = lock(&self.listener).take();
        let this = self.clone();
        deferred.settle(Box::new(move |env| {
            // On the main thread, where aborts happen: an abort before this
            // point wins.
            let reason = listener.as_ref().and_then(|l| l.reason(env));
            if let Some(l) = listener {
                l.detach(env);
            }
            if !this.aborted() {
                return settle(env);
            }
            // Drop what the work built (a result, or its own error).
            drop(settle(env));
            let what = this.what;
            let message = if this.poisoned.load(Ordering::Acquire) {
                format!(
                    "the {what} was cancelled by its AbortSignal: it did not stop within \
                     abortGracePeriodMs ({} ms) and was killed; the sandbox is now poisoned: \
                     restore a snapshot or unload it",
                    this.grace.as_millis()
                )
            } else {
                format!("the {what} was cancelled by its AbortSignal; the sandbox is still usable")
            };
            Err(Failure::cancelled(message, Some(MONITOR_NAME)).with_cause(reason))
        }));
    }

    /// The grace period is over: kill the work if it still runs.
    fn force(&self) {
        let phase = lock(&self.phase);
        if *phase == Phase::Running {
            (self.stops.kill)();
        }
    }

    fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.aborted() {
            return Poll::Ready(());
        }
        *lock(&self.waker) = Some(cx.waker().clone());
        if self.aborted() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The job side of an operation's Promise: settles it once, through its
/// [`Abortable`] when it has one. Dropped unsettled (the sandbox thread
/// died), it rejects with `ERR_INTERNAL` as a bare [`Deferred`] does.
pub(crate) struct Ticket {
    abortable: Option<Arc<Abortable>>,
    deferred: Option<Deferred>,
}

impl Ticket {
    /// The ticket of `deferred`, cancellable by `abortable`.
    pub(crate) fn new(deferred: Deferred, abortable: Option<Arc<Abortable>>) -> Self {
        match abortable {
            Some(a) => {
                *lock(&a.deferred) = Some(deferred);
                Self {
                    abortable: Some(a),
                    deferred: None,
                }
            }
            None => Self {
                abortable: None,
                deferred: Some(deferred),
            },
        }
    }

    /// Settles the Promise (see [`Abortable`] for what an abort changes).
    pub(crate) fn settle(mut self, settle: Settle) {
        if let Some(a) = self.abortable.take() {
            a.settle(settle);
        } else if let Some(d) = self.deferred.take() {
            d.settle(settle);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(a) = self.abortable.take() {
            a.settle(Box::new(|_| {
                Err(Failure::internal(
                    "the sandbox thread stopped before it answered (it panicked); \
                     this sandbox can no longer be used",
                ))
            }));
        }
    }
}

/// Kills the work `abortGracePeriodMs` after its signal aborted, if the
/// polite stop did not end it first. Reported as `terminatedBy: 'abort'`.
pub(crate) struct AbortMonitor(Arc<Abortable>);

impl hyperlight_js::ExecutionMonitor for AbortMonitor {
    fn get_monitor(&self) -> hyperlight_js::Result<impl Future<Output = ()> + Send + 'static> {
        let abortable = self.0.clone();
        Ok(async move {
            std::future::poll_fn(|cx| abortable.poll_aborted(cx)).await;
            if !abortable.grace.is_zero() {
                hyperlight_js::monitor::sleep(abortable.grace).await;
            }
            // Kill here rather than leave it to the monitor runtime: the
            // operation's kill also wakes a host call waiting for
            // JavaScript, which otherwise notices only at its next poll.
            abortable.force();
        })
    }

    fn name(&self) -> &'static str {
        MONITOR_NAME
    }
}

/// Adds the abort listener to `signal` (`{ once: true }`).
fn attach(
    env: sys::napi_env,
    signal: sys::napi_value,
    abortable: &Arc<Abortable>,
) -> napi::Result<Listener> {
    let data = Arc::into_raw(abortable.clone()) as *mut std::ffi::c_void;
    let mut function = std::ptr::null_mut();
    let name = "onAbort";
    // SAFETY: valid env; `data` is a strong count of the Abortable, given
    // back by `release` when the function is collected.
    let status = unsafe {
        sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(on_abort),
            data,
            &mut function,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: the function was not created; nobody else owns `data`.
        drop(unsafe { Arc::from_raw(data as *const Abortable) });
        return crate::main_thread::check(status, "napi_create_function").map(|_| unreachable!());
    }
    // SAFETY: `function` is alive; `release` runs once when it is collected.
    let status = unsafe {
        sys::napi_add_finalizer(
            env,
            function,
            data,
            Some(release),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: no finalizer owns `data`; the function is never called
        // (it is not attached), so dropping the count here is sound.
        drop(unsafe { Arc::from_raw(data as *const Abortable) });
        return crate::main_thread::check(status, "napi_add_finalizer").map(|_| unreachable!());
    }
    let add = crate::js::global_property(env, signal, "addEventListener")?;
    let kind = crate::js::string(env, "abort")?;
    let mut options = std::ptr::null_mut();
    // SAFETY: valid env and out pointer.
    crate::main_thread::check(
        unsafe { sys::napi_create_object(env, &mut options) },
        "napi_create_object",
    )?;
    let mut yes = std::ptr::null_mut();
    // SAFETY: valid env and out pointer.
    crate::main_thread::check(
        unsafe { sys::napi_get_boolean(env, true, &mut yes) },
        "napi_get_boolean",
    )?;
    crate::js::set_property(env, options, "once", yes)?;
    crate::js::call_method(env, signal, add, &[kind, function, options])
        .map_err(|e| crate::js::to_napi(env, e))?;
    Ok(Listener {
        signal: JsRef::new(env, signal)?,
        function: JsRef::new(env, function)?,
    })
}

unsafe extern "C" fn on_abort(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut data = std::ptr::null_mut();
    let mut argc = 0usize;
    // SAFETY: valid callback info; no arguments are read.
    unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut data,
        )
    };
    if !data.is_null() {
        // SAFETY: `data` is the strong count given in `attach`, alive until
        // the function is collected (it is being called, so it is alive);
        // this takes one more count, dropped at the end of the block.
        let abortable = unsafe {
            Arc::increment_strong_count(data as *const Abortable);
            Arc::from_raw(data as *const Abortable)
        };
        abortable.on_abort();
    }
    std::ptr::null_mut()
}

unsafe extern "C" fn release(
    _env: sys::napi_env,
    data: *mut std::ffi::c_void,
    _hint: *mut std::ffi::c_void,
) {
    // SAFETY: the strong count given in `attach`, released once.
    drop(unsafe { Arc::from_raw(data as *const Abortable) });
}
