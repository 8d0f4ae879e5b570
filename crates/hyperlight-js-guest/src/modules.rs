//! Module resolution: user modules (`<namespace>:<name>`, compiled lazily
//! on first import), host modules (`host:<name>`, one function per host
//! function, each a host call) and the built-in `crypto`.
//!
//! Module names: `crypto`/`node:crypto` and `util`/`node:util` name the
//! built-ins; every other
//! specifier is resolved by `hyperlight_abi::specifier::resolve` against
//! the importing module (relative paths, `<namespace>:<path>`,
//! `host:<name>`); bare names are "not found". Handler modules are named
//! `handler/<key>`, which no specifier can resolve to, so user code can
//! never import a handler; they import relative to the `user` root.
//!
//! A user module the guest does not hold (never added, or added and
//! already compiled but now imported with another `type`) is asked of the
//! host with one `HC_LOAD_MODULE` exit: the host serves it from its module
//! loader or its copy of the added source. `with { type: 'json' | 'text' |
//! 'bytes' }` makes a synthetic module whose `default` export is the parsed
//! JSON, the text, or a `Uint8Array` over an immutable `ArrayBuffer`.
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
    /// The last name the normalizer produced: (name, specifier, importer),
    /// so the loader can name the importer in its errors.
    last: Option<(String, String, String)>,
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

use hyperlight_abi::specifier::{self, valid_namespace};

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

/// How an importer is named in messages: `handler 'greet'` for the module
/// of a handler, the module name otherwise.
fn importer_label(base: &str) -> String {
    match base.strip_prefix("handler/") {
        Some(key) => format!("handler '{key}'"),
        None if base.is_empty() => String::from("<eval>"),
        None => format!("'{base}'"),
    }
}

fn not_found(ctx: *mut JSContext, spec: &str, importer: &str, why: &str) {
    with(|r| r.missing = Some((spec.to_owned(), importer.to_owned())));
    js::throw_reference_error(ctx, &format!("module '{spec}' imported by {} {why}", importer_label(importer)));
}

/// The module normalizer: maps an import specifier to a module name (see
/// `hyperlight_abi::specifier`), relative to the importing module.
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
    if spec == "util" || spec == "node:util" {
        return js_strdup(ctx, "util");
    }
    if let Some(builtin) = crate::builtin_modules::normalize(&spec) {
        return js_strdup(ctx, builtin);
    }
    let importer = (!base.is_empty()).then_some(base.as_str());
    match specifier::resolve(importer, &spec) {
        Ok(full) => {
            let p = js_strdup(ctx, &full);
            with(|r| r.last = Some((full, spec, base)));
            p
        }
        Err(e) => {
            not_found(ctx, &spec, &base, &format!("{e}"));
            ptr::null_mut()
        }
    }
}

/// What an import's `with { type: ... }` asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ModuleType {
    JavaScript,
    Json,
    Text,
    Bytes,
}

/// Reads the `type` import attribute (`None` when the value is not a type
/// this runtime supports, with the error thrown).
fn module_type(ctx: *mut JSContext, attributes: JSValue) -> Result<ModuleType, Pending> {
    // SAFETY: tag inspection only.
    if !unsafe { q::JS_IsObject(attributes) } {
        return Ok(ModuleType::JavaScript);
    }
    let ty = js::get(ctx, attributes, c"type")?;
    // SAFETY: tag inspection only.
    if unsafe { q::JS_IsUndefined(ty.raw()) } {
        return Ok(ModuleType::JavaScript);
    }
    let ty = js::to_string(ctx, ty.raw())?;
    match ty.as_str() {
        "json" => Ok(ModuleType::Json),
        "text" => Ok(ModuleType::Text),
        "bytes" => Ok(ModuleType::Bytes),
        other => {
            js::throw_type_error(
                ctx,
                &format!("unsupported module type '{other}' (supported: 'json', 'text', 'bytes')"),
            );
            Err(Pending)
        }
    }
}

/// Refuses import attributes other than `type` (ECMA-262 16.2.1.x, a
/// host's supported attributes), at parse time and in `import()`.
pub unsafe extern "C" fn check_attributes(ctx: *mut JSContext, _opaque: *mut c_void, attributes: JSValue) -> c_int {
    let mut tab: *mut q::JSPropertyEnum = ptr::null_mut();
    let mut len: u32 = 0;
    // SAFETY: `attributes` is a live object; the table is freed below.
    if unsafe {
        q::JS_GetOwnPropertyNames(ctx, &mut tab, &mut len, attributes, (q::JS_GPN_STRING_MASK | q::JS_GPN_ENUM_ONLY) as c_int)
    } < 0
    {
        return -1;
    }
    let mut bad = None;
    for i in 0..len as usize {
        // SAFETY: `tab` has `len` entries; the C string is freed at once.
        let key = unsafe {
            let p = q::JS_AtomToCStringLen(ctx, ptr::null_mut(), (*tab.add(i)).atom);
            let k = cstr_lossy(p);
            if !p.is_null() {
                q::JS_FreeCString(ctx, p);
            }
            k
        };
        if key != "type" && bad.is_none() {
            bad = Some(key);
        }
    }
    // SAFETY: frees the table returned above.
    unsafe { q::JS_FreePropertyEnum(ctx, tab, len) };
    match bad {
        Some(key) => {
            throw_syntax_error(ctx, &format!("unsupported import attribute '{key}' (only 'type' is supported)"));
            -1
        }
        None => 0,
    }
}

/// The module loader: creates the module named `name` (already
/// normalized), as JavaScript or as the `type` its import asks for. Called
/// once per (name, attributes): QuickJS caches modules.
pub unsafe extern "C" fn loader(
    ctx: *mut JSContext,
    name: *const c_char,
    _opaque: *mut c_void,
    attributes: JSValue,
) -> *mut q::JSModuleDef {
    // SAFETY: QuickJS passes a NUL-terminated name.
    let name_c = unsafe { CStr::from_ptr(name) };
    let full = String::from_utf8_lossy(name_c.to_bytes()).into_owned();
    let Ok(kind) = module_type(ctx, attributes) else {
        return ptr::null_mut();
    };
    if full == "crypto" && kind == ModuleType::JavaScript {
        return crate::crypto::new_module(ctx, name_c);
    }
    if full == "util" && kind == ModuleType::JavaScript {
        return crate::inspect::new_module(ctx, name_c);
    }
    if kind == ModuleType::JavaScript && crate::builtin_modules::normalize(&full).is_some() {
        return crate::builtin_modules::new_module(ctx, name_c);
    }
    // The specifier and importer of this name, from the normalizer (it
    // runs right before the loader for the same import).
    let (spec, importer) = with(|r| match &r.last {
        Some((n, spec, importer)) if *n == full => (spec.clone(), importer.clone()),
        _ => (full.clone(), String::new()),
    });
    let Some((ns, short)) = full.split_once(':') else {
        not_found(ctx, &spec, &importer, "is not a module name");
        return ptr::null_mut();
    };
    if ns == HOST_NS {
        let fns = with(|r| r.host.get(short).cloned());
        return match (fns, kind) {
            (Some(fns), ModuleType::JavaScript) => new_host_module(ctx, name_c, &fns),
            (Some(_), _) => {
                js::throw_type_error(ctx, &format!("host module '{full}' cannot be imported with a `type`"));
                ptr::null_mut()
            }
            (None, _) => {
                not_found(ctx, &spec, &importer, "is not a registered host module");
                ptr::null_mut()
            }
        };
    }
    // An added module's source leaves the registry once compiled as
    // JavaScript (QuickJS owns the module then); anything not held here
    // comes from the host (its module loader, or the added module's text
    // again for another `type`).
    let held = with(|r| {
        if kind == ModuleType::JavaScript {
            r.user.remove(&full).map(String::into_bytes)
        } else {
            r.user.get(&full).map(|s| s.as_bytes().to_vec())
        }
    });
    let bytes = match held {
        Some(b) => b,
        None => match fetch(&full) {
            Ok(b) => b,
            Err(Fetch::NoMemory) => {
                // SAFETY: throws the engine's out-of-memory error.
                unsafe { q::JS_ThrowOutOfMemory(ctx) };
                return ptr::null_mut();
            }
            Err(Fetch::Missing(why)) => {
                let resolved = if spec == full { String::new() } else { format!(" (resolved to '{full}')") };
                not_found(ctx, &spec, &importer, &format!("was not found{resolved}: {why}"));
                return ptr::null_mut();
            }
        },
    };
    match kind {
        ModuleType::JavaScript => compile_module(ctx, name, bytes),
        ModuleType::Json => {
            let text = utf8_decode(&bytes);
            let what = js::c_bytes(full.as_bytes());
            // SAFETY: `what` is NUL-terminated.
            let value = js::json_parse(ctx, text.as_bytes(), unsafe { CStr::from_ptr(what.as_ptr().cast()) });
            match value {
                Ok(v) => value_module(ctx, name_c, v),
                Err(Pending) => ptr::null_mut(),
            }
        }
        ModuleType::Text => match js::new_string(ctx, &utf8_decode(&bytes)) {
            Ok(v) => value_module(ctx, name_c, v),
            Err(Pending) => ptr::null_mut(),
        },
        ModuleType::Bytes => match immutable_bytes(ctx, &bytes) {
            Ok(v) => value_module(ctx, name_c, v),
            Err(Pending) => ptr::null_mut(),
        },
    }
}

/// WHATWG "UTF-8 decode": a leading BOM is dropped, invalid sequences
/// become U+FFFD.
fn utf8_decode(bytes: &[u8]) -> alloc::borrow::Cow<'_, str> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8_lossy(bytes)
}

/// A `Uint8Array` over an immutable `ArrayBuffer` holding a copy of
/// `bytes` (the import-bytes proposal).
fn immutable_bytes(ctx: *mut JSContext, bytes: &[u8]) -> Result<Owned, Pending> {
    // SAFETY: copies `bytes`; the result is owned.
    let buf = Owned::new(ctx, unsafe { q::JS_NewArrayBufferCopy(ctx, bytes.as_ptr(), bytes.len() as _) })?;
    // SAFETY: `buf` is an ArrayBuffer.
    unsafe { q::JS_SetImmutableArrayBuffer(buf.raw(), true) };
    let mut argv = [buf.raw()];
    // SAFETY: `argv` borrows `buf` for the call; the result is owned.
    Owned::new(ctx, unsafe {
        q::JS_NewTypedArray(ctx, 1, argv.as_mut_ptr(), q::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT8)
    })
}

/// Compiles JavaScript module source under `name`.
fn compile_module(ctx: *mut JSContext, name: *const c_char, src: Vec<u8>) -> *mut q::JSModuleDef {
    let len = src.len();
    let Some(code) = js::try_c_bytes(&src) else {
        // SAFETY: throws the engine's out-of-memory error.
        unsafe { q::JS_ThrowOutOfMemory(ctx) };
        return ptr::null_mut();
    };
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

/// A synthetic module whose only export, `default`, is `value` (JSON,
/// text and bytes modules).
fn value_module(ctx: *mut JSContext, name: &CStr, value: Owned) -> *mut q::JSModuleDef {
    // SAFETY: `name` is NUL-terminated; the private value takes over the
    // reference `value` held.
    unsafe {
        let m = q::JS_NewCModule(ctx, name.as_ptr(), Some(value_module_init));
        if m.is_null() {
            return m;
        }
        if q::JS_AddModuleExport(ctx, m, c"default".as_ptr()) < 0 {
            return ptr::null_mut();
        }
        q::JS_SetModulePrivateValue(ctx, m, value.into_raw());
        m
    }
}

unsafe extern "C" fn value_module_init(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> c_int {
    // SAFETY: `m` is the module being initialised; the private value is
    // returned as a new reference, which JS_SetModuleExport consumes.
    unsafe {
        let v = q::JS_GetModulePrivateValue(ctx, m);
        q::JS_SetModuleExport(ctx, m, c"default".as_ptr(), v)
    }
}

/// Throws `SyntaxError(msg)`.
fn throw_syntax_error(ctx: *mut JSContext, msg: &str) {
    let mut buf: Vec<u8> = msg.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    buf.push(0);
    // SAFETY: "%s" with one NUL-terminated string argument.
    unsafe { q::JS_ThrowSyntaxError(ctx, c"%s".as_ptr(), buf.as_ptr()) };
}

enum Fetch {
    Missing(String),
    NoMemory,
}

/// Asks the host for a module's bytes (HC_LOAD_MODULE): one exit.
fn fetch(full: &str) -> Result<Vec<u8>, Fetch> {
    let ok = control::write_message(proto::HC_LOAD_MODULE, |body| {
        let mut w = Writer::new(body);
        w.str(full).ok()?;
        Some(w.len())
    });
    if !ok {
        return Err(Fetch::Missing(String::from("the module name does not fit the output buffer")));
    }
    arch::exit_host_call();
    // SAFETY: the slice is dropped before this function returns, before
    // any other exit.
    match unsafe { control::read_message() } {
        Some((proto::HC_OK, p)) => {
            let mut v = Vec::new();
            v.try_reserve_exact(p.len()).map_err(|_| Fetch::NoMemory)?;
            v.extend_from_slice(p);
            Ok(v)
        }
        Some((proto::HC_ERR, p)) => Err(Fetch::Missing(
            Reader::new(p).str().map(ToOwned::to_owned).unwrap_or_else(|_| String::from("the host's answer is malformed")),
        )),
        Some((HOST_ERROR_TAG, p)) => Err(Fetch::Missing(String::from_utf8_lossy(p).into_owned())),
        _ => Err(Fetch::Missing(String::from("the host's answer is malformed"))),
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
    // Parked in the mailbox when a host thread spins for this request's
    // answer (no exit), else an exit.
    crate::mailbox::host_call();
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
