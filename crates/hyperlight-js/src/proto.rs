//! `ProtoJSSandbox`: a booted guest whose host functions are being
//! registered.

use std::fmt::Display;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::driver::Guest;
use crate::error::Result;
use crate::host_functions::{typed, CancelToken, HostFunctions};
use crate::js_sandbox::JSSandbox;
use crate::observability::StageGauge;

/// A sandbox whose micro-VM is running and waiting for the JavaScript
/// runtime to be loaded. Register host functions here; they are applied by
/// [`load_runtime`](Self::load_runtime).
pub struct ProtoJSSandbox {
    guest: Guest,
    host_functions: HostFunctions,
    _stage: StageGauge,
}

impl std::fmt::Debug for ProtoJSSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtoJSSandbox").finish_non_exhaustive()
    }
}

/// Registers functions in one host module; see
/// [`ProtoJSSandbox::host_module`].
pub struct HostModule<'a> {
    proto: &'a mut ProtoJSSandbox,
    name: String,
}

impl HostModule<'_> {
    /// Registers a typed function: the guest's arguments (a JSON array) are
    /// deserialised into `A` (a tuple such as `(i64, i64)`), the result
    /// serialised. An `Err` is thrown in the guest as an `Error` with its
    /// message.
    pub fn register<A, R, E, F>(self, function: &str, f: F) -> Result<Self>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Display,
        F: Fn(A) -> std::result::Result<R, E> + Send + Sync + 'static,
    {
        self.proto
            .host_functions
            .insert(&self.name, function, typed(f))?;
        Ok(self)
    }

    /// Registers a raw function: JSON array of arguments in, JSON text out.
    pub fn register_raw<F>(self, function: &str, f: F) -> Result<Self>
    where
        F: Fn(&str) -> std::result::Result<String, String> + Send + Sync + 'static,
    {
        self.proto
            .host_functions
            .insert(&self.name, function, Arc::new(f))?;
        Ok(self)
    }
}

impl ProtoJSSandbox {
    pub(crate) fn new(guest: Guest) -> Self {
        Self {
            guest,
            host_functions: HostFunctions::default(),
            _stage: StageGauge::new("proto"),
        }
    }

    /// A builder for functions of the host module `name`, imported by the
    /// guest as `import * as m from "host:<name>"`.
    pub fn host_module(&mut self, name: &str) -> Result<HostModule<'_>> {
        crate::names::check_name("the host module name", name)?;
        Ok(HostModule {
            proto: self,
            name: name.to_string(),
        })
    }

    /// Registers one typed function; shorthand for
    /// `host_module(module)?.register(function, f)`.
    pub fn register<A, R, E, F>(&mut self, module: &str, function: &str, f: F) -> Result<()>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Display,
        F: Fn(A) -> std::result::Result<R, E> + Send + Sync + 'static,
    {
        self.host_functions.insert(module, function, typed(f))
    }

    /// Registers one raw function (JSON array in, JSON text out).
    pub fn register_raw<F>(&mut self, module: &str, function: &str, f: F) -> Result<()>
    where
        F: Fn(&str) -> std::result::Result<String, String> + Send + Sync + 'static,
    {
        self.host_functions.insert(module, function, Arc::new(f))
    }

    /// Registers one raw function that is also handed a [`CancelToken`]: a
    /// function that waits (for another thread, for I/O) should poll it
    /// and give up once the call was killed. Its answer is then discarded.
    pub fn register_cancellable<F>(&mut self, module: &str, function: &str, f: F) -> Result<()>
    where
        F: Fn(&str, &CancelToken) -> std::result::Result<String, String> + Send + Sync + 'static,
    {
        self.host_functions
            .insert_cancellable(module, function, Arc::new(f))
    }

    /// Loads the JavaScript runtime: applies the host functions and records
    /// the state that [`LoadedJSSandbox::unload`](crate::LoadedJSSandbox::unload)
    /// returns to.
    pub fn load_runtime(self) -> Result<JSSandbox> {
        let ProtoJSSandbox {
            guest,
            host_functions,
            _stage,
        } = self;
        let _span =
            tracing::info_span!("hyperlight_js.load_runtime", sandbox_id = guest.vm.id()).entered();
        Ok(JSSandbox::new(guest, Arc::new(host_functions)))
    }
}
