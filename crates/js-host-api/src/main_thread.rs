//! Getting back onto the Node.js main thread.
//!
//! Every sandbox runs on its own OS thread (see `worker.rs`). Whatever that
//! thread has to tell JavaScript (a settled Promise, a host-function call)
//! travels as a boxed closure through **one** threadsafe function per Node
//! environment, the [`Dispatcher`]: one thread hop, no per-call allocation
//! of N-API objects, and no JavaScript function is called just to get there.
//!
//! The threadsafe function is unreferenced (it does not keep the process
//! alive) except while a Promise of this addon is pending: [`Deferred`]
//! counts them.
//!
//! State ownership: `napi_value`s never leave the main thread; a
//! `napi_deferred` or `napi_ref` crosses threads only inside a closure that
//! runs on the main thread, or in a value whose `Drop` sends it back there.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use napi::{sys, Env};

use crate::errors::Failure;
use crate::spin::Spin;

/// A closure to run on the main thread with its `napi_env`.
pub(crate) type Task = Box<dyn FnOnce(sys::napi_env) + Send>;

/// Sends closures to the main thread of one Node environment.
pub(crate) struct Dispatcher {
    /// `None` once Node has finalised the threadsafe function (environment
    /// teardown); posting then fails instead of touching freed memory.
    tsfn: Mutex<Option<Tsfn>>,
    main: ThreadId,
}

#[derive(Clone, Copy)]
struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: a threadsafe function is made to be called from any thread; the
// mutex in `Dispatcher` orders every call before its finalisation.
unsafe impl Send for Tsfn {}

impl Dispatcher {
    /// Queues `task` to run on the main thread. Returns `false` (dropping the
    /// task) when the environment is shutting down.
    pub(crate) fn post(&self, task: Task) -> bool {
        let guard = self.tsfn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tsfn) = *guard else {
            return false;
        };
        let data = Box::into_raw(Box::new(task));
        // SAFETY: the threadsafe function is alive (not finalised: we hold
        // the lock that finalisation takes); `data` is a leaked box that
        // `call_js` takes back, or we take back below on failure.
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                tsfn.0,
                data.cast(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: the call failed, so nobody else owns `data`.
            drop(unsafe { Box::from_raw(data) });
            return false;
        }
        true
    }

    /// Whether the caller is this environment's main thread.
    pub(crate) fn on_main_thread(&self) -> bool {
        std::thread::current().id() == self.main
    }
}

unsafe extern "C" fn call_js(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: `data` is the box leaked by `Dispatcher::post`, given to us
    // exactly once.
    let task = unsafe { Box::from_raw(data.cast::<Task>()) };
    if env.is_null() {
        // The environment is going away: drop the task without running it.
        return;
    }
    task(env);
    // A task settles its own errors; anything left pending is a bug that
    // must not be lost: report it as an uncaught exception.
    let mut pending = false;
    // SAFETY: valid env on its own thread.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            let mut error = std::ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut error);
            sys::napi_fatal_exception(env, error);
        }
    }
}

unsafe extern "C" fn finalize_tsfn(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Arc<Dispatcher>` leaked in `EnvState::new`.
    let dispatcher = unsafe { Arc::from_raw(data.cast::<Dispatcher>()) };
    *dispatcher.tsfn.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// A pending host-function call waiting for JavaScript to settle it.
pub(crate) type HostReplyFn = Box<dyn FnOnce(Result<String, String>)>;

/// Per-environment state, kept as the environment's instance data.
pub(crate) struct EnvState {
    pub(crate) dispatcher: Arc<Dispatcher>,
    tsfn: Tsfn,
    /// Promises of this addon not yet settled; the threadsafe function is
    /// referenced while this is above zero.
    pending: Cell<usize>,
    json_parse: sys::napi_ref,
    json_stringify: sys::napi_ref,
    /// `callHost(fn, id, argsJson)`: see `HOST_CALL_HELPER`.
    call_host: sys::napi_ref,
    /// Host calls in flight, by id, until JavaScript settles them.
    host_calls: RefCell<HashMap<u64, HostReplyFn>>,
    next_host_call: Cell<u64>,
    /// Keeps the event loop from sleeping briefly while an answer is due.
    spin: Rc<Spin>,
}

/// How a guest's host call meets the JavaScript callback: the arguments
/// are spread from the guest's JSON array; a returned value (or the value
/// of a returned thenable) is `JSON.stringify`'d (`undefined` becomes
/// `null`); a throw or rejection becomes the guest-side error's message.
/// `settle(id, ok, text)` is the addon's native function.
const HOST_CALL_HELPER: &str = r#"(function (settle) {
  'use strict';
  function text(value) {
    const json = JSON.stringify(value);
    return json === undefined ? 'null' : json;
  }
  function reason(error) {
    try {
      if (error !== null && typeof error === 'object' && typeof error.message === 'string') {
        return error.message;
      }
      return String(error);
    } catch {
      return 'the host function failed with an error that cannot be printed';
    }
  }
  function fulfil(id, value) {
    let json;
    try {
      json = text(value);
    } catch (error) {
      settle(id, false, 'the host function result is not JSON-serialisable: ' + reason(error));
      return;
    }
    settle(id, true, json);
  }
  return function callHost(fn, id, argsJson) {
    let result;
    try {
      result = fn(...JSON.parse(argsJson));
    } catch (error) {
      settle(id, false, reason(error));
      return;
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function') &&
        typeof result.then === 'function') {
      Promise.resolve(result).then(
        (value) => fulfil(id, value),
        (error) => settle(id, false, reason(error)),
      );
      return;
    }
    fulfil(id, result);
  };
})"#;

/// `process.emitWarning(message)`, best effort.
fn warn(env: sys::napi_env, message: &str) {
    let emit = || -> napi::Result<()> {
        let process = crate::js::global_property(env, crate::js::global(env)?, "process")?;
        let emit_warning = crate::js::global_property(env, process, "emitWarning")?;
        let text = crate::js::string(env, message)?;
        crate::js::call(env, emit_warning, &[text]).map_err(|e| crate::js::to_napi(env, e))?;
        Ok(())
    };
    let _ = emit();
}

pub(crate) fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "{what} failed (N-API status {status})"
        )))
    }
}

impl EnvState {
    /// The state of `env`, created on first use.
    pub(crate) fn get(env: sys::napi_env) -> napi::Result<&'static EnvState> {
        let e = Env::from_raw(env);
        if let Some(state) = e.get_instance_data::<EnvState>()? {
            return Ok(state);
        }
        let state = Self::new(env)?;
        e.set_instance_data(state, (), |_| {})?;
        Ok(e.get_instance_data::<EnvState>()?
            .expect("instance data was just set"))
    }

    fn new(env: sys::napi_env) -> napi::Result<EnvState> {
        let dispatcher = Arc::new(Dispatcher {
            tsfn: Mutex::new(None),
            main: std::thread::current().id(),
        });
        let mut raw_tsfn = std::ptr::null_mut();
        let name = crate::js::string(env, "hyperlight-js")?;
        let finalize_data = Arc::into_raw(dispatcher.clone()) as *mut c_void;
        // SAFETY: valid env on the main thread; no JS function (call_js is
        // given); the finalize data is the leaked Arc that `finalize_tsfn`
        // takes back.
        let status = unsafe {
            sys::napi_create_threadsafe_function(
                env,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                name,
                0,
                1,
                finalize_data,
                Some(finalize_tsfn),
                std::ptr::null_mut(),
                Some(call_js),
                &mut raw_tsfn,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: creation failed, so the finalizer will never run.
            drop(unsafe { Arc::from_raw(finalize_data.cast::<Dispatcher>()) });
            check(status, "creating the threadsafe function")?;
        }
        let tsfn = Tsfn(raw_tsfn);
        // SAFETY: valid tsfn on its env's thread.
        check(
            unsafe { sys::napi_unref_threadsafe_function(env, tsfn.0) },
            "unref threadsafe function",
        )?;
        *dispatcher.tsfn.lock().unwrap_or_else(|p| p.into_inner()) = Some(tsfn);

        let json = crate::js::global_property(env, crate::js::global(env)?, "JSON")?;
        let parse = crate::js::global_property(env, json, "parse")?;
        let stringify = crate::js::global_property(env, json, "stringify")?;
        let settle = crate::js::function(env, "settle", settle_host_call)?;
        let factory = crate::js::run_script(env, HOST_CALL_HELPER)?;
        let call_host =
            crate::js::call(env, factory, &[settle]).map_err(|e| crate::js::to_napi(env, e))?;
        let window = crate::spin::window_from_env().unwrap_or_else(|message| {
            warn(env, &message);
            None
        });
        let spin = Spin::new(env, window.unwrap_or(crate::spin::DEFAULT_SPIN_US));
        Ok(EnvState {
            dispatcher,
            tsfn,
            pending: Cell::new(0),
            json_parse: crate::js::reference(env, parse)?,
            json_stringify: crate::js::reference(env, stringify)?,
            call_host: crate::js::reference(env, call_host)?,
            host_calls: RefCell::new(HashMap::new()),
            next_host_call: Cell::new(1),
            spin,
        })
    }

    fn adjust_pending(&self, env: sys::napi_env, up: bool) {
        let before = self.pending.get();
        let after = if up {
            before + 1
        } else {
            before.saturating_sub(1)
        };
        self.pending.set(after);
        if up {
            // An answer is on its way: keep the loop awake for it.
            self.spin.arm();
        } else if after == 0 {
            self.spin.disarm();
        }
        // SAFETY: valid tsfn on its env's thread (ref/unref after
        // finalisation are never reached: finalisation is env teardown).
        unsafe {
            if before == 0 && after == 1 {
                sys::napi_ref_threadsafe_function(env, self.tsfn.0);
            } else if before == 1 && after == 0 {
                sys::napi_unref_threadsafe_function(env, self.tsfn.0);
            }
        }
    }

    /// `JSON.parse(text)`.
    pub(crate) fn parse(&self, env: sys::napi_env, text: &str) -> Result<sys::napi_value, Failure> {
        let f = crate::js::deref(env, self.json_parse).map_err(Failure::internal)?;
        let s = crate::js::string(env, text).map_err(Failure::internal)?;
        crate::js::call(env, f, &[s]).map_err(|e| {
            Failure::internal(format!(
                "the guest's result is not valid JSON: {}",
                crate::js::describe(env, e)
            ))
        })
    }

    /// `JSON.stringify(value)`, `undefined` becoming `null`.
    pub(crate) fn stringify(
        &self,
        env: sys::napi_env,
        value: sys::napi_value,
        what: &str,
    ) -> Result<String, Failure> {
        let f = crate::js::deref(env, self.json_stringify).map_err(Failure::internal)?;
        let out = crate::js::call(env, f, &[value]).map_err(|e| {
            Failure::invalid(format!(
                "{what} is not JSON-serialisable: {}",
                crate::js::describe(env, e)
            ))
        })?;
        Ok(crate::js::get_string(env, out).unwrap_or_else(|| "null".to_string()))
    }

    /// Calls the host function `func` with the guest's JSON arguments; `reply`
    /// is called on this thread once it settles (maybe later, for a
    /// Promise).
    pub(crate) fn call_host(
        &self,
        env: sys::napi_env,
        func: sys::napi_value,
        args_json: &str,
        reply: HostReplyFn,
    ) {
        let id = self.next_host_call.get();
        self.next_host_call.set(id + 1);
        // The guest goes on once this is answered: its result is due soon.
        self.spin.arm();
        self.host_calls.borrow_mut().insert(id, reply);
        let run = || -> napi::Result<()> {
            let helper = crate::js::deref(env, self.call_host)?;
            let id_value = crate::js::number(env, id as f64)?;
            let args = crate::js::string(env, args_json)?;
            crate::js::call(env, helper, &[func, id_value, args])
                .map_err(|e| crate::js::to_napi(env, e))?;
            Ok(())
        };
        if let Err(e) = run() {
            if let Some(reply) = self.host_calls.borrow_mut().remove(&id) {
                reply(Err(format!("the host function could not be called: {e}")));
            }
        }
    }
}

/// The native `settle(id, ok, text)` given to the host-call helper.
unsafe extern "C" fn settle_host_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut argc = 3usize;
    let mut argv = [std::ptr::null_mut(); 3];
    // SAFETY: valid callback info; argv has room for argc values.
    unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
    }
    let id = crate::js::get_number(env, argv[0]).unwrap_or(0.0) as u64;
    let mut ok = false;
    // SAFETY: valid env and value.
    unsafe { sys::napi_get_value_bool(env, argv[1], &mut ok) };
    let text = crate::js::get_string(env, argv[2]).unwrap_or_default();
    if let Ok(state) = EnvState::get(env) {
        let reply = state.host_calls.borrow_mut().remove(&id);
        if let Some(reply) = reply {
            reply(if ok { Ok(text) } else { Err(text) });
        }
    }
    std::ptr::null_mut()
}

/// A Promise of this addon, settled on the main thread. Dropping it
/// unsettled (a sandbox thread that died) rejects it with `ERR_INTERNAL`,
/// so no Promise is left pending forever.
pub(crate) struct Deferred {
    raw: Option<RawDeferred>,
    dispatcher: Arc<Dispatcher>,
    /// An `Error` made when the Promise was, so a rejection carries the
    /// caller's JavaScript stack (see [`caller_stack`]).
    origin: Option<crate::errors::JsRef>,
}

struct RawDeferred(sys::napi_deferred);
// SAFETY: only used (settled) on the main thread, inside a posted task.
unsafe impl Send for RawDeferred {}

/// How a settled Promise gets its value, built on the main thread.
pub(crate) type Settle = Box<dyn FnOnce(sys::napi_env) -> Result<sys::napi_value, Failure> + Send>;

impl Deferred {
    /// A new Promise and its deferred.
    pub(crate) fn new(env: sys::napi_env) -> napi::Result<(Deferred, sys::napi_value)> {
        let state = EnvState::get(env)?;
        let mut deferred = std::ptr::null_mut();
        let mut promise = std::ptr::null_mut();
        // SAFETY: valid env on the main thread, valid out pointers.
        check(
            unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) },
            "napi_create_promise",
        )?;
        state.adjust_pending(env, true);
        Ok((
            Deferred {
                raw: Some(RawDeferred(deferred)),
                dispatcher: state.dispatcher.clone(),
                origin: capture_stack(env),
            },
            promise,
        ))
    }

    /// Settles the Promise with what `settle` builds on the main thread.
    /// Callable from any thread.
    pub(crate) fn settle(mut self, settle: Settle) {
        let raw = self.raw.take().expect("settled once");
        let origin = self.origin.take();
        self.dispatcher.post(Box::new(move |env| {
            settle_now(env, raw, settle(env), origin.as_ref())
        }));
    }

    /// Settles the Promise now. Main thread only (`env` is its env).
    pub(crate) fn settle_here(mut self, env: sys::napi_env, settle: Settle) {
        let raw = self.raw.take().expect("settled once");
        let origin = self.origin.take();
        settle_now(env, raw, settle(env), origin.as_ref());
    }

    /// Rejects the Promise with `failure`.
    pub(crate) fn reject(self, failure: Failure) {
        self.settle(Box::new(move |_| Err(failure)));
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            let failure = Failure::internal(
                "the sandbox thread stopped before it answered (it panicked); \
                 this sandbox can no longer be used",
            );
            let origin = self.origin.take();
            self.dispatcher.post(Box::new(move |env| {
                settle_now(env, raw, Err(failure), origin.as_ref())
            }));
        }
        if let Some(origin) = self.origin.take() {
            // Settled already: the reference must be deleted on the main
            // thread (`JsRef` leaks it elsewhere).
            if !self.dispatcher.on_main_thread() {
                self.dispatcher.post(Box::new(move |_| drop(origin)));
            }
        }
    }
}

/// An `Error` holding the JavaScript stack of the caller of an async
/// method (made on the main thread, inside the method's native call; about
/// 1 µs, see `docs/node-binding.md`). A rejection is built later, from a
/// task with no JavaScript frames, so without this its `stack` would be the
/// message alone.
fn capture_stack(env: sys::napi_env) -> Option<crate::errors::JsRef> {
    let message = crate::js::string(env, "").ok()?;
    let mut error = std::ptr::null_mut();
    // SAFETY: valid env on the main thread, valid values.
    let status = unsafe { sys::napi_create_error(env, std::ptr::null_mut(), message, &mut error) };
    if status != sys::Status::napi_ok {
        return None;
    }
    crate::errors::JsRef::new(env, error).ok()
}

/// Gives `error` (built on the main thread with no JavaScript frames) the
/// frames captured in `origin`: its `stack` becomes its own first line(s)
/// followed by the caller's frames.
fn caller_stack(env: sys::napi_env, error: sys::napi_value, origin: &crate::errors::JsRef) {
    let _ = (|| -> napi::Result<()> {
        let origin = origin.value(env)?;
        let Some(frames) =
            crate::js::get_string(env, crate::js::global_property(env, origin, "stack")?)
        else {
            return Ok(());
        };
        // The origin's message is empty: its first line is "Error".
        let frames = frames.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
        if frames.is_empty() {
            return Ok(());
        }
        let own = crate::js::get_string(env, crate::js::global_property(env, error, "stack")?)
            .unwrap_or_default();
        // Own stack lines (if any) are native-task frames: keep the header.
        let header = own
            .lines()
            .take_while(|l| !l.trim_start().starts_with("at "))
            .collect::<Vec<_>>()
            .join("\n");
        let stack = crate::js::string(env, &format!("{header}\n{frames}"))?;
        crate::js::set_property(env, error, "stack", stack)
    })();
}

fn settle_now(
    env: sys::napi_env,
    raw: RawDeferred,
    result: Result<sys::napi_value, Failure>,
    origin: Option<&crate::errors::JsRef>,
) {
    if let Ok(state) = EnvState::get(env) {
        state.adjust_pending(env, false);
    }
    // SAFETY: valid env on the main thread; the deferred is settled once.
    unsafe {
        match result {
            Ok(value) => {
                sys::napi_resolve_deferred(env, raw.0, value);
            }
            Err(failure) => {
                let error = failure.to_js(env);
                if let Some(origin) = origin {
                    caller_stack(env, error, origin);
                }
                sys::napi_reject_deferred(env, raw.0, error);
            }
        }
    }
}

/// JavaScript references created on the main thread and owned by other
/// threads' values: deleted on the main thread whoever drops the last
/// owner.
pub(crate) struct MainThreadRefs {
    env: usize,
    refs: Vec<usize>,
    dispatcher: Arc<Dispatcher>,
}

impl MainThreadRefs {
    pub(crate) fn new(env: sys::napi_env, refs: Vec<sys::napi_ref>) -> napi::Result<Self> {
        Ok(Self {
            env: env as usize,
            refs: refs.into_iter().map(|r| r as usize).collect(),
            dispatcher: EnvState::get(env)?.dispatcher.clone(),
        })
    }

    /// The value of reference `index`. Main thread only.
    pub(crate) fn get(&self, env: sys::napi_env, index: usize) -> napi::Result<sys::napi_value> {
        debug_assert!(self.dispatcher.on_main_thread());
        let r = *self
            .refs
            .get(index)
            .ok_or_else(|| napi::Error::from_reason("no such host function"))?;
        crate::js::deref(env, r as sys::napi_ref)
    }

    /// Adds a reference (main thread only).
    pub(crate) fn push(&mut self, r: sys::napi_ref) {
        self.refs.push(r as usize);
    }

    pub(crate) fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }
}

impl Drop for MainThreadRefs {
    fn drop(&mut self) {
        let refs = std::mem::take(&mut self.refs);
        if refs.is_empty() {
            return;
        }
        let delete = move |env: sys::napi_env| {
            for r in refs {
                // SAFETY: each reference was created in this env and is
                // deleted once, on its thread.
                unsafe { sys::napi_delete_reference(env, r as sys::napi_ref) };
            }
        };
        if self.dispatcher.on_main_thread() {
            delete(self.env as sys::napi_env);
        } else {
            // If the environment is gone, so are its references.
            self.dispatcher.post(Box::new(delete));
        }
    }
}

/// A Promise already rejected with `failure` (for errors found before any
/// work was queued: async methods never throw synchronously).
pub(crate) fn rejected(env: sys::napi_env, failure: Failure) -> napi::Result<crate::js::Raw> {
    let mut deferred = std::ptr::null_mut();
    let mut promise = std::ptr::null_mut();
    // SAFETY: valid env on the main thread, valid out pointers; the
    // deferred is rejected at once.
    unsafe {
        check(
            sys::napi_create_promise(env, &mut deferred, &mut promise),
            "napi_create_promise",
        )?;
        check(
            sys::napi_reject_deferred(env, deferred, failure.to_js(env)),
            "napi_reject_deferred",
        )?;
    }
    Ok(crate::js::Raw(promise))
}
