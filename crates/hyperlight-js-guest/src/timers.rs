//! Timers: `setTimeout`, `setInterval`, `clearTimeout`, `clearInterval`.
//!
//! Timers live only inside a request (a call, or a link for top-level
//! code). While the handler's promise is pending and no job is left to
//! run, the guest takes the earliest timer and, if it is not due yet, waits
//! for it **through the host** (`HC_SLEEP`): the vCPU thread blocks in the
//! host without using CPU, so the wait counts against a wall-clock limit and
//! not a CPU-time one, and a kill (or an interrupt request) ends it at
//! once. Then the callback runs, followed by every job it queued.
//!
//! When the request's answer is ready, the timers still pending are
//! **dropped**: they never fire, neither later in this call nor in the next
//! one (a request leaves nothing scheduled behind it). A handler that wants
//! a timer to run must await it.
//!
//! Delays follow the HTML standard's timer initialisation steps: the delay
//! is converted with ToNumber, NaN and negative values become 0, and it is
//! capped at 2^31 - 1 ms (Node turns larger values into 1 ms; browsers
//! overflow); intervals are at least 1 ms so that an interval cannot starve
//! everything else. Timer ids are positive integers (as in browsers, Deno
//! and Workers; Node returns an object). A timer callback that throws is
//! reported on the print sink at the error level, as an uncaught exception
//! in a job is, and does not end the call.
//!
//! Value ownership: a timer holds one owned reference to its callback and
//! to each extra argument until it fires for the last time or is cleared.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ffi::{c_int, CStr};

use hyperlight_abi::js as proto;
use hyperlight_abi::js::Writer;
use rquickjs_sys as q;

use crate::js::{self, args, JSContext, JSValue, Owned};
use crate::sync::Single;
use crate::{arch, control, time};

struct Timer {
    id: u32,
    callback: Owned,
    args: Vec<Owned>,
    /// Repeat period of an interval.
    interval_ns: Option<u64>,
}

#[derive(Default)]
struct Queue {
    /// (deadline in guest monotonic ns, sequence) → timer: fires in
    /// deadline order, ties in creation order.
    due: BTreeMap<(u64, u64), Timer>,
    /// id → its key in `due`.
    by_id: BTreeMap<u32, (u64, u64)>,
}

static QUEUE: Single<RefCell<Option<Queue>>> = Single::new(RefCell::new(None));
static NEXT_ID: Single<Cell<u32>> = Single::new(Cell::new(1));
static NEXT_SEQ: Single<Cell<u64>> = Single::new(Cell::new(0));

fn with<T>(f: impl FnOnce(&mut Queue) -> T) -> T {
    let mut q = QUEUE.get().borrow_mut();
    f(q.get_or_insert_with(Queue::default))
}

/// Longest delay (ms), as in the HTML standard (a signed 32-bit integer).
const MAX_DELAY_MS: f64 = 2_147_483_647.0;

fn schedule(ctx: *mut JSContext, a: &[JSValue], repeat: bool) -> JSValue {
    let cb = js::arg(a, 0);
    if !js::is_function(ctx, cb) {
        let which = if repeat { "setInterval" } else { "setTimeout" };
        return js::throw_type_error(
            ctx,
            &alloc::format!("{which}: the callback must be a function (strings are not evaluated)"),
        );
    }
    let mut ms: f64 = 0.0;
    // SAFETY: the delay argument is borrowed; JS_ToFloat64 only reads it.
    if unsafe { q::JS_ToFloat64(ctx, &mut ms, js::arg(a, 1)) } < 0 {
        return q::JS_EXCEPTION;
    }
    if ms.is_nan() || ms < 0.0 {
        ms = 0.0;
    }
    let ms = ms.min(MAX_DELAY_MS);
    let mut period_ns = (ms * 1e6) as u64;
    if repeat {
        period_ns = period_ns.max(1_000_000);
    }
    let id = NEXT_ID.get().get();
    NEXT_ID.get().set(if id >= i32::MAX as u32 { 1 } else { id + 1 });
    let seq = NEXT_SEQ.get().get();
    NEXT_SEQ.get().set(seq + 1);
    let key = (time::monotonic_ns().saturating_add(period_ns), seq);
    let timer = Timer {
        id,
        callback: Owned::dup(ctx, cb),
        args: a.iter().skip(2).map(|v| Owned::dup(ctx, *v)).collect(),
        interval_ns: repeat.then_some(period_ns),
    };
    with(|q| {
        q.due.insert(key, timer);
        q.by_id.insert(id, key);
    });
    q::JS_NewFloat64(f64::from(id))
}

unsafe extern "C" fn set_timeout(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    schedule(ctx, unsafe { args(argc, argv) }, false)
}

unsafe extern "C" fn set_interval(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    schedule(ctx, unsafe { args(argc, argv) }, true)
}

/// `clearTimeout(id)` and `clearInterval(id)` (either clears either kind,
/// as in HTML). Unknown ids and non-numbers are ignored.
unsafe extern "C" fn clear_timer(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let v = js::arg(a, 0);
    // SAFETY: tag inspection only.
    if unsafe { q::JS_IsUndefined(v) || q::JS_IsNull(v) } {
        return q::JS_UNDEFINED;
    }
    let mut id: f64 = 0.0;
    // SAFETY: borrowed argument; JS_ToFloat64 only reads it.
    if unsafe { q::JS_ToFloat64(ctx, &mut id, v) } < 0 {
        return q::JS_EXCEPTION;
    }
    if id >= 1.0 && id <= u32::MAX as f64 && (id as u32) as f64 == id {
        // Dropping the timer frees its callback and arguments.
        let removed = with(|q| q.by_id.remove(&(id as u32)).and_then(|k| q.due.remove(&k)));
        drop(removed);
    }
    q::JS_UNDEFINED
}

type Native = unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue;

/// The natives `webapi.js` installs as globals.
pub const NATIVES: &[(&CStr, Native, c_int)] = &[
    (c"setTimeout", set_timeout, 2),
    (c"setInterval", set_interval, 2),
    (c"clearTimeout", clear_timer, 1),
    (c"clearInterval", clear_timer, 1),
];

/// What [`run_next`] did.
pub enum Ran {
    /// No timer is pending.
    Nothing,
    /// A timer fired (its callback ran, or threw and was reported).
    Fired,
    /// The call must end with this exception: the host asked the call to
    /// stop while the guest waited (the uncatchable `InternalError:
    /// interrupted`, as the engine's own interrupt check makes it), the
    /// engine ran out of memory in the callback, or the host cannot wait.
    Stopped(Owned),
}

/// Waits for the earliest timer (through the host) and runs it.
pub fn run_next() -> Ran {
    let ctx = js::ctx();
    let Some((deadline, _)) = with(|q| q.due.keys().next().copied()) else {
        return Ran::Nothing;
    };
    let now = time::monotonic_ns();
    if deadline > now {
        if let Err(msg) = sleep(deadline - now) {
            js::throw_internal_error(ctx, &msg);
            return Ran::Stopped(js::take_exception(ctx));
        }
    }
    if control::interrupt_requested() {
        js::throw_internal_error(ctx, "interrupted");
        let exc = js::take_exception(ctx);
        // SAFETY: `exc` is a live error object; this only sets its flag.
        unsafe { q::JS_SetUncatchableError(ctx, exc.raw()) };
        return Ran::Stopped(exc);
    }
    // The wait may have ended a little early (clock skew between the host
    // and the TSC extrapolation): fire the earliest timer anyway.
    let Some((key, timer)) = with(|q| q.due.pop_first()) else {
        return Ran::Nothing;
    };
    let started = time::monotonic_ns();
    let callback = timer.callback.clone_ref();
    let keep: Vec<Owned> = timer.args.iter().map(|v| v.clone_ref()).collect();
    match timer.interval_ns {
        Some(period) => {
            // Re-arm before the callback runs, so that it can clear its
            // own interval.
            let next = (started.max(key.0).saturating_add(period), key.1);
            with(|q| {
                q.by_id.insert(timer.id, next);
                q.due.insert(next, timer);
            });
        }
        None => {
            with(|q| q.by_id.remove(&timer.id));
            drop(timer);
        }
    }
    let mut raw_args: Vec<JSValue> = keep.iter().map(|v| v.raw()).collect();
    // SAFETY: `callback` and the arguments are owned here (`keep`) for the
    // whole call; the result is owned.
    let r = Owned::new(ctx, unsafe {
        q::JS_Call(ctx, callback.raw(), q::JS_UNDEFINED, raw_args.len() as c_int, raw_args.as_mut_ptr())
    });
    drop(keep);
    drop(callback);
    if r.is_err() {
        let exc = js::take_exception(ctx);
        let info = js::describe(ctx, &exc);
        if info.interrupted || info.out_of_memory {
            return Ran::Stopped(exc);
        }
        drop(exc);
        crate::print::emit_fmt(
            hyperlight_abi::print_level::ERROR,
            format_args!("Uncaught (in a timer) {}: {}", info.name, info.message),
        );
    }
    Ran::Fired
}

/// Drops every pending timer (at the end of each request).
pub fn clear() {
    let q = QUEUE.get().borrow_mut().take();
    drop(q);
}

/// Blocks for `ns` nanoseconds in the host (`HC_SLEEP`). `Err` with a
/// message if the host refused.
fn sleep(ns: u64) -> Result<(), alloc::string::String> {
    let written = control::write_message(proto::HC_SLEEP, |body| {
        let mut w = Writer::new(body);
        w.u32(ns as u32).ok()?.u32((ns >> 32) as u32).ok()?;
        Some(w.len())
    });
    if !written {
        return Err("timers: the output buffer is too small for a sleep request".into());
    }
    arch::exit_host_call();
    // SAFETY: the slice is dropped before any exit.
    match unsafe { control::read_message() } {
        Some((proto::HC_OK, _)) => Ok(()),
        Some((_, p)) => Err(alloc::format!(
            "timers: the host cannot wait for a timer: {}",
            alloc::string::String::from_utf8_lossy(p)
        )),
        None => Err("timers: malformed answer from the host to a sleep request".into()),
    }
}
