//! Classic scripts (REQ_EVAL_SCRIPT): source text evaluated as an
//! ECMAScript *Script* (global code) in the guest's realm, as a `<script>`
//! element or Node's `vm.runInThisContext` would: top-level `var` and
//! function declarations become properties of the global object, `let`,
//! `const` and `class` declarations go into the realm's global lexical
//! environment (visible to later scripts and to handlers), `this` is the
//! global object, and the code is sloppy unless it starts with a
//! `"use strict"` directive. Indirect `eval` is not the same thing: its
//! lexical declarations stay in a fresh environment and vanish.
//!
//! After the script, the pending jobs run (promise reactions,
//! `queueMicrotask`), as after a call. The answer carries the script's
//! completion value as JSON when there is one.
//!
//! Value ownership: the compiled script's result and its JSON text are
//! `Owned` and freed on every path.

use alloc::format;
use core::ffi::c_int;

use hyperlight_abi::js::{self as proto, error_code, Reader, Writer};
use rquickjs_sys as q;

use crate::js::{self, Owned, Pending};
use crate::protocol::{self, Failure};
use crate::control;

/// REQ_EVAL_SCRIPT: evaluates the script and writes its answer. `Ok(())`
/// means the answer (RESP_OK) is written.
pub fn eval(payload: &[u8]) -> Result<(), Failure> {
    let ctx = js::ctx();
    let mut r = Reader::new(payload);
    let bad = |_| Failure::code(error_code::BAD_REQUEST, "malformed script request");
    let filename = r.str().map_err(bad)?;
    let source = r.str().map_err(bad)?;
    let filename = if filename.is_empty() { "<script>" } else { filename };
    if filename.contains('\0') {
        return Err(Failure::code(error_code::BAD_REQUEST, "a script's file name must not contain NUL"));
    }
    let name = js::c_bytes(filename.as_bytes());
    let Some(code) = js::try_c_bytes(source.as_bytes()) else {
        return Err(Failure::code(error_code::OUT_OF_MEMORY, "no guest memory left to copy the script"));
    };
    let len = source.len();
    // SAFETY: `code` is NUL-terminated after `len` bytes and `name` is
    // NUL-terminated; the result is owned. The request payload is not used
    // after this point (the script may make host calls).
    let value = Owned::new(ctx, unsafe {
        q::JS_Eval(ctx, code.as_ptr().cast(), len as _, name.as_ptr().cast(), q::JS_EVAL_TYPE_GLOBAL as c_int)
    });
    drop(code);
    // The script's promise reactions run before the answer, as after a
    // call (an uncaught rejection in a job is reported on the print sink;
    // timers still pending are dropped). Before the answer is written: a
    // job may exit to the host, which reuses the output buffer.
    js::drain_jobs();
    crate::timers::clear();
    match value {
        Ok(v) => answer(&v),
        Err(Pending) => Err(Failure::pending()),
    }
}

fn answer(v: &Owned) -> Result<(), Failure> {
    let ctx = js::ctx();
    let json = match js::json_stringify(ctx, v.raw()) {
        Ok(j) => j,
        Err(Pending) => {
            return Err(match Failure::pending() {
                Failure::Exception(info) => Failure::code(
                    error_code::RESULT_NOT_SERIALIZABLE,
                    format!(
                        "the script ran, but its completion value cannot be serialised to JSON: {}: {}",
                        info.name, info.message
                    ),
                ),
                other => other,
            })
        }
    };
    let Some(json) = json else {
        control::write_message(proto::RESP_OK, |body| {
            let mut w = Writer::new(body);
            w.u32(0).ok()?;
            Some(w.len())
        });
        return Ok(());
    };
    let written = js::with_str(ctx, json.raw(), |bytes| {
        let ok = control::write_message(proto::RESP_OK, |body| {
            let s = core::str::from_utf8(bytes).ok()?;
            let mut w = Writer::new(body);
            w.u32(1).ok()?.str(s).ok()?;
            Some(w.len())
        });
        if ok {
            Ok(())
        } else {
            Err(bytes.len())
        }
    })
    .map_err(|Pending| Failure::pending())?;
    written.map_err(|len| {
        Failure::code(
            error_code::RESULT_TOO_LARGE,
            format!(
                "the script ran, but its completion value is {len} bytes of JSON and the output buffer holds at most {} bytes",
                protocol::output_capacity().saturating_sub(8)
            ),
        )
    })
}
