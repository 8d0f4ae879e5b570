//! The built-in `crypto` module and the global `crypto` object.
//!
//! * `createHmac(alg, key)` and `createHash(alg)` for md5, sha1, sha256,
//!   sha384 and sha512, with `.update(string | TypedArray | ArrayBuffer)` (chainable)
//!   and `.digest()` (a `Uint8Array`) or `.digest('hex' | 'base64' |
//!   'base64url')`, as in Node.
//! * `getRandomValues(integerTypedArray)` and `randomUUID()` from the
//!   ChaCha20 generator re-keyed with host entropy every request; the
//!   errors are the Web Crypto API's `TypeMismatchError` and
//!   `QuotaExceededError` DOMExceptions.
//!
//! Value ownership: arguments (`this_val`, `argv`) are borrowed; every value
//! created here is an [`Owned`] until it is returned to QuickJS or consumed
//! by `JS_SetModuleExport`/`JS_SetPropertyStr`. The digest state behind an
//! Hmac/Hash object is a `Box<Digest>` owned by the object and dropped by the
//! class finalizer.

use alloc::boxed::Box;
use core::cell::Cell;
use core::ffi::{c_int, c_void, CStr};
use core::ptr;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use rquickjs_sys as q;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::js::{self, arg, args, JSContext, JSRuntime, JSValue, JsResult, Owned, Pending};
use crate::rng;
use crate::sync::Single;

/// The running state of one Hmac or Hash object.
enum Digest {
    HmacMd5(Hmac<Md5>),
    Hmac1(Hmac<Sha1>),
    Hmac256(Hmac<Sha256>),
    Hmac384(Hmac<Sha384>),
    Hmac512(Hmac<Sha512>),
    HashMd5(Md5),
    Hash1(Sha1),
    Hash256(Sha256),
    Hash384(Sha384),
    Hash512(Sha512),
    /// `digest()` was called.
    Finished,
}

impl Digest {
    fn update(&mut self, data: &[u8]) -> bool {
        match self {
            Digest::HmacMd5(m) => m.update(data),
            Digest::Hmac1(m) => m.update(data),
            Digest::Hmac256(m) => m.update(data),
            Digest::Hmac384(m) => m.update(data),
            Digest::Hmac512(m) => m.update(data),
            Digest::HashMd5(h) => h.update(data),
            Digest::Hash1(h) => h.update(data),
            Digest::Hash256(h) => h.update(data),
            Digest::Hash384(h) => h.update(data),
            Digest::Hash512(h) => h.update(data),
            Digest::Finished => return false,
        }
        true
    }

    /// Writes the digest into `out` and returns its length; `None` if it was
    /// already taken.
    fn finish(&mut self, out: &mut [u8; 64]) -> Option<usize> {
        let state = core::mem::replace(self, Digest::Finished);
        let n = match state {
            Digest::HmacMd5(m) => copy(out, &m.finalize().into_bytes()),
            Digest::Hmac1(m) => copy(out, &m.finalize().into_bytes()),
            Digest::Hmac256(m) => copy(out, &m.finalize().into_bytes()),
            Digest::Hmac384(m) => copy(out, &m.finalize().into_bytes()),
            Digest::Hmac512(m) => copy(out, &m.finalize().into_bytes()),
            Digest::HashMd5(h) => copy(out, &h.finalize()),
            Digest::Hash1(h) => copy(out, &h.finalize()),
            Digest::Hash256(h) => copy(out, &h.finalize()),
            Digest::Hash384(h) => copy(out, &h.finalize()),
            Digest::Hash512(h) => copy(out, &h.finalize()),
            Digest::Finished => return None,
        };
        Some(n)
    }
}

fn copy(out: &mut [u8; 64], b: &[u8]) -> usize {
    out[..b.len()].copy_from_slice(b);
    b.len()
}

#[derive(Clone, Copy)]
enum Alg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn parse_alg(name: &[u8]) -> Option<Alg> {
    let mut lower = [0u8; 16];
    if name.len() > lower.len() {
        return None;
    }
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    match &lower[..name.len()] {
        b"md5" => Some(Alg::Md5),
        b"sha1" | b"sha-1" => Some(Alg::Sha1),
        b"sha256" | b"sha-256" => Some(Alg::Sha256),
        b"sha384" | b"sha-384" => Some(Alg::Sha384),
        b"sha512" | b"sha-512" => Some(Alg::Sha512),
        _ => None,
    }
}

static DIGEST_CLASS: Single<Cell<q::JSClassID>> = Single::new(Cell::new(0));

unsafe extern "C" fn digest_finalizer(_rt: *mut JSRuntime, val: JSValue) {
    // SAFETY: `val` is an object of the digest class being finalized; its
    // opaque pointer is null or the `Box<Digest>` set by `new_digest_object`,
    // which nothing else frees.
    unsafe {
        let p = q::JS_GetOpaque(val, DIGEST_CLASS.get().get()).cast::<Digest>();
        if !p.is_null() {
            drop(Box::from_raw(p));
        }
    }
}

/// Registers the digest class with the runtime and gives it its prototype
/// (`update`, `digest`). Called once at start-up.
pub fn init(rt: *mut JSRuntime, ctx: *mut JSContext) -> JsResult<()> {
    let mut id: q::JSClassID = 0;
    let def = q::JSClassDef {
        class_name: c"Hmac".as_ptr(),
        finalizer: Some(digest_finalizer),
        gc_mark: None,
        call: None,
        exotic: ptr::null_mut(),
    };
    // SAFETY: `def` lives across the call (QuickJS copies what it needs and
    // keeps the `'static` class name); `rt` is the live runtime.
    unsafe {
        q::JS_NewClassID(rt, &mut id);
        if q::JS_NewClass(rt, id, &def) < 0 {
            return Err(Pending);
        }
    }
    DIGEST_CLASS.get().set(id);
    // SAFETY: creates an owned plain object.
    let proto = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    js::set(ctx, proto.raw(), c"update", js::new_function(ctx, digest_update, c"update", 1)?)?;
    js::set(ctx, proto.raw(), c"digest", js::new_function(ctx, digest_digest, c"digest", 1)?)?;
    // SAFETY: `JS_SetClassProto` consumes the prototype reference.
    unsafe { q::JS_SetClassProto(ctx, id, proto.into_raw()) };
    Ok(())
}

fn new_digest_object(ctx: *mut JSContext, state: Digest) -> JSValue {
    // SAFETY: creates an owned object of the registered class.
    let obj = match Owned::new(ctx, unsafe { q::JS_NewObjectClass(ctx, DIGEST_CLASS.get().get()) }) {
        Ok(o) => o,
        Err(Pending) => return q::JS_EXCEPTION,
    };
    let p = Box::into_raw(Box::new(state));
    // SAFETY: `obj` is of the digest class; ownership of the box passes to
    // the object (freed by `digest_finalizer`).
    unsafe { q::JS_SetOpaque(obj.raw(), p.cast::<c_void>()) };
    obj.into_raw()
}

/// # Safety
/// `this_val` is borrowed; the returned pointer is valid while the object
/// lives and no other `&mut` to it exists.
unsafe fn digest_of<'a>(ctx: *mut JSContext, this_val: JSValue) -> Option<&'a mut Digest> {
    // SAFETY: `JS_GetOpaque2` checks the class (throwing TypeError if it
    // does not match); the pointer is the box set in `new_digest_object`.
    unsafe {
        let p = q::JS_GetOpaque2(ctx, this_val, DIGEST_CLASS.get().get()).cast::<Digest>();
        p.as_mut()
    }
}

unsafe extern "C" fn create_hmac(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let alg = match js::with_str(ctx, arg(a, 0), parse_alg) {
        Ok(Some(alg)) => alg,
        Ok(None) => return js::throw_type_error(ctx, "createHmac: unsupported algorithm (use md5, sha1, sha256, sha384 or sha512)"),
        Err(Pending) => return q::JS_EXCEPTION,
    };
    let key = match js::bytes_of(ctx, arg(a, 1), true) {
        Ok(Some(k)) => k,
        Ok(None) => return js::throw_type_error(ctx, "createHmac: the key must be a string, a TypedArray or an ArrayBuffer"),
        Err(Pending) => return q::JS_EXCEPTION,
    };
    // HMAC accepts keys of any length, so these never fail.
    let state = match alg {
        Alg::Md5 => Hmac::<Md5>::new_from_slice(&key).map(Digest::HmacMd5),
        Alg::Sha1 => Hmac::<Sha1>::new_from_slice(&key).map(Digest::Hmac1),
        Alg::Sha256 => Hmac::<Sha256>::new_from_slice(&key).map(Digest::Hmac256),
        Alg::Sha384 => Hmac::<Sha384>::new_from_slice(&key).map(Digest::Hmac384),
        Alg::Sha512 => Hmac::<Sha512>::new_from_slice(&key).map(Digest::Hmac512),
    };
    match state {
        Ok(s) => new_digest_object(ctx, s),
        Err(_) => js::throw_type_error(ctx, "createHmac: invalid key"),
    }
}

unsafe extern "C" fn create_hash(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let state = match js::with_str(ctx, arg(a, 0), parse_alg) {
        Ok(Some(Alg::Md5)) => Digest::HashMd5(Md5::new()),
        Ok(Some(Alg::Sha1)) => Digest::Hash1(Sha1::new()),
        Ok(Some(Alg::Sha256)) => Digest::Hash256(Sha256::new()),
        Ok(Some(Alg::Sha384)) => Digest::Hash384(Sha384::new()),
        Ok(Some(Alg::Sha512)) => Digest::Hash512(Sha512::new()),
        Ok(None) => return js::throw_type_error(ctx, "createHash: unsupported algorithm (use md5, sha1, sha256, sha384 or sha512)"),
        Err(Pending) => return q::JS_EXCEPTION,
    };
    new_digest_object(ctx, state)
}

unsafe extern "C" fn digest_update(ctx: *mut JSContext, this_val: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let data = arg(a, 0);
    // Strings are hashed as UTF-8 (Node's default input encoding).
    if let Some(enc) = a.get(1).copied() {
        // SAFETY: tag inspection only.
        if !unsafe { q::JS_IsUndefined(enc) } {
            match js::with_str(ctx, enc, |e| matches!(e, b"utf8" | b"utf-8" | b"UTF-8" | b"UTF8")) {
                Ok(true) => {}
                Ok(false) => return js::throw_type_error(ctx, "update: only the utf8 input encoding is supported"),
                Err(Pending) => return q::JS_EXCEPTION,
            }
        }
    }
    let bytes = match js::bytes_of(ctx, data, true) {
        Ok(Some(b)) => b,
        Ok(None) => return js::throw_type_error(ctx, "update: data must be a string, a TypedArray or an ArrayBuffer"),
        Err(Pending) => return q::JS_EXCEPTION,
    };
    // SAFETY: `this_val` is borrowed for this call; no other reference to
    // its digest state exists while a native method runs.
    let Some(d) = (unsafe { digest_of(ctx, this_val) }) else {
        return q::JS_EXCEPTION;
    };
    if !d.update(&bytes) {
        return js::throw_error(ctx, "Digest already called");
    }
    Owned::dup(ctx, this_val).into_raw()
}

unsafe extern "C" fn digest_digest(ctx: *mut JSContext, this_val: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    #[derive(Clone, Copy)]
    enum Enc {
        Bytes,
        Hex,
        Base64,
        Base64Url,
    }
    let enc_v = arg(a, 0);
    // SAFETY: tag inspection only.
    let enc = if unsafe { q::JS_IsUndefined(enc_v) } {
        Enc::Bytes
    } else {
        match js::with_str(ctx, enc_v, |e| match e {
            b"hex" => Some(Enc::Hex),
            b"base64" => Some(Enc::Base64),
            b"base64url" => Some(Enc::Base64Url),
            b"buffer" => Some(Enc::Bytes),
            _ => None,
        }) {
            Ok(Some(e)) => e,
            Ok(None) => return js::throw_type_error(ctx, "digest: unsupported encoding (use hex, base64 or base64url)"),
            Err(Pending) => return q::JS_EXCEPTION,
        }
    };
    // SAFETY: as in `digest_update`.
    let Some(d) = (unsafe { digest_of(ctx, this_val) }) else {
        return q::JS_EXCEPTION;
    };
    let mut raw = [0u8; 64];
    let Some(n) = d.finish(&mut raw) else {
        return js::throw_error(ctx, "Digest already called");
    };
    let raw = &raw[..n];
    let mut text = [0u8; 128];
    let s: &str = match enc {
        Enc::Bytes => {
            // SAFETY: `raw` holds `n` bytes, copied by QuickJS.
            return unsafe { q::JS_NewUint8ArrayCopy(ctx, raw.as_ptr(), n as _) };
        }
        Enc::Hex => hex(raw, &mut text),
        Enc::Base64 => Base64::encode(raw, &mut text).unwrap_or(""),
        Enc::Base64Url => Base64UrlUnpadded::encode(raw, &mut text).unwrap_or(""),
    };
    match js::new_string(ctx, s) {
        Ok(v) => v.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

fn hex<'a>(raw: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in raw.iter().enumerate() {
        out[2 * i] = DIGITS[(b >> 4) as usize];
        out[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    // Only ASCII hex digits were written.
    core::str::from_utf8(&out[..2 * raw.len()]).unwrap_or("")
}

/// `crypto.getRandomValues(typedArray)`: fills an integer typed array (at
/// most 65536 bytes, as in the Web Crypto API) and returns it.
pub unsafe extern "C" fn get_random_values(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let v = arg(a, 0);
    // SAFETY: inspection only.
    let ty = unsafe { q::JS_GetTypedArrayType(v) };
    let integer = (q::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT8C as c_int..=q::JSTypedArrayEnum_JS_TYPED_ARRAY_BIG_UINT64 as c_int)
        .contains(&ty);
    if !integer {
        // Web Crypto: "If array is not an Int8Array, Uint8Array,
        // Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
        // Uint32Array, BigInt64Array, or BigUint64Array, then throw a
        // TypeMismatchError."
        return crate::subtle::throw_dom(
            ctx,
            c"TypeMismatchError",
            "getRandomValues: the argument must be an integer TypedArray",
        );
    }
    let filled = js::with_buffer(ctx, v, |b| {
        if b.len() > 65536 {
            return Err(b.len());
        }
        rng::fill_crypto(b);
        Ok(())
    });
    match filled {
        Some(Ok(())) => Owned::dup(ctx, v).into_raw(),
        // Web Crypto: "If the byteLength of array is greater than 65536,
        // throw a QuotaExceededError."
        Some(Err(n)) => crate::subtle::throw_dom(
            ctx,
            c"QuotaExceededError",
            &alloc::format!("getRandomValues: the array is {n} bytes, more than the 65536 allowed"),
        ),
        None => js::throw_type_error(ctx, "getRandomValues: the array's buffer is detached"),
    }
}

/// `crypto.randomUUID()`: a version 4 UUID string.
pub unsafe extern "C" fn random_uuid(ctx: *mut JSContext, _this: JSValue, _argc: c_int, _argv: *mut JSValue) -> JSValue {
    let mut b = [0u8; 16];
    rng::fill_crypto(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut hexbuf = [0u8; 32];
    let h = hex(&b, &mut hexbuf).as_bytes();
    let mut s = [0u8; 36];
    let mut j = 0;
    for (i, c) in h.iter().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            s[j] = b'-';
            j += 1;
        }
        s[j] = *c;
        j += 1;
    }
    let text = core::str::from_utf8(&s).unwrap_or("");
    match js::new_string(ctx, text) {
        Ok(v) => v.into_raw(),
        Err(Pending) => q::JS_EXCEPTION,
    }
}

const EXPORTS: [&CStr; 4] = [c"createHmac", c"createHash", c"getRandomValues", c"randomUUID"];

type Native = unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue;

fn natives() -> [(Native, c_int); 4] {
    [(create_hmac, 2), (create_hash, 1), (get_random_values, 1), (random_uuid, 0)]
}

unsafe extern "C" fn module_init(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> c_int {
    match fill_module(ctx, m) {
        Ok(()) => 0,
        Err(Pending) => -1,
    }
}

fn fill_module(ctx: *mut JSContext, m: *mut q::JSModuleDef) -> JsResult<()> {
    // SAFETY: creates an owned plain object (the default export).
    let default = Owned::new(ctx, unsafe { q::JS_NewObject(ctx) })?;
    for (name, (f, len)) in EXPORTS.iter().zip(natives()) {
        let func = js::new_function(ctx, f, name, len)?;
        js::set(ctx, default.raw(), name, func.clone_ref())?;
        // SAFETY: `m` is the module being initialised; the export was
        // declared in `new_module`; the value reference is consumed.
        if unsafe { q::JS_SetModuleExport(ctx, m, name.as_ptr(), func.into_raw()) } < 0 {
            return Err(Pending);
        }
    }
    // SAFETY: as above.
    if unsafe { q::JS_SetModuleExport(ctx, m, c"default".as_ptr(), default.into_raw()) } < 0 {
        return Err(Pending);
    }
    Ok(())
}

/// Creates the `crypto` module (for the module loader).
pub fn new_module(ctx: *mut JSContext, name: &CStr) -> *mut q::JSModuleDef {
    js::new_c_module(ctx, name, module_init, &EXPORTS)
}
