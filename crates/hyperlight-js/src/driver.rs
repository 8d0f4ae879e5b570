//! The host half of the JavaScript protocol (`hyperlight_abi::js`): encodes
//! requests, runs them through the VM layer, dispatches host calls and
//! prints, and turns answers into this crate's results.

use std::sync::Arc;

use hyperlight_abi::js::{self, error_code, Reader, Writer};
use hyperlight_vm::{CancelToken, HostHandler, Vm, VmConfig};

use crate::error::{Error, GuestError, Result};
use crate::host_functions::HostFunctions;
use crate::module_loader::ModuleSources;
use crate::print::PrintOut;

/// A booted guest and what the host needs to serve it.
pub(crate) struct Guest {
    pub(crate) vm: Vm,
    pub(crate) host_functions: Arc<HostFunctions>,
    pub(crate) print: PrintOut,
    /// The guest's state right after boot (the template's), which
    /// `unload` and a failed load return to.
    pub(crate) base: hyperlight_vm::Snapshot,
    /// Where modules the guest asks for come from.
    pub(crate) modules: ModuleSources,
    /// Where to write a core file when the guest crashes (opt-in).
    pub(crate) crash_dumps: Option<std::path::PathBuf>,
    /// Reused request buffer.
    scratch: Vec<u8>,
    /// `Intl` defaults sent after boot and after every reset to `base`
    /// (`None`: the guest's own, `en-US` and `UTC`).
    intl: Option<(String, String)>,
}

/// What a successful request answered.
pub(crate) struct Answer(Vec<u8>);

impl Answer {
    /// The JSON result of a call.
    pub(crate) fn into_string(self) -> Result<String> {
        let mut r = Reader::new(&self.0);
        let s = r
            .str()
            .map_err(|_| Error::Internal("the guest sent a malformed result".into()))?;
        Ok(s.to_string())
    }
}

struct Dispatch<'a> {
    fns: &'a HostFunctions,
    print: &'a mut PrintOut,
    modules: &'a ModuleSources,
}

impl HostHandler for Dispatch<'_> {
    fn host_call(
        &mut self,
        tag: u32,
        payload: &[u8],
        cancel: &CancelToken,
    ) -> std::result::Result<(u32, Vec<u8>), String> {
        if tag == js::HC_SLEEP {
            return sleep(payload, cancel);
        }
        if tag == js::HC_LOAD_MODULE {
            return load_module(self.modules, payload);
        }
        if tag != js::HC_CALL {
            return Err(format!("unknown host call tag {tag:#x}"));
        }
        let (module, function, args) = parse_host_call(payload)?;
        let _span = tracing::debug_span!("hyperlight_js.host_call", module, function).entered();
        encode_host_answer(run_host_function(self.fns, module, function, args, cancel))
    }

    fn print(&mut self, level: u32, text: &str) {
        // Never blocks: the line is queued for the sink (see `print`).
        self.print.record(level, text);
    }
}

/// The module, function and JSON argument array of an `HC_CALL` payload.
pub(crate) fn parse_host_call(payload: &[u8]) -> std::result::Result<(&str, &str, &str), String> {
    let mut r = Reader::new(payload);
    match (r.str(), r.str(), r.str()) {
        (Ok(m), Ok(f), Ok(a)) => Ok((m, f, a)),
        _ => Err("malformed host call".into()),
    }
}

/// Runs host function `module.function` of `fns` with the JSON argument
/// array `args`: its JSON result or error message.
pub(crate) fn run_host_function(
    fns: &HostFunctions,
    module: &str,
    function: &str,
    args: &str,
    cancel: &CancelToken,
) -> std::result::Result<String, String> {
    match fns.get(module, function) {
        None => Err(format!(
            "host function {module}.{function} is not registered"
        )),
        Some(f) => f(args, cancel),
    }
}

/// The answer to an `HC_CALL`: `HC_OK` with the JSON result or `HC_ERR`
/// with the error message.
pub(crate) fn encode_host_answer(
    result: std::result::Result<String, String>,
) -> std::result::Result<(u32, Vec<u8>), String> {
    let (tag, text) = match result {
        Ok(json) => (js::HC_OK, json),
        Err(msg) => (js::HC_ERR, msg),
    };
    let mut out = vec![0u8; js::str_size(&text)];
    Writer::new(&mut out)
        .str(&text)
        .map_err(|e| e.to_string())?;
    Ok((tag, out))
}

/// `HC_SLEEP`: the guest waits for a timer. The vCPU thread blocks here,
/// without using CPU, until the time has passed or the call is killed or
/// asked to interrupt (see `CancelToken::sleep`); a kill makes the call end
/// with `Cancelled` as soon as this returns.
fn sleep(payload: &[u8], cancel: &CancelToken) -> std::result::Result<(u32, Vec<u8>), String> {
    let mut r = Reader::new(payload);
    let (lo, hi) = match (r.u32(), r.u32()) {
        (Ok(lo), Ok(hi)) => (lo, hi),
        _ => return Err("malformed sleep request".into()),
    };
    let ns = (u64::from(hi) << 32) | u64::from(lo);
    cancel.sleep(std::time::Duration::from_nanos(ns));
    Ok((js::HC_OK, Vec::new()))
}

/// Answers `HC_LOAD_MODULE`: the module's bytes, or why not.
fn load_module(
    modules: &ModuleSources,
    payload: &[u8],
) -> std::result::Result<(u32, Vec<u8>), String> {
    let name = Reader::new(payload)
        .str()
        .map_err(|_| "malformed module load request".to_string())?;
    let _span = tracing::debug_span!("hyperlight_js.load_module", module = name).entered();
    match modules.load(name) {
        Ok(bytes) => Ok((js::HC_OK, bytes)),
        Err(msg) => {
            let mut out = vec![0u8; js::str_size(&msg)];
            Writer::new(&mut out).str(&msg).map_err(|e| e.to_string())?;
            Ok((js::HC_ERR, out))
        }
    }
}

impl Guest {
    /// Creates the VM from the configuration's template (booting the
    /// template on first use), or takes one from its pool: the guest is at
    /// "ready".
    pub(crate) fn boot(config: &VmConfig, print: PrintOut) -> Result<Self> {
        let (vm, base) = crate::template::vm_for(config)?;
        Ok(Guest {
            vm,
            host_functions: Arc::new(HostFunctions::default()),
            print,
            base,
            modules: ModuleSources::default(),
            crash_dumps: None,
            scratch: Vec::new(),
            intl: None,
        })
    }

    /// Runs a throwaway handler through a fresh VM and puts the VM back into
    /// `base`, byte for byte. The VM's state is unchanged, but the host has
    /// faulted in its pages and the hypervisor has built its page-table
    /// shadows, so the first real load and call do not pay for them (the
    /// pool does this off the caller's thread).
    pub(crate) fn warm_up(vm: Vm, base: hyperlight_vm::Snapshot) -> Result<Vm> {
        let mut guest = Guest {
            vm,
            host_functions: Arc::new(HostFunctions::default()),
            print: PrintOut::discard(),
            base,
            modules: ModuleSources::default(),
            crash_dumps: None,
            scratch: Vec::new(),
            intl: None,
        };
        guest.add_handler(
            "warm-up",
            "function handler(e) { return [e, JSON.stringify(e)]; }",
        )?;
        guest.link()?;
        guest.call("warm-up", r#"{"a":[1,"b",{"c":null}]}"#, true)?;
        guest.reset()?;
        Ok(guest.vm)
    }

    /// The counters the guest keeps in its TLS page (0 where unreadable).
    pub(crate) fn guest_stats(&self) -> hyperlight_abi::GuestStats {
        let at = hyperlight_abi::layout::GUEST_STATS as usize;
        let word = |i: usize| {
            self.vm
                .memory()
                .get(at + 8 * i..at + 8 * i + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        hyperlight_abi::GuestStats {
            heap_used: word(0),
            heap_peak: word(1),
        }
    }

    /// Bytes a request payload may hold.
    pub(crate) fn request_capacity(&self) -> usize {
        self.vm.input_capacity()
    }

    /// Sends one request whose payload `encode` writes, and classifies the
    /// answer. `what` names the request in size errors.
    fn request(
        &mut self,
        tag: u32,
        size: usize,
        what: impl FnOnce() -> String,
        encode: impl FnOnce(&mut Writer<'_>) -> std::result::Result<(), js::CodecError>,
    ) -> Result<Answer> {
        let cap = self.request_capacity();
        if size > cap {
            return Err(Error::invalid(format!(
                "{} is {size} bytes encoded, larger than the input buffer ({cap} bytes usable); \
                 raise the input buffer size",
                what()
            )));
        }
        self.scratch.clear();
        self.scratch.resize(size, 0);
        let mut w = Writer::new(&mut self.scratch);
        encode(&mut w).map_err(|e| Error::Internal(e.to_string()))?;
        let mut dispatch = Dispatch {
            fns: &self.host_functions,
            print: &mut self.print,
            modules: &self.modules,
        };
        let resp = self.vm.call(tag, &self.scratch, &mut dispatch);
        self.print.end_of_request();
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Err(self.crashed(e)),
        };
        classify(resp.tag, resp.payload, self.vm.interrupt_requested())
    }

    /// Turns a VM error into this crate's, writing a crash dump first when
    /// the guest crashed and dumps are on (the dump's path is added to the
    /// message).
    fn crashed(&self, e: hyperlight_vm::Error) -> Error {
        use hyperlight_vm::Error as V;
        let crash = matches!(
            e,
            V::GuestAbort { .. } | V::GuestFault(_) | V::Protocol(_) | V::VmExit(_)
        );
        let Some(dir) = self.crash_dumps.as_deref().filter(|_| crash) else {
            return Error::from(e);
        };
        let note = match crate::crash_dump::write(dir, &self.vm, crate::guest_image::GUEST_ELF) {
            Ok(core) => {
                let elf = dir.join(crate::crash_dump::guest_elf_name(
                    crate::guest_image::GUEST_ELF,
                ));
                tracing::error!(core = %core.display(), sandbox_id = self.vm.id(), error = %e, "guest crashed; core file written");
                format!(
                    " (core file: {}; open it with `gdb {} {}`)",
                    core.display(),
                    elf.display(),
                    core.display()
                )
            }
            Err(err) => {
                tracing::error!(dir = %dir.display(), error = %err, "guest crashed; writing the core file failed");
                format!(
                    " (writing the core file into {} failed: {err})",
                    dir.display()
                )
            }
        };
        match Error::from(e) {
            Error::GuestAbort(msg) => Error::GuestAbort(msg + &note),
            other => other,
        }
    }

    /// Makes the guest fault on purpose (`REQ_DEBUG_FAULT`).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn debug_fault(&mut self) -> Result<()> {
        self.request(js::REQ_DEBUG_FAULT, 0, String::new, |_| Ok(()))?;
        Ok(())
    }

    /// Puts the guest back into its post-boot state.
    pub(crate) fn reset(&mut self) -> Result<()> {
        let base = self.base.clone();
        self.vm.restore(&base).map_err(Error::from)?;
        self.send_intl_defaults()
    }

    /// Sets the `Intl` default locale and time zone, now and after every
    /// reset.
    pub(crate) fn set_intl_defaults(&mut self, locale: String, time_zone: String) -> Result<()> {
        self.intl = Some((locale, time_zone));
        self.send_intl_defaults()
    }

    fn send_intl_defaults(&mut self) -> Result<()> {
        let Some((locale, tz)) = self.intl.clone() else {
            return Ok(());
        };
        self.request(
            js::REQ_SET_INTL_DEFAULTS,
            js::str_size(&locale) + js::str_size(&tz),
            || "the Intl defaults".into(),
            |w| {
                w.str(&locale)?.str(&tz)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    pub(crate) fn set_host_modules(&mut self, fns: Arc<HostFunctions>) -> Result<()> {
        self.host_functions = fns.clone();
        if fns.is_empty() {
            return Ok(());
        }
        let mut size = 4;
        for (m, names) in fns.table() {
            size += js::str_size(m) + 4 + names.map(js::str_size).sum::<usize>();
        }
        self.request(
            js::REQ_SET_HOST_MODULES,
            size,
            || "the host module table".into(),
            |w| {
                let modules: Vec<_> = fns.table().collect();
                w.u32(modules.len() as u32)?;
                for (m, names) in modules {
                    let names: Vec<&str> = names.collect();
                    w.str(m)?.u32(names.len() as u32)?;
                    for n in names {
                        w.str(n)?;
                    }
                }
                Ok(())
            },
        )?;
        Ok(())
    }

    pub(crate) fn add_module(&mut self, namespace: &str, name: &str, source: &str) -> Result<()> {
        let size = js::str_size(namespace) + js::str_size(name) + js::str_size(source);
        self.request(
            js::REQ_ADD_MODULE,
            size,
            || format!("module {namespace}:{name}"),
            |w| {
                w.str(namespace)?.str(name)?.str(source)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    pub(crate) fn add_handler(&mut self, key: &str, source: &str) -> Result<()> {
        let size = js::str_size(key) + js::str_size(source);
        self.request(
            js::REQ_ADD_HANDLER,
            size,
            || format!("handler {key:?}"),
            |w| {
                w.str(key)?.str(source)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    pub(crate) fn link(&mut self) -> Result<()> {
        self.request(js::REQ_LINK, 0, String::new, |_| Ok(()))?;
        Ok(())
    }

    pub(crate) fn call(&mut self, key: &str, event: &str, gc: bool) -> Result<String> {
        let size = call_size(key, event);
        self.request(
            js::REQ_CALL,
            size,
            || "the event".into(),
            |w| encode_call(w, key, event, gc),
        )?
        .into_string()
    }

    /// Lets the guest poll its mailbox for `window` (see
    /// [`hyperlight_vm::Vm::poll_mailbox`]), with this guest's host
    /// functions and print sink for posted calls.
    pub(crate) fn poll_mailbox(
        &mut self,
        window: std::time::Duration,
    ) -> Result<hyperlight_vm::PollEnd> {
        let mut dispatch = Dispatch {
            fns: &self.host_functions,
            print: &mut self.print,
            modules: &self.modules,
        };
        let r = self.vm.poll_mailbox(&mut dispatch, window);
        self.print.end_of_request();
        match r {
            Ok(end) => Ok(end),
            // A crash while serving warm calls gets its dump too.
            Err(e) => Err(self.crashed(e)),
        }
    }
}

/// Encoded size of a `REQ_CALL` payload.
pub(crate) fn call_size(key: &str, event: &str) -> usize {
    js::str_size(key) + js::str_size(event) + 4
}

/// Writes a `REQ_CALL` payload.
pub(crate) fn encode_call(
    w: &mut Writer<'_>,
    key: &str,
    event: &str,
    gc: bool,
) -> std::result::Result<(), js::CodecError> {
    let flags = if gc { js::CALL_FLAG_GC } else { 0 };
    w.str(key)?.str(event)?.u32(flags)?;
    Ok(())
}

/// Classifies the answer to a call and extracts its JSON result.
/// `interrupt_requested`: the host asked the engine to stop this call (see
/// [`classify`]).
pub(crate) fn call_result(
    resp: hyperlight_vm::Response,
    interrupt_requested: bool,
) -> Result<String> {
    classify(resp.tag, resp.payload, interrupt_requested)?.into_string()
}

impl Guest {
    /// Evaluates a classic script; the completion value as JSON (`None`
    /// when it has none).
    pub(crate) fn eval_script(&mut self, filename: &str, source: &str) -> Result<Option<String>> {
        let size = js::str_size(filename) + js::str_size(source);
        let answer = self.request(
            js::REQ_EVAL_SCRIPT,
            size,
            || "the script".into(),
            |w| {
                w.str(filename)?.str(source)?;
                Ok(())
            },
        )?;
        let mut r = Reader::new(&answer.0);
        let malformed = || Error::Internal("the guest sent a malformed script result".into());
        match r.u32().map_err(|_| malformed())? {
            0 => Ok(None),
            1 => Ok(Some(r.str().map_err(|_| malformed())?.to_string())),
            _ => Err(malformed()),
        }
    }
}

/// Turns an answer into a result. Only facts the guest cannot forge decide
/// the error code: `interrupt_requested` is the host's record that it asked
/// the engine to stop this call; a thrown value that merely looks like the
/// engine's "interrupted" error is the handler's error.
fn classify(tag: u32, payload: Vec<u8>, interrupt_requested: bool) -> Result<Answer> {
    let malformed = || Error::Internal(format!("the guest sent a malformed answer (tag {tag:#x})"));
    match tag {
        js::RESP_OK => Ok(Answer(payload)),
        js::RESP_ERROR => {
            let mut r = Reader::new(&payload);
            let code = r.u32().map_err(|_| malformed())?;
            let message = r.str().map_err(|_| malformed())?.to_string();
            Err(match code {
                error_code::UNKNOWN_HANDLER
                | error_code::INVALID_EVENT
                | error_code::MODULE_NOT_FOUND
                | error_code::DUPLICATE
                | error_code::INVALID_HANDLER
                | error_code::INVALID_INTL_DEFAULT => Error::InvalidArgument(message),
                error_code::RESULT_TOO_LARGE | error_code::RESULT_NOT_SERIALIZABLE => {
                    Error::Handler(GuestError {
                        name: "ResultError".into(),
                        message,
                        stack: String::new(),
                    })
                }
                // The guest's message already says "out of memory: ...".
                error_code::OUT_OF_MEMORY => Error::GuestAbort(message),
                _ => Error::Internal(message),
            })
        }
        js::RESP_EXCEPTION => {
            let mut r = Reader::new(&payload);
            let name = r.str().map_err(|_| malformed())?.to_string();
            let message = r.str().map_err(|_| malformed())?.to_string();
            let stack = r.str().map_err(|_| malformed())?.to_string();
            if interrupt_requested && name == "InternalError" && message == "interrupted" {
                // The guest's cooperative interrupt check ended the call
                // (InterruptHandle::request_interrupt).
                return Err(Error::Cancelled {
                    terminated_by: None,
                });
            }
            Err(Error::Handler(GuestError {
                name,
                message,
                stack,
            }))
        }
        _ => Err(malformed()),
    }
}
