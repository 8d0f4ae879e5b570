//! Module resolution: user modules (`<namespace>:<name>`, compiled lazily
//! on first import), host modules (`host:<name>`, one function per host
//! function, each a host call) and the built-in `crypto`.
//!
//! Module names: a specifier is resolved to itself when it is
//! `<namespace>:<name>` (the namespace has no `/`), or to `crypto` for
//! `crypto`/`node:crypto`. Anything else (relative paths, bare names) is
//! "not found". Handler modules are named `handler/<key>`, which no
//! specifier can resolve to, so user code can never import a handler.
//!
//! Value ownership: loader and normalizer callbacks receive borrowed
//! strings; compiled module values are freed right after their
//! `JSModuleDef` is taken (QuickJS keeps modules alive in its module list).
//! Host-call arguments/results are `Owned`.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr;

use hyperlight_abi::js::{self as proto, error_code, Reader, Writer};
use hyperlight_abi::HOST_ERROR_TAG;
use rquickjs_sys as q;

use crate::js::{self, args, JSContext, JSValue, JsResult, Owned, Pending};
use crate::protocol::Failure;
use crate::sync::Single;
use crate::{arch, control};

/// The namespace of host modules.
pub const HOST_NS: &str = "host";

#[derive(Default)]
struct Registry {
    /// `"<namespace>:<name>"` → source, for modules not compiled yet.
    user: BTreeMap<String, String>,
    /// Every user module name ever registered (compiled or not).
    names: BTreeMap<String, ()>,
    /// Host module name → its function names.
    host: BTreeMap<String, Vec<String>>,
    /// (module, function) of every host function object created; the
    /// function's opaque pointer is its index here.
    host_fns: Vec<(String, String)>,
    /// The last import that could not be resolved: (specifier, importer).
    missing: Option<(String, String)>,
}

static REGISTRY: Single<RefCell<Option<Registry>>> = Single::new(RefCell::new(None));

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut slot = REGISTRY.get().borrow_mut();
    f(slot.get_or_insert_with(Registry::default))
}

/// Forgets the last unresolved import (before a link).
pub fn clear_missing() {
    with(|r| r.missing = None);
}

/// The last unresolved import, if one happened since [`clear_missing`].
pub fn take_missing() -> Option<(String, String)> {
    with(|r| r.missing.take())
}

/// Whether a namespace is acceptable for user modules.
fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty() && !ns.contains('/') && !ns.contains(':') && ns != HOST_NS
}

/// REQ_SET_HOST_MODULES: replaces the host-module table.
pub fn set_host_modules(payload: &[u8]) -> Result<(), Failure> {
    let mut r = Reader::new(payload);
    let bad = |_| Failure::code(error_code::BAD_REQUEST, "malformed host-module table");
    let count = r.u32().map_err(bad)?;
    let mut table: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for _ in 0..count {
        let name = r.str().map_err(bad)?;
        if name.is_empty() || name.contains('\0') {
            return Err(Failure::code(error_code::BAD_REQUEST, "a host module name is empty or contains NUL"));
        }
        let n = r.u32().map_err(bad)?;
        let fns = table.entry(name.to_owned()).or_default();
        for _ in 0..n {
            let f = r.str().map_err(bad)?;
            if f.is_empty() || f.contains('\0') {
                return Err(Failure::code(
                    error_code::BAD_REQUEST,
                    format!("a function name of host module '{name}' is empty or contains NUL"),
                ));
            }
            if !fns.iter().any(|x| x == f) {
                fns.push(f.to_owned());
            }
        }
    }
    with(|reg| reg.host = table);
    Ok(())
}

/// REQ_ADD_MODULE: registers a module source.
pub fn add_module(payload: &[u8]) -> Result<(), Failure> {
    let mut r = Reader::new(payload);
    let bad = |_| Failure::code(error_code::BAD_REQUEST, "malformed module registration");
    let ns = r.str().map_err(bad)?;
    let name = r.str().map_err(bad)?;
    let source = r.str().map_err(bad)?;
    let ns = if ns.is_empty() { "user" } else { ns };
    if ns == HOST_NS {
        return Err(Failure::code(
            error_code::BAD_REQUEST,
            "the `host` namespace is reserved for host modules",
        ));
    }
    if !valid_namespace(ns) {
        return Err(Failure::code(
            error_code::BAD_REQUEST,
            format!("invalid module namespace '{ns}' (it must be non-empty, without ':' or '/')"),
        ));
    }
    if name.is_empty() || name.contains('\0') || source.contains('\0') {
        return Err(Failure::code(
            error_code::BAD_REQUEST,
            "a module name must be non-empty, and neither name nor source may contain NUL",
        ));
    }
    let full = format!("{ns}:{name}");
    let mut src = String::new();
    if src.try_reserve_exact(source.len()).is_err() {
        return Err(Failure::code(error_code::OUT_OF_MEMORY, "no guest memory left to store the module source"));
    }
    src.push_str(source);
    with(|reg| {
        if reg.names.contains_key(&full) {
            return Err(Failure::code(error_code::DUPLICATE, format!("module '{full}' is already registered")));
        }
        reg.names.insert(full.clone(), ());
        reg.user.insert(full, src);
        Ok(())
    })
}

/// Copies `s` into memory from QuickJS's allocator (what the normalizer
/// must return).
fn js_strdup(ctx: *mut JSContext, s: &str) -> *mut c_char {
    // SAFETY: allocates `len + 1` bytes and fills them.
    unsafe {
        let p = q::js_malloc(ctx, (s.len() + 1) as _).cast::<u8>();
        if p.is_null() {
            return ptr::null_mut();
        }
        ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = 0;
        p.cast()
    }
}

/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn cstr_lossy(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: caller contract.
    String::from_utf8_lossy(unsafe { CStr::from_ptr(p) }.to_bytes()).into_owned()
}

fn not_found(ctx: *mut JSContext, spec: &str, importer: &str, why: &str) {
    with(|r| r.missing = Some((spec.to_owned(), importer.to_owned())));
    js::throw_reference_error(ctx, &format!("module '{spec}' imported by '{importer}' {why}"));
}

/// The module normalizer: maps an import specifier to a module name.
pub unsafe extern "C" fn normalize(
    ctx: *mut JSContext,
    base: *const c_char,
    name: *const c_char,
    _opaque: *mut c_void,
) -> *mut c_char {
    // SAFETY: QuickJS passes NUL-terminated names.
    let (base, spec) = unsafe { (cstr_lossy(base), cstr_lossy(name)) };
    if spec == "crypto" || spec == "node:crypto" {
        return js_strdup(ctx, "crypto");
    }
    if let Some(builtin) = crate::builtin_modules::normalize(&spec) {
        return js_strdup(ctx, builtin);
    }
    match spec.split_once(':') {
        Some((ns, rest)) if (valid_namespace(ns) || ns == HOST_NS) && !rest.is_empty() => js_strdup(ctx, &spec),
        _ => {
            not_found(
                ctx,
                &spec,
                &base,
                "cannot be resolved: import '<namespace>:<name>' (e.g. 'user:<name>'), 'host:<name>' or 'crypto'",
            );
            ptr::null_mut()
        }
    }
}

/// The module loader: creates the module named `name` (already
/// normalized). Only called once per name: QuickJS caches modules.
pub unsafe extern "C" fn loader(ctx: *mut JSContext, name: *const c_char, _opaque: *mut c_void) -> *mut q::JSModuleDef {
    // SAFETY: QuickJS passes a NUL-terminated name.
    let name_c = unsafe { CStr::from_ptr(name) };
    let full = String::from_utf8_lossy(name_c.to_bytes()).into_owned();
    if full == "crypto" {
        return crate::crypto::new_module(ctx, name_c);
    }
    if crate::builtin_modules::normalize(&full).is_some() {
        return crate::builtin_modules::new_module(ctx, name_c);
    }
    let Some((ns, short)) = full.split_once(':') else {
        not_found(ctx, &full, "?", "is not a module name");
        return ptr::null_mut();
    };
    if ns == HOST_NS {
        let fns = with(|r| r.host.get(short).cloned());
        return match fns {
            Some(fns) => new_host_module(ctx, name_c, &fns),
            None => {
                not_found(ctx, &full, "a module", "is not a registered host module");
                ptr::null_mut()
            }
        };
    }
    // Take the source out of the registry: once compiled, QuickJS owns the
    // module and the text is no longer needed.
    let Some(src) = with(|r| r.user.remove(&full)) else {
        not_found(ctx, &full, "a module", "is not registered");
        return ptr::null_mut();
    };
    let Some(code) = js::try_c_bytes(src.as_bytes()) else {
        // SAFETY: throws the engine's out-of-memory error.
        unsafe { q::JS_ThrowOutOfMemory(ctx) };
        with(|r| r.user.insert(full.clone(), src));
        return ptr::null_mut();
    };
    let len = src.len();
    drop(src);
    // SAFETY: `code` is NUL-terminated after `len` bytes; `name` is the
    // module's name. Compiling also resolves (loads) its imports.
    let m = unsafe {
        q::JS_Eval(
            ctx,
            code.as_ptr().cast(),
            len as _,
            name,
            (q::JS_EVAL_TYPE_MODULE | q::JS_EVAL_FLAG_COMPILE_ONLY) as c_int,
        )
    };
    drop(code);
    match Owned::new(ctx, m) {
        // SAFETY: a compiled module value holds its JSModuleDef pointer;
        // the module list keeps it alive after the value is dropped.
        Ok(v) => unsafe { q::JS_VALUE_GET_PTR(v.raw()).cast() },
        Err(Pending) => ptr::null_mut(),
    }
}

fn new_host_module(ctx: *mut JSContext, name: &CStr, fns: &[String]) -> *mut q::JSModuleDef {
    // SAFETY: `name` and the export names are NUL-terminated copies.
    unsafe {
        let m = q::JS_NewCModule(ctx, name.as_ptr(), Some(host_module_init));
        if m.is_null() {
            return m;
        }
        for f in fns {
            let c = js::c_bytes(f.as_bytes());
            if q::JS_AddModuleExport(ctx, m, c.as_ptr().cast()) < 0 {
                return ptr::null_mut();
            }
        }
        m
    }
}

unsafe extern "C" fn host_module_init(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> c_int {
    // SAFETY: `m` is the module being initialised; the atom returned by
    // JS_GetModuleName is ours to free.
    let full = unsafe {
        let atom = q::JS_GetModuleName(ctx, m);
        let p = q::JS_AtomToCStringLen(ctx, ptr::null_mut(), atom);
        q::JS_FreeAtom(ctx, atom);
        if p.is_null() {
            return -1;
        }
        let s = cstr_lossy(p);
        q::JS_FreeCString(ctx, p);
        s
    };
    let module = full.strip_prefix("host:").unwrap_or(&full).to_owned();
    let fns = with(|r| r.host.get(&module).cloned()).unwrap_or_default();
    for f in fns {
        let index = with(|r| {
            r.host_fns.push((module.clone(), f.clone()));
            r.host_fns.len() - 1
        });
        let cname = js::c_bytes(f.as_bytes());
        // SAFETY: the closure's opaque pointer is the index of its (module,
        // function) pair, not a real pointer; no finalizer is needed.
        let func = Owned::new(ctx, unsafe {
            q::JS_NewCClosure(ctx, Some(host_function), cname.as_ptr().cast(), None, 0, 0, index as *mut c_void)
        });
        let Ok(func) = func else { return -1 };
        // SAFETY: the export was declared in `new_host_module`; consumes
        // the value.
        if unsafe { q::JS_SetModuleExport(ctx, m, cname.as_ptr().cast(), func.into_raw()) } < 0 {
            return -1;
        }
    }
    0
}

/// A host function: JSON-encodes its arguments, exits to the host, and
/// returns the JSON-decoded answer or throws the host's error.
unsafe extern "C" fn host_function(
    ctx: *mut JSContext,
    _this: JSValue,
    argc: c_int,
    argv: *mut JSValue,
    _magic: c_int,
    opaque: *mut c_void,
) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    match host_call(ctx, opaque as usize, a) {
        Ok(v) => v.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

fn host_call(ctx: *mut JSContext, index: usize, a: &[JSValue]) -> JsResult<Owned> {
    // JSON.stringify(args)
    // SAFETY: creates an owned array.
    let arr = Owned::new(ctx, unsafe { q::JS_NewArray(ctx) })?;
    for (i, v) in a.iter().enumerate() {
        // SAFETY: consumes the new reference made by JS_DupValue.
        if unsafe { q::JS_SetPropertyUint32(ctx, arr.raw(), i as u32, q::JS_DupValue(ctx, *v)) } < 0 {
            return Err(Pending);
        }
    }
    let Some(json) = js::json_stringify(ctx, arr.raw())? else {
        js::throw_type_error(ctx, "host function arguments are not JSON-serialisable");
        return Err(Pending);
    };
    drop(arr);
    let written = js::with_str(ctx, json.raw(), |args_json| {
        with(|r| {
            let Some((module, function)) = r.host_fns.get(index) else {
                return Err("unknown host function");
            };
            let args_json = core::str::from_utf8(args_json).map_err(|_| "arguments are not UTF-8")?;
            let ok = control::write_message(proto::HC_CALL, |body| {
                let mut w = Writer::new(body);
                w.str(module).ok()?.str(function).ok()?.str(args_json).ok()?;
                Some(w.len())
            });
            if ok {
                Ok(())
            } else {
                Err("host function arguments do not fit the output buffer")
            }
        })
    })?;
    drop(json);
    if let Err(msg) = written {
        js::throw_range_error(ctx, msg);
        return Err(Pending);
    }
    arch::exit_host_call();
    // The answer is in the input buffer until the next exit: copy what we
    // need and drop the slice before running any JavaScript.
    enum Answer {
        Ok(Vec<u8>),
        Err(String),
        Bad,
    }
    let answer = {
        // SAFETY: the slice is dropped at the end of this block, before any
        // exit.
        match unsafe { control::read_message() } {
            Some((proto::HC_OK, p)) => match Reader::new(p).str() {
                Ok(s) => match js::try_c_bytes(s.as_bytes()) {
                    Some(v) => Answer::Ok(v),
                    None => Answer::Err(String::from("no guest memory left for the host function's result")),
                },
                Err(_) => Answer::Bad,
            },
            Some((proto::HC_ERR, p)) => match Reader::new(p).str() {
                Ok(s) => Answer::Err(s.to_owned()),
                Err(_) => Answer::Bad,
            },
            Some((HOST_ERROR_TAG, p)) => Answer::Err(String::from_utf8_lossy(p).into_owned()),
            _ => Answer::Bad,
        }
    };
    match answer {
        Answer::Ok(text) => {
            let len = text.len() - 1;
            if text[..len].iter().all(|b| b.is_ascii_whitespace()) {
                // A host function that returned nothing.
                return Ok(Owned::undefined(ctx));
            }
            // SAFETY: `text` is NUL-terminated after `len` bytes.
            Owned::new(ctx, unsafe {
                q::JS_ParseJSON(ctx, text.as_ptr().cast(), len as _, c"<host function result>".as_ptr())
            })
        }
        Answer::Err(msg) => {
            js::throw_error(ctx, &msg);
            Err(Pending)
        }
        Answer::Bad => {
            js::throw_internal_error(ctx, "malformed answer from the host to a host function call");
            Err(Pending)
        }
    }
}
