//! Console formatting like Node's: `util.format`/`util.inspect` from the
//! npm package [node-inspect-extracted] (Node's own `lib/internal/util/inspect.js`
//! with its `require`s replaced, kept in step with Node by its maintainers),
//! bundled into the image by `build.rs` and evaluated once at start-up (so a
//! sandbox made from the template pays nothing for it).
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

use core::ffi::c_int;

use rquickjs_sys as q;

use crate::js::{self, JSContext, JSValue, JsResult, Owned};

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
  return function format(args) {
    let simple = true;
    for (let i = 0; i < args.length; i++) {
      if (typeof args[i] !== 'string' || (i === 0 && args[i].includes('%'))) { simple = false; break; }
    }
    if (simple) return args.join(' ');
    patched = [];
    try { return formatWithOptions(opts, ...args); } finally { restore(); }
  };
})(module.exports);
})"#;

/// Evaluates the bundle and returns the console's formatter function.
pub fn formatter(ctx: *mut JSContext) -> JsResult<Owned> {
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
