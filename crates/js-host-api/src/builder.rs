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
/// guest booted and waiting. Every size is checked when it is set
/// (`ERR_INVALID_ARG`); `build()` consumes the builder.
#[napi]
pub struct SandboxBuilder {
    sizes: Sizes,
    consumed: bool,
}

impl SandboxBuilder {
    fn set(&mut self, env: &Env, bytes: Unknown<'_>, what: &str) -> Result<u64> {
        let n = args::size(env.raw(), args::raw(&bytes), what).map_err(|f| f.throw(env.raw()))?;
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

    /// Sets the guest heap size in bytes (a positive integer). Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_heap_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        self.sizes.heap = Some(self.set(&env, bytes, "the heap size")?);
        Ok(this)
    }

    /// Sets the guest scratch size in bytes, which includes the stack (a
    /// positive integer). Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_scratch_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        self.sizes.scratch = Some(self.set(&env, bytes, "the scratch size")?);
        Ok(this)
    }

    /// Sets the guest input buffer size in bytes (a positive integer): it
    /// bounds each event and each source sent to the guest. Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_input_buffer_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        self.sizes.input = Some(self.set(&env, bytes, "the input buffer size")?);
        Ok(this)
    }

    /// Sets the guest output buffer size in bytes (a positive integer): it
    /// bounds each result and each host call. Chainable.
    #[napi(ts_args_type = "bytes: number", ts_return_type = "this")]
    pub fn set_output_buffer_size<'a>(
        &mut self,
        env: Env,
        this: napi::bindgen_prelude::This<'a>,
        bytes: Unknown<'_>,
    ) -> Result<napi::bindgen_prelude::This<'a>> {
        self.sizes.output = Some(self.set(&env, bytes, "the output buffer size")?);
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
