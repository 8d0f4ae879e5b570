//! The built-in modules handlers written for upstream hyperlight-js (and
//! for Node) use, and the global `require`:
//!
//! * `console` (also `node:console`): the global `console`'s methods as
//!   named exports, the object itself as `default`.
//! * `io`: `print(...args)` (the global `print`: text without a trailing
//!   newline) and `flush()` (hands buffered output to the host now);
//!   `default` is `{ print, flush }`.
//! * `require`: `require(specifier)` (also the `default` export and a
//!   global): the namespace of any module the loader resolves (`crypto`,
//!   `console`, `io`, `vm`, `host:<name>`, `<namespace>:<name>`), loaded
//!   and evaluated synchronously, as Node's `require(esm)` does; a module
//!   graph with top-level `await` cannot be required (use `import()`).
//! * `String.bytesFrom(data, encoding = 'utf8')`: a `Uint8Array` of the
//!   bytes `data` encodes in `utf8`, `base64` / `base64url` (either
//!   alphabet, padding optional), `hex` or `latin1`; an ArrayBuffer or a
//!   view is copied.
//! * `vm` (also `node:vm`): `runInThisContext(code, options?)` evaluates
//!   `code` as a classic script (global code) in the caller's realm;
//!   `createContext(object?)` creates a new realm (a fresh global object
//!   with only the ECMAScript built-ins; own enumerable properties of
//!   `object` are copied onto it) and returns its global object;
//!   `runInContext(code, context, options?)` evaluates a classic script in
//!   that realm; `isContext(value)`. `options` is a file name or
//!   `{ filename }`. Unlike Node, a context *is* the new realm's global
//!   object (no contextified proxy), and there is no `vm.Script` or module
//!   support.
//!
//! Value ownership: the module objects are created once by the prelude and
//! kept (owned) in `STATE` for the guest's life; each realm's global object
//! is kept owned in the realm table so it can be recognised. Native
//! arguments are borrowed; results are owned until returned.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::ffi::{c_int, CStr};
use core::ptr;

use rquickjs_sys as q;

use crate::js::{self, arg, args, JSContext, JSValue, JsResult, Owned, Pending};
use crate::sync::Single;
use crate::arch;

struct State {
    /// Module name → (the object whose properties are its named exports,
    /// its default export).
    objects: Vec<(&'static str, Owned, Owned)>,
    /// Realms created by `vm.createContext`: (global object, context).
    realms: Vec<(Owned, *mut JSContext)>,
    /// `require` cache: specifier → namespace object.
    required: Vec<(String, Owned)>,
    /// Wrapper modules compiled so far (for unique names).
    wrappers: u32,
}

static STATE: Single<RefCell<Option<State>>> = Single::new(RefCell::new(None));

/// The built-in module name a specifier resolves to, if it names one of
/// the modules of this file.
pub fn normalize(spec: &str) -> Option<&'static str> {
    Some(match spec {
        "console" | "node:console" => "console",
        "io" => "io",
        "require" => "require",
        "vm" | "node:vm" => "vm",
        _ => return None,
    })
}

const PRELUDE: &str = r#"(function (n) {
  'use strict';
  const def = (o, k, v) => Object.defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false });
  const options = (o) => {
    if (o === undefined || o === null) return '<script>';
    if (typeof o === 'string') return o;
    if (typeof o === 'object') return o.filename === undefined ? '<script>' : String(o.filename);
    throw new TypeError('vm: options must be a file name or an object { filename }');
  };
  const vm = {
    runInThisContext(code, opts) { return n.run(String(code), options(opts)); },
    runInContext(code, context, opts) { return n.runIn(String(code), context, options(opts)); },
    createContext(object) {
      const g = n.createContext();
      if (object !== undefined && object !== null) {
        for (const k of Object.keys(object)) g[k] = object[k];
      }
      return g;
    },
    isContext(value) { return n.isContext(value); },
  };
  const print = globalThis.print;
  const io = { print, flush: n.flush };
  const require = { require(specifier) { return n.require(String(specifier)); } }.require;
  def(globalThis, 'require', require);
  // String.bytesFrom(data, encoding = 'utf8'): the bytes a string encodes,
  // as upstream hyperlight-js's handlers use it (Node's Buffer.from(data,
  // encoding) without Buffer).
  const fromBase64 = Uint8Array.fromBase64, fromHex = Uint8Array.fromHex;
  const encoder = new TextEncoder();
  def(String, 'bytesFrom', { bytesFrom(data, encoding = 'utf8') {
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
    const s = String(data);
    switch (String(encoding).toLowerCase()) {
      case 'utf8': case 'utf-8': return encoder.encode(s);
      case 'base64': case 'base64url':
        // Both alphabets, padding optional, ASCII whitespace ignored (as Node).
        return fromBase64(s.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/')), { lastChunkHandling: 'loose' });
      case 'hex': return fromHex(s);
      case 'latin1': case 'binary': {
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
        return out;
      }
      default: throw new TypeError("String.bytesFrom: unknown encoding '" + encoding + "' (utf8, base64, base64url, hex, latin1)");
    }
  } }.bytesFrom);
  return { vm, io, require, requireModule: { require } };
})"#;

type Native = unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue;

/// Installs the global `require` and prepares the module objects. Runs
/// after `builtins::install` (it wraps the global `print`).
pub fn install(ctx: *mut JSContext) -> JsResult<()> {
    let natives: [(&CStr, Native, c_int); 6] = [
        (c"run", native_run, 2),
        (c"runIn", native_run_in, 3),
        (c"createContext", native_create_context, 0),
        (c"isContext", native_is_context, 1),
        (c"flush", native_flush, 0),
        (c"require", native_require, 1),
    ];
    // SAFETY: creates an owned plain object.
    let n = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    for (name, f, len) in natives {
        js::set(ctx, n.raw(), name, js::new_function(ctx, f, name, len)?)?;
    }
    let src = js::c_bytes(PRELUDE.as_bytes());
    // SAFETY: `src` is NUL-terminated after `PRELUDE.len()` bytes.
    let f = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, src.as_ptr().cast(), PRELUDE.len() as _, c"<builtin-modules>".as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    })?;
    let mut argv = [n.raw()];
    // SAFETY: `f` and `argv` are borrowed for the call; the result is owned.
    let table = Owned::new(ctx, unsafe { q::JS_Call(ctx, f.raw(), q::JS_UNDEFINED, 1, argv.as_mut_ptr()) })?;
    let console = {
        // SAFETY: the global object is a new owned reference.
        let global = Owned::new(ctx, unsafe { q::JS_GetGlobalObject(ctx) })?;
        js::get(ctx, global.raw(), c"console")?
    };
    let io = js::get(ctx, table.raw(), c"io")?;
    let vm = js::get(ctx, table.raw(), c"vm")?;
    let objects = alloc::vec![
        ("console", console.clone_ref(), console),
        ("io", io.clone_ref(), io),
        ("require", js::get(ctx, table.raw(), c"requireModule")?, js::get(ctx, table.raw(), c"require")?),
        ("vm", vm.clone_ref(), vm),
    ];
    *STATE.get().borrow_mut() = Some(State { objects, realms: Vec::new(), required: Vec::new(), wrappers: 0 });
    Ok(())
}

/// The named-exports object and the default export of module `name`.
fn object_of(name: &str) -> Option<(Owned, Owned)> {
    let st = STATE.get().borrow();
    st.as_ref()?.objects.iter().find(|(n, _, _)| *n == name).map(|(_, o, d)| (o.clone_ref(), d.clone_ref()))
}

/// The own string keys of `obj` (enumerable or not: `console`'s methods
/// are not).
fn keys(ctx: *mut JSContext, obj: JSValue) -> JsResult<Vec<Vec<u8>>> {
    let mut tab: *mut q::JSPropertyEnum = ptr::null_mut();
    let mut len: u32 = 0;
    // SAFETY: `obj` is borrowed; on success `tab` holds `len` entries that
    // are freed below with JS_FreePropertyEnum.
    unsafe {
        if q::JS_GetOwnPropertyNames(ctx, &mut tab, &mut len, obj, q::JS_GPN_STRING_MASK as c_int) < 0 {
            return Err(Pending);
        }
        let entries = core::slice::from_raw_parts(tab, len as usize);
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let p = q::JS_AtomToCStringLen(ctx, ptr::null_mut(), e.atom);
            if p.is_null() {
                q::JS_FreePropertyEnum(ctx, tab, len);
                return Err(Pending);
            }
            out.push(js::c_bytes(CStr::from_ptr(p).to_bytes()));
            q::JS_FreeCString(ctx, p);
        }
        q::JS_FreePropertyEnum(ctx, tab, len);
        Ok(out)
    }
}

/// The module loader's hook: creates the module `name` (as returned by
/// [`normalize`]); null with an exception pending on failure.
pub fn new_module(ctx: *mut JSContext, name: &CStr) -> *mut q::JSModuleDef {
    let short = String::from_utf8_lossy(name.to_bytes()).into_owned();
    let Some((obj, _)) = object_of(&short) else {
        js::throw_reference_error(ctx, &format!("built-in module '{short}' is not available"));
        return ptr::null_mut();
    };
    let Ok(names) = keys(ctx, obj.raw()) else { return ptr::null_mut() };
    // SAFETY: `name` and the export names are NUL-terminated; QuickJS
    // copies them.
    unsafe {
        let m = q::JS_NewCModule(ctx, name.as_ptr(), Some(module_init));
        if m.is_null() {
            return m;
        }
        for k in names.iter() {
            if q::JS_AddModuleExport(ctx, m, k.as_ptr().cast()) < 0 {
                return ptr::null_mut();
            }
        }
        if q::JS_AddModuleExport(ctx, m, c"default".as_ptr()) < 0 {
            return ptr::null_mut();
        }
        m
    }
}

unsafe extern "C" fn module_init(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> c_int {
    match fill(ctx, m) {
        Ok(()) => 0,
        Err(Pending) => -1,
    }
}

fn fill(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> JsResult<()> {
    // SAFETY: `m` is the module being initialised; the atom is ours to free.
    let name = unsafe {
        let atom = q::JS_GetModuleName(ctx, m);
        let p = q::JS_AtomToCStringLen(ctx, ptr::null_mut(), atom);
        q::JS_FreeAtom(ctx, atom);
        if p.is_null() {
            return Err(Pending);
        }
        let s = String::from_utf8_lossy(CStr::from_ptr(p).to_bytes()).into_owned();
        q::JS_FreeCString(ctx, p);
        s
    };
    let Some((obj, default)) = object_of(&name) else {
        js::throw_reference_error(ctx, &format!("built-in module '{name}' is not available"));
        return Err(Pending);
    };
    for k in keys(ctx, obj.raw())? {
        // SAFETY: `k` is NUL-terminated.
        let v = js::get(ctx, obj.raw(), unsafe { CStr::from_bytes_with_nul_unchecked(&k) })?;
        // SAFETY: the export was declared in `new_module` (an export the
        // object gained since is simply not declared: the call fails and
        // we ignore it); the value reference is consumed.
        unsafe { q::JS_SetModuleExport(ctx, m, k.as_ptr().cast(), v.into_raw()) };
    }
    // SAFETY: as above.
    if unsafe { q::JS_SetModuleExport(ctx, m, c"default".as_ptr(), default.into_raw()) } < 0 {
        return Err(Pending);
    }
    Ok(())
}

/// Evaluates `code` as global code in `ctx`'s realm; the completion value.
fn eval_script(ctx: *mut JSContext, code: JSValue, filename: JSValue) -> JsResult<Owned> {
    let name = js::with_str(ctx, filename, |b| js::c_bytes(&b.iter().map(|&c| if c == 0 { b'?' } else { c }).collect::<Vec<u8>>()))?;
    let src = js::with_str(ctx, code, |b| js::try_c_bytes(b))?;
    let Some(src) = src else {
        // SAFETY: throws the engine's out-of-memory error.
        unsafe { q::JS_ThrowOutOfMemory(ctx) };
        return Err(Pending);
    };
    let len = src.len() - 1;
    // SAFETY: `src` is NUL-terminated after `len` bytes; `name` is
    // NUL-terminated; the result is owned.
    Owned::new(ctx, unsafe { q::JS_Eval(ctx, src.as_ptr().cast(), len as _, name.as_ptr().cast(), q::JS_EVAL_TYPE_GLOBAL as c_int) })
}

unsafe extern "C" fn native_run(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    match eval_script(ctx, arg(a, 0), arg(a, 1)) {
        Ok(v) => v.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

/// The realm whose global object is `v`.
fn realm_of(v: JSValue) -> Option<*mut JSContext> {
    // SAFETY: tag inspection only.
    if !unsafe { q::JS_IsObject(v) } {
        return None;
    }
    // SAFETY: `v` is an object, so it carries a pointer.
    let p = unsafe { q::JS_VALUE_GET_PTR(v) };
    let st = STATE.get().borrow();
    // SAFETY: as above, for each stored global object.
    st.as_ref()?.realms.iter().find(|(g, _)| unsafe { q::JS_VALUE_GET_PTR(g.raw()) } == p).map(|(_, c)| *c)
}

unsafe extern "C" fn native_run_in(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let Some(target) = realm_of(arg(a, 1)) else {
        return js::throw_type_error(ctx, "vm.runInContext: the context must be an object returned by vm.createContext()");
    };
    // The code and file name are read in the caller's realm; the script
    // runs in the target realm. Objects are shared across realms of one
    // runtime, so the result can be returned as is; an exception thrown
    // in the target realm is re-thrown here.
    let code = js::to_string(ctx, arg(a, 0));
    let name = js::to_string(ctx, arg(a, 2));
    let (Ok(code), Ok(name)) = (code, name) else { return q::JS_EXCEPTION };
    let Ok(code_v) = js::new_string(target, &code) else { return rethrow(target, ctx) };
    let Ok(name_v) = js::new_string(target, &name) else { return rethrow(target, ctx) };
    match eval_script(target, code_v.raw(), name_v.raw()) {
        Ok(v) => v.into_raw(),
        Err(Pending) => rethrow(target, ctx),
    }
}

/// Moves the exception pending in realm `from` to realm `to`.
fn rethrow(from: *mut JSContext, to: *mut JSContext) -> JSValue {
    if from == to {
        return q::JS_EXCEPTION;
    }
    let exc = js::take_exception(from);
    // SAFETY: both contexts share the runtime, so the value is valid in
    // `to`; JS_Throw consumes the reference.
    unsafe { q::JS_Throw(to, exc.into_raw()) }
}

unsafe extern "C" fn native_create_context(ctx: *mut JSContext, _this: JSValue, _argc: c_int, _argv: *mut JSValue) -> JSValue {
    // SAFETY: creates a new realm in the live runtime (freed with the
    // runtime: never, a restore replaces the whole guest state).
    let realm = unsafe { q::JS_NewContext(js::rt()) };
    if realm.is_null() {
        // SAFETY: throws the engine's out-of-memory error.
        return unsafe { q::JS_ThrowOutOfMemory(ctx) };
    }
    // SAFETY: the global object is a new owned reference, valid in every
    // realm of the runtime.
    let global = match Owned::new(realm, unsafe { q::JS_GetGlobalObject(realm) }) {
        Ok(g) => g,
        Err(Pending) => return rethrow(realm, ctx),
    };
    let result = global.clone_ref().into_raw();
    if let Some(st) = STATE.get().borrow_mut().as_mut() {
        st.realms.push((global, realm));
    }
    result
}

unsafe extern "C" fn native_is_context(_ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    if realm_of(arg(a, 0)).is_some() { q::JS_TRUE } else { q::JS_FALSE }
}

unsafe extern "C" fn native_flush(_ctx: *mut JSContext, _this: JSValue, _argc: c_int, _argv: *mut JSValue) -> JSValue {
    // The host drains the print region at every exit.
    arch::exit_print_flush();
    q::JS_UNDEFINED
}

/// `s` as a JavaScript string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

unsafe extern "C" fn native_require(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let spec = match js::to_string(ctx, arg(a, 0)) {
        Ok(s) => s,
        Err(Pending) => return q::JS_EXCEPTION,
    };
    match require(ctx, &spec) {
        Ok(ns) => ns.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

fn require(ctx: *mut JSContext, spec: &str) -> JsResult<Owned> {
    if let Some(ns) = STATE.get().borrow().as_ref().and_then(|st| st.required.iter().find(|(s, _)| s == spec).map(|(_, ns)| ns.clone_ref())) {
        return Ok(ns);
    }
    // A wrapper module imports the namespace and re-exports it; evaluating
    // it links and evaluates the required module graph synchronously (a
    // graph without top-level await settles without running any job).
    let n = {
        let mut st = STATE.get().borrow_mut();
        let st = st.as_mut().ok_or(Pending)?;
        st.wrappers += 1;
        st.wrappers
    };
    let src = format!("import * as ns from {};\nexport {{ ns }};\n", quote(spec));
    let name = js::c_bytes(format!("<require {n}>").as_bytes());
    let code = js::c_bytes(src.as_bytes());
    // SAFETY: `code` and `name` are NUL-terminated; the result is owned.
    let module = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, code.as_ptr().cast(), src.len() as _, name.as_ptr().cast(), (q::JS_EVAL_TYPE_MODULE | q::JS_EVAL_FLAG_COMPILE_ONLY) as c_int)
    })?;
    // SAFETY: a compiled module value carries its JSModuleDef, kept alive
    // by the runtime's module list.
    let def: *mut q::JSModuleDef = unsafe { q::JS_VALUE_GET_PTR(module.raw()).cast() };
    // SAFETY: consumes the module value; the result (a promise) is owned.
    let promise = Owned::new(ctx, unsafe { q::JS_EvalFunction(ctx, module.into_raw()) })?;
    // SAFETY: reads the promise's state.
    match unsafe { q::JS_PromiseState(ctx, promise.raw()) } {
        q::JSPromiseStateEnum_JS_PROMISE_FULFILLED | q::JSPromiseStateEnum_JS_PROMISE_NOT_A_PROMISE => {}
        q::JSPromiseStateEnum_JS_PROMISE_REJECTED => {
            // SAFETY: the rejection reason is a new owned reference, which
            // JS_Throw consumes.
            unsafe { q::JS_Throw(ctx, q::JS_PromiseResult(ctx, promise.raw())) };
            return Err(Pending);
        }
        _ => {
            js::throw_type_error(
                ctx,
                &format!("require('{spec}'): the module (or one it imports) uses top-level await; load it with import() instead"),
            );
            return Err(Pending);
        }
    }
    // SAFETY: `def` is live; the namespace is a new owned reference.
    let wrapper_ns = Owned::new(ctx, unsafe { q::JS_GetModuleNamespace(ctx, def) })?;
    let ns = js::get(ctx, wrapper_ns.raw(), c"ns")?;
    if let Some(st) = STATE.get().borrow_mut().as_mut() {
        st.required.push((String::from(spec), ns.clone_ref()));
    }
    Ok(ns)
}
