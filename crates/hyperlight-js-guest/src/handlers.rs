//! Handlers: registration (REQ_ADD_HANDLER), compilation (REQ_LINK) and
//! calls (REQ_CALL).
//!
//! A handler script is compiled as an ES module named `handler/<key>`, with
//! one line appended: `export { handler as __hyperlight_handler__ };`. That
//! works whether the script exports `handler` itself or only declares it
//! (function, class, `const`/`let`/`var`, or an import), and turns a script
//! without a `handler` binding into a compile error we report as
//! INVALID_HANDLER.
//!
//! Value ownership: each linked handler keeps one owned reference to its
//! function in the table (released only if the table entry is dropped,
//! which does not happen: unloading is a host-side restore). During a call,
//! the event, the result and its JSON text are `Owned` and freed on every
//! path.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ffi::c_int;

use hyperlight_abi::js::{error_code, Reader, CALL_FLAG_GC};
use rquickjs_sys as q;

use crate::js::{self, JSValue, Owned, Pending};
use crate::protocol::{self, Failure};
use crate::sync::Single;
use crate::{modules, timers};

/// Drops the pending timers when it goes out of scope.
struct ClearTimers;

impl Drop for ClearTimers {
    fn drop(&mut self) {
        timers::clear();
    }
}

/// The hidden export name the appended line gives `handler`.
const EXPORT: &core::ffi::CStr = c"__hyperlight_handler__";

struct Handler {
    /// The source, until the handler is linked.
    source: Option<String>,
    /// The handler function, once linked.
    func: Option<Owned>,
}

static HANDLERS: Single<RefCell<BTreeMap<String, Handler>>> = Single::new(RefCell::new(BTreeMap::new()));

/// REQ_ADD_HANDLER.
pub fn add(payload: &[u8]) -> Result<(), Failure> {
    let mut r = Reader::new(payload);
    let bad = |_| Failure::code(error_code::BAD_REQUEST, "malformed handler registration");
    let key = r.str().map_err(bad)?;
    let source = r.str().map_err(bad)?;
    if key.is_empty() || key.contains('\0') {
        return Err(Failure::code(error_code::BAD_REQUEST, "a handler name must be non-empty and without NUL"));
    }
    if source.contains('\0') {
        return Err(Failure::code(error_code::BAD_REQUEST, "a handler source must not contain NUL"));
    }
    let mut handlers = HANDLERS.get().borrow_mut();
    if handlers.contains_key(key) {
        return Err(Failure::code(error_code::DUPLICATE, format!("handler '{key}' is already registered")));
    }
    let mut src = String::new();
    if src.try_reserve_exact(source.len() + 64).is_err() {
        return Err(Failure::code(error_code::OUT_OF_MEMORY, "no guest memory left to store the handler source"));
    }
    src.push_str(source);
    handlers.insert(String::from(key), Handler { source: Some(src), func: None });
    Ok(())
}

/// REQ_LINK: compiles and evaluates every handler not linked yet, in key
/// order, stopping at the first failure (that handler is dropped; those
/// linked before it stay).
pub fn link() -> Result<(), Failure> {
    let pending: Vec<String> = HANDLERS
        .get()
        .borrow()
        .iter()
        .filter(|(_, h)| h.func.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    // Timers set by top-level code do not outlive the link.
    let _clear = ClearTimers;
    for key in pending {
        let Some(src) = HANDLERS.get().borrow_mut().get_mut(&key).and_then(|h| h.source.take()) else {
            continue;
        };
        match compile(&key, src) {
            Ok(func) => {
                if let Some(h) = HANDLERS.get().borrow_mut().get_mut(&key) {
                    h.func = Some(func);
                }
            }
            Err(f) => {
                // A handler that failed to link is dropped: calling it is
                // UNKNOWN_HANDLER, not a half-compiled state.
                HANDLERS.get().borrow_mut().remove(&key);
                return Err(f);
            }
        }
    }
    Ok(())
}

fn compile(key: &str, mut src: String) -> Result<Owned, Failure> {
    let ctx = js::ctx();
    src.push_str("\n;export { handler as __hyperlight_handler__ };\n");
    let name = js::c_bytes(format!("handler/{key}").as_bytes());
    let Some(code) = js::try_c_bytes(src.as_bytes()) else {
        return Err(Failure::code(error_code::OUT_OF_MEMORY, "no guest memory left to compile the handler"));
    };
    let code_len = src.len();
    drop(src);
    modules::clear_missing();
    // SAFETY: `code` is NUL-terminated after `code_len` bytes. Compiling a
    // module also loads (and compiles) every module it imports.
    let compiled = unsafe {
        q::JS_Eval(
            ctx,
            code.as_ptr().cast(),
            code_len as _,
            name.as_ptr().cast(),
            (q::JS_EVAL_TYPE_MODULE | q::JS_EVAL_FLAG_COMPILE_ONLY) as c_int,
        )
    };
    drop(code);
    let module = match Owned::new(ctx, compiled) {
        Ok(m) => m,
        Err(Pending) => return Err(link_failure(key)),
    };
    // SAFETY: a compiled module value carries its JSModuleDef pointer,
    // which stays valid while the module is in the runtime's module list
    // (for the runtime's life).
    let def: *mut q::JSModuleDef = unsafe { q::JS_VALUE_GET_PTR(module.raw()).cast() };
    // SAFETY: `JS_EvalFunction` consumes the module value; the result
    // (a promise for a module) is owned.
    let evaluated = Owned::new(ctx, unsafe { q::JS_EvalFunction(ctx, module.into_raw()) });
    let promise = match evaluated {
        Ok(p) => p,
        Err(Pending) => return Err(link_failure(key)),
    };
    // Top-level await: settle the evaluation promise.
    settle(&promise).map_err(|f| match f {
        Settle::Rejected(exc) => missing_or(key, exc),
        Settle::Stuck => never_settles(format!(
            "handler '{key}': module evaluation never finished (a top-level await that never settles)"
        )),
    })?;
    drop(promise);
    // SAFETY: `def` is live (see above); the namespace object is owned.
    let ns = Owned::new(ctx, unsafe { q::JS_GetModuleNamespace(ctx, def) }).map_err(|Pending| Failure::pending())?;
    let func = js::get(ctx, ns.raw(), EXPORT).map_err(|Pending| Failure::pending())?;
    if !js::is_function(ctx, func.raw()) {
        return Err(Failure::code(
            error_code::INVALID_HANDLER,
            format!("handler '{key}': `handler` is not a function (define `function handler(event)`)"),
        ));
    }
    Ok(func)
}

/// The failure for an exception pending while compiling or evaluating a
/// handler module.
fn link_failure(key: &str) -> Failure {
    let ctx = js::ctx();
    let exc = js::take_exception(ctx);
    missing_or(key, exc)
}

fn missing_or(key: &str, exc: Owned) -> Failure {
    let ctx = js::ctx();
    let info = js::describe(ctx, &exc);
    drop(exc);
    if let Some((spec, importer)) = modules::take_missing() {
        return Failure::code(
            error_code::MODULE_NOT_FOUND,
            format!("handler '{key}': module '{spec}' (imported by '{importer}') not found: {}", info.message),
        );
    }
    // QuickJS reports an export of an undeclared name as a SyntaxError
    // ("exported variable 'handler' does not exist"); only our appended
    // line exports `handler`.
    if info.name == "SyntaxError"
        && info.message.contains("'handler'")
        && (info.message.contains("does not exist") || info.message.contains("not defined"))
    {
        return Failure::code(
            error_code::INVALID_HANDLER,
            format!("handler '{key}' does not define `function handler(event)` ({})", info.message),
        );
    }
    Failure::thrown(info)
}

enum Settle {
    Rejected(Owned),
    /// Still pending with no job left to run.
    Stuck,
}

/// Runs jobs until `p` (if it is a promise) settles; returns its value (or
/// `p` itself if it is not a promise).
fn settle(p: &Owned) -> Result<Owned, Settle> {
    let ctx = js::ctx();
    loop {
        // SAFETY: `p` is borrowed; JS_PromiseState only reads it.
        let state = unsafe { q::JS_PromiseState(ctx, p.raw()) };
        match state {
            q::JSPromiseStateEnum_JS_PROMISE_NOT_A_PROMISE => return Ok(p.clone_ref()),
            q::JSPromiseStateEnum_JS_PROMISE_FULFILLED => {
                // SAFETY: the result is a new owned reference.
                return Ok(Owned::new(ctx, unsafe { q::JS_PromiseResult(ctx, p.raw()) }).unwrap_or_else(|_| Owned::undefined(ctx)));
            }
            q::JSPromiseStateEnum_JS_PROMISE_REJECTED => {
                // SAFETY: as above. The rejection is now handled by us.
                let reason = unsafe { q::JS_PromiseResult(ctx, p.raw()) };
                return Err(Settle::Rejected(Owned::new(ctx, reason).unwrap_or_else(|_| Owned::undefined(ctx))));
            }
            _ => {
                let mut pctx = core::ptr::null_mut();
                // SAFETY: runs one job of the live runtime.
                let r = unsafe { q::JS_ExecutePendingJob(js::rt(), &mut pctx) };
                if r == 0 {
                    // No job left: wait for the earliest timer, if any.
                    match timers::run_next() {
                        timers::Ran::Fired => continue,
                        timers::Ran::Nothing => return Err(Settle::Stuck),
                        timers::Ran::Stopped(exc) => return Err(Settle::Rejected(exc)),
                    }
                }
                if r < 0 {
                    // A job threw outside any promise (queueMicrotask): it
                    // cannot settle `p`; report it like an uncaught error.
                    let exc = js::take_exception(ctx);
                    let info = js::describe(ctx, &exc);
                    drop(exc);
                    if info.interrupted || info.out_of_memory {
                        return Err(Settle::Rejected(error_value(ctx, &info)));
                    }
                    crate::print::emit_fmt(
                        hyperlight_abi::print_level::ERROR,
                        format_args!("Uncaught (in a job) {}: {}", info.name, info.message),
                    );
                }
            }
        }
    }
}

/// Re-creates an error value for a failure that happened in a job (so it
/// can be reported like a rejection).
fn error_value(ctx: *mut js::JSContext, info: &js::ErrorInfo) -> Owned {
    js::throw_internal_error(ctx, &info.message);
    js::take_exception(ctx)
}

/// REQ_CALL: runs a handler and writes its answer. `Ok(())` means the
/// answer (RESP_OK) is written.
pub fn call(payload: &[u8]) -> Result<(), Failure> {
    let ctx = js::ctx();
    let mut r = Reader::new(payload);
    let bad = |_| Failure::code(error_code::BAD_REQUEST, "malformed call request");
    let key = r.str().map_err(bad)?;
    let event_json = r.str().map_err(bad)?;
    let flags = r.u32().map_err(bad)?;
    let func = {
        let handlers = HANDLERS.get().borrow();
        match handlers.get(key) {
            Some(Handler { func: Some(f), .. }) => f.clone_ref(),
            Some(_) => {
                return Err(Failure::code(
                    error_code::UNKNOWN_HANDLER,
                    format!("handler '{key}' is registered but not linked yet"),
                ))
            }
            None => {
                return Err(Failure::code(error_code::UNKNOWN_HANDLER, format!("no handler is registered under '{key}'")))
            }
        }
    };
    // Parse the event straight from the request (JSON.parse copies it);
    // after this, `payload` is not touched again.
    let event = match js::json_parse(ctx, event_json.as_bytes(), c"<event>") {
        Ok(e) => e,
        Err(Pending) => {
            return Err(match Failure::pending() {
                Failure::Exception(info) => Failure::code(
                    error_code::INVALID_EVENT,
                    format!("the event is not valid JSON: {}", info.message),
                ),
                other => other,
            });
        }
    };
    let result = run(&func, event);
    drop(func);
    // Nothing the handler queued outlives the call: jobs run now, timers
    // still pending are dropped (see `timers`). Before the answer is
    // written: a job may exit to the host (a host call, an `import()`
    // that loads a module), which reuses the output buffer.
    js::drain_jobs();
    timers::clear();
    let outcome = result.and_then(|v| answer(&v));
    // After running out of memory, collect cycles even if the host did not
    // ask for it, so the next call starts with what can be reclaimed.
    let oom = matches!(&outcome, Err(Failure::Code(error_code::OUT_OF_MEMORY, _)));
    if oom {
        GC_PENDING.get().set(Gc::Always);
    } else if flags & CALL_FLAG_GC != 0 {
        // Collected once the answer is handed over (see `run_pending_gc`):
        // a host spinning for the answer does not wait for the collector.
        GC_PENDING.get().set(Gc::IfGrown);
    }
    outcome
}

/// A collection asked for by the last call and not run yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gc {
    None,
    /// `CALL_FLAG_GC`: collect if the heap grew by [`GC_MIN_GROWTH`] since
    /// the last collection.
    IfGrown,
    /// After running out of memory: collect.
    Always,
}

static GC_PENDING: Single<core::cell::Cell<Gc>> = Single::new(core::cell::Cell::new(Gc::None));
/// Heap bytes in use right after the last collection.
static USED_AFTER_GC: Single<core::cell::Cell<usize>> = Single::new(core::cell::Cell::new(0));

/// How much the heap must have grown since the last collection for a
/// call's `CALL_FLAG_GC` to collect. A collection (QuickJS's cycle
/// collector) marks every live object: with the built-ins' own live heap
/// (the console's formatter, the web APIs) that is about 115 µs, measured
/// with `examples/cold_probe`-style calls, while reference counting
/// already freed every acyclic object the call dropped. Below this growth
/// the call can have left at most this much cyclic garbage, which the next
/// collection reclaims.
const GC_MIN_GROWTH: usize = 64 << 10;

/// Collects once at the end of boot and records the heap in use, so that
/// the first calls of a sandbox do not pay for a collection of the
/// built-ins' own garbage.
pub fn collect_at_boot() {
    // SAFETY: the runtime is live and no engine call is in progress.
    unsafe { q::JS_RunGC(js::rt()) };
    USED_AFTER_GC.get().set(crate::heap::used());
}

/// Runs the garbage collection the last call asked for (`CALL_FLAG_GC`, or
/// after running out of memory), if any. Called right after the answer was
/// handed over through the mailbox, or just before it is sent by an exit.
pub fn run_pending_gc() {
    let pending = GC_PENDING.get().replace(Gc::None);
    let grown = crate::heap::used() >= USED_AFTER_GC.get().get().saturating_add(GC_MIN_GROWTH);
    if pending == Gc::Always || (pending == Gc::IfGrown && grown) {
        // SAFETY: the runtime is live and no engine call is in progress
        // (the request that asked for it has been answered).
        unsafe { q::JS_RunGC(js::rt()) };
        USED_AFTER_GC.get().set(crate::heap::used());
    }
}

fn run(func: &Owned, event: Owned) -> Result<Owned, Failure> {
    let ctx = js::ctx();
    let mut argv: [JSValue; 1] = [event.raw()];
    // SAFETY: `func` and `argv` are borrowed for the call; the result is
    // owned.
    let ret = Owned::new(ctx, unsafe { q::JS_Call(ctx, func.raw(), q::JS_UNDEFINED, 1, argv.as_mut_ptr()) });
    drop(event);
    let ret = ret.map_err(|Pending| Failure::pending())?;
    settle(&ret).map_err(|s| match s {
        Settle::Rejected(reason) => {
            let info = js::describe(ctx, &reason);
            drop(reason);
            Failure::thrown(info)
        }
        Settle::Stuck => never_settles(String::from(
            "the handler returned a promise that never settles (it awaits something no job will resolve)",
        )),
    })
}

/// A promise no job will ever settle: the handler's own bug, reported like
/// an exception it threw (`ERR_HANDLER`).
fn never_settles(message: String) -> Failure {
    Failure::Exception(js::ErrorInfo {
        name: String::from("Error"),
        message,
        stack: String::new(),
        out_of_memory: false,
        interrupted: false,
    })
}

/// The result could not even be serialised in the guest heap: as
/// recoverable as a result too large for the output buffer.
fn result_out_of_memory() -> Failure {
    Failure::code(
        error_code::RESULT_TOO_LARGE,
        "the handler's result is too large: serialising it to JSON ran out of guest heap \
         (return less, or raise the heap size)",
    )
}

/// Serialises the handler's result into the output buffer.
fn answer(v: &Owned) -> Result<(), Failure> {
    let ctx = js::ctx();
    let json = match js::json_stringify(ctx, v.raw()) {
        Ok(Some(j)) => j,
        Ok(None) => {
            return Err(Failure::code(
                error_code::RESULT_NOT_SERIALIZABLE,
                "the handler returned undefined (or a function or symbol), which is not JSON; return a JSON-serialisable value",
            ))
        }
        Err(Pending) => {
            return Err(match Failure::pending() {
                Failure::Code(error_code::OUT_OF_MEMORY, _) => result_out_of_memory(),
                Failure::Exception(info) => Failure::code(
                    error_code::RESULT_NOT_SERIALIZABLE,
                    format!("the handler's result cannot be serialised to JSON: {}: {}", info.name, info.message),
                ),
                other => other,
            })
        }
    };
    let written = js::with_str(ctx, json.raw(), |bytes| {
        if protocol::respond_ok_json(bytes) {
            Ok(())
        } else {
            Err(bytes.len())
        }
    })
    .map_err(|Pending| match Failure::pending() {
        Failure::Code(error_code::OUT_OF_MEMORY, _) => result_out_of_memory(),
        other => other,
    })?;
    written.map_err(|len| {
        Failure::code(
            error_code::RESULT_TOO_LARGE,
            format!(
                "the handler's result is {len} bytes of JSON but the output buffer holds at most {} bytes",
                protocol::output_capacity().saturating_sub(4)
            ),
        )
    })
}
