//! Thin, careful wrappers over the QuickJS-ng C API.
//!
//! Value ownership in this file (and the convention for the whole crate):
//! * [`Owned`] holds one reference to a `JSValue` and frees it on drop. Any
//!   `JSValue` a QuickJS call *returns* is owned and goes straight into an
//!   `Owned` (or is handed back to QuickJS as a function's return value).
//! * A bare `JSValue` argument (`this_val`, `argv[i]`, `Owned::raw()`) is
//!   borrowed: never freed by the borrower; `JS_DupValue` it to keep it.
//! * QuickJS functions that *take* a value (`JS_SetPropertyStr`,
//!   `JS_SetModuleExport`, `JS_Throw`, `JS_DefinePropertyValueStr`,
//!   `JS_EvalFunction`) consume one reference: pass `Owned::into_raw()`.
//! * C strings from `JS_ToCStringLen` are freed with `JS_FreeCString`
//!   before the function that got them returns (see [`to_string`]).
//!
//! Every function here leaves at most one pending exception in the
//! context and reports it as `Err(Pending)`.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ffi::{c_char, c_int, CStr};
use core::ptr;

use rquickjs_sys as q;
pub use rquickjs_sys::{JSContext, JSRuntime, JSValue};

use crate::sync::Single;

/// An exception is pending in the context (`JS_GetException` takes it).
#[derive(Debug, Clone, Copy)]
pub struct Pending;

/// The result of an engine operation that may throw.
pub type JsResult<T> = Result<T, Pending>;

static RT: Single<Cell<*mut JSRuntime>> = Single::new(Cell::new(ptr::null_mut()));
static CTX: Single<Cell<*mut JSContext>> = Single::new(Cell::new(ptr::null_mut()));

/// Records the one runtime and context of the guest.
pub fn set_engine(rt: *mut JSRuntime, ctx: *mut JSContext) {
    RT.get().set(rt);
    CTX.get().set(ctx);
}

/// The runtime.
pub fn rt() -> *mut JSRuntime {
    RT.get().get()
}

/// The context.
pub fn ctx() -> *mut JSContext {
    CTX.get().get()
}

/// One owned reference to a value, freed on drop.
pub struct Owned {
    ctx: *mut JSContext,
    v: JSValue,
}

impl Owned {
    /// Takes ownership of `v` (a value a QuickJS call returned). A
    /// `JS_EXCEPTION` becomes `Err(Pending)`.
    pub fn new(ctx: *mut JSContext, v: JSValue) -> JsResult<Owned> {
        // SAFETY: inspecting the tag of a value is always sound.
        if unsafe { q::JS_IsException(v) } {
            Err(Pending)
        } else {
            Ok(Owned { ctx, v })
        }
    }

    /// `undefined` (not reference counted).
    pub fn undefined(ctx: *mut JSContext) -> Owned {
        Owned { ctx, v: q::JS_UNDEFINED }
    }

    /// A new reference to the borrowed `v`.
    pub fn dup(ctx: *mut JSContext, v: JSValue) -> Owned {
        // SAFETY: `v` is a live value of `ctx` (caller's borrow).
        Owned { ctx, v: unsafe { q::JS_DupValue(ctx, v) } }
    }

    /// The value, borrowed.
    pub fn raw(&self) -> JSValue {
        self.v
    }

    /// Gives the reference away (to a consuming QuickJS call or as a
    /// return value).
    pub fn into_raw(self) -> JSValue {
        let v = self.v;
        core::mem::forget(self);
        v
    }

    /// A new reference to the same value.
    pub fn clone_ref(&self) -> Owned {
        Owned::dup(self.ctx, self.v)
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: `self` holds exactly one reference to `v`, in `ctx`.
        unsafe { q::JS_FreeValue(self.ctx, self.v) }
    }
}

/// A NUL-terminated copy of `s` for the C API (QuickJS wants the byte after
/// the input to be NUL for `JS_Eval` and `JS_ParseJSON`).
pub fn c_bytes(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    v
}

/// Fallible version of [`c_bytes`] for large, guest-controlled inputs.
pub fn try_c_bytes(s: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(s.len() + 1).ok()?;
    v.extend_from_slice(s);
    v.push(0);
    Some(v)
}

/// A new string value.
pub fn new_string(ctx: *mut JSContext, s: &str) -> JsResult<Owned> {
    // SAFETY: `s` is valid UTF-8 of the given length.
    Owned::new(ctx, unsafe { q::JS_NewStringLen(ctx, s.as_ptr().cast(), s.len() as _) })
}

/// Calls `f` with the UTF-8 bytes of `v` converted to a string (as
/// `String(v)` would, except that lone surrogates become U+FFFD). The bytes
/// are always valid UTF-8.
pub fn with_str<T>(ctx: *mut JSContext, v: JSValue, f: impl FnOnce(&[u8]) -> T) -> JsResult<T> {
    let mut len: q::size_t = 0;
    // SAFETY: `v` is a live borrowed value; on success the returned buffer
    // holds `len` bytes and is freed below, after `f` is done with it.
    unsafe {
        let p = q::JS_ToCStringLen2(ctx, &mut len, v, false);
        if p.is_null() {
            return Err(Pending);
        }
        let bytes = core::slice::from_raw_parts(p.cast::<u8>(), len as usize);
        let out = if has_surrogate(bytes) {
            f(&replace_surrogates(bytes))
        } else {
            f(bytes)
        };
        q::JS_FreeCString(ctx, p);
        Ok(out)
    }
}

/// QuickJS encodes a lone UTF-16 surrogate as the 3-byte sequence
/// `ED A0..BF xx` (WTF-8), which is not UTF-8. Whether `b` has one.
fn has_surrogate(b: &[u8]) -> bool {
    b.windows(2).any(|w| w[0] == 0xED && w[1] >= 0xA0)
}

/// `b` with every encoded surrogate replaced by U+FFFD (`EF BF BD`).
fn replace_surrogates(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0xED && i + 2 < b.len() && b.get(i + 1).is_some_and(|&c| c >= 0xA0) {
            out.extend_from_slice(&[0xEF, 0xBF, 0xBD]);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `String(v)` as a Rust string.
pub fn to_string(ctx: *mut JSContext, v: JSValue) -> JsResult<String> {
    with_str(ctx, v, |b| String::from_utf8_lossy(b).into_owned())
}

/// `obj[name]`.
pub fn get(ctx: *mut JSContext, obj: JSValue, name: &CStr) -> JsResult<Owned> {
    // SAFETY: `obj` is borrowed; the result is owned.
    Owned::new(ctx, unsafe { q::JS_GetPropertyStr(ctx, obj, name.as_ptr()) })
}

/// `obj[name] = value` (consumes `value`).
pub fn set(ctx: *mut JSContext, obj: JSValue, name: &CStr, value: Owned) -> JsResult<()> {
    // SAFETY: `obj` is borrowed; `JS_SetPropertyStr` consumes the value.
    let r = unsafe { q::JS_SetPropertyStr(ctx, obj, name.as_ptr(), value.into_raw()) };
    if r < 0 {
        Err(Pending)
    } else {
        Ok(())
    }
}

/// A native function.
pub fn new_function(
    ctx: *mut JSContext,
    f: unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue,
    name: &CStr,
    length: c_int,
) -> JsResult<Owned> {
    // SAFETY: `f` has the generic C function signature; `name` is
    // NUL-terminated and copied by QuickJS.
    Owned::new(ctx, unsafe {
        q::JS_NewCFunction2(ctx, Some(f), name.as_ptr(), length, q::JSCFunctionEnum_JS_CFUNC_generic, 0)
    })
}

/// The arguments of a native function as a slice (borrowed values).
///
/// # Safety
/// `argv` points to `argc` values that outlive the slice (QuickJS
/// guarantees at least `length` readable values, `undefined`-padded).
pub unsafe fn args<'a>(argc: c_int, argv: *mut JSValue) -> &'a [JSValue] {
    if argc <= 0 || argv.is_null() {
        return &[];
    }
    // SAFETY: caller contract.
    unsafe { core::slice::from_raw_parts(argv, argc as usize) }
}

/// The `i`-th argument, or `undefined`.
pub fn arg(args: &[JSValue], i: usize) -> JSValue {
    args.get(i).copied().unwrap_or(q::JS_UNDEFINED)
}

/// Throws `TypeError(msg)`; returns `JS_EXCEPTION` for a native function to
/// return.
pub fn throw_type_error(ctx: *mut JSContext, msg: &str) -> JSValue {
    throw_with(ctx, msg, |ctx, fmt, s| {
        // SAFETY: "%s" with one NUL-terminated string argument.
        unsafe { q::JS_ThrowTypeError(ctx, fmt, s) }
    })
}

/// Throws `RangeError(msg)`.
pub fn throw_range_error(ctx: *mut JSContext, msg: &str) -> JSValue {
    throw_with(ctx, msg, |ctx, fmt, s| {
        // SAFETY: as in `throw_type_error`.
        unsafe { q::JS_ThrowRangeError(ctx, fmt, s) }
    })
}

/// Throws `ReferenceError(msg)`.
pub fn throw_reference_error(ctx: *mut JSContext, msg: &str) -> JSValue {
    throw_with(ctx, msg, |ctx, fmt, s| {
        // SAFETY: as in `throw_type_error`.
        unsafe { q::JS_ThrowReferenceError(ctx, fmt, s) }
    })
}

/// Throws `InternalError(msg)`.
pub fn throw_internal_error(ctx: *mut JSContext, msg: &str) -> JSValue {
    throw_with(ctx, msg, |ctx, fmt, s| {
        // SAFETY: as in `throw_type_error`.
        unsafe { q::JS_ThrowInternalError(ctx, fmt, s) }
    })
}

/// Throws a plain `Error(msg)`.
pub fn throw_error(ctx: *mut JSContext, msg: &str) -> JSValue {
    throw_with(ctx, msg, |ctx, fmt, s| {
        // SAFETY: as in `throw_type_error`.
        unsafe { q::JS_ThrowPlainError(ctx, fmt, s) }
    })
}

fn throw_with(
    ctx: *mut JSContext,
    msg: &str,
    f: impl FnOnce(*mut JSContext, *const c_char, *const c_char) -> JSValue,
) -> JSValue {
    // Interior NULs would cut the message short; replace them.
    let mut buf: Vec<u8> = msg.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    buf.push(0);
    f(ctx, c"%s".as_ptr(), buf.as_ptr().cast())
}

/// Takes the pending exception.
pub fn take_exception(ctx: *mut JSContext) -> Owned {
    // SAFETY: returns an owned value (the exception or `undefined`/`null`).
    Owned { ctx, v: unsafe { q::JS_GetException(ctx) } }
}

/// Drops the pending exception, if any.
pub fn clear_exception(ctx: *mut JSContext) {
    drop(take_exception(ctx));
}

/// What the host sees of a thrown value.
pub struct ErrorInfo {
    pub name: String,
    pub message: String,
    pub stack: String,
    /// The engine ran out of memory.
    pub out_of_memory: bool,
    /// The engine stopped because the host asked (interrupt handler).
    pub interrupted: bool,
}

/// Describes a thrown value: `name`, `message` and `stack` of an `Error`;
/// for anything else the name `Error` and `String(value)` as the message.
/// Never fails: a getter that throws is replaced by a placeholder.
pub fn describe(ctx: *mut JSContext, exc: &Owned) -> ErrorInfo {
    let v = exc.raw();
    // SAFETY: tag inspection and `JS_IsError` only read the value.
    let (is_object, is_error, uncatchable) = unsafe {
        (q::JS_IsObject(v), q::JS_IsError(v), q::JS_IsUncatchableError(v))
    };
    let mut info = ErrorInfo {
        name: String::from("Error"),
        message: String::new(),
        stack: String::new(),
        out_of_memory: false,
        interrupted: false,
    };
    if is_object {
        if let Some(n) = prop_string(ctx, v, c"name") {
            info.name = n;
        } else if !is_error {
            // A thrown object of a class that does not extend Error (and
            // has no `name`), e.g. test262's Test262Error: report its
            // class, as Node's inspector does.
            if let Some(n) = constructor_name(ctx, v) {
                info.name = n;
            }
        }
        if let Some(m) = prop_string(ctx, v, c"message") {
            info.message = m;
        }
        if let Some(s) = prop_string(ctx, v, c"stack") {
            info.stack = s;
        }
        if !is_error && info.message.is_empty() {
            info.message = to_string(ctx, v).unwrap_or_else(|_| {
                clear_exception(ctx);
                String::from("[object]")
            });
        }
    } else {
        // SAFETY: tag inspection only.
        if unsafe { q::JS_IsNull(v) || q::JS_IsUninitialized(v) } {
            // QuickJS leaves a null exception when it could not even
            // allocate the error object.
            info.name = String::from("InternalError");
            info.message = String::from("out of memory");
        } else {
            info.message = to_string(ctx, v).unwrap_or_else(|_| {
                clear_exception(ctx);
                String::from("[unprintable value]")
            });
        }
    }
    if info.name == "InternalError" {
        // With the heap exhausted, even reading the message of the engine's
        // "out of memory" error can fail, leaving it empty.
        if info.message == "out of memory" || info.message.is_empty() {
            info.out_of_memory = true;
        } else if info.message == "interrupted" && uncatchable {
            info.interrupted = true;
        }
    }
    info
}

/// `obj.constructor.name`, if it is a non-empty string other than
/// `Object`.
fn constructor_name(ctx: *mut JSContext, obj: JSValue) -> Option<String> {
    let Ok(c) = get(ctx, obj, c"constructor") else {
        clear_exception(ctx);
        return None;
    };
    if !is_function(ctx, c.raw()) {
        return None;
    }
    let n = get(ctx, c.raw(), c"name").map_err(|_| clear_exception(ctx)).ok()?;
    // SAFETY: tag inspection only.
    if !unsafe { q::JS_IsString(n.raw()) } {
        return None;
    }
    let s = to_string(ctx, n.raw()).map_err(|_| clear_exception(ctx)).ok()?;
    (!s.is_empty() && s != "Object").then_some(s)
}

fn prop_string(ctx: *mut JSContext, obj: JSValue, name: &CStr) -> Option<String> {
    match get(ctx, obj, name) {
        Ok(v) => {
            // SAFETY: tag inspection only.
            if unsafe { q::JS_IsUndefined(v.raw()) } {
                return None;
            }
            match to_string(ctx, v.raw()) {
                Ok(s) => Some(s),
                Err(Pending) => {
                    clear_exception(ctx);
                    None
                }
            }
        }
        Err(Pending) => {
            clear_exception(ctx);
            None
        }
    }
}

/// The bytes of a `BufferSource` (ArrayBuffer or typed array)
/// or, if `strings` is set, of a string (as UTF-8). `None` if `v` is
/// none of these (no exception is left pending).
pub fn bytes_of(ctx: *mut JSContext, v: JSValue, strings: bool) -> JsResult<Option<Vec<u8>>> {
    // SAFETY: tag inspection only.
    if strings && unsafe { q::JS_IsString(v) } {
        return with_str(ctx, v, |b| Some(b.to_vec()));
    }
    Ok(with_buffer(ctx, v, |b| b.to_vec()))
}

/// Calls `f` with the bytes viewed by a typed array or ArrayBuffer `v`; `None` if `v` is none of these. `f` must not call back
/// into the engine (the buffer could be detached or resized).
pub fn with_buffer<T>(ctx: *mut JSContext, v: JSValue, f: impl FnOnce(&mut [u8]) -> T) -> Option<T> {
    // SAFETY: every call below only inspects `v` (borrowed); the slices
    // handed to `f` point into the array buffer's live storage, which
    // cannot change while `f` runs because `f` does not run JavaScript.
    unsafe {
        if !q::JS_IsObject(v) {
            return None;
        }
        if q::JS_IsArrayBuffer(v) {
            let mut size: q::size_t = 0;
            let p = q::JS_GetArrayBuffer(ctx, &mut size, v);
            if p.is_null() {
                clear_exception(ctx);
                return if size == 0 { Some(f(&mut [])) } else { None };
            }
            return Some(f(core::slice::from_raw_parts_mut(p, size as usize)));
        }
        // DataViews are not byte sources here: only typed arrays and
        // ArrayBuffers (what Node's HMAC and TextDecoder use in practice).
        if q::JS_GetTypedArrayType(v) < 0 {
            return None;
        }
        let (mut off, mut len, mut bpe): (q::size_t, q::size_t, q::size_t) = (0, 0, 0);
        let buf = q::JS_GetTypedArrayBuffer(ctx, v, &mut off, &mut len, &mut bpe);
        if q::JS_IsException(buf) {
            clear_exception(ctx);
            return None;
        }
        let buf = Owned { ctx, v: buf };
        let mut size: q::size_t = 0;
        let p = q::JS_GetArrayBuffer(ctx, &mut size, buf.raw());
        if p.is_null() || off.checked_add(len).is_none_or(|end| end > size) {
            clear_exception(ctx);
            return if len == 0 { Some(f(&mut [])) } else { None };
        }
        Some(f(core::slice::from_raw_parts_mut(p.add(off as usize), len as usize)))
    }
}

/// `JSON.stringify(v)`: `Ok(None)` when the result is `undefined`.
pub fn json_stringify(ctx: *mut JSContext, v: JSValue) -> JsResult<Option<Owned>> {
    // SAFETY: `v` borrowed; the result is owned.
    let s = Owned::new(ctx, unsafe { q::JS_JSONStringify(ctx, v, q::JS_UNDEFINED, q::JS_UNDEFINED) })?;
    // SAFETY: tag inspection only.
    if unsafe { q::JS_IsUndefined(s.raw()) } {
        Ok(None)
    } else {
        Ok(Some(s))
    }
}

/// `JSON.parse(text)`.
pub fn json_parse(ctx: *mut JSContext, text: &[u8], what: &CStr) -> JsResult<Owned> {
    let Some(buf) = try_c_bytes(text) else {
        // SAFETY: throws the engine's out-of-memory error.
        unsafe { q::JS_ThrowOutOfMemory(ctx) };
        return Err(Pending);
    };
    // SAFETY: `buf` is NUL-terminated after `text.len()` bytes.
    Owned::new(ctx, unsafe {
        q::JS_ParseJSON(ctx, buf.as_ptr().cast(), text.len() as _, what.as_ptr())
    })
}

/// Runs every pending job (promise reactions, `queueMicrotask`). A job that
/// throws is reported on the print sink (as an uncaught error would be)
/// and the queue keeps draining. Returns early if the engine is
/// interrupted.
pub fn drain_jobs() {
    loop {
        let mut pctx: *mut JSContext = ptr::null_mut();
        // SAFETY: the runtime is live; `pctx` receives the job's context.
        let r = unsafe { q::JS_ExecutePendingJob(rt(), &mut pctx) };
        if r == 0 {
            return;
        }
        if r < 0 {
            let c = if pctx.is_null() { ctx() } else { pctx };
            let exc = take_exception(c);
            let info = describe(c, &exc);
            drop(exc);
            crate::print::emit_fmt(
                hyperlight_abi::print_level::ERROR,
                format_args!("Uncaught (in a job) {}: {}", info.name, info.message),
            );
            if info.interrupted {
                return;
            }
        }
    }
}

/// Whether `v` is a function.
pub fn is_function(ctx: *mut JSContext, v: JSValue) -> bool {
    // SAFETY: inspection only.
    unsafe { q::JS_IsFunction(ctx, v) }
}

/// A native ES module `name` whose exports are `exports` plus `default`,
/// filled in by `init` when it is first imported.
pub fn new_c_module(
    ctx: *mut JSContext,
    name: &CStr,
    init: unsafe extern "C" fn(*mut JSContext, *mut q::JSModuleDef) -> c_int,
    exports: &[&CStr],
) -> *mut q::JSModuleDef {
    // SAFETY: `name` and the export names are NUL-terminated; QuickJS
    // copies them.
    unsafe {
        let m = q::JS_NewCModule(ctx, name.as_ptr(), Some(init));
        if m.is_null() {
            return m;
        }
        for e in exports.iter().chain([&c"default"]) {
            if q::JS_AddModuleExport(ctx, m, e.as_ptr()) < 0 {
                return ptr::null_mut();
            }
        }
        m
    }
}
