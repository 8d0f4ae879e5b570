//! The natives behind `crypto.subtle` (`webapi.js` holds the Web Crypto
//! API's shapes: `CryptoKey`, algorithm dictionaries, promises): digests
//! (SHA-1/256/384/512), HMAC and AES-GCM, all from RustCrypto.
//!
//! Value ownership: arguments are borrowed; byte results are new
//! `Uint8Array`s (QuickJS copies the Rust buffer).

use alloc::vec::Vec;
use core::ffi::{c_int, CStr};

use aes_gcm::aead::consts::{U12, U13, U14, U15, U16};
use aes_gcm::aead::generic_array::ArrayLength;
use aes_gcm::aead::{AeadCore, AeadInPlace, KeyInit};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, TagSize};
use hmac::{Hmac, Mac};
use rquickjs_sys as q;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::js::{self, arg, args, JSContext, JSValue, Pending};

#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// The hash named by `v` (`webapi.js` normalises names to `SHA-…`).
fn hash_of(ctx: *mut JSContext, v: JSValue) -> Result<Hash, JSValue> {
    match js::with_str(ctx, v, |b| match b {
        b"SHA-1" => Some(Hash::Sha1),
        b"SHA-256" => Some(Hash::Sha256),
        b"SHA-384" => Some(Hash::Sha384),
        b"SHA-512" => Some(Hash::Sha512),
        _ => None,
    }) {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err(js::throw_type_error(ctx, "unsupported hash")),
        Err(Pending) => Err(q::JS_EXCEPTION),
    }
}

fn bytes(ctx: *mut JSContext, v: JSValue) -> Result<Vec<u8>, JSValue> {
    match js::bytes_of(ctx, v, false) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(js::throw_type_error(ctx, "expected an ArrayBuffer or a TypedArray")),
        Err(Pending) => Err(q::JS_EXCEPTION),
    }
}

fn new_bytes(ctx: *mut JSContext, b: &[u8]) -> JSValue {
    // SAFETY: `b` is valid for its length; QuickJS copies it.
    unsafe { q::JS_NewUint8ArrayCopy(ctx, b.as_ptr(), b.len() as _) }
}

macro_rules! try_js {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(exc) => return exc,
        }
    };
}

/// `digest(hash, bytes)` → `Uint8Array`.
unsafe extern "C" fn digest(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let h = try_js!(hash_of(ctx, arg(a, 0)));
    let data = try_js!(bytes(ctx, arg(a, 1)));
    match h {
        Hash::Sha1 => new_bytes(ctx, &Sha1::digest(&data)),
        Hash::Sha256 => new_bytes(ctx, &Sha256::digest(&data)),
        Hash::Sha384 => new_bytes(ctx, &Sha384::digest(&data)),
        Hash::Sha512 => new_bytes(ctx, &Sha512::digest(&data)),
    }
}

fn hmac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> M {
    // HMAC takes keys of any length (`KeyInit::new_from_slice` never fails
    // for it).
    let mut m = <M as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data);
    m
}

/// `hmacSign(hash, key, data)` → `Uint8Array`.
unsafe extern "C" fn hmac_sign(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let h = try_js!(hash_of(ctx, arg(a, 0)));
    let key = try_js!(bytes(ctx, arg(a, 1)));
    let data = try_js!(bytes(ctx, arg(a, 2)));
    match h {
        Hash::Sha1 => new_bytes(ctx, &hmac::<Hmac<Sha1>>(&key, &data).finalize().into_bytes()),
        Hash::Sha256 => new_bytes(ctx, &hmac::<Hmac<Sha256>>(&key, &data).finalize().into_bytes()),
        Hash::Sha384 => new_bytes(ctx, &hmac::<Hmac<Sha384>>(&key, &data).finalize().into_bytes()),
        Hash::Sha512 => new_bytes(ctx, &hmac::<Hmac<Sha512>>(&key, &data).finalize().into_bytes()),
    }
}

/// `hmacVerify(hash, key, signature, data)` → boolean (constant-time
/// comparison).
unsafe extern "C" fn hmac_verify(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    let h = try_js!(hash_of(ctx, arg(a, 0)));
    let key = try_js!(bytes(ctx, arg(a, 1)));
    let sig = try_js!(bytes(ctx, arg(a, 2)));
    let data = try_js!(bytes(ctx, arg(a, 3)));
    let ok = match h {
        Hash::Sha1 => hmac::<Hmac<Sha1>>(&key, &data).verify_slice(&sig).is_ok(),
        Hash::Sha256 => hmac::<Hmac<Sha256>>(&key, &data).verify_slice(&sig).is_ok(),
        Hash::Sha384 => hmac::<Hmac<Sha384>>(&key, &data).verify_slice(&sig).is_ok(),
        Hash::Sha512 => hmac::<Hmac<Sha512>>(&key, &data).verify_slice(&sig).is_ok(),
    };
    if ok {
        q::JS_TRUE
    } else {
        q::JS_FALSE
    }
}

/// AES-GCM with a 96-bit nonce and a tag of `T` bytes: the ciphertext
/// followed by the tag (encrypt), or the plaintext (decrypt; `None` if the
/// tag does not match).
fn gcm<C, T>(encrypt: bool, key: &[u8], iv: &[u8], aad: &[u8], mut data: Vec<u8>) -> Option<Vec<u8>>
where
    AesGcm<C, U12, T>: KeyInit + AeadInPlace + AeadCore<NonceSize = U12, TagSize = T>,
    T: TagSize + ArrayLength<u8>,
{
    let cipher = AesGcm::<C, U12, T>::new_from_slice(key).ok()?;
    let nonce = aes_gcm::Nonce::<U12>::from_slice(iv);
    if encrypt {
        let tag = cipher.encrypt_in_place_detached(nonce, aad, &mut data).ok()?;
        data.extend_from_slice(&tag);
        Some(data)
    } else {
        let t = T::USIZE;
        if data.len() < t {
            return None;
        }
        let tag_bytes = data.split_off(data.len() - t);
        let tag = aes_gcm::aead::generic_array::GenericArray::<u8, T>::from_slice(&tag_bytes);
        cipher.decrypt_in_place_detached(nonce, aad, &mut data, tag).ok()?;
        Some(data)
    }
}

fn gcm_key<T>(encrypt: bool, key: &[u8], iv: &[u8], aad: &[u8], data: Vec<u8>) -> Option<Vec<u8>>
where
    T: TagSize + ArrayLength<u8>,
    AesGcm<Aes128, U12, T>: KeyInit + AeadInPlace + AeadCore<NonceSize = U12, TagSize = T>,
    AesGcm<Aes192, U12, T>: KeyInit + AeadInPlace + AeadCore<NonceSize = U12, TagSize = T>,
    AesGcm<Aes256, U12, T>: KeyInit + AeadInPlace + AeadCore<NonceSize = U12, TagSize = T>,
{
    match key.len() {
        16 => gcm::<Aes128, T>(encrypt, key, iv, aad, data),
        24 => gcm::<Aes192, T>(encrypt, key, iv, aad, data),
        32 => gcm::<Aes256, T>(encrypt, key, iv, aad, data),
        _ => None,
    }
}

/// `aesGcm(encrypt, key, iv, aad, tagBytes, data)` → `Uint8Array`
/// (ciphertext‖tag, or plaintext), or `null` if decryption failed. Throws
/// a `NotSupportedError` DOMException for an iv other than 96 bits or a
/// tag shorter than 96 bits (RustCrypto's AES-GCM supports only these).
unsafe extern "C" fn aes_gcm(ctx: *mut JSContext, _this: JSValue, argc: c_int, argv: *mut JSValue) -> JSValue {
    // SAFETY: QuickJS passes `argc` borrowed arguments.
    let a = unsafe { args(argc, argv) };
    // SAFETY: `JS_ToBool` only reads its borrowed argument.
    let encrypt = unsafe { q::JS_ToBool(ctx, arg(a, 0)) } > 0;
    let key = try_js!(bytes(ctx, arg(a, 1)));
    let iv = try_js!(bytes(ctx, arg(a, 2)));
    let aad = try_js!(bytes(ctx, arg(a, 3)));
    let mut tag_len: i32 = 0;
    // SAFETY: borrowed argument; JS_ToInt32 only reads it.
    if unsafe { q::JS_ToInt32(ctx, &mut tag_len, arg(a, 4)) } < 0 {
        return q::JS_EXCEPTION;
    }
    let data = try_js!(bytes(ctx, arg(a, 5)));
    if iv.len() != 12 {
        return throw_dom(ctx, c"NotSupportedError", "AES-GCM: only 96-bit (12-byte) ivs are supported");
    }
    let out = match tag_len {
        12 => gcm_key::<U12>(encrypt, &key, &iv, &aad, data),
        13 => gcm_key::<U13>(encrypt, &key, &iv, &aad, data),
        14 => gcm_key::<U14>(encrypt, &key, &iv, &aad, data),
        15 => gcm_key::<U15>(encrypt, &key, &iv, &aad, data),
        16 => gcm_key::<U16>(encrypt, &key, &iv, &aad, data),
        _ => return throw_dom(ctx, c"NotSupportedError", "AES-GCM: tags shorter than 96 bits are not supported"),
    };
    match out {
        Some(b) => new_bytes(ctx, &b),
        None if encrypt => throw_dom(ctx, c"OperationError", "AES-GCM: encryption failed"),
        None => q::JS_NULL,
    }
}

/// Throws a `DOMException` named `name`.
pub fn throw_dom(ctx: *mut JSContext, name: &CStr, msg: &str) -> JSValue {
    let mut buf: Vec<u8> = msg.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    buf.push(0);
    // SAFETY: "%s" with one NUL-terminated string argument; `name` is
    // NUL-terminated.
    unsafe { q::JS_ThrowDOMException(ctx, name.as_ptr(), c"%s".as_ptr(), buf.as_ptr()) }
}

type Native = unsafe extern "C" fn(*mut JSContext, JSValue, c_int, *mut JSValue) -> JSValue;

/// The natives `webapi.js` builds `crypto.subtle` on.
pub const NATIVES: &[(&CStr, Native, c_int)] = &[
    (c"digest", digest, 2),
    (c"hmacSign", hmac_sign, 3),
    (c"hmacVerify", hmac_verify, 4),
    (c"aesGcm", aes_gcm, 6),
];
