//! `Intl` (ECMA-402) on ICU4X.
//!
//! Split in two, as the other built-ins: the ECMA-402 surface (option
//! reading, resolution, the constructors and their prototypes, and the
//! ECMA-262 methods routed through them) is JavaScript glue in `intl.js`;
//! every locale-dependent answer comes from ICU4X through one native,
//! `op(name, ...args)`, here. Arguments and results are strings (numbers
//! travel as their shortest round-trip decimal text, so `fixed_decimal`
//! parses them exactly); structured results are JSON.
//!
//! Cost when unused: nothing. Boot installs only a loader and the routed
//! ECMA-262 methods (a few small functions); the glue is compiled on the
//! first use of `Intl` or of a routed method. The locale data is ICU4X's
//! compiled data in the image's read-only pages, which every VM of a
//! process maps from one shared copy (see `docs/intl.md`).
//!
//! Time zones: ICU4X has no transition rules; `jiff`'s bundled IANA
//! database gives the UTC offset at an instant, and ICU4X formats it.

mod ops;

use alloc::string::String;
use core::cell::RefCell;
use core::ffi::c_int;

use rquickjs_sys as q;

use crate::js::{self, arg, args, JSContext, JSValue, JsResult, Owned};
use crate::sync::Single;

/// The glue, compiled on first use.
const GLUE: &str = include_str!("intl.js");

/// The sandbox's default locale and time zone (builder options).
struct Defaults {
    locale: String,
    time_zone: String,
}

static DEFAULTS: Single<RefCell<Option<Defaults>>> = Single::new(RefCell::new(None));

/// Sets the default locale and time zone (already validated by the host,
/// checked again here). Fails with a message for an invalid one.
pub fn set_defaults(locale: &str, time_zone: &str) -> Result<(), String> {
    let locale = ops::canonicalize(locale).map_err(|e| String::from(e.message()))?;
    if ops::lookup(&locale).is_empty() {
        return Err(alloc::format!("locale {locale:?} has no CLDR data in this guest image"));
    }
    let time_zone = ops::canonical_time_zone(time_zone).ok_or_else(|| alloc::format!("time zone {time_zone:?} is not in the IANA database"))?;
    *DEFAULTS.get().borrow_mut() = Some(Defaults { locale, time_zone });
    Ok(())
}

/// `REQ_SET_INTL_DEFAULTS`: `str locale`, `str time_zone`.
pub fn set_defaults_request(payload: &[u8]) -> Result<(), crate::protocol::Failure> {
    use crate::protocol::Failure;
    use hyperlight_abi::js::{error_code, Reader};
    let mut r = Reader::new(payload);
    let (Ok(locale), Ok(tz)) = (r.str(), r.str()) else {
        return Err(Failure::code(error_code::BAD_REQUEST, "malformed Intl defaults"));
    };
    set_defaults(locale, tz).map_err(|m| Failure::code(error_code::INVALID_INTL_DEFAULT, m))
}

fn default_locale() -> String {
    DEFAULTS.get().borrow().as_ref().map_or_else(|| "en-US".into(), |d| d.locale.clone())
}

fn default_time_zone() -> String {
    DEFAULTS.get().borrow().as_ref().map_or_else(|| "UTC".into(), |d| d.time_zone.clone())
}

/// `op(name, ...args)`: the one native the glue calls.
unsafe extern "C" fn native_op(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let mut strs: alloc::vec::Vec<String> = alloc::vec::Vec::with_capacity(a.len());
    for &v in a {
        match js::to_string(ctx, v) {
            Ok(s) => strs.push(s),
            Err(_) => return q::JS_EXCEPTION,
        }
    }
    let Some((name, rest)) = strs.split_first() else {
        return js::throw_type_error(ctx, "Intl: missing operation");
    };
    let r = match name.as_str() {
        "defaultLocale" => Ok(default_locale()),
        "defaultTimeZone" => Ok(default_time_zone()),
        _ => ops::run(name, rest),
    };
    match r {
        Ok(s) => match js::new_string(ctx, &s) {
            Ok(v) => v.into_raw(),
            Err(_) => q::JS_EXCEPTION,
        },
        Err(ops::Fail::Range(m)) => js::throw_range_error(ctx, &m),
        Err(ops::Fail::Type(m)) => js::throw_type_error(ctx, &m),
    }
}

/// `load()`: compiles the glue and returns the `Intl` object (the glue
/// installs it on the global object too).
unsafe extern "C" fn native_load(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let r: JsResult<Owned> = (|| {
        let src = js::c_bytes(GLUE.as_bytes());
        // SAFETY: `src` is NUL-terminated after `GLUE.len()` bytes.
        let f = Owned::new(ctx, unsafe {
            q::JS_Eval(ctx, src.as_ptr().cast(), GLUE.len() as _, c"<intl>".as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
        })?;
        let op = js::new_function(ctx, native_op, c"op", 1)?;
        let mut argv = [op.raw(), arg(a, 0)];
        // SAFETY: `f` and `argv` are borrowed for the call; the result is owned.
        Owned::new(ctx, unsafe { q::JS_Call(ctx, f.raw(), q::JS_UNDEFINED, 2, argv.as_mut_ptr()) })
    })();
    match r {
        Ok(v) => v.into_raw(),
        Err(_) => q::JS_EXCEPTION,
    }
}

/// The boot-time part: a lazy `Intl` global and the routed ECMA-262
/// methods, each of which loads the glue on first use.
const BOOT: &str = r#"(function (load) {
  'use strict';
  let state;
  const get = () => state || (state = load(globalThis));
  Object.defineProperty(globalThis, 'Intl', {
    configurable: true, enumerable: false,
    get() { return get()[0]; },
    set(v) { Object.defineProperty(globalThis, 'Intl', { value: v, writable: true, configurable: true, enumerable: false }); },
  });
  const route = (C, names) => {
    for (const name of names) {
      const orig = C.prototype[name];
      const key = C.name + '.' + name;
      const f = { [name](...a) { return get()[1][key].call(this, orig, ...a); } }[name];
      Object.defineProperty(f, 'length', { value: orig.length });
      Object.defineProperty(C.prototype, name, { value: f, writable: true, configurable: true, enumerable: false });
    }
  };
  route(Date, ['toLocaleString', 'toLocaleDateString', 'toLocaleTimeString']);
  route(Number, ['toLocaleString']);
  route(BigInt, ['toLocaleString']);
  route(String, ['localeCompare', 'toLocaleUpperCase', 'toLocaleLowerCase']);
  route(Array, ['toLocaleString']);
})"#;

/// Installs the lazy `Intl` global and the routed methods.
pub fn install(ctx: *mut JSContext) -> JsResult<()> {
    let load = js::new_function(ctx, native_load, c"load", 1)?;
    let src = js::c_bytes(BOOT.as_bytes());
    // SAFETY: `src` is NUL-terminated after `BOOT.len()` bytes.
    let f = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, src.as_ptr().cast(), BOOT.len() as _, c"<intl-boot>".as_ptr(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    })?;
    let mut argv = [load.raw()];
    // SAFETY: `f` and `argv` are borrowed for the call; the result is owned.
    let r = Owned::new(ctx, unsafe { q::JS_Call(ctx, f.raw(), q::JS_UNDEFINED, 1, argv.as_mut_ptr()) })?;
    drop(r);
    Ok(())
}
