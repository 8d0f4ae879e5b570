//! Globals installed at start-up: `console`, `print`, `TextEncoder`,
//! `TextDecoder`, the global `crypto` object and `Math.random`.
//!
//! The parts that are only JavaScript plumbing (argument formatting,
//! the encoder/decoder classes) are a short prelude evaluated once; it
//! receives the native functions it wraps as arguments, so none of them is
//! reachable from user code except through the wrappers.
//!
//! Value ownership: native arguments are borrowed; everything created here
//! is an [`Owned`] until returned to QuickJS or consumed by a setter.

use alloc::string::String;
use core::ffi::{c_int, CStr};

use rquickjs_sys as q;

use crate::js::{self, arg, args, JSContext, JSValue, JsResult, Owned, Pending};
use crate::{crypto, print, rng};

/// The prelude: a function expression called once with the natives.
const PRELUDE: &str = r#"(function (n) {
  'use strict';
  const def = (o, k, v) => Object.defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false });
  // Node's util.format (inspect.rs).
  const line = n.format;
  const emit = n.emit;
  const console = {};
  const levels = { debug: 1, log: 2, info: 2, warn: 3, error: 4, trace: 1 };
  for (const k of Object.keys(levels)) {
    const lv = levels[k];
    def(console, k, { [k](...a) { emit(lv, line(a)); } }[k]);
  }
  def(globalThis, 'console', console);
  def(globalThis, 'print', { print(...a) { emit(0, line(a)); } }.print);

  const encode = n.encode, decode = n.decode;
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s = '') { return encode(String(s)); }
    encodeInto(s, dest) {
      if (!(dest instanceof Uint8Array)) throw new TypeError('encodeInto: the destination must be a Uint8Array');
      let read = 0, written = 0;
      for (const ch of String(s)) {
        const b = encode(ch);
        if (written + b.length > dest.length) break;
        dest.set(b, written);
        written += b.length;
        read += ch.length;
      }
      return { read, written };
    }
  }
  const LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8'];
  const utf8Pending = n.utf8Pending;
  const bytesOf = (x) => {
    if (x === undefined) return new Uint8Array(0);
    if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    return new Uint8Array(x);
  };
  class TextDecoder {
    #fatal; #ignoreBOM;
    // Streaming state: the bytes of an incomplete sequence kept from the
    // last `decode(…, { stream: true })`, and whether the stream's first
    // bytes (where a BOM is stripped) were already decoded.
    #pending = null; #started = false;
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).trim().toLowerCase();
      if (!LABELS.includes(l)) throw new RangeError("TextDecoder: the encoding '" + label + "' is not supported (only utf-8)");
      this.#fatal = !!(options && options.fatal);
      this.#ignoreBOM = !!(options && options.ignoreBOM);
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input, options) {
      const stream = !!(options && options.stream);
      if (!stream && this.#pending === null && !this.#started) {
        if (input === undefined) return '';
        return decode(input, this.#fatal, this.#ignoreBOM);
      }
      let bytes = bytesOf(input);
      if (this.#pending !== null) {
        const b = new Uint8Array(this.#pending.length + bytes.length);
        b.set(this.#pending);
        b.set(bytes, this.#pending.length);
        bytes = b;
        this.#pending = null;
      }
      if (stream) {
        const k = utf8Pending(bytes);
        if (k > 0) {
          this.#pending = bytes.slice(bytes.length - k);
          bytes = bytes.subarray(0, bytes.length - k);
        }
      }
      const out = decode(bytes, this.#fatal, this.#ignoreBOM || this.#started);
      // A BOM is only stripped at the start of a stream; `stream: false`
      // ends the stream and the next call starts a new one.
      this.#started = stream && (this.#started || bytes.length > 0);
      if (!stream) this.#pending = null;
      return out;
    }
  }
  def(globalThis, 'TextEncoder', TextEncoder);
  def(globalThis, 'TextDecoder', TextDecoder);

  const crypto = {};
  def(crypto, 'getRandomValues', n.getRandomValues);
  def(crypto, 'randomUUID', n.randomUUID);
  def(globalThis, 'crypto', crypto);
  def(Math, 'random', n.mathRandom);
})"#;

unsafe extern "C" fn native_emit(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let mut level: i32 = 0;
    // SAFETY: `arg(a, 0)` is borrowed; JS_ToInt32 only reads it.
    if unsafe { q::JS_ToInt32(ctx, &mut level, arg(a, 0)) } < 0 {
        return q::JS_EXCEPTION;
    }
    let r = js::with_str(ctx, arg(a, 1), |b| {
        // QuickJS produced UTF-8 (lone surrogates replaced).
        print::emit(level as u32, &String::from_utf8_lossy(b));
    });
    match r {
        Ok(()) => q::JS_UNDEFINED,
        Err(Pending) => q::JS_EXCEPTION,
    }
}

unsafe extern "C" fn native_encode(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    // `with_str` turns lone surrogates into U+FFFD, as the Encoding
    // Standard requires of TextEncoder.
    let r = js::with_str(ctx, arg(a, 0), |b| {
        // SAFETY: `b` is valid for its length; QuickJS copies it.
        unsafe { q::JS_NewUint8ArrayCopy(ctx, b.as_ptr(), b.len() as _) }
    });
    r.unwrap_or(q::JS_EXCEPTION)
}

unsafe extern "C" fn native_decode(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    // SAFETY: `JS_ToBool` only reads its borrowed argument.
    let (fatal, ignore_bom) = unsafe { (q::JS_ToBool(ctx, arg(a, 1)) > 0, q::JS_ToBool(ctx, arg(a, 2)) > 0) };
    let decoded = js::with_buffer(ctx, arg(a, 0), |bytes| {
        let bytes: &[u8] = if !ignore_bom && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) { &bytes[3..] } else { bytes };
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(js::new_string(ctx, s)),
            Err(_) if fatal => Err(()),
            // Rust's lossy decoding replaces maximal invalid subparts with
            // one U+FFFD each, as the Encoding Standard specifies.
            Err(_) => Ok(js::new_string(ctx, &String::from_utf8_lossy(bytes))),
        }
    });
    match decoded {
        None => js::throw_type_error(ctx, "TextDecoder.decode: the input must be an ArrayBuffer or a TypedArray"),
        Some(Err(())) => js::throw_type_error(ctx, "TextDecoder.decode: the input is not valid UTF-8"),
        Some(Ok(Ok(s))) => s.into_raw(),
        Some(Ok(Err(Pending))) => q::JS_EXCEPTION,
    }
}

unsafe extern "C" fn native_math_random(_ctx: *mut JSContext, _this: JSValue, _argc: c_int, _argv: *mut JSValue) -> JSValue {
    q::JS_NewFloat64(rng::math_random())
}

type Native = unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue;

/// Installs the globals.
pub fn install(ctx: *mut JSContext) -> JsResult<()> {
    let natives: [(&CStr, Native, c_int); 7] = [
        (c"emit", native_emit, 2),
        (c"utf8Pending", crate::webapi::utf8_pending, 1),
        (c"encode", native_encode, 1),
        (c"decode", native_decode, 3),
        (c"getRandomValues", crypto::get_random_values, 1),
        (c"randomUUID", crypto::random_uuid, 0),
        (c"random", native_math_random, 0),
    ];
    // SAFETY: creates an owned plain object.
    let n = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    for (name, f, len) in natives {
        let key: &CStr = if name == c"random" { c"mathRandom" } else { name };
        js::set(ctx, n.raw(), key, js::new_function(ctx, f, name, len)?)?;
    }
    js::set(ctx, n.raw(), c"format", crate::inspect::formatter(ctx)?)?;
    let src = js::c_bytes(PRELUDE.as_bytes());
    // SAFETY: `src` is NUL-terminated after `PRELUDE.len()` bytes.
    let f = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, src.as_ptr().cast(), PRELUDE.len() as _, c"<prelude>".as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    })?;
    let mut argv = [n.raw()];
    // SAFETY: `f` and `argv` are borrowed for the call; the result is owned.
    let r = Owned::new(ctx, unsafe { q::JS_Call(ctx, f.raw(), q::JS_UNDEFINED, 1, argv.as_mut_ptr()) })?;
    drop(r);
    Ok(())
}
