//! Errors as JavaScript sees them: an `Error` whose `code` is one of the
//! stable codes of `hyperlight_js::ErrorCode` (`ERR_INVALID_ARG`, ...).
//! A handler's exception also carries `guestName`, `guestMessage` and
//! `guestStack`; a cancellation carries `terminatedBy`.

use hyperlight_js::{Error, ErrorCode, GuestError};
use napi::sys;

/// An error on its way to JavaScript. `Send`, so a sandbox thread can build
/// it and the main thread turn it into an `Error` object.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    guest: Option<Box<GuestError>>,
    /// For `ERR_CANCELLED`: `Some(monitor name)` or `Some(None)` for kill().
    terminated_by: Option<Option<&'static str>>,
    /// The error's `cause` (an `AbortSignal`'s `reason`).
    cause: Option<JsRef>,
}

/// A JavaScript value kept alive while it travels with a [`Failure`] or a
/// Promise: created on the main thread, read there only. Dropped on
/// another thread (a task that could not be posted because the environment
/// is shutting down), it leaks the reference rather than touch the
/// environment from the wrong thread.
#[derive(Debug)]
pub(crate) struct JsRef {
    env: usize,
    reference: usize,
    thread: std::thread::ThreadId,
}

// SAFETY: the reference is only read on its environment's thread (callers
// are main-thread code), and `Drop` deletes it only on that thread.
unsafe impl Send for JsRef {}

impl JsRef {
    /// A reference to `value` (main thread only).
    pub(crate) fn new(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        Ok(Self {
            env: env as usize,
            reference: crate::js::reference(env, value)? as usize,
            thread: std::thread::current().id(),
        })
    }

    pub(crate) fn value(&self, env: sys::napi_env) -> napi::Result<sys::napi_value> {
        crate::js::deref(env, self.raw())
    }

    /// The reference itself (valid while `self` lives).
    pub(crate) fn raw(&self) -> sys::napi_ref {
        self.reference as sys::napi_ref
    }
}

impl Drop for JsRef {
    fn drop(&mut self) {
        if std::thread::current().id() != self.thread {
            return;
        }
        // SAFETY: created in this env, deleted once, on its thread.
        unsafe {
            sys::napi_delete_reference(self.env as sys::napi_env, self.reference as sys::napi_ref)
        };
    }
}

impl Failure {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            guest: None,
            terminated_by: None,
            cause: None,
        }
    }

    /// `ERR_CANCELLED` with `terminatedBy` (`None`: null).
    pub(crate) fn cancelled(
        message: impl Into<String>,
        terminated_by: Option<&'static str>,
    ) -> Self {
        Self {
            terminated_by: Some(terminated_by),
            ..Self::new(ErrorCode::Cancelled, message)
        }
    }

    /// Sets the error's `cause`.
    pub(crate) fn with_cause(mut self, cause: Option<JsRef>) -> Self {
        self.cause = cause;
        self
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArg, message)
    }

    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, message.to_string())
    }

    /// `what` was consumed by an earlier call that names `by`.
    pub(crate) fn consumed(what: &str, by: &str) -> Self {
        let message = if by == "dispose()" {
            format!("this {what} was disposed ([Symbol.asyncDispose]()); its micro-VM is released")
        } else {
            format!("this {what} was already consumed by {by}; use the object that call returned")
        };
        Self::new(ErrorCode::Consumed, message)
    }

    /// The JavaScript `Error` object.
    pub(crate) fn to_js(&self, env: sys::napi_env) -> sys::napi_value {
        self.build(env).unwrap_or(std::ptr::null_mut())
    }

    fn build(&self, env: sys::napi_env) -> napi::Result<sys::napi_value> {
        let code = crate::js::string(env, self.code.as_str())?;
        let message = crate::js::string(env, &self.message)?;
        let mut error = std::ptr::null_mut();
        // SAFETY: valid env and string values.
        crate::main_thread::check(
            unsafe { sys::napi_create_error(env, code, message, &mut error) },
            "napi_create_error",
        )?;
        if let Some(g) = &self.guest {
            let name = crate::js::string(env, &g.name)?;
            crate::js::set_property(env, error, "guestName", name)?;
            let message = crate::js::string(env, &g.message)?;
            crate::js::set_property(env, error, "guestMessage", message)?;
            let stack = crate::js::string(env, &g.stack)?;
            crate::js::set_property(env, error, "guestStack", stack)?;
        }
        if let Some(by) = self.terminated_by {
            let value = match by {
                Some(name) => crate::js::string(env, name)?,
                None => crate::js::null(env)?,
            };
            crate::js::set_property(env, error, "terminatedBy", value)?;
        }
        if let Some(cause) = &self.cause {
            crate::js::set_property(env, error, "cause", cause.value(env)?)?;
        }
        Ok(error)
    }

    /// A napi error that throws exactly this `Error` object.
    pub(crate) fn throw(&self, env: sys::napi_env) -> napi::Error {
        match self.build(env) {
            Ok(error) => crate::js::to_napi(env, error),
            Err(e) => e,
        }
    }
}

/// What a guest request was, for the wording of its failure's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `callHandler()`.
    Call,
    /// `evalScript()`.
    Script,
    /// `getLoadedSandbox()`: the load runs the modules' top-level code.
    Load,
}

impl Failure {
    /// The failure of `request`, its message saying what failed and what
    /// state the sandbox is in now.
    pub(crate) fn of(e: Error, request: Request) -> Self {
        let code = e.code();
        match e {
            Error::Handler(g) => Failure {
                code,
                message: match request {
                    Request::Call => format!("the handler threw {}: {}", g.name, g.message),
                    Request::Script => format!("the script threw {}: {}", g.name, g.message),
                    Request::Load => format!(
                        "loading the handlers and modules failed with {}: {}{}",
                        g.name,
                        g.message,
                        // Where: the first frame names the handler or module
                        // and the position (`handler/<name>:line:column`).
                        g.stack
                            .lines()
                            .map(str::trim)
                            .find(|l| !l.is_empty())
                            .map(|l| format!(" (at {})", l.trim_start_matches("at ")))
                            .unwrap_or_default()
                    ),
                },
                guest: Some(Box::new(g)),
                terminated_by: None,
                cause: None,
            },
            Error::Cancelled { terminated_by } => {
                let by = match terminated_by {
                    Some(name) => format!("the `{name}` monitor (timeout)"),
                    None => "kill()".to_string(),
                };
                Failure {
                    code,
                    message: match request {
                        Request::Call => format!(
                            "the handler call was cancelled by {by}; the sandbox is now \
                             poisoned: restore a snapshot or unload it"
                        ),
                        Request::Script => format!(
                            "the script was cancelled by {by}; the sandbox is now poisoned: \
                             restore a snapshot or unload it"
                        ),
                        Request::Load => format!(
                            "the load was cancelled by {by}; the sandbox is back in its \
                             pre-load state: call getLoadedSandbox() again (with a higher limit \
                             or fixed code)"
                        ),
                    },
                    guest: None,
                    terminated_by: Some(terminated_by),
                    cause: None,
                }
            }
            other => Failure::new(code, other.to_string()),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::of(e, Request::Call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_error_keeps_the_guest_error_and_says_what_was_thrown() {
        let f = Failure::from(Error::Handler(GuestError {
            name: "TypeError".into(),
            message: "x is not a function".into(),
            stack: "at handler (handler/h:1:2)".into(),
        }));
        assert_eq!(f.code, ErrorCode::Handler);
        assert_eq!(
            f.message,
            "the handler threw TypeError: x is not a function"
        );
        let g = f
            .guest
            .as_deref()
            .expect("the guest error travels with the failure");
        assert_eq!(
            (g.name.as_str(), g.stack.as_str()),
            ("TypeError", "at handler (handler/h:1:2)")
        );
        assert_eq!(f.terminated_by, None);
    }

    #[test]
    fn a_cancellation_names_the_monitor_or_kill_and_carries_terminated_by() {
        let by_monitor = Failure::from(Error::Cancelled {
            terminated_by: Some("cpu-time"),
        });
        assert_eq!(by_monitor.code, ErrorCode::Cancelled);
        assert_eq!(by_monitor.terminated_by, Some(Some("cpu-time")));
        assert!(
            by_monitor.message.contains("by the `cpu-time` monitor"),
            "{}",
            by_monitor.message
        );
        assert!(
            by_monitor.message.contains("poisoned"),
            "{}",
            by_monitor.message
        );
        let by_kill = Failure::from(Error::Cancelled {
            terminated_by: None,
        });
        assert_eq!(by_kill.terminated_by, Some(None));
        assert!(
            by_kill.message.contains("cancelled by kill()"),
            "{}",
            by_kill.message
        );
        // Built here (a load stopped by its AbortSignal), the same shape.
        let aborted = Failure::cancelled("stopped", Some("signal"));
        assert_eq!(
            (aborted.code, aborted.terminated_by),
            (ErrorCode::Cancelled, Some(Some("signal")))
        );
    }

    #[test]
    fn other_errors_keep_their_code_and_message() {
        let f = Failure::from(Error::InvalidArgument("the heap size is 1 bytes".into()));
        assert_eq!(f.code, ErrorCode::InvalidArg);
        assert!(
            f.message.contains("the heap size is 1 bytes"),
            "{}",
            f.message
        );
        assert_eq!(f.terminated_by, None);
        assert!(f.guest.is_none());
        assert_eq!(Failure::internal("a bug").code, ErrorCode::Internal);
        assert_eq!(Failure::invalid("bad").code, ErrorCode::InvalidArg);
    }

    #[test]
    fn consumed_names_the_call_that_consumed_or_the_disposal() {
        let f = Failure::consumed("JSSandbox", "getLoadedSandbox()");
        assert_eq!(f.code, ErrorCode::Consumed);
        assert_eq!(
            f.message,
            "this JSSandbox was already consumed by getLoadedSandbox(); use the object that call returned"
        );
        let d = Failure::consumed("LoadedJSSandbox", "dispose()");
        assert_eq!(
            d.message,
            "this LoadedJSSandbox was disposed ([Symbol.asyncDispose]()); its micro-VM is released"
        );
    }

    #[test]
    fn scripts_and_loads_are_named_as_what_failed() {
        let thrown = |request| {
            Failure::of(
                Error::Handler(GuestError {
                    name: "SyntaxError".into(),
                    message: "unexpected token".into(),
                    stack: String::new(),
                }),
                request,
            )
        };
        assert_eq!(
            thrown(Request::Script).message,
            "the script threw SyntaxError: unexpected token"
        );
        let load = thrown(Request::Load);
        assert_eq!(load.code, ErrorCode::Handler);
        assert_eq!(
            load.message,
            "loading the handlers and modules failed with SyntaxError: unexpected token"
        );
        let located = Failure::of(
            Error::Handler(GuestError {
                name: "SyntaxError".into(),
                message: "unexpected token".into(),
                stack: "    at handler/bad:1:33\n".into(),
            }),
            Request::Load,
        );
        assert_eq!(
            located.message,
            "loading the handlers and modules failed with SyntaxError: unexpected token \
             (at handler/bad:1:33)"
        );
        let cancelled = |request| {
            Failure::of(
                Error::Cancelled {
                    terminated_by: Some("wall-clock"),
                },
                request,
            )
        };
        let script = cancelled(Request::Script);
        assert!(
            script
                .message
                .starts_with("the script was cancelled by the `wall-clock` monitor"),
            "{}",
            script.message
        );
        let load = cancelled(Request::Load);
        assert_eq!(load.terminated_by, Some(Some("wall-clock")));
        assert!(
            load.message.contains("the load was cancelled")
                && load.message.contains("pre-load state")
                && !load.message.contains("restore a snapshot"),
            "{}",
            load.message
        );
    }
}
