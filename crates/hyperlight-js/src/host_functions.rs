//! Host functions: Rust callbacks that guest JavaScript imports from
//! `host:<module>`.
//!
//! Arguments cross as a JSON array, results as JSON text. A callback's
//! error becomes an `Error` thrown in the guest, carrying the message.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::names::check_name;

/// A host function in its raw form: takes the guest's arguments as a JSON
/// array and returns a JSON value, or an error message.
pub type RawHostFunction = Arc<dyn Fn(&str) -> std::result::Result<String, String> + Send + Sync>;

/// A host function that can see whether its call was killed meanwhile (see
/// [`ProtoJSSandbox::register_cancellable`](crate::ProtoJSSandbox::register_cancellable)).
pub type CancellableHostFunction =
    Arc<dyn Fn(&str, &CancelToken) -> std::result::Result<String, String> + Send + Sync>;

pub use hyperlight_vm::CancelToken;

/// The host functions of one sandbox, by module and name.
#[derive(Clone, Default)]
pub(crate) struct HostFunctions {
    modules: BTreeMap<String, BTreeMap<String, CancellableHostFunction>>,
}

impl HostFunctions {
    pub(crate) fn insert(&mut self, module: &str, name: &str, f: RawHostFunction) -> Result<()> {
        self.insert_cancellable(
            module,
            name,
            Arc::new(move |args: &str, _: &CancelToken| f(args)),
        )
    }

    pub(crate) fn insert_cancellable(
        &mut self,
        module: &str,
        name: &str,
        f: CancellableHostFunction,
    ) -> Result<()> {
        check_name("the host module name", module)?;
        check_name("the host function name", name)?;
        let fns = self.modules.entry(module.to_string()).or_default();
        if fns.contains_key(name) {
            return Err(Error::invalid(format!(
                "host function {module}.{name} is already registered"
            )));
        }
        fns.insert(name.to_string(), f);
        Ok(())
    }

    pub(crate) fn get(&self, module: &str, name: &str) -> Option<&CancellableHostFunction> {
        self.modules.get(module)?.get(name)
    }

    /// Modules and their function names, in a stable order.
    pub(crate) fn table(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &str>)> {
        self.modules
            .iter()
            .map(|(m, fns)| (m.as_str(), fns.keys().map(String::as_str)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

fn mismatch(e: serde_json::Error) -> String {
    format!("the arguments do not match the host function's signature: {e}")
}

/// Wraps a typed callback: the JSON argument array is deserialised into
/// `A` (use a tuple, e.g. `(i64, i64)`), the result serialised.
pub(crate) fn typed<A, R, E, F>(f: F) -> RawHostFunction
where
    A: DeserializeOwned,
    R: Serialize,
    E: Display,
    F: Fn(A) -> std::result::Result<R, E> + Send + Sync + 'static,
{
    Arc::new(move |args: &str| {
        let args: A = match serde_json::from_str(args) {
            Ok(a) => a,
            // A function of no arguments is written `|(): ()|`; serde reads
            // `()` from `null`, not from an empty array.
            Err(_) if args.trim() == "[]" => serde_json::from_str("null").map_err(mismatch)?,
            Err(e) => return Err(mismatch(e)),
        };
        let result = f(args).map_err(|e| e.to_string())?;
        serde_json::to_string(&result)
            .map_err(|e| format!("the host function's result is not JSON: {e}"))
    })
}
