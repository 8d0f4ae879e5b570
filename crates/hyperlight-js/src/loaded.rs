//! `LoadedJSSandbox`: handlers are compiled; events can be handled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::Guest;
use crate::error::{Error, Result};
use crate::host_functions::HostFunctions;
use crate::js_sandbox::JSSandbox;
use crate::monitor::{MonitorSet, Watch};
use crate::observability::{self, StageGauge};
use crate::stats::{thread_cpu_time, CallStats};
use crate::warm::WarmPath;

/// A point-in-time copy of a loaded sandbox: guest memory and vCPU state,
/// plus the host's record of what was loaded then (the handler names and
/// the sources of the added modules). Cheap to clone.
///
/// It is a snapshot of the VM, not of one load: it can be restored into
/// the sandbox it was taken from, also after that sandbox was unloaded and
/// loaded again (with other handlers). Restoring brings back the
/// snapshot's own handlers and module state, whatever is loaded now; the
/// module loaders set now stay in force for later imports (see
/// `docs/snapshots.md`). Restoring into another sandbox is an
/// [`Error::InvalidArgument`].
#[derive(Clone)]
pub struct Snapshot {
    inner: Arc<hyperlight_vm::Snapshot>,
    handlers: Arc<BTreeSet<String>>,
    added: Arc<BTreeMap<(String, String), String>>,
}

impl Snapshot {
    /// The routing keys of the handlers a restore of this snapshot brings
    /// back.
    pub fn handler_names(&self) -> impl Iterator<Item = &str> {
        self.handlers.iter().map(String::as_str)
    }

    /// Bytes of guest memory the snapshot holds: the pages (4 KiB each)
    /// that were non-zero when it was taken, less the guest image's code
    /// and read-only data, which every sandbox of the process shares and
    /// no snapshot stores.
    pub fn stored_bytes(&self) -> u64 {
        self.inner.stored_pages() as u64 * 4096
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("handlers", &self.handlers)
            .finish_non_exhaustive()
    }
}

/// Kills the call running in a sandbox, from any thread.
#[derive(Clone)]
pub struct InterruptHandle(hyperlight_vm::InterruptHandle);

impl InterruptHandle {
    pub(crate) fn new(handle: hyperlight_vm::InterruptHandle) -> Self {
        Self(handle)
    }

    /// Stops the call running now, if any: it returns
    /// [`Error::Cancelled`] and the sandbox is poisoned. A kill while no
    /// call runs does nothing (it does not affect the next call) and
    /// returns `false`.
    pub fn kill(&self) -> bool {
        self.0.kill()
    }

    /// Kills the running call or, when none is running, the next call to
    /// start (it fails with [`Error::Cancelled`] before any guest code
    /// runs, and poisons the sandbox as any kill does). For an embedder that queues calls and
    /// knows one is queued or starting: a kill in that window must not be
    /// lost. [`disarm`](Self::disarm) cancels such a pending kill. Returns
    /// whether a call was running.
    pub fn kill_next(&self) -> bool {
        self.0.kill_next()
    }

    /// Withdraws a [`kill_next`](Self::kill_next) that no call consumed;
    /// returns whether one was pending.
    pub fn disarm(&self) -> bool {
        self.0.disarm()
    }

    /// The polite stop: asks the engine to stop the running call at its
    /// next interrupt check. The call returns [`Error::Cancelled`] but the
    /// sandbox is **not** poisoned, because the engine unwinds cleanly. A
    /// guest stuck where the engine does not check (a long native
    /// operation) is not stopped: use [`kill`](Self::kill) as the backstop.
    /// Returns `false` when no call is running.
    pub fn request_interrupt(&self) -> bool {
        self.0.request_interrupt()
    }
}

impl std::fmt::Debug for InterruptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InterruptHandle")
    }
}

/// A sandbox with its handlers compiled, ready to handle events.
pub struct LoadedJSSandbox {
    guest: Guest,
    host_functions: Arc<HostFunctions>,
    handlers: Arc<BTreeSet<String>>,
    last_stats: Option<CallStats>,
    /// Set when this layer poisons the sandbox (out of memory); the VM
    /// poisons itself for kills and crashes. Shared with the load's
    /// [`WarmPath`]s, whose calls may run out of memory too.
    poison: Arc<Mutex<Option<String>>>,
    _stage: StageGauge,
}

impl std::fmt::Debug for LoadedJSSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedJSSandbox")
            .field("handlers", &self.handlers)
            .field("poisoned", &self.poisoned())
            .finish_non_exhaustive()
    }
}

impl LoadedJSSandbox {
    pub(crate) fn new(
        guest: Guest,
        host_functions: Arc<HostFunctions>,
        handlers: BTreeSet<String>,
    ) -> Self {
        Self {
            guest,
            host_functions,
            handlers: Arc::new(handlers),
            last_stats: None,
            poison: Arc::new(Mutex::new(None)),
            _stage: StageGauge::new("loaded"),
        }
    }

    fn set_poison(&self, reason: Option<String>) {
        *self.poison.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// The handle other threads use to call this sandbox's handlers without
    /// a VM exit while this thread is in [`serve_warm`](Self::serve_warm).
    pub fn warm_path(&self) -> WarmPath {
        WarmPath::new(
            self.guest.vm.mailbox(),
            self.poison.clone(),
            self.guest.print.share(),
            self.host_functions.clone(),
        )
        .with_sandbox_id(self.guest.vm.id())
    }

    /// Serves warm calls ([`WarmPath`]) for up to `window`: the guest polls
    /// its mailbox instead of waiting in an exit. Call it on this sandbox's
    /// thread after a call returned, when the next call is likely to follow
    /// soon; it returns when the guest stops polling (the window ended with
    /// no call, [`WarmPath::release`] asked, or the machine is so busy that
    /// the sandbox's thread was descheduled).
    ///
    /// Returns `None` when every call posted meanwhile was answered through
    /// the mailbox, and `Some(result)` with the result of a call whose
    /// poster stopped waiting (deliver it with [`WarmPath::complete`]) or
    /// that failed (killed: [`Error::Cancelled`]; crashed or out of memory:
    /// [`Error::GuestAbort`], the sandbox is then poisoned). A poisoned
    /// sandbox does not serve (`None` at once).
    pub fn serve_warm(&mut self, window: Duration) -> Option<Result<String>> {
        if self.poisoned() {
            return None;
        }
        match self.guest.poll_mailbox(window) {
            Ok(hyperlight_vm::PollEnd::Idle) => None,
            Ok(hyperlight_vm::PollEnd::Answer(resp)) => {
                let r = crate::driver::call_result(resp, self.guest.vm.interrupt_requested());
                if let Err(Error::GuestAbort(msg)) = &r {
                    // Out of memory while serving a warm call.
                    self.set_poison(Some(msg.clone()));
                }
                Some(r)
            }
            Err(e) => {
                // The VM poisoned itself; say so to the warm path too, so
                // that it refuses calls with the reason.
                if let Some(reason) = self.guest.vm.poisoned() {
                    self.set_poison(Some(reason.to_string()));
                }
                Some(Err(e))
            }
        }
    }

    /// Calls the handler `name` with a JSON `event`; returns the handler's
    /// result as JSON. `gc` (default `true`) runs the guest's cycle
    /// collector after the call, once the heap grew by 64 KiB since the last
    /// collection (reference counting already freed acyclic garbage).
    pub fn handle_event(
        &mut self,
        name: &str,
        event: impl AsRef<str>,
        gc: Option<bool>,
    ) -> Result<String> {
        self.run(name, event.as_ref(), gc, None::<&NoMonitor>)
    }

    /// Like [`handle_event`](Self::handle_event), watched by a monitor or a
    /// tuple of monitors: the first to fire kills the call
    /// ([`Error::Cancelled`], sandbox poisoned). If a monitor cannot start,
    /// the handler is not run and the sandbox is not poisoned.
    pub fn handle_event_with_monitor<M: MonitorSet + ?Sized>(
        &mut self,
        name: &str,
        event: impl AsRef<str>,
        monitor: &M,
        gc: Option<bool>,
    ) -> Result<String> {
        self.run(name, event.as_ref(), gc, Some(monitor))
    }

    fn run<M: MonitorSet + ?Sized>(
        &mut self,
        name: &str,
        event: &str,
        gc: Option<bool>,
        monitor: Option<&M>,
    ) -> Result<String> {
        let span = tracing::info_span!(
            "hyperlight_js.call",
            sandbox_id = self.guest.vm.id(),
            handler = name,
            outcome = tracing::field::Empty,
            terminated_by = tracing::field::Empty,
        );
        let _entered = span.enter();
        let result = self.run_inner(name, event, gc, monitor);
        span.record("outcome", observability::outcome(&result));
        if let Err(Error::Cancelled {
            terminated_by: Some(m),
        }) = &result
        {
            span.record("terminated_by", *m);
        }
        result
    }

    fn run_inner<M: MonitorSet + ?Sized>(
        &mut self,
        name: &str,
        event: &str,
        gc: Option<bool>,
        monitor: Option<&M>,
    ) -> Result<String> {
        crate::names::check_name("the handler name", name)?;
        if !self.handlers.contains(name) {
            return Err(Error::invalid(format!(
                "no handler named {name:?} is loaded"
            )));
        }
        self.watched(name, monitor, |guest| {
            guest.call(name, event, gc.unwrap_or(true))
        })
    }

    /// Evaluates `source` as a classic script (an ECMAScript *Script*:
    /// global code, sloppy unless it starts with `"use strict"`) in the
    /// sandbox's realm, then runs the pending jobs (promise reactions), as
    /// a call does. This is what a `<script>` element or Node's
    /// `vm.runInThisContext` does, and what indirect `eval` does not:
    /// top-level `let`, `const` and `class` declarations land in the
    /// global lexical environment and stay visible to later scripts and to
    /// handlers; `var` and function declarations become properties of the
    /// global object. `filename` (default `<script>`) names the script in
    /// stack traces and is the base of relative `import()` specifiers in
    /// it (name it `<namespace>:<path>` to import beside it).
    ///
    /// Returns the script's completion value as JSON, or `None` when it is
    /// `undefined`, a function or a symbol. Errors: a thrown exception or
    /// a syntax error is [`Error::Handler`] (the script's effects up to the
    /// throw remain); a completion value that JSON cannot express (a
    /// BigInt, a cycle) or that does not fit the output buffer is
    /// [`Error::Handler`] named `ResultError` after the script ran; a
    /// source larger than the input buffer, or an empty file name, is
    /// [`Error::InvalidArgument`]; out of memory poisons the sandbox
    /// ([`Error::GuestAbort`]). The script's effects persist until the next
    /// [`restore`](Self::restore) or [`unload`](Self::unload). Calls are
    /// counted in the call metrics under the handler label `<script>`. See
    /// `docs/scripts.md`.
    pub fn eval_script(&mut self, source: &str, filename: Option<&str>) -> Result<Option<String>> {
        self.eval_script_inner(source, filename, None::<&NoMonitor>)
    }

    /// Like [`eval_script`](Self::eval_script), watched by a monitor or a
    /// tuple of monitors, as in
    /// [`handle_event_with_monitor`](Self::handle_event_with_monitor).
    pub fn eval_script_with_monitor<M: MonitorSet + ?Sized>(
        &mut self,
        source: &str,
        filename: Option<&str>,
        monitor: &M,
    ) -> Result<Option<String>> {
        self.eval_script_inner(source, filename, Some(monitor))
    }

    fn eval_script_inner<M: MonitorSet + ?Sized>(
        &mut self,
        source: &str,
        filename: Option<&str>,
        monitor: Option<&M>,
    ) -> Result<Option<String>> {
        let filename = filename.unwrap_or("<script>");
        if filename.is_empty() || filename.contains('\0') {
            return Err(Error::invalid(
                "a script's file name must be non-empty and must not contain NUL",
            ));
        }
        let span = tracing::info_span!(
            "hyperlight_js.eval_script",
            sandbox_id = self.guest.vm.id(),
            filename,
            outcome = tracing::field::Empty,
        );
        let _entered = span.enter();
        let result = self.watched("<script>", monitor, |guest| {
            guest.eval_script(filename, source)
        });
        span.record("outcome", observability::outcome(&result));
        result
    }

    /// Runs one guest request under the poison check and the monitors, and
    /// records its statistics and metrics (`label`: the handler, or
    /// `<script>`).
    fn watched<M: MonitorSet + ?Sized, T>(
        &mut self,
        label: &str,
        monitor: Option<&M>,
        request: impl FnOnce(&mut Guest) -> Result<T>,
    ) -> Result<T> {
        if let Some(reason) = self.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let started = Instant::now();
        let cpu_start = thread_cpu_time();
        let exits_start = self.guest.vm.exits();
        let watch = match monitor {
            Some(m) => {
                let handle = self.guest.vm.interrupt_handle();
                Some(Watch::start(m, move || {
                    handle.kill();
                })?)
            }
            None => None,
        };
        let result = request(&mut self.guest);
        let fired = watch.and_then(Watch::finish);
        let cpu_time = match (cpu_start, thread_cpu_time()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let result = match result {
            Err(Error::Cancelled { .. }) => {
                if let (Some(name), true) = (fired, self.guest.vm.poisoned().is_some()) {
                    // Say which limit ended it in later ERR_POISONED messages.
                    self.set_poison(Some(format!(
                        "the previous call was killed by the {name} monitor"
                    )));
                }
                Err(Error::Cancelled {
                    terminated_by: fired,
                })
            }
            Err(Error::GuestAbort(msg)) if self.guest.vm.poisoned().is_none() => {
                // Out of memory: the engine survived, but its state cannot
                // be trusted any more.
                self.set_poison(Some(msg.clone()));
                Err(Error::GuestAbort(msg))
            }
            other => other,
        };
        let terminated_by = match &result {
            Err(Error::Cancelled { terminated_by }) => *terminated_by,
            _ => None,
        };
        let wall_clock = started.elapsed();
        self.last_stats = Some(CallStats {
            wall_clock,
            cpu_time,
            terminated_by,
            exits: self.guest.vm.exits().saturating_sub(exits_start),
        });
        let heap = (self.guest.vm.poisoned().is_none()).then(|| self.guest_heap_used());
        observability::record_call(observability::outcome(&result), label, wall_clock, heap);
        result
    }

    /// Statistics of the most recent call that ran, failed ones included
    /// (`None` before the first). A call refused before it runs (invalid
    /// argument, unknown handler, poisoned sandbox) leaves it unchanged, and
    /// is not counted by the calls metric.
    pub fn last_call_stats(&self) -> Option<&CallStats> {
        self.last_stats.as_ref()
    }

    /// Whether an earlier failure (kill, crash, out of memory) left the
    /// sandbox unusable until a [`restore`](Self::restore) or
    /// [`unload`](Self::unload).
    pub fn poisoned(&self) -> bool {
        self.poison_reason().is_some()
    }

    fn poison_reason(&self) -> Option<String> {
        if let Some(p) = self
            .poison
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Some(p);
        }
        self.guest.vm.poisoned().map(str::to_string)
    }

    /// Bytes of the guest heap in use now (the engine's objects and the
    /// runtime's own), as the guest last reported them. Also recorded after
    /// every call as the `hyperlight_js_guest_heap_used_bytes` histogram.
    pub fn guest_heap_used(&self) -> u64 {
        self.guest.guest_stats().heap_used
    }

    /// The most bytes of guest heap in use at once since the sandbox was
    /// built (a [`restore`](Self::restore) rewinds it with the rest of the
    /// guest's memory). Compare with the heap size
    /// ([`SandboxBuilder::with_heap_size`](crate::SandboxBuilder::with_heap_size))
    /// to size sandboxes.
    pub fn guest_heap_peak(&self) -> u64 {
        self.guest.guest_stats().heap_peak
    }

    /// Test hook: makes the guest fault on purpose (a write to the unmapped
    /// null page from the guest function `hyperlight_js_debug_fault`), to
    /// test crash dumps end to end. Poisons the sandbox; returns the
    /// [`Error::GuestAbort`] a crash gives. Only with the `test-hooks`
    /// feature, which this crate's own tests enable (never its users).
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn __fault_for_tests(&mut self) -> Result<()> {
        self.guest.debug_fault()
    }

    /// A handle that can kill the running call from another thread.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.guest.vm.interrupt_handle())
    }

    /// Captures the sandbox's state. A poisoned sandbox cannot be
    /// snapshotted.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        let _span = tracing::info_span!("hyperlight_js.snapshot", sandbox_id = self.guest.vm.id())
            .entered();
        if let Some(reason) = self.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let inner = Arc::new(self.guest.vm.snapshot().map_err(Error::from)?);
        metrics::counter!(observability::SNAPSHOTS).increment(1);
        Ok(Snapshot {
            inner,
            handlers: self.handlers.clone(),
            added: self.guest.modules.added.clone(),
        })
    }

    /// Returns the sandbox to `snapshot`, which must come from this
    /// sandbox (taken during this load or an earlier one). Afterwards the
    /// loaded handlers are the snapshot's ([`Snapshot::handler_names`]).
    /// Clears poisoning. A snapshot of another sandbox is an
    /// [`Error::InvalidArgument`] and changes nothing.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<()> {
        let span = tracing::info_span!(
            "hyperlight_js.restore",
            sandbox_id = self.guest.vm.id(),
            outcome = tracing::field::Empty,
        );
        let _entered = span.enter();
        let result = self.restore_inner(snapshot);
        let outcome = observability::outcome(&result);
        span.record("outcome", outcome);
        metrics::counter!(observability::RESTORES, "outcome" => outcome).increment(1);
        result
    }

    fn restore_inner(&mut self, snapshot: &Snapshot) -> Result<()> {
        self.guest
            .vm
            .restore(&snapshot.inner)
            .map_err(|e| match e {
                hyperlight_vm::Error::ForeignSnapshot { .. } => {
                    Error::invalid("this snapshot was taken from another sandbox")
                }
                other => Error::from(other),
            })?;
        self.handlers = snapshot.handlers.clone();
        self.guest.modules.added = snapshot.added.clone();
        self.set_poison(None);
        Ok(())
    }

    /// Drops every handler and module and returns to the state right after
    /// `load_runtime` (works on a poisoned sandbox too).
    pub fn unload(mut self) -> Result<JSSandbox> {
        let _span =
            tracing::info_span!("hyperlight_js.unload", sandbox_id = self.guest.vm.id()).entered();
        metrics::counter!(observability::UNLOADS).increment(1);
        self.guest.reset()?;
        let loaders = std::mem::take(&mut self.guest.modules.loaders);
        self.guest.modules = Default::default();
        Ok(JSSandbox::new(self.guest, self.host_functions).with_loaders(loaders))
    }
}

/// A type for `None` monitors.
pub(crate) enum NoMonitor {}
impl crate::monitor::ExecutionMonitor for NoMonitor {
    fn get_monitor(&self) -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
        Ok(std::future::pending())
    }
    fn name(&self) -> &'static str {
        match *self {}
    }
}

/// Records a warm call (`crate::warm`) like any other call.
pub(crate) fn record_call_metrics(result: &Result<String>, started: Instant, handler: &str) {
    observability::record_call(
        observability::outcome(result),
        handler,
        started.elapsed(),
        None,
    );
}
