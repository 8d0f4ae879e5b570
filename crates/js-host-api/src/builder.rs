//! `SandboxBuilder`.

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{Env, Result};
use napi_derive::napi;

use crate::args;
use crate::errors::Failure;
use crate::js::Raw;
use crate::proto::ProtoJSSandbox;
use crate::worker::{Core, Sizes};

/// Creates and configures a new sandbox: a micro-VM with the JavaScript
/// guest booted and waiting. Every size is checked against its own bounds
/// when it is set (`ERR_INVALID_ARG` naming the bound); sizes that together
/// exceed the guest's 1 GiB of memory are `ERR_INVALID_ARG` from `build()`.
/// Every set of sizes `build()` accepts boots. `build()` consumes the
/// builder.
#[napi]
pub struct SandboxBuilder {
    sizes: Sizes,
    consumed: bool,
}

impl SandboxBuilder {
    /// Reads a size, checks it against its own bounds (`check`), then that
    /// the builder is not consumed: a bad argument is `ERR_INVALID_ARG` in
    /// every state.
    fn set_size(
        &mut self,
        env: &Env,
        bytes: Unknown<'_>,
        what: &str,
        check: impl FnOnce(&str, u64) -> std::result::Result<(), Failure>,
    ) -> Result<u64> {
        let n = args::size(env.raw(), args::raw(&bytes), what)
            .and_then(|n| check(what, n).map(|()| n))
            .map_err(|f| f.throw(env.raw()))?;
        if self.consumed {
            return Err(Failure::consumed("SandboxBuilder", "build()").throw(env.raw()));
        }
        Ok(n)
    }

    fn set_string(&mut self, env: &Env, v: Unknown<'_>, what: &str) -> Result<String> {
        let s = args::string(env.raw(), args::raw(&v), what).map_err(|f| f.throw(env.raw()))?;
        if self.consumed {
            return Err(Failure::consumed("SandboxBuilder", "build()").throw(env.raw()));
        }
        Ok(s)
    }
}

#[napi]
impl SandboxBuilder {
    /// A builder with the default sizes.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self {
            sizes: Sizes::default(),
            consumed: false,
        }
    }

    /// Sets the guest heap size in bytes: an integer of at least 4 MiB
    /// (4,194,304; the runtime and its built-ins need 1.5 MiB). Default
    /// 256 MiB.
    /// Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_heap_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        let n = self.set_size(&env, bytes, "the heap size", |what, n| {
            at_least(what, n, hyperlight_js::MIN_HEAP_SIZE)
        })?;
        self.sizes.heap = Some(n);
        Ok(this)
    }

    /// Sets the guest scratch size in bytes, which includes the stack: an
    /// integer of at least 256 KiB (262,144; installing the built-ins needs
    /// 80 KiB). Default 8 MiB. Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_scratch_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        let n = self.set_size(&env, bytes, "the scratch size", |what, n| {
            at_least(what, n, hyperlight_js::MIN_SCRATCH_SIZE)
        })?;
        self.sizes.scratch = Some(n);
        Ok(this)
    }

    /// Sets the guest input buffer size in bytes: an integer from 4 KiB
    /// (4,096, one page) to 256 MiB. It bounds each event and each source
    /// sent to the guest. Default 16 MiB. Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_input_buffer_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        self.sizes.input = Some(self.set_size(&env, bytes, "the input buffer size", buffer)?);
        Ok(this)
    }

    /// Sets the guest output buffer size in bytes: an integer from 4 KiB
    /// (4,096, one page) to 256 MiB. It bounds each result and each host
    /// call. Default 16 MiB. Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_output_buffer_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        self.sizes.output = Some(self.set_size(&env, bytes, "the output buffer size", buffer)?);
        Ok(this)
    }

    /// Where guest `console.*` and `print` output goes: `sink(line, level)`
    /// is called on the main thread for each line, with the raw text
    /// (control characters included) and `level` one of `'print'`,
    /// `'debug'`, `'info'`, `'warn'`, `'error'`. The guest never waits for
    /// it: lines travel through a bounded queue, and lines that do not fit
    /// are dropped and reported with one line
    /// `[hyperlight-js: N lines of guest output were dropped ...]` at level
    /// `'warn'`. `null` restores the default: the process's stdout
    /// (warnings and errors to stderr), written without blocking the
    /// sandbox, with terminal control characters escaped and continuation
    /// lines marked `| `. Chainable.
    #[napi(
        ts_args_type = "sink: ((line: string, level: 'print' | 'debug' | 'info' | 'warn' | 'error') => void) | null",
        ts_return_type = "this"
    )]
    pub fn set_print_sink<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        sink: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        let e = env.raw();
        let sink = if args::is_nullish(e, args::raw(&sink)) {
            None
        } else {
            let f =
                args::function(e, args::raw(&sink), "the print sink").map_err(|f| f.throw(e))?;
            Some(f)
        };
        if self.consumed {
            return Err(Failure::consumed("SandboxBuilder", "build()").throw(e));
        }
        self.sizes.print_sink = match sink {
            Some(f) => Some(crate::print::JsPrintSink::new(e, f)?),
            None => None,
        };
        Ok(this)
    }

    /// Sets the resolution of the guest's `performance.now()` in
    /// microseconds: readings are rounded down to a multiple of it, which
    /// makes timing attacks need many more repetitions. An integer from 0
    /// (full resolution, tens of nanoseconds) to 1,000,000. Default 5, the
    /// coarsening the W3C High Resolution Time specification prescribes for
    /// cross-origin-isolated pages. `Date.now()` has millisecond resolution
    /// either way. Chainable.
    #[napi(ts_args_type = "microseconds: number", ts_return_type = "this")]
    pub fn set_clock_resolution_us<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        microseconds: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        let e = env.raw();
        let v = args::raw(&microseconds);
        let n = crate::js::get_number(e, v)
            .filter(|n| n.is_finite() && n.fract() == 0.0 && (0.0..=1_000_000.0).contains(n))
            .ok_or_else(|| {
                Failure::invalid("the clock resolution must be an integer number of microseconds from 0 to 1000000")
                    .throw(e)
            })?;
        if self.consumed {
            return Err(Failure::consumed("SandboxBuilder", "build()").throw(e));
        }
        self.sizes.clock_resolution_us = Some(n as u64);
        Ok(this)
    }

    /// Sets the sandbox's default locale for `Intl` and the
    /// locale-sensitive methods: a BCP 47 tag (default `en-US`). A
    /// malformed or unknown locale rejects `build()` with
    /// `ERR_INVALID_ARG`. Chainable.
    #[napi(ts_args_type = "locale: string", ts_return_type = "this")]
    pub fn set_locale<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        locale: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        let s = self.set_string(&env, locale, "the locale")?;
        self.sizes.locale = Some(s);
        Ok(this)
    }

    /// Sets the sandbox's default time zone for `Intl.DateTimeFormat` and
    /// `Date.prototype.toLocale*String`: an IANA name or `±HH:MM` (default
    /// `UTC`). An unknown zone rejects `build()` with `ERR_INVALID_ARG`.
    /// Chainable.
    #[napi(ts_args_type = "timeZone: string", ts_return_type = "this")]
    pub fn set_time_zone<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        time_zone: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        let s = self.set_string(&env, time_zone, "the time zone")?;
        self.sizes.time_zone = Some(s);
        Ok(this)
    }

    /// Creates the micro-VM on a new sandbox thread and boots the guest.
    /// Consumes the builder.
    #[napi(ts_return_type = "Promise<ProtoJSSandbox>")]
    pub fn build(&mut self, env: Env) -> Result<Raw> {
        if self.consumed {
            return crate::main_thread::rejected(
                env.raw(),
                Failure::consumed("SandboxBuilder", "build()"),
            );
        }
        self.consumed = true;
        let promise = Core::spawn(env.raw(), self.sizes.clone(), |env, core| {
            let proto = ProtoJSSandbox::new(core);
            // SAFETY: valid env on the main thread.
            unsafe { ToNapiValue::to_napi_value(env, proto) }.map_err(Failure::internal)
        })?;
        Ok(Raw(promise))
    }
}

/// Refuses a size below the smallest that boots the runtime.
fn at_least(what: &str, n: u64, min: u64) -> std::result::Result<(), Failure> {
    if n < min {
        return Err(Failure::invalid(format!(
            "{what} is {n} bytes; the smallest that boots the JavaScript runtime is {min} bytes ({} KiB)",
            min >> 10
        )));
    }
    Ok(())
}

/// Refuses an input or output buffer size out of
/// `MIN_BUFFER_SIZE..=MAX_BUFFER_SIZE`.
fn buffer(what: &str, n: u64) -> std::result::Result<(), Failure> {
    let (min, max) = (
        hyperlight_js::MIN_BUFFER_SIZE,
        hyperlight_js::MAX_BUFFER_SIZE,
    );
    if !(min..=max).contains(&n) {
        return Err(Failure::invalid(format!(
            "{what} is {n} bytes; it must be from {min} bytes (one page) to {max} bytes ({} MiB)",
            max >> 20
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperlight_js::ErrorCode;

    #[test]
    fn a_size_below_its_minimum_is_invalid_and_names_the_minimum() {
        assert!(at_least("the heap size", 4 << 20, 4 << 20).is_ok());
        let f = at_least("the heap size", (4 << 20) - 1, 4 << 20).unwrap_err();
        assert_eq!(f.code, ErrorCode::InvalidArg);
        assert_eq!(
            f.message,
            "the heap size is 4194303 bytes; the smallest that boots the JavaScript runtime \
             is 4194304 bytes (4096 KiB)"
        );
    }

    #[test]
    fn buffer_sizes_are_one_page_to_256_mib() {
        for ok in [4096, 4097, 16 << 20, 256 << 20] {
            assert!(buffer("the input buffer size", ok).is_ok(), "{ok}");
        }
        for bad in [1, 4095, (256 << 20) + 1] {
            let f = buffer("the output buffer size", bad).unwrap_err();
            assert_eq!(f.code, ErrorCode::InvalidArg);
            assert!(
                f.message.starts_with(&format!(
                    "the output buffer size is {bad} bytes; it must be from 4096 bytes"
                )),
                "{}",
                f.message
            );
        }
    }
}
