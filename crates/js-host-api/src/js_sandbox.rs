//! `JSSandbox`: handlers and modules are collected here (synchronously, on
//! the main thread) and sent to the guest by `getLoadedSandbox()`.
//!
//! The registry (handlers, modules) is host-side only. `getLoadedSandbox()`
//! sends a copy of the registry as it is when called. Adding to it once a
//! load is in flight or has succeeded is `ERR_CONSUMED`: the code would
//! never reach the guest, and silently dropping it would hide the caller's
//! bug. Removing and clearing stay harmless then (there is nothing left to
//! remove: `removeHandler`/`removeModule` return `false`), so code that
//! tidies up after a load keeps working.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{Env, Result};
use napi_derive::napi;

use crate::abort::Ticket;
use crate::args;
use crate::errors::Failure;
use crate::js::Raw;
use crate::loaded::LoadedJSSandbox;
use crate::main_thread::{rejected, Deferred};
use crate::worker::{Core, Stage};

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
    published: Arc<crate::worker::Published>,
    /// Emptied while a load is in flight and once it succeeded; given back
    /// when it fails.
    registry: Arc<Mutex<Registry>>,
}

/// The handlers and modules waiting for `getLoadedSandbox()`.
#[derive(Default)]
struct Registry {
    handlers: BTreeMap<String, String>,
    modules: BTreeMap<(String, String), String>,
    /// Module directories by namespace (`setModuleDirectory`), opened when
    /// set.
    directories: BTreeMap<String, Arc<hyperlight_js::FileSystemLoader>>,
}

impl JSSandbox {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            published: core.published.clone(),
            slot: Arc::new(Mutex::new(Slot::Ready(core))),
            registry: Arc::default(),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why `getLoadedSandbox()` (or an addition to the registry) cannot
    /// happen now.
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
    /// modules (`host:<name>`) and built-ins. A key already in use is
    /// `ERR_INVALID_ARG`; once `getLoadedSandbox()` was called (in flight
    /// or done) it is `ERR_CONSUMED`.
    #[napi(ts_args_type = "name: string, code: string")]
    pub fn add_handler(&mut self, env: Env, name: Unknown<'_>, code: Unknown<'_>) -> Result<()> {
        let e = env.raw();
        let name = thrown(&env, args::name(e, args::raw(&name), "the handler name"))?;
        let code = thrown(&env, args::string(e, args::raw(&code), "the handler code"))?;
        thrown(
            &env,
            hyperlight_js::names::check_source("the handler code", &code).map_err(Failure::from),
        )?;
        thrown(&env, self.check_usable())?;
        let mut registry = self.registry();
        if registry.handlers.contains_key(&name) {
            return thrown(
                &env,
                Err(Failure::invalid(format!(
                    "a handler named {name:?} is already added"
                ))),
            );
        }
        registry.handlers.insert(name, code);
        Ok(())
    }

    /// Removes the handler with that routing key: `true` if there was one,
    /// `false` if no handler has that key (always `false` once loaded).
    #[napi(ts_args_type = "name: string")]
    pub fn remove_handler(&mut self, env: Env, name: Unknown<'_>) -> Result<bool> {
        let name = thrown(
            &env,
            args::name(env.raw(), args::raw(&name), "the handler name"),
        )?;
        Ok(self.registry().handlers.remove(&name).is_some())
    }

    /// Removes every handler (nothing to remove once loaded).
    #[napi]
    pub fn clear_handlers(&mut self) {
        self.registry().handlers.clear();
    }

    /// Whether an earlier failure left this sandbox's VM unusable (as
    /// Rust's `JSSandbox::poisoned()`); a poisoned sandbox cannot load
    /// handlers: build a new one.
    #[napi(getter)]
    pub fn poisoned(&self) -> bool {
        self.published
            .poisoned
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Adds an ES module that handlers (and other modules) import as
    /// `<namespace>:<name>`; the namespace defaults to `user`, and `host`
    /// is reserved. Once `getLoadedSandbox()` was called (in flight or
    /// done) it is `ERR_CONSUMED`.
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
        thrown(&env, self.check_usable())?;
        let key = (ns, name);
        let mut registry = self.registry();
        if registry.modules.contains_key(&key) {
            return thrown(
                &env,
                Err(Failure::invalid(format!(
                    "module {}:{} is already added",
                    key.0, key.1
                ))),
            );
        }
        registry.modules.insert(key, source);
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
        Ok(self.registry().modules.remove(&(ns, name)).is_some())
    }

    /// Removes every module.
    #[napi]
    pub fn clear_modules(&mut self) {
        self.registry().modules.clear();
    }

    /// Serves the imports of `namespace` (default `user`) that no added
    /// module answers from files under `directory` (Rust's
    /// `FileSystemLoader`): `import { x } from './lib/x.js'` in a handler
    /// loads `<directory>/lib/x.js`, relative imports resolve against the
    /// importing file, and a path that resolves outside `directory` (`..`,
    /// symbolic links) is refused. The directory is opened now: a missing
    /// or unreadable one is `ERR_INVALID_ARG`. Replaces the namespace's
    /// previous directory; kept by `unload()`. After `getLoadedSandbox()`
    /// was called it is `ERR_CONSUMED`.
    #[napi(ts_args_type = "directory: string, namespace?: string")]
    pub fn set_module_directory(
        &mut self,
        env: Env,
        directory: Unknown<'_>,
        namespace: Option<Unknown<'_>>,
    ) -> Result<()> {
        let e = env.raw();
        let dir = thrown(
            &env,
            args::string(e, args::raw(&directory), "the module directory"),
        )?;
        let ns = thrown(&env, args::namespace(e, namespace.as_ref().map(args::raw)))?;
        thrown(&env, self.check_usable())?;
        let loader = thrown(
            &env,
            hyperlight_js::FileSystemLoader::new(&dir).map_err(Failure::from),
        )?;
        self.registry().directories.insert(ns, Arc::new(loader));
        Ok(())
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
        let e = env.raw();
        let limits = match crate::limits::load_options(
            e,
            options.as_ref().map(args::raw),
            "getLoadedSandbox",
            Some(self.published.clone()),
        ) {
            Ok(o) => o,
            Err(failure) => return rejected(e, failure),
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
                    return rejected(e, failure);
                }
            }
        };
        // Taken out while loading; given back if the load fails.
        let taken = std::mem::take(&mut *self.registry());
        let handlers = taken.handlers.clone();
        let modules = taken.modules.clone();
        let directories = taken.directories.clone();
        let registry = self.registry.clone();
        let published = core.published.clone();
        let slot = self.slot.clone();
        let next = core.clone();
        let record = core.published.enqueue();
        let abortable = limits.abortable.clone();
        let (deferred, promise) = Deferred::new(e)?;
        let ticket = Ticket::new(deferred, abortable.clone());
        // Gives the sandbox back (usable, registry restored) after a failed
        // or aborted load, unless dispose() ended it meanwhile: when the
        // Promise settles (on the main thread), or when its settlement is
        // dropped (an abort settled it first).
        struct GiveBack {
            slot: Arc<Mutex<Slot>>,
            registry: Arc<Mutex<Registry>>,
            back: Option<(Arc<Core>, Registry)>,
        }
        impl Drop for GiveBack {
            fn drop(&mut self) {
                let Some((next, taken)) = self.back.take() else {
                    return;
                };
                let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
                if matches!(*slot, Slot::Loading(_)) {
                    *slot = Slot::Ready(next);
                }
                *self.registry.lock().unwrap_or_else(|p| p.into_inner()) = taken;
            }
        }
        let give_back = GiveBack {
            slot: slot.clone(),
            registry: registry.clone(),
            back: Some((next.clone(), taken)),
        };
        core.queue(move |stage| {
            if let Some(a) = &abortable {
                if !a.begin() {
                    // Aborted while queued: already rejected.
                    drop(give_back);
                    return;
                }
            }
            published.start(record.seq);
            let loaded = (|| {
                let Stage::Js(mut js) = stage.take() else {
                    return Err(Failure::internal("the sandbox is not a JSSandbox"));
                };
                js.clear_handlers();
                js.clear_modules();
                let added = (|| -> hyperlight_js::Result<()> {
                    for (ns, loader) in &directories {
                        let loader = loader.clone();
                        js.set_module_loader(Some(ns), move |path: &str| {
                            hyperlight_js::ModuleLoader::load(&*loader, path)
                        })?;
                    }
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
                    return Err(e.into());
                }
                match crate::limits::load(js, &limits) {
                    Ok(loaded) if abortable.as_ref().is_some_and(|a| a.aborted()) => {
                        // Aborted while it finished: the abort wins, and
                        // the sandbox goes back to its pre-load state.
                        let mut sandbox = loaded.unload()?;
                        sandbox.clear_handlers();
                        sandbox.clear_modules();
                        *stage = Stage::Js(sandbox);
                        Err(Failure::cancelled(
                            "the load was aborted by its AbortSignal",
                            Some(crate::abort::MONITOR_NAME),
                        ))
                    }
                    Ok(loaded) => {
                        Core::publish(&published, &loaded);
                        let handle = loaded.interrupt_handle();
                        *stage = Stage::Loaded(loaded);
                        Ok(handle)
                    }
                    Err(failed) => {
                        let (error, mut sandbox) = *failed;
                        sandbox.clear_handlers();
                        sandbox.clear_modules();
                        published
                            .poisoned
                            .store(sandbox.poisoned(), std::sync::atomic::Ordering::Release);
                        *stage = Stage::Js(sandbox);
                        Err(error)
                    }
                }
            })();
            published.finish(record.seq);
            if let Some(a) = &abortable {
                a.end_if_running(false);
            }
            match loaded {
                Ok(handle) => {
                    let mut give_back = give_back;
                    give_back.back = None;
                    ticket.settle(Box::new(move |env| {
                        drop(record);
                        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                        *slot = Slot::Consumed("getLoadedSandbox()");
                        drop(slot);
                        let loaded = LoadedJSSandbox::new(next, handle);
                        // SAFETY: valid env on the main thread.
                        unsafe { ToNapiValue::to_napi_value(env, loaded) }
                            .map_err(Failure::internal)
                    }));
                }
                Err(failure) => {
                    ticket.settle(Box::new(move |_| {
                        drop(give_back);
                        drop(record);
                        Err(failure)
                    }));
                }
            }
        });
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
