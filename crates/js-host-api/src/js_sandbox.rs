//! `JSSandbox`: handlers and modules are collected here (synchronously, on
//! the main thread) and sent to the guest by `getLoadedSandbox()`.
//!
//! The registry (handlers, modules) is host-side only: editing it never
//! touches the VM, so it works in every state of the object and never throws
//! `ERR_CONSUMED`. `getLoadedSandbox()` sends a copy of the registry as it is
//! when called; once it has succeeded the registry is detached from the
//! VM, and later edits have no effect on the `LoadedJSSandbox`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{Env, Result};
use napi_derive::napi;

use crate::args;
use crate::errors::Failure;
use crate::js::Raw;
use crate::loaded::LoadedJSSandbox;
use crate::main_thread::rejected;
use crate::worker::{CallDone, Core, Stage};

enum Slot {
    Ready(Arc<Core>),
    /// `getLoadedSandbox()` is running; on failure the sandbox comes back.
    /// (The core is kept so that `dispose()` can stop the load.)
    Loading(Arc<Core>),
    Consumed(&'static str),
}

/// A sandbox with the JavaScript runtime loaded. Add handlers and modules
/// (synchronous), then `getLoadedSandbox()`. The registry methods only edit
/// the host-side registry; after `getLoadedSandbox()` succeeded they still
/// work but have no effect on the `LoadedJSSandbox`.
#[napi(js_name = "JSSandbox")]
pub struct JSSandbox {
    slot: Arc<Mutex<Slot>>,
    handlers: BTreeMap<String, String>,
    modules: BTreeMap<(String, String), String>,
}

impl JSSandbox {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            slot: Arc::new(Mutex::new(Slot::Ready(core))),
            handlers: BTreeMap::new(),
            modules: BTreeMap::new(),
        }
    }

    /// Why `getLoadedSandbox()` cannot start now (only transitions check
    /// this; the registry methods work in every state).
    fn check_usable(&self) -> std::result::Result<(), Failure> {
        match &*self.slot.lock().unwrap_or_else(|p| p.into_inner()) {
            Slot::Ready(_) => Ok(()),
            Slot::Loading(_) => Err(Failure::new(
                hyperlight_js::ErrorCode::Consumed,
                "this JSSandbox is being loaded by getLoadedSandbox(); \
                 use the LoadedJSSandbox it resolves to",
            )),
            Slot::Consumed(by) => Err(Failure::consumed("JSSandbox", by)),
        }
    }
}

fn thrown<T>(env: &Env, r: std::result::Result<T, Failure>) -> Result<T> {
    r.map_err(|f| f.throw(env.raw()))
}

#[napi]
impl JSSandbox {
    /// Adds a handler under a routing key. `code` must define a function
    /// named `handler`; it may import user modules (`user:<name>`), host
    /// modules (`host:<name>`) and built-ins. A key already in use is an
    /// error. Edits the host-side registry only (see the type's docs).
    #[napi(ts_args_type = "name: string, code: string")]
    pub fn add_handler(&mut self, env: Env, name: Unknown<'_>, code: Unknown<'_>) -> Result<()> {
        let e = env.raw();
        let name = thrown(&env, args::name(e, args::raw(&name), "the handler name"))?;
        let code = thrown(&env, args::string(e, args::raw(&code), "the handler code"))?;
        thrown(
            &env,
            hyperlight_js::names::check_source("the handler code", &code).map_err(Failure::from),
        )?;
        if self.handlers.contains_key(&name) {
            return thrown(
                &env,
                Err(Failure::invalid(format!(
                    "a handler named {name:?} is already added"
                ))),
            );
        }
        self.handlers.insert(name, code);
        Ok(())
    }

    /// Removes the handler with that routing key: `true` if there was one,
    /// `false` if no handler has that key.
    #[napi(ts_args_type = "name: string")]
    pub fn remove_handler(&mut self, env: Env, name: Unknown<'_>) -> Result<bool> {
        let name = thrown(
            &env,
            args::name(env.raw(), args::raw(&name), "the handler name"),
        )?;
        Ok(self.handlers.remove(&name).is_some())
    }

    /// Removes every handler.
    #[napi]
    pub fn clear_handlers(&mut self) {
        self.handlers.clear();
    }

    /// Adds an ES module that handlers (and other modules) import as
    /// `<namespace>:<name>`; the namespace defaults to `user`, and `host`
    /// is reserved. Edits the host-side registry only.
    #[napi(ts_args_type = "name: string, source: string, namespace?: string")]
    pub fn add_module(
        &mut self,
        env: Env,
        name: Unknown<'_>,
        source: Unknown<'_>,
        namespace: Option<Unknown<'_>>,
    ) -> Result<()> {
        let e = env.raw();
        let name = thrown(&env, args::name(e, args::raw(&name), "the module name"))?;
        let source = thrown(
            &env,
            args::string(e, args::raw(&source), "the module source"),
        )?;
        let ns = thrown(&env, args::namespace(e, namespace.as_ref().map(args::raw)))?;
        thrown(
            &env,
            hyperlight_js::names::check_module(&ns, &name)
                .and_then(|()| hyperlight_js::names::check_source("the module source", &source))
                .map_err(Failure::from),
        )?;
        let key = (ns, name);
        if self.modules.contains_key(&key) {
            return thrown(
                &env,
                Err(Failure::invalid(format!(
                    "module {}:{} is already added",
                    key.0, key.1
                ))),
            );
        }
        self.modules.insert(key, source);
        Ok(())
    }

    /// Removes a module (namespace `user` by default): `true` if there was
    /// one, `false` if there is no such module.
    #[napi(ts_args_type = "name: string, namespace?: string")]
    pub fn remove_module(
        &mut self,
        env: Env,
        name: Unknown<'_>,
        namespace: Option<Unknown<'_>>,
    ) -> Result<bool> {
        let e = env.raw();
        let name = thrown(&env, args::name(e, args::raw(&name), "the module name"))?;
        let ns = thrown(&env, args::namespace(e, namespace.as_ref().map(args::raw)))?;
        Ok(self.modules.remove(&(ns, name)).is_some())
    }

    /// Removes every module.
    #[napi]
    pub fn clear_modules(&mut self) {
        self.modules.clear();
    }

    /// Sends the modules and handlers to the guest and compiles the
    /// handlers (modules compile when first imported). Sends a copy of the
    /// registry as it is now. Consumes this object on success (later
    /// registry edits have no effect on the `LoadedJSSandbox`); on failure
    /// it stays usable, handlers and modules kept.
    ///
    /// `options` bounds the code that runs at load time (the top level of
    /// the handlers and of the modules they import) like a call:
    /// `wallClockTimeoutMs` and `cpuTimeoutMs` (integers from 1 to
    /// 3,600,000; default: none). A load that hits one rejects with
    /// `ERR_CANCELLED` and leaves this object usable; so does a `kill()`
    /// through `interruptHandle` or a `dispose()` during the load (which
    /// also releases the VM).
    #[napi(
        ts_args_type = "options?: SandboxLoadOptions",
        ts_return_type = "Promise<LoadedJSSandbox>"
    )]
    pub fn get_loaded_sandbox(&mut self, env: Env, options: Option<Unknown<'_>>) -> Result<Raw> {
        let opts = match crate::limits::load_options(
            env.raw(),
            options.as_ref().map(args::raw),
            "getLoadedSandbox",
        ) {
            Ok(o) => o,
            Err(failure) => return rejected(env.raw(), failure),
        };
        let core = {
            let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            let loading = match &*slot {
                Slot::Ready(core) => Slot::Loading(core.clone()),
                _ => Slot::Consumed(""),
            };
            match std::mem::replace(&mut *slot, loading) {
                Slot::Ready(core) => core,
                other => {
                    *slot = other;
                    drop(slot);
                    let failure = self.check_usable().expect_err("not ready");
                    return rejected(env.raw(), failure);
                }
            }
        };
        let handlers = self.handlers.clone();
        let modules = self.modules.clone();
        let published = core.published.clone();
        let slot = self.slot.clone();
        let next = core.clone();
        core.published.calls.fetch_add(1, Ordering::SeqCst);
        let counted = core.published.clone();
        let promise = core.submit(
            env.raw(),
            move |stage| {
                let _done = CallDone(counted);
                let Stage::Js(mut js) = stage.take() else {
                    return Ok(Err(Failure::internal("the sandbox is not a JSSandbox")));
                };
                js.clear_handlers();
                js.clear_modules();
                let added = (|| -> hyperlight_js::Result<()> {
                    for ((ns, name), source) in &modules {
                        js.add_module(name, source, Some(ns))?;
                    }
                    for (name, code) in &handlers {
                        js.add_handler(name, code)?;
                    }
                    Ok(())
                })();
                if let Err(e) = added {
                    *stage = Stage::Js(js);
                    return Ok(Err(e.into()));
                }
                match crate::limits::load(js, opts)? {
                    Ok(loaded) => {
                        Core::publish(&published, &loaded);
                        let handle = loaded.interrupt_handle();
                        *stage = Stage::Loaded(loaded);
                        Ok(Ok(handle))
                    }
                    Err(failure) => {
                        let hyperlight_js::LoadFailure { error, mut sandbox } = *failure;
                        sandbox.clear_handlers();
                        sandbox.clear_modules();
                        *stage = Stage::Js(sandbox);
                        Ok(Err(error.into()))
                    }
                }
            },
            move |env, loaded| {
                let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                match loaded {
                    Ok(handle) => {
                        *slot = Slot::Consumed("getLoadedSandbox()");
                        drop(slot);
                        let loaded = LoadedJSSandbox::new(next, handle);
                        // SAFETY: valid env on the main thread.
                        unsafe { ToNapiValue::to_napi_value(env, loaded) }
                            .map_err(Failure::internal)
                    }
                    Err(failure) => {
                        // Usable again, unless dispose() ended it meanwhile.
                        if matches!(*slot, Slot::Loading(_)) {
                            *slot = Slot::Ready(next);
                        }
                        Err(failure)
                    }
                }
            },
        )?;
        Ok(Raw(promise))
    }

    /// A handle that stops a `getLoadedSandbox()` running in this sandbox
    /// (its `kill()` rejects the load with `ERR_CANCELLED`; the sandbox stays
    /// usable). The same handle keeps working for the calls of the loaded
    /// sandbox. `null` once the sandbox was released.
    #[napi(getter, ts_return_type = "InterruptHandle | null")]
    pub fn interrupt_handle(&self, env: Env) -> Result<Raw> {
        let core = match &*self.slot.lock().unwrap_or_else(|p| p.into_inner()) {
            Slot::Ready(core) | Slot::Loading(core) => Some(core.clone()),
            Slot::Consumed(_) => None,
        };
        let handle = core.and_then(|c| {
            let h = c.published.handle.get()?.clone();
            Some(crate::loaded::InterruptHandle::new(
                h,
                c.channel.clone(),
                c.published.clone(),
            ))
        });
        Ok(Raw(match handle {
            // SAFETY: valid env on the main thread.
            Some(h) => unsafe { ToNapiValue::to_napi_value(env.raw(), h) }?,
            None => crate::js::null(env.raw())?,
        }))
    }

    /// Releases the micro-VM (for `await using`), stopping a load that runs
    /// on it. Does nothing if this object was already consumed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn dispose(&mut self, env: Env) -> Result<Raw> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let core = match std::mem::replace(&mut *slot, Slot::Consumed("dispose()")) {
            // During a load: the release stops it (see `worker::release`).
            Slot::Ready(core) | Slot::Loading(core) => Some(core),
            other => {
                *slot = other;
                None
            }
        };
        drop(slot);
        crate::worker::release(env.raw(), core)
    }
}
