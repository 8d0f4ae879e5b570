//! Console formatting like Node's: `util.format`/`util.inspect` from the
//! npm package [node-inspect-extracted] (Node's own `lib/internal/util/inspect.js`
//! with its `require`s replaced, kept in step with Node by its maintainers),
//! bundled into the image by `build.rs` and evaluated the first time a line
//! needs it (not at boot: see `docs/guest-builtins.md`, "What the built-ins
//! cost").
//!
//! `console.log(...args)` prints `formatWithOptions({}, ...args)`, as Node's
//! console does without colours: Map/Set contents, cycles as `<ref *1>` …
//! `[Circular *1]`, `5n`, `-0`, sparse arrays (`<1 empty item>`), class
//! names, depth 2, strings quoted inside objects, and the format specifiers
//! `%s %d %i %f %j %o %O %c %%`.
//!
//! Why a bundled library and not our own formatter: the output should be
//! Node's, case for case, and this package *is* Node's implementation (about
//! 50 KB of minified JavaScript); writing one would only approximate it.
//!
//! [node-inspect-extracted]: https://www.npmjs.com/package/node-inspect-extracted
//!
//! Value ownership: the formatter function returned by [`formatter`] is
//! owned by the caller (it is handed to the builtins prelude).

use core::cell::RefCell;
use core::ffi::{c_int, CStr};

use rquickjs_sys as q;

use crate::js::{self, JSContext, JSValue, JsResult, Owned, Pending};
use crate::sync::Single;

/// node-inspect-extracted's `dist/inspect.js` (copied by `build.rs`).
const INSPECT_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/inspect.js"));

/// Wraps the UMD bundle so that it exports through a local `module` object,
/// then builds the formatter `(args) => string` the console uses.
const HEAD: &str = "(function (module, exports, promiseState) {\n";
const TAIL: &str = r#"
;return (function (util) {
  'use strict';
  const formatWithOptions = util.formatWithOptions;
  const opts = {};
  // V8's `error.stack` starts with "Name: message", QuickJS's with the first
  // frame, and Node's inspect prints the stack as the error's text. While a
  // line is formatted, each error it meets gets the V8 form (through the
  // custom-inspect hook, which then lets inspect go on as usual); the
  // original `stack` is put back before `format` returns.
  const custom = Symbol.for('nodejs.util.inspect.custom');
  const errorToString = Error.prototype.toString;
  let patched = null;
  Object.defineProperty(Error.prototype, custom, {
    value: function (depth, options, inspect) {
      if (patched === null) return this;
      // QuickJS keeps `stack` as an own data property or behind
      // Error.prototype's accessor: read it either way, shadow it with an
      // own data property, and put the original back afterwards.
      const own = Object.getOwnPropertyDescriptor(this, 'stack');
      if (own !== undefined && (!own.configurable || !('value' in own))) return this;
      let stack, head;
      try { stack = this.stack; head = errorToString.call(this); } catch { return this; }
      if (typeof stack !== 'string' || typeof head !== 'string' || stack.startsWith(head)) return this;
      if (!Object.isExtensible(this) && own === undefined) return this;
      const frames = stack.endsWith('\n') ? stack.slice(0, -1) : stack;
      Object.defineProperty(this, 'stack', {
        value: frames ? head + '\n' + frames : head, writable: true, configurable: true, enumerable: false,
      });
      patched.push([this, own]);
      return this;
    },
    writable: true, configurable: true, enumerable: false,
  });
  // The library cannot see a promise's state (Node asks V8); QuickJS can.
  Object.defineProperty(Promise.prototype, custom, {
    value: function (depth, options, inspect) {
      let s;
      try { s = promiseState(this); } catch { return this; }
      if (s === null) return this;
      if (s[0] === 0) return 'Promise { <pending> }';
      const v = inspect(s[1], { ...options, depth: typeof depth === 'number' ? depth - 1 : depth });
      return 'Promise { ' + (s[0] === 2 ? '<rejected> ' : '') + v + ' }';
    },
    writable: true, configurable: true, enumerable: false,
  });
  const restore = () => {
    for (let i = patched.length - 1; i >= 0; i--) {
      const [e, d] = patched[i];
      if (d === undefined) delete e.stack; else Object.defineProperty(e, 'stack', d);
    }
    patched = null;
  };
  // Strings alone need no formatting (the common case): join them as
  // util.format does.
  const guarded = (f) => function (...a) {
    if (patched !== null) return f(...a);
    patched = [];
    try { return f(...a); } finally { restore(); }
  };
  // What the `util` module exports (inspect.rs `new_module`).
  const exported = {
    inspect: Object.assign(guarded(util.inspect), { custom, defaultOptions: util.inspect.defaultOptions }),
    format: guarded(util.format),
    formatWithOptions: guarded(util.formatWithOptions),
    stripVTControlCharacters: util.stripVTControlCharacters,
  };
  return { exported, format: function format(args) {
    let simple = true;
    for (let i = 0; i < args.length; i++) {
      if (typeof args[i] !== 'string' || (i === 0 && args[i].includes('%'))) { simple = false; break; }
    }
    if (simple) return args.join(' ');
    patched = [];
    try {
      return formatWithOptions(opts, ...args);
    } catch {
      // Formatting ran user code that threw (a Proxy trap, a custom
      // inspect function): print something rather than fail the caller.
      return args.map((a) => { try { return typeof a === 'string' ? a : String(a); } catch { return '[unprintable]'; } }).join(' ');
    } finally {
      restore();
    }
  } };
})(module.exports);
})"#;

/// The bundle's `{ exported, format }` once loaded.
static UTIL: Single<RefCell<Option<Owned>>> = Single::new(RefCell::new(None));

/// Names the `util` module exports (besides `default`, the whole object).
const EXPORTS: [&CStr; 4] = [c"inspect", c"format", c"formatWithOptions", c"stripVTControlCharacters"];

/// The console's formatter `(args) => string`. Lines of plain strings are
/// joined here; anything else goes to the bundle's formatter.
const FRONT: &str = r#"(function (load) {
  'use strict';
  let full = null;
  return function format(args) {
    let simple = true;
    for (let i = 0; i < args.length; i++) {
      if (typeof args[i] !== 'string' || (i === 0 && args[i].includes('%'))) { simple = false; break; }
    }
    if (simple) return args.join(' ');
    if (full === null) full = load();
    return full(args);
  };
})"#;

/// Returns the console's formatter function; the bundle is evaluated the
/// first time a line needs it (see `docs/guest-builtins.md`, "What the
/// built-ins cost").
pub fn formatter(ctx: *mut JSContext) -> JsResult<Owned> {
    let code = js::c_bytes(FRONT.as_bytes());
    // SAFETY: `code` is NUL-terminated after `FRONT.len()` bytes.
    let front = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, code.as_ptr().cast(), FRONT.len() as _, c"<console>".as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    })?;
    let load = js::new_function(ctx, load_native, c"load", 0)?;
    let mut argv = [load.raw()];
    // SAFETY: `front` and `argv` are borrowed for the call; the result is
    // owned.
    Owned::new(ctx, unsafe { q::JS_Call(ctx, front.raw(), q::JS_UNDEFINED, 1, argv.as_mut_ptr()) })
}

/// The bundle's exports (`{ exported, format }`), evaluating it the first time.
fn loaded(ctx: *mut JSContext) -> JsResult<Owned> {
    if let Some(u) = UTIL.get().borrow().as_ref() {
        return Ok(u.clone_ref());
    }
    let both = load(ctx)?;
    UTIL.get().replace(Some(both.clone_ref()));
    Ok(both)
}

unsafe extern "C" fn load_native(ctx: *mut JSContext, _this: JSValue, _argc: c_int, _argv: *mut JSValue) -> JSValue {
    match loaded(ctx).and_then(|both| js::get(ctx, both.raw(), c"format")) {
        Ok(f) => f.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

fn load(ctx: *mut JSContext) -> JsResult<Owned> {
    let mut src = alloc::string::String::with_capacity(HEAD.len() + INSPECT_JS.len() + TAIL.len());
    src.push_str(HEAD);
    src.push_str(INSPECT_JS);
    src.push_str(TAIL);
    let code = js::c_bytes(src.as_bytes());
    // SAFETY: `code` is NUL-terminated after `src.len()` bytes.
    let wrapper = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, code.as_ptr().cast(), src.len() as _, c"<inspect>".as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    })?;
    drop(code);
    // SAFETY: creates owned plain objects.
    let module = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    // SAFETY: as above.
    let exports = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    js::set(ctx, module.raw(), c"exports", exports.clone_ref())?;
    let state = js::new_function(ctx, promise_state, c"promiseState", 1)?;
    let mut argv = [module.raw(), exports.raw(), state.raw()];
    // SAFETY: `wrapper` and `argv` are borrowed for the call; the result is
    // owned.
    Owned::new(ctx, unsafe { q::JS_Call(ctx, wrapper.raw(), q::JS_UNDEFINED, 3, argv.as_mut_ptr()) })
}

/// `promiseState(p)`: `[0]` pending, `[1, value]` fulfilled, `[2, reason]`
/// rejected; `null` if `p` is not a promise.
unsafe extern "C" fn promise_state(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { js::args(argc, argv) };
    let p = js::arg(a, 0);
    // SAFETY: JS_PromiseState only reads its borrowed argument.
    let state = unsafe { q::JS_PromiseState(ctx, p) };
    let code = match state {
        q::JSPromiseStateEnum_JS_PROMISE_PENDING => 0,
        q::JSPromiseStateEnum_JS_PROMISE_FULFILLED => 1,
        q::JSPromiseStateEnum_JS_PROMISE_REJECTED => 2,
        _ => return q::JS_NULL,
    };
    let r = (|| -> JsResult<Owned> {
        // SAFETY: creates an owned array.
        let arr = Owned::new(ctx, unsafe { q::JS_NewArray(ctx) })?;
        // SAFETY: `arr` is borrowed; the number is not reference counted.
        if unsafe { q::JS_SetPropertyUint32(ctx, arr.raw(), 0, q::JS_NewFloat64(f64::from(code))) } < 0 {
            return Err(js::Pending);
        }
        if code != 0 {
            // SAFETY: returns a new reference to the result, consumed below.
            let v = Owned::new(ctx, unsafe { q::JS_PromiseResult(ctx, p) })?;
            // SAFETY: `arr` is borrowed; the value reference is consumed.
            if unsafe { q::JS_SetPropertyUint32(ctx, arr.raw(), 1, v.into_raw()) } < 0 {
                return Err(js::Pending);
            }
        }
        Ok(arr)
    })();
    match r {
        Ok(v) => v.into_raw(),
        Err(js::Pending) => q::JS_EXCEPTION,
    }
}

unsafe extern "C" fn module_init(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> c_int {
    let r = (|| -> JsResult<()> {
        let util = js::get(ctx, loaded(ctx)?.raw(), c"exported")?;
        for name in EXPORTS {
            let v = js::get(ctx, util.raw(), name)?;
            // SAFETY: `m` is the module being initialised; the export was
            // declared in `new_module`; the value reference is consumed.
            if unsafe { q::JS_SetModuleExport(ctx, m, name.as_ptr(), v.into_raw()) } < 0 {
                return Err(Pending);
            }
        }
        // SAFETY: as above.
        if unsafe { q::JS_SetModuleExport(ctx, m, c"default".as_ptr(), util.into_raw()) } < 0 {
            return Err(Pending);
        }
        Ok(())
    })();
    match r {
        Ok(()) => 0,
        Err(Pending) => -1,
    }
}

/// Creates the built-in `util` module (`util`, `node:util`): Node's
/// `inspect`, `format`, `formatWithOptions` and `stripVTControlCharacters`,
/// from the same bundle as the console.
pub fn new_module(ctx: *mut JSContext, name: &CStr) -> *mut q::JSModuleDef {
    js::new_c_module(ctx, name, module_init, &EXPORTS)
}
