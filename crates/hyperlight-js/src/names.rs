//! The rules for names: handler routing keys, module names and
//! namespaces, host module and function names. Shared by this crate's API
//! and the Node binding, so both accept and refuse exactly the same names.

use crate::error::{Error, Result};
use crate::js_sandbox::{DEFAULT_NAMESPACE, HOST_NAMESPACE};

/// Longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Checks a name: not empty, at most [`MAX_NAME_LEN`] bytes, no control
/// characters. `what` names it in the error, e.g. `"the handler name"`.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "{what} is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        )));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "{what} {name:?} contains control characters"
        )));
    }
    Ok(())
}

/// The namespace a user module goes in: [`DEFAULT_NAMESPACE`] when `None`.
/// A namespace is a valid name without `:` or `/`, and not the reserved
/// [`HOST_NAMESPACE`].
pub fn module_namespace(namespace: Option<&str>) -> Result<&str> {
    let ns = namespace.unwrap_or(DEFAULT_NAMESPACE);
    check_name("the module namespace", ns)?;
    if ns == HOST_NAMESPACE {
        return Err(Error::invalid(
            "the `host` namespace is reserved for host modules",
        ));
    }
    if ns.contains(':') || ns.contains('/') {
        return Err(Error::invalid(format!(
            "the module namespace {ns:?} must not contain ':' or '/'"
        )));
    }
    Ok(ns)
}

/// Module specifiers the guest resolves to its own built-in modules: a user
/// module that would be imported under one of them could never be reached
/// (the built-in wins), so [`check_module`] refuses it. Keep in step with
/// the guest's `modules::normalize`.
pub const BUILTIN_MODULES: &[&str] = &["crypto", "node:crypto"];

/// Checks that a user module `namespace:name` (namespace already checked
/// with [`module_namespace`]) would not be shadowed by a built-in module.
pub fn check_module(namespace: &str, name: &str) -> Result<()> {
    let spec = format!("{namespace}:{name}");
    if BUILTIN_MODULES.contains(&spec.as_str()) {
        return Err(Error::invalid(format!(
            "module {spec} would be shadowed by the built-in module of that name \
             (imports of '{spec}' always get the built-in); choose another name or namespace"
        )));
    }
    Ok(())
}

/// Checks handler or module source text: the guest's compiler takes
/// NUL-terminated text, so a NUL byte would cut it short.
pub fn check_source(what: &str, source: &str) -> Result<()> {
    match source.find('\0') {
        Some(at) => Err(Error::invalid(format!(
            "{what} contains a NUL character at byte {at}; JavaScript source cannot contain one \
             (write \\0 inside a string literal instead)"
        ))),
        None => Ok(()),
    }
}
