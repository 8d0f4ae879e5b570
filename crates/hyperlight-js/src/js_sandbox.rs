//! `JSSandbox`: the runtime is loaded; handlers and modules are collected
//! on the host until [`JSSandbox::get_loaded_sandbox`] sends them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::driver::Guest;
use crate::error::{Error, Result};
use crate::host_functions::HostFunctions;
use crate::loaded::LoadedJSSandbox;
use crate::module_loader::{ModuleLoader, ModuleSources};
use crate::names::{check_name, module_namespace};
use crate::observability::{self, StageGauge};

/// The namespace of modules added without one.
pub const DEFAULT_NAMESPACE: &str = "user";
/// The namespace reserved for host modules.
pub const HOST_NAMESPACE: &str = "host";

/// A sandbox with the JavaScript runtime loaded, collecting handlers and
/// modules. Nothing is sent to the guest until
/// [`get_loaded_sandbox`](Self::get_loaded_sandbox).
pub struct JSSandbox {
    pub(crate) guest: Guest,
    host_functions: Arc<HostFunctions>,
    handlers: BTreeMap<String, String>,
    modules: BTreeMap<(String, String), String>,
    loaders: BTreeMap<String, Arc<dyn ModuleLoader>>,
    _stage: StageGauge,
}

impl std::fmt::Debug for JSSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JSSandbox")
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .field("modules", &self.modules.keys().collect::<Vec<_>>())
            .field("module_loaders", &self.loaders.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// [`JSSandbox::get_loaded_sandbox`] failed: the error, and the sandbox
/// back in its pre-load state (handlers and modules kept) so it can be
/// fixed and tried again.
#[derive(Debug)]
pub struct LoadFailure {
    /// What went wrong.
    pub error: Error,
    /// The sandbox, unchanged.
    pub sandbox: JSSandbox,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "loading the handlers failed: {}", self.error)
    }
}

impl std::error::Error for LoadFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<Box<LoadFailure>> for Error {
    fn from(f: Box<LoadFailure>) -> Self {
        f.error
    }
}

impl JSSandbox {
    pub(crate) fn new(guest: Guest, host_functions: Arc<HostFunctions>) -> Self {
        Self {
            guest,
            host_functions,
            handlers: BTreeMap::new(),
            modules: BTreeMap::new(),
            loaders: BTreeMap::new(),
            _stage: StageGauge::new("runtime"),
        }
    }

    pub(crate) fn with_loaders(mut self, loaders: BTreeMap<String, Arc<dyn ModuleLoader>>) -> Self {
        self.loaders = loaders;
        self
    }

    /// Sets where the guest's imports of namespace `namespace` (`user`
    /// when `None`) come from when no module of that name was added with
    /// [`add_module`](Self::add_module): e.g. a
    /// [`FileSystemLoader`](crate::FileSystemLoader) or
    /// [`EmbeddedModules`](crate::EmbeddedModules). Replaces the namespace's
    /// previous loader. Handlers import relative to the root of `user`, so
    /// with a loader for `user`, `import { add } from './lib/math.js'` in a
    /// handler loads `lib/math.js` from it, and relative imports inside
    /// that module resolve against `lib/` (see `docs/modules.md`).
    ///
    /// Modules are loaded lazily, the first time they are imported (at
    /// load for static imports, during a call for `import()`), one exit
    /// each. Loaders are kept by [`LoadedJSSandbox::unload`]. Errors:
    /// an invalid namespace, or `host`.
    pub fn set_module_loader(
        &mut self,
        namespace: Option<&str>,
        loader: impl ModuleLoader + 'static,
    ) -> Result<()> {
        let ns = module_namespace(namespace)?;
        self.loaders.insert(ns.to_string(), Arc::new(loader));
        Ok(())
    }

    /// Removes the module loader of `namespace` (`user` when `None`):
    /// `Ok(true)` if there was one. An invalid namespace is an error.
    pub fn remove_module_loader(&mut self, namespace: Option<&str>) -> Result<bool> {
        let ns = module_namespace(namespace)?;
        Ok(self.loaders.remove(ns).is_some())
    }

    /// Adds a handler under a routing key. `source` must define
    /// `function handler(event)` (exported or not); it may import user
    /// modules, `host:<name>` modules and `crypto`. A key already in use is
    /// an error.
    pub fn add_handler(&mut self, key: &str, source: &str) -> Result<()> {
        check_name("the handler name", key)?;
        if self.handlers.contains_key(key) {
            return Err(Error::invalid(format!(
                "a handler named {key:?} is already added"
            )));
        }
        self.handlers.insert(key.to_string(), source.to_string());
        Ok(())
    }

    /// Removes the handler with that routing key: `Ok(true)` if it was
    /// added, `Ok(false)` if no handler has that key. An invalid key (e.g.
    /// empty) is an error.
    pub fn remove_handler(&mut self, key: &str) -> Result<bool> {
        check_name("the handler name", key)?;
        Ok(self.handlers.remove(key).is_some())
    }

    /// Removes every handler.
    pub fn clear_handlers(&mut self) {
        self.handlers.clear();
    }

    /// Adds an ES module importable as `<namespace>:<name>` (namespace
    /// `user` when `None`). The `host` namespace is reserved. The name is a
    /// module path (`math`, `lib/format.js`): relative imports inside the
    /// module resolve against its directory, and handlers can import it
    /// as `./<name>` too. It is normalized as an import would be
    /// (`lib/./x.js` is `lib/x.js`); a name that climbs above the root with
    /// `..` is an error.
    pub fn add_module(&mut self, name: &str, source: &str, namespace: Option<&str>) -> Result<()> {
        let key = module_key(name, namespace)?;
        if self.modules.contains_key(&key) {
            return Err(Error::invalid(format!(
                "module {}:{} is already added",
                key.0, key.1
            )));
        }
        self.modules.insert(key, source.to_string());
        Ok(())
    }

    /// Removes a module (namespace `user` when `None`): `Ok(true)` if it
    /// was added, `Ok(false)` if there is no such module. An invalid name or
    /// namespace (e.g. empty, or the reserved `host`) is an error.
    pub fn remove_module(&mut self, name: &str, namespace: Option<&str>) -> Result<bool> {
        let key = module_key(name, namespace)?;
        Ok(self.modules.remove(&key).is_some())
    }

    /// Removes every module.
    pub fn clear_modules(&mut self) {
        self.modules.clear();
    }

    /// The routing keys of the handlers added so far.
    pub fn handler_names(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// Whether the sandbox is poisoned: an earlier failure (a guest crash
    /// or a kill while loading, a reset that failed) left its VM unusable.
    /// A poisoned `JSSandbox` cannot load handlers (`get_loaded_sandbox`
    /// fails with [`Error::Poisoned`]); build a new sandbox. `false` for
    /// every sandbox that [`ProtoJSSandbox::load_runtime`](crate::ProtoJSSandbox::load_runtime)
    /// or [`LoadedJSSandbox::unload`] returns.
    pub fn poisoned(&self) -> bool {
        self.guest.vm.poisoned().is_some()
    }

    /// Sends the modules and handlers to the guest and compiles the
    /// handlers (modules compile lazily on first import). On failure the
    /// sandbox comes back unchanged inside the [`LoadFailure`].
    pub fn get_loaded_sandbox(mut self) -> std::result::Result<LoadedJSSandbox, Box<LoadFailure>> {
        let span = tracing::info_span!(
            "hyperlight_js.load",
            sandbox_id = self.guest.vm.id(),
            handlers = self.handlers.len(),
            modules = self.modules.len(),
            outcome = tracing::field::Empty,
        );
        let _entered = span.enter();
        let sent = self.send_all();
        let outcome = observability::outcome(&sent);
        span.record("outcome", outcome);
        metrics::counter!(observability::LOADS, "outcome" => outcome).increment(1);
        match sent {
            Ok(()) => {
                let keys = self.handlers.keys().cloned().collect();
                Ok(LoadedJSSandbox::new(self.guest, self.host_functions, keys))
            }
            Err(error) => {
                // Put the guest back exactly as it was before the load.
                if let Err(e) = self.guest.reset() {
                    tracing::error!(error = %e, "could not reset the guest after a failed load");
                }
                Err(Box::new(LoadFailure {
                    error,
                    sandbox: self,
                }))
            }
        }
    }

    fn send_all(&mut self) -> Result<()> {
        if self.handlers.is_empty() {
            return Err(Error::invalid(
                "no handler is added; add one with add_handler first",
            ));
        }
        self.guest.modules = ModuleSources {
            loaders: self.loaders.clone(),
            added: Arc::new(self.modules.clone()),
        };
        self.guest.set_host_modules(self.host_functions.clone())?;
        for ((ns, name), source) in &self.modules {
            self.guest.add_module(ns, name, source)?;
        }
        for (key, source) in &self.handlers {
            self.guest.add_handler(key, source)?;
        }
        self.guest.link()
    }
}

fn module_key(name: &str, namespace: Option<&str>) -> Result<(String, String)> {
    check_name("the module name", name)?;
    let ns = module_namespace(namespace)?;
    let resolved = hyperlight_abi::specifier::resolve(None, &format!("{ns}:{name}"))
        .map_err(|e| Error::invalid(format!("the module name {name:?} {e}")))?;
    let path = resolved.split_once(':').map_or(name, |(_, p)| p);
    Ok((ns.to_string(), path.to_string()))
}
