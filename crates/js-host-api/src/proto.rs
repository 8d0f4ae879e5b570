//! `ProtoJSSandbox` and `HostModule`: registering host functions.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use napi::bindgen_prelude::{This, ToNapiValue, Unknown};
use napi::{Env, Result};
use napi_derive::napi;

use crate::args;
use crate::errors::Failure;
use crate::js::Raw;
use crate::js_sandbox::JSSandbox;
use crate::main_thread::{rejected, MainThreadRefs};
use crate::worker::{register_host_functions, Bridge, Core, Stage};

/// What a `ProtoJSSandbox` and its `HostModule`s share (main thread only).
struct ProtoState {
    core: Option<Arc<Core>>,
    /// `(module, function)` of each registered host function, in the order
    /// of `refs`.
    names: Vec<(String, String)>,
    refs: Option<MainThreadRefs>,
}

impl ProtoState {
    fn register(&mut self, env: &Env, module: &str, function: &str, f: Unknown<'_>) -> Result<()> {
        let raw_env = env.raw();
        if self.core.is_none() {
            return Err(Failure::consumed("ProtoJSSandbox", "loadRuntime()").throw(raw_env));
        }
        if self.names.iter().any(|(m, n)| m == module && n == function) {
            return Err(Failure::invalid(format!(
                "host function {module}.{function} is already registered"
            ))
            .throw(raw_env));
        }
        let r = crate::js::reference(raw_env, args::raw(&f))?;
        match &mut self.refs {
            Some(refs) => refs.push(r),
            None => self.refs = Some(MainThreadRefs::new(raw_env, vec![r])?),
        }
        self.names.push((module.to_string(), function.to_string()));
        Ok(())
    }
}

/// Validates a `register` call's function name and callback.
fn check_register(env: &Env, function: &Unknown<'_>, callback: &Unknown<'_>) -> Result<String> {
    let raw_env = env.raw();
    let name = args::name(raw_env, args::raw(function), "the host function name")
        .map_err(|f| f.throw(raw_env))?;
    args::function(raw_env, args::raw(callback), "the host function callback")
        .map_err(|f| f.throw(raw_env))?;
    Ok(name)
}

/// A sandbox whose micro-VM is booted, waiting for the JavaScript runtime.
/// Register host functions here, before `loadRuntime()`.
#[napi(js_name = "ProtoJSSandbox")]
pub struct ProtoJSSandbox {
    state: Rc<RefCell<ProtoState>>,
}

impl ProtoJSSandbox {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            state: Rc::new(RefCell::new(ProtoState {
                core: Some(core),
                names: Vec::new(),
                refs: None,
            })),
        }
    }
}

#[napi]
impl ProtoJSSandbox {
    /// Loads the JavaScript runtime, applying every registered host
    /// function. Consumes this object. `options` takes the same limits as
    /// `getLoadedSandbox()` (validated; no guest code runs at this step
    /// today, so they never fire).
    #[napi(
        ts_args_type = "options?: SandboxLoadOptions",
        ts_return_type = "Promise<JSSandbox>"
    )]
    pub fn load_runtime(&self, env: Env, options: Option<Unknown<'_>>) -> Result<Raw> {
        match crate::limits::load_options(
            env.raw(),
            options.as_ref().map(args::raw),
            "loadRuntime",
            None,
        ) {
            Err(failure) => return rejected(env.raw(), failure),
            // Validated only (no guest code runs here): an armed signal's
            // listener must not outlive this call.
            Ok(limits) => {
                if let Some(abortable) = limits.abortable {
                    abortable.disarm(env.raw());
                }
            }
        }
        let mut state = self.state.borrow_mut();
        let Some(core) = state.core.take() else {
            return rejected(
                env.raw(),
                Failure::consumed("ProtoJSSandbox", "loadRuntime()"),
            );
        };
        let names = std::mem::take(&mut state.names);
        let refs = state.refs.take();
        let bridge = refs.map(|refs| {
            Arc::new(Bridge {
                refs: Arc::new(refs),
                channel: core.channel.clone(),
                sandbox: core.id,
                published: core.published.clone(),
            })
        });
        if let Some(bridge) = &bridge {
            core.warm
                .set_host_functions(bridge.clone(), names.clone().into());
        }
        let next = core.clone();
        let promise = core.submit(
            env.raw(),
            move |stage| {
                let Stage::Proto(mut proto) = stage.take() else {
                    return Err(Failure::internal("the sandbox is not a ProtoJSSandbox"));
                };
                if let Some(bridge) = bridge {
                    register_host_functions(&mut proto, &names, bridge)?;
                }
                *stage = Stage::Js(proto.load_runtime()?);
                Ok(())
            },
            move |env, ()| {
                // SAFETY: valid env on the main thread.
                unsafe { ToNapiValue::to_napi_value(env, JSSandbox::new(next)) }
                    .map_err(Failure::internal)
            },
        )?;
        Ok(Raw(promise))
    }

    /// A builder for the functions of host module `name`, which guest code
    /// imports as `import * as m from "host:<name>"`.
    #[napi(ts_args_type = "name: string")]
    pub fn host_module(&self, env: Env, name: Unknown<'_>) -> Result<HostModule> {
        let raw_env = env.raw();
        let name = args::name(raw_env, args::raw(&name), "the host module name")
            .map_err(|f| f.throw(raw_env))?;
        if self.state.borrow().core.is_none() {
            return Err(Failure::consumed("ProtoJSSandbox", "loadRuntime()").throw(raw_env));
        }
        Ok(HostModule {
            state: self.state.clone(),
            name,
        })
    }

    /// Registers one host function: shorthand for
    /// `hostModule(moduleName).register(functionName, callback)`.
    #[napi(
        ts_args_type = "moduleName: string, functionName: string, callback: (...args: any[]) => any"
    )]
    pub fn register(
        &self,
        env: Env,
        module_name: Unknown<'_>,
        function_name: Unknown<'_>,
        callback: Unknown<'_>,
    ) -> Result<()> {
        let raw_env = env.raw();
        let module = args::name(raw_env, args::raw(&module_name), "the host module name")
            .map_err(|f| f.throw(raw_env))?;
        let function = check_register(&env, &function_name, &callback)?;
        self.state
            .borrow_mut()
            .register(&env, &module, &function, callback)
    }

    /// Releases the micro-VM (for `await using`). Does nothing if this
    /// object was already consumed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn dispose(&self, env: Env) -> Result<Raw> {
        let core = self.state.borrow_mut().core.take();
        crate::worker::release(env.raw(), core)
    }
}

/// Registers functions in one host module; see
/// `ProtoJSSandbox.hostModule()`.
#[napi]
pub struct HostModule {
    state: Rc<RefCell<ProtoState>>,
    name: String,
}

#[napi]
impl HostModule {
    /// The module name (`host:<name>` in guest imports).
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Registers a function of this module. The guest's arguments are
    /// spread into `callback`; its result (or the value of its Promise) is
    /// `JSON.stringify`'d back. Returns this module, for chaining.
    #[napi(
        ts_args_type = "name: string, callback: (...args: any[]) => any",
        ts_return_type = "this"
    )]
    pub fn register<'a>(
        &self,
        env: Env,
        this: This<'a>,
        name: Unknown<'_>,
        callback: Unknown<'_>,
    ) -> Result<This<'a>> {
        let function = check_register(&env, &name, &callback)?;
        self.state
            .borrow_mut()
            .register(&env, &self.name, &function, callback)?;
        Ok(this)
    }
}
