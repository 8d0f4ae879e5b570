//! Web platform APIs: `URL`, `URLSearchParams`, `structuredClone`, timers
//! (see `timers`), `crypto.subtle` (see `subtle`) and the streaming part of
//! `TextDecoder`.
//!
//! The classes themselves are JavaScript (`webapi.js`, evaluated once at
//! start-up with the natives below as its argument, so none of them is
//! reachable from user code except through the classes). The parsing is
//! Rust: URLs and `application/x-www-form-urlencoded` with the `url` crate
//! (WHATWG URL Standard, tested against the web-platform-tests data),
//! digests, HMAC and AES-GCM with RustCrypto.
//!
//! Value ownership: native arguments are borrowed; everything created here
//! is an [`Owned`] until returned to QuickJS.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_int, CStr};

use rquickjs_sys as q;
use url::Url;

use crate::js::{self, arg, args, JSContext, JSValue, JsResult, Owned, Pending};
use crate::{subtle, timers};

/// The JavaScript half: a function expression called with the natives the
/// first time one of its globals is used; it returns them.
const SOURCE: &str = include_str!("webapi.js");

/// Evaluated at start-up: installs the timers (natives) and a placeholder
/// accessor for each global of `webapi.js`, whose first read evaluates it.
/// See `docs/guest-builtins.md` ("Loaded on first use") for the measured
/// trade-off.
const STUB: &str = r#"(function (n, load) {
  'use strict';
  const hide = { writable: true, configurable: true, enumerable: false };
  for (const k of ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval']) {
    Object.defineProperty(globalThis, k, { value: n[k], ...hide });
  }
  const places = [
    [globalThis, 'URL', false], [globalThis, 'URLSearchParams', false], [globalThis, 'structuredClone', false],
    [globalThis, 'CryptoKey', false], [globalThis, 'SubtleCrypto', false], [globalThis.crypto, 'subtle', true],
  ];
  const stubs = new Map();
  let values = null;
  const ensure = () => {
    if (values !== null) return;
    values = load(n);
    for (const [obj, k, enumerable] of places) {
      const d = Object.getOwnPropertyDescriptor(obj, k);
      if (d === undefined || d.get !== stubs.get(k)) continue;
      Object.defineProperty(obj, k, k === 'subtle'
        ? { get: Object.defineProperty(() => values.subtle, 'name', { value: 'get subtle' }), configurable: true, enumerable }
        : { value: values[k], ...hide });
    }
  };
  for (const [obj, k, enumerable] of places) {
    const get = function () { ensure(); return values[k]; };
    stubs.set(k, get);
    Object.defineProperty(obj, k, {
      get,
      set(v) { Object.defineProperty(obj, k, { value: v, ...hide }); },
      configurable: true,
      enumerable,
    });
  }
})"#;

/// `url`'s components in the order `webapi.js` reads them.
fn components(u: &Url) -> [String; 11] {
    use url::quirks as k;
    [
        String::from(k::href(u)),
        origin(u),
        String::from(k::protocol(u)),
        String::from(k::username(u)),
        String::from(k::password(u)),
        String::from(k::host(u)),
        String::from(k::hostname(u)),
        String::from(k::port(u)),
        String::from(k::pathname(u)),
        String::from(k::search(u)),
        String::from(k::hash(u)),
    ]
}

/// The URL's origin. For `blob:` URLs the URL Standard (since 2024) gives
/// the inner URL's origin only when it is http(s), `null` otherwise; the
/// `url` crate returns the inner origin for any scheme.
fn origin(u: &Url) -> String {
    if u.scheme() == "blob" {
        return match Url::parse(u.path()) {
            Ok(inner) if matches!(inner.scheme(), "http" | "https") => url::quirks::origin(&inner),
            _ => String::from("null"),
        };
    }
    url::quirks::origin(u)
}

/// A new array of strings.
pub fn string_array<S: AsRef<str>>(ctx: *mut JSContext, items: &[S]) -> JsResult<Owned> {
    // SAFETY: creates an owned array.
    let arr = Owned::new(ctx, unsafe { q::JS_NewArray(ctx) })?;
    for (i, s) in items.iter().enumerate() {
        let v = js::new_string(ctx, s.as_ref())?;
        // SAFETY: `arr` is borrowed; the value reference is consumed.
        if unsafe { q::JS_SetPropertyUint32(ctx, arr.raw(), i as u32, v.into_raw()) } < 0 {
            return Err(Pending);
        }
    }
    Ok(arr)
}

fn to_raw(r: JsResult<Owned>) -> JSValue {
    match r {
        Ok(v) => v.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

/// `urlParse(input, base?)`: the components of the parsed URL, or `null`
/// if `input` (or `base`) is not a valid URL.
unsafe extern "C" fn url_parse(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let input = match js::to_string(ctx, arg(a, 0)) {
        Ok(s) => s,
        Err(Pending) => return q::JS_EXCEPTION,
    };
    let base_v = arg(a, 1);
    // SAFETY: tag inspection only.
    let base = if unsafe { q::JS_IsUndefined(base_v) } {
        None
    } else {
        match js::to_string(ctx, base_v) {
            Ok(s) => match Url::parse(&s) {
                Ok(b) => Some(b),
                Err(_) => return q::JS_NULL,
            },
            Err(Pending) => return q::JS_EXCEPTION,
        }
    };
    match Url::options().base_url(base.as_ref()).parse(&input) {
        Ok(u) => to_raw(string_array(ctx, &components(&u))),
        Err(_) => q::JS_NULL,
    }
}

/// `urlSet(href, which, value)`: the components after the setter `which`
/// (the index of the component in `components`; 0 is `href`); `null` if
/// the `href` setter failed (the other setters ignore invalid values, as
/// the URL Standard says).
unsafe extern "C" fn url_set(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    use url::quirks as k;
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let (href, value) = match (js::to_string(ctx, arg(a, 0)), js::to_string(ctx, arg(a, 2))) {
        (Ok(h), Ok(v)) => (h, v),
        _ => return q::JS_EXCEPTION,
    };
    let mut which: i32 = 0;
    // SAFETY: `arg(a, 1)` is borrowed; JS_ToInt32 only reads it.
    if unsafe { q::JS_ToInt32(ctx, &mut which, arg(a, 1)) } < 0 {
        return q::JS_EXCEPTION;
    }
    let Ok(mut u) = Url::parse(&href) else {
        return js::throw_type_error(ctx, "Invalid URL");
    };
    let v = value.as_str();
    match which {
        0 => {
            if k::set_href(&mut u, v).is_err() {
                return q::JS_NULL;
            }
        }
        2 => drop(k::set_protocol(&mut u, v)),
        3 => drop(k::set_username(&mut u, v)),
        4 => drop(k::set_password(&mut u, v)),
        5 => drop(k::set_host(&mut u, v)),
        6 => drop(k::set_hostname(&mut u, v)),
        7 => drop(k::set_port(&mut u, v)),
        8 => k::set_pathname(&mut u, v),
        9 => k::set_search(&mut u, v),
        10 => k::set_hash(&mut u, v),
        _ => return js::throw_range_error(ctx, "urlSet: unknown component"),
    }
    to_raw(string_array(ctx, &components(&u)))
}

/// `formParse(text)`: `application/x-www-form-urlencoded` parsing, as a
/// flat array `[name0, value0, name1, value1, …]`.
unsafe extern "C" fn form_parse(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let r = js::with_str(ctx, arg(a, 0), |b| {
        let mut flat: Vec<String> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(b) {
            flat.push(k.into_owned());
            flat.push(v.into_owned());
        }
        string_array(ctx, &flat)
    });
    match r {
        Ok(v) => to_raw(v),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

/// `formSerialize(flat)`: the `application/x-www-form-urlencoded`
/// serialisation of a flat array of names and values (strings).
unsafe extern "C" fn form_serialize(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let flat = arg(a, 0);
    let len = match js::get(ctx, flat, c"length").and_then(|l| {
        let mut n: i32 = 0;
        // SAFETY: `l` is owned and only read.
        if unsafe { q::JS_ToInt32(ctx, &mut n, l.raw()) } < 0 {
            Err(Pending)
        } else {
            Ok(n.max(0) as u32)
        }
    }) {
        Ok(n) => n,
        Err(Pending) => return q::JS_EXCEPTION,
    };
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let mut i = 0;
    while i + 1 < len {
        let pair = (|| -> JsResult<(String, String)> {
            // SAFETY: `flat` is borrowed; the results are owned.
            let k = Owned::new(ctx, unsafe { q::JS_GetPropertyUint32(ctx, flat, i) })?;
            // SAFETY: as above.
            let v = Owned::new(ctx, unsafe { q::JS_GetPropertyUint32(ctx, flat, i + 1) })?;
            Ok((js::to_string(ctx, k.raw())?, js::to_string(ctx, v.raw())?))
        })();
        match pair {
            Ok((k, v)) => {
                ser.append_pair(&k, &v);
            }
            Err(Pending) => return q::JS_EXCEPTION,
        }
        i += 2;
    }
    to_raw(js::new_string(ctx, &ser.finish()))
}

/// `utf8Pending(bytes)`: how many bytes at the end of `bytes` are the
/// beginning of a UTF-8 sequence that more input could complete (0 to 3);
/// a streaming `TextDecoder` keeps them for the next `decode`.
pub unsafe extern "C" fn utf8_pending(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    match js::with_buffer(ctx, arg(a, 0), |b| incomplete_tail(b)) {
        Some(n) => q::JS_NewFloat64(n as f64),
        None => js::throw_type_error(ctx, "TextDecoder.decode: the input must be an ArrayBuffer or a TypedArray"),
    }
}

/// Length of the incomplete UTF-8 sequence that ends `b` (0 if `b` ends on
/// a complete character or on invalid bytes).
fn incomplete_tail(b: &[u8]) -> usize {
    let mut rest = b;
    loop {
        match core::str::from_utf8(rest) {
            Ok(_) => return 0,
            Err(e) => match e.error_len() {
                None => return rest.len() - e.valid_up_to(),
                Some(n) => rest = &rest[e.valid_up_to() + n..],
            },
        }
    }
}

/// `classOf(v)`: what `structuredClone` needs to know about an object that
/// JavaScript cannot tell reliably: 1 for an ordinary object, 2 for an
/// Error, 3 for a Proxy, 0 for anything else (exotic or with internal
/// slots the algorithm does not serialise).
unsafe extern "C" fn class_of(_ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let v = arg(a, 0);
    // SAFETY: inspection only. Class id 1 is QuickJS's JS_CLASS_OBJECT
    // (documented there as "must be first"), i.e. an ordinary object.
    let kind = unsafe {
        if !q::JS_IsObject(v) {
            0
        } else if q::JS_IsProxy(v) {
            3
        } else if q::JS_IsError(v) {
            2
        } else if q::JS_GetClassID(v) == 1 {
            1
        } else {
            0
        }
    };
    q::JS_NewFloat64(f64::from(kind))
}

type Native = unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue;

/// Installs the web platform globals (after `builtins::install`).
pub fn install(ctx: *mut JSContext) -> JsResult<()> {
    let mut natives: Vec<(&CStr, Native, c_int)> = alloc::vec![
        (c"urlParse", url_parse as Native, 2),
        (c"urlSet", url_set, 3),
        (c"formParse", form_parse, 1),
        (c"formSerialize", form_serialize, 1),
        (c"classOf", class_of, 1),
    ];
    natives.extend_from_slice(timers::NATIVES);
    natives.extend_from_slice(subtle::NATIVES);
    // SAFETY: creates an owned plain object.
    let n = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    for (name, f, len) in natives {
        js::set(ctx, n.raw(), name, js::new_function(ctx, f, name, len)?)?;
    }
    let f = eval_function(ctx, STUB, c"<webapi-stub>")?;
    let load = js::new_function(ctx, load_native, c"load", 1)?;
    let mut argv = [n.raw(), load.raw()];
    // SAFETY: `f` and `argv` are borrowed for the call; the result is owned.
    drop(Owned::new(ctx, unsafe { q::JS_Call(ctx, f.raw(), q::JS_UNDEFINED, 2, argv.as_mut_ptr()) })?);
    Ok(())
}

/// Evaluates `src` (a function expression) as a global script.
fn eval_function(ctx: *mut JSContext, src: &str, name: &CStr) -> JsResult<Owned> {
    let code = js::c_bytes(src.as_bytes());
    // SAFETY: `code` is NUL-terminated after `src.len()` bytes.
    Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, code.as_ptr().cast(), src.len() as _, name.as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    })
}

/// `load(natives)`: evaluates `webapi.js` and returns its globals.
unsafe extern "C" fn load_native(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let r = eval_function(ctx, SOURCE, c"<webapi>").and_then(|f| {
        let mut argv = [arg(a, 0)];
        // SAFETY: `f` and `argv` are borrowed for the call; the result is
        // owned.
        Owned::new(ctx, unsafe { q::JS_Call(ctx, f.raw(), q::JS_UNDEFINED, 1, argv.as_mut_ptr()) })
    });
    to_raw(r)
}
