//! Warm calls without a VM exit: [`WarmPath`].
//!
//! While a loaded sandbox's own thread is in
//! [`LoadedJSSandbox::serve_warm`], its guest polls a mailbox in guest
//! memory instead of waiting in an exit. Another thread can then call a
//! handler through a [`WarmPath`]: it writes the request into guest memory,
//! rings, and spins for the answer, with no VM exit and no hop through the
//! sandbox's thread. If the answer takes longer than the caller is willing
//! to spin, or the guest needs a host function, the answer comes back the
//! usual way, by an exit, to the sandbox's thread, which returns it from
//! `serve_warm` for the caller to deliver. See `docs/warm-path.md`.
//!
//! Kills, monitors, poisoning and call statistics work as for
//! [`LoadedJSSandbox::handle_event_with_monitor`]: a posted call is killed
//! by the same kick of the sandbox's thread, and CPU-time monitors measure
//! that thread.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyperlight_abi::js::{self, Writer};
use hyperlight_vm::{HostCall, MailboxHandle, Ticket};

use crate::driver::{
    call_result, call_size, encode_call, encode_host_answer, parse_host_call, run_host_function,
};
use crate::error::{Error, Result};
use crate::host_functions::{CancelToken, HostFunctions};
use crate::monitor::{MonitorSet, Watch};
use crate::print::PrintOut;
use crate::stats::{cpu_time_of, CallStats};

/// Calls handlers of a loaded sandbox from any thread without a VM exit,
/// while the sandbox's thread serves them
/// ([`LoadedJSSandbox::serve_warm`](crate::LoadedJSSandbox::serve_warm)).
/// Cheap to clone; `Send + Sync`. Obtained from
/// [`LoadedJSSandbox::warm_path`](crate::LoadedJSSandbox::warm_path); it
/// belongs to that load (after `unload`, or a restore that poisons nothing,
/// it keeps working: a restore changes which handlers it reaches).
#[derive(Clone)]
pub struct WarmPath {
    mailbox: MailboxHandle,
    poison: Arc<Mutex<Option<String>>>,
    /// The sandbox's print queue (never blocks the poster).
    print: Arc<Mutex<PrintOut>>,
    /// The VM's id, for the calls' tracing spans.
    sandbox_id: u64,
    /// The sandbox's host functions, which [`WarmPath::wait`] runs on the
    /// waiting thread.
    host_functions: Arc<HostFunctions>,
}

impl std::fmt::Debug for WarmPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPath").finish_non_exhaustive()
    }
}

/// A warm call in flight: returned by [`WarmPath::call`] when the guest
/// took the request; finish it with [`WarmPath::wait`].
#[must_use = "a posted call must be waited for"]
pub struct WarmCall {
    ticket: Ticket,
    state: Pending,
}

/// A warm call whose answer comes from the sandbox's thread: pass it, with
/// what [`LoadedJSSandbox::serve_warm`](crate::LoadedJSSandbox::serve_warm)
/// returned, to [`WarmPath::complete`]. Until then its monitors keep
/// watching the call.
#[must_use = "a handed-over call must be completed"]
pub struct Handed {
    state: Pending,
}

impl std::fmt::Debug for Handed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handed").finish_non_exhaustive()
    }
}

struct Pending {
    /// The handler's name, kept only for the metrics' handler label.
    handler: Option<String>,
    /// The call's `hyperlight_js.call` span (`path = "warm"`), closed when
    /// the call ends.
    span: tracing::Span,
    watch: Option<Watch>,
    started: Instant,
    thread: libc::pthread_t,
    cpu_start: Option<Duration>,
    exits_start: u64,
}

/// How [`WarmPath::wait`] ended.
pub enum WarmOutcome {
    /// The call ended: its result and statistics.
    Done(Result<String>, CallStats),
    /// The answer comes from the sandbox's thread (see [`Handed`]).
    Handed(Handed),
}

impl WarmPath {
    pub(crate) fn new(
        mailbox: MailboxHandle,
        poison: Arc<Mutex<Option<String>>>,
        print: PrintOut,
        host_functions: Arc<HostFunctions>,
    ) -> Self {
        Self {
            mailbox,
            poison,
            print: Arc::new(Mutex::new(print)),
            sandbox_id: 0,
            host_functions,
        }
    }

    /// Sets the sandbox id the calls' spans carry.
    pub(crate) fn with_sandbox_id(mut self, id: u64) -> Self {
        self.sandbox_id = id;
        self
    }

    /// Whether a warm call ran out of memory or crashed the sandbox (the
    /// sandbox's own thread knows more: kills poison it too).
    pub fn poisoned(&self) -> bool {
        self.poison
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Whether the guest is finishing the housekeeping of the last warm
    /// call (it will poll again right after).
    pub fn is_busy(&self) -> bool {
        self.mailbox.is_finishing()
    }

    /// Whether the guest is polling now (a [`call`](Self::call) would most
    /// likely be taken), waiting up to `max` while it finishes the last
    /// call's housekeeping (the garbage collection a call asks for runs
    /// after its answer was handed over).
    pub fn is_ready(&self, max: Duration) -> bool {
        self.mailbox.wait_polling(max)
    }

    /// Posts a call of handler `name` with the JSON `event`, watched by
    /// `monitor` (armed here, measuring the sandbox's thread), if the guest
    /// is polling. `Ok(None)`: it is not (call through the sandbox's thread
    /// instead); nothing ran.
    ///
    /// Errors, as for `handle_event` and with nothing run: an invalid or
    /// unknown handler name or an event too large for the input buffer
    /// ([`Error::InvalidArgument`]), a poisoned sandbox
    /// ([`Error::Poisoned`]), a monitor that cannot start (the error it
    /// gave).
    pub fn call<M: MonitorSet + ?Sized>(
        &self,
        name: &str,
        event: &str,
        gc: bool,
        monitor: Option<&M>,
    ) -> Result<Option<WarmCall>> {
        // An unknown handler is refused by the guest (ERR_INVALID_ARG,
        // nothing runs): the loaded set changes with restores.
        crate::names::check_name("the handler name", name)?;
        if let Some(reason) = self
            .poison
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(Error::Poisoned(reason));
        }
        let Some(thread) = self.mailbox.guest_thread() else {
            return Ok(None);
        };
        if !self.mailbox.is_polling() {
            return Ok(None);
        }
        let size = call_size(name, event);
        let mut payload = vec![0u8; size];
        encode_call(&mut Writer::new(&mut payload), name, event, gc)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let started = Instant::now();
        let cpu_start = cpu_time_of(thread);
        let exits_start = self.mailbox.exits();
        let watch = match monitor {
            Some(m) => {
                let handle = self.mailbox_interrupt();
                Some(arm(thread, m, handle)?)
            }
            None => None,
        };
        let ticket = match self.mailbox.post(js::REQ_CALL, &payload) {
            Ok(Some(t)) => t,
            Ok(None) => {
                if let Some(w) = watch {
                    w.finish();
                }
                return Ok(None);
            }
            Err(hyperlight_vm::Error::InputTooLarge { len, capacity }) => {
                if let Some(w) = watch {
                    w.finish();
                }
                return Err(Error::invalid(format!(
                    "the event is {len} bytes encoded, larger than the input buffer \
                     ({capacity} bytes usable); raise the input buffer size"
                )));
            }
            Err(e) => {
                if let Some(w) = watch {
                    w.finish();
                }
                return Err(Error::from(e));
            }
        };
        Ok(Some(WarmCall {
            ticket,
            state: Pending {
                handler: crate::observability::handler_label().then(|| name.to_string()),
                span: tracing::info_span!(
                    "hyperlight_js.call",
                    sandbox_id = self.sandbox_id,
                    handler = name,
                    path = "warm",
                    outcome = tracing::field::Empty,
                    terminated_by = tracing::field::Empty,
                ),
                watch,
                started,
                thread,
                cpu_start,
                exits_start,
            },
        }))
    }

    fn mailbox_interrupt(&self) -> hyperlight_vm::InterruptHandle {
        self.mailbox.interrupt_handle()
    }

    /// Asks a polling guest to stop polling now, so that `serve_warm`
    /// returns and the sandbox's thread is free for other work (a snapshot,
    /// a restore, a call that cannot be posted).
    pub fn release(&self) {
        self.mailbox.release();
    }

    /// Spins for up to `spin` for the answer of `call`; prints go to the
    /// sandbox's print sink first.
    ///
    /// A host function the handler calls meanwhile runs on this thread,
    /// without a VM exit (the sandbox's registered function, called with a
    /// [`CancelToken`] of the call); the spin budget restarts after it. Use
    /// [`wait_with_host`](Self::wait_with_host) to run host calls another
    /// way.
    pub fn wait(&self, call: WarmCall, spin: Duration) -> WarmOutcome {
        let fns = self.host_functions.clone();
        self.wait_with_host(call, spin, &mut |hc: WarmHostCall| {
            let _span = tracing::debug_span!(
                "hyperlight_js.host_call",
                module = hc.module(),
                function = hc.function(),
                path = "warm"
            )
            .entered();
            let cancel = hc.cancel_token();
            let r = run_host_function(&fns, hc.module(), hc.function(), hc.args(), &cancel);
            hc.answer(r);
        })
    }

    /// Like [`wait`](Self::wait), but the host functions the handler calls
    /// while this thread spins are given to `host`, which answers each one
    /// ([`WarmHostCall::answer`]) at once (the call stays exit-less) or
    /// later from any thread (the wait then ends with
    /// [`WarmOutcome::Handed`]: the guest waits for the answer in an exit
    /// and the call's result comes from the sandbox's thread), or declines
    /// it ([`WarmHostCall::decline`]: the sandbox's thread runs the
    /// registered function as for a call made through it).
    pub fn wait_with_host(
        &self,
        call: WarmCall,
        spin: Duration,
        host: &mut dyn FnMut(WarmHostCall),
    ) -> WarmOutcome {
        let mut run_host = |hc: HostCall| {
            if hc.tag() != js::HC_CALL {
                return hc.decline();
            }
            let parsed = parse_host_call(hc.payload())
                .map(|(m, f, a)| (m.to_string(), f.to_string(), a.to_string()));
            match parsed {
                Ok((module, function, args)) => host(WarmHostCall {
                    call: hc,
                    module,
                    function,
                    args,
                }),
                // The exit path reports it.
                Err(_) => hc.decline(),
            }
        };
        let waited = {
            let mut print = self.print.lock().unwrap_or_else(|e| e.into_inner());
            let mut deliver = |level: u32, text: &str| print.record(level, text);
            let waited = self
                .mailbox
                .wait(call.ticket, spin, &mut deliver, &mut run_host);
            print.end_of_request();
            waited
        };
        match waited {
            Ok(None) => WarmOutcome::Handed(Handed { state: call.state }),
            Ok(Some(resp)) => {
                let interrupted = self.mailbox.interrupt_requested();
                let (r, stats) = self.finish(call.state, call_result(resp, interrupted));
                WarmOutcome::Done(r, stats)
            }
            Err(e) => {
                let (r, stats) = self.finish(call.state, Err(Error::from(e)));
                WarmOutcome::Done(r, stats)
            }
        }
    }

    /// Ends a handed-over call with the result the sandbox's thread
    /// delivered (from `serve_warm`).
    pub fn complete(&self, handed: Handed, result: Result<String>) -> (Result<String>, CallStats) {
        self.finish(handed.state, result)
    }

    fn finish(&self, p: Pending, result: Result<String>) -> (Result<String>, CallStats) {
        let fired = p.watch.and_then(Watch::finish);
        let cpu_time = match (p.cpu_start, cpu_time_of(p.thread)) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let result = match result {
            Err(Error::Cancelled { terminated_by }) => Err(Error::Cancelled {
                terminated_by: fired.or(terminated_by),
            }),
            Err(Error::GuestAbort(msg)) => {
                // Out of memory (the engine survived but cannot be trusted)
                // or a crash: either way the sandbox is poisoned.
                let mut poison = self.poison.lock().unwrap_or_else(|e| e.into_inner());
                poison.get_or_insert_with(|| msg.clone());
                Err(Error::GuestAbort(msg))
            }
            other => other,
        };
        let terminated_by = match &result {
            Err(Error::Cancelled { terminated_by }) => *terminated_by,
            _ => None,
        };
        let stats = CallStats {
            wall_clock: p.started.elapsed(),
            cpu_time,
            terminated_by,
            exits: self.mailbox.exits().saturating_sub(p.exits_start),
        };
        crate::loaded::record_call_metrics(&result, p.started, p.handler.as_deref().unwrap_or(""));
        p.span
            .record("outcome", crate::observability::outcome(&result));
        if let Some(m) = terminated_by {
            p.span.record("terminated_by", m);
        }
        (result, stats)
    }
}

/// A host-function call that a warm call's handler made while its poster
/// spun ([`WarmPath::wait_with_host`]): answer it, now or later from any
/// thread, or decline it. Dropping it unanswered answers with an error
/// (the guest's call throws it).
pub struct WarmHostCall {
    call: HostCall,
    module: String,
    function: String,
    args: String,
}

impl std::fmt::Debug for WarmHostCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmHostCall")
            .field("module", &self.module)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl WarmHostCall {
    /// The host module's name.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// The host function's name.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The arguments: a JSON array.
    pub fn args(&self) -> &str {
        &self.args
    }

    /// Reports whether the warm call was killed meanwhile (an answer is
    /// then ignored).
    pub fn cancel_token(&self) -> CancelToken {
        self.call.cancel_token()
    }

    /// Answers with the function's JSON result, or an error message the
    /// guest's call throws as an `Error` (as for a registered function).
    /// From any thread, at any time; ignored if the call ended meanwhile.
    pub fn answer(self, result: std::result::Result<String, String>) {
        let encoded = encode_host_answer(result);
        self.call.answer(encoded);
    }

    /// Lets the sandbox's thread run this call by a VM exit, with the
    /// function registered on the sandbox.
    pub fn decline(self) {
        self.call.decline();
    }
}

/// Arms `set` as if on the sandbox's thread (CPU-time monitors measure it).
fn arm<M: MonitorSet + ?Sized>(
    thread: libc::pthread_t,
    set: &M,
    handle: hyperlight_vm::InterruptHandle,
) -> Result<Watch> {
    let start = move || {
        Watch::start(set, move || {
            handle.kill();
        })
    };
    #[cfg(feature = "monitor-cpu-time")]
    {
        crate::monitor::with_guest_thread(thread, start)
    }
    #[cfg(not(feature = "monitor-cpu-time"))]
    {
        let _ = thread;
        start()
    }
}
