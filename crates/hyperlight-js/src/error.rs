//! The one error type of this crate, and the stable codes it maps onto.

use std::fmt;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable, machine-readable error codes, shared with the Node API
/// (`err.code`). Each [`Error`] variant maps onto exactly one code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `ERR_INVALID_ARG`: a bad argument (empty name, zero timeout, size out
    /// of range, unknown handler, event or source too large...).
    InvalidArg,
    /// `ERR_CONSUMED`: the object was already consumed by a transition (only
    /// reachable through the Node API; Rust enforces this at compile time).
    Consumed,
    /// `ERR_POISONED`: the sandbox is in an inconsistent state; restore a
    /// snapshot or unload.
    Poisoned,
    /// `ERR_CANCELLED`: the call was cancelled by a monitor or `kill()`.
    Cancelled,
    /// `ERR_GUEST_ABORT`: the guest aborted or crashed (fault, out of memory,
    /// protocol violation).
    GuestAbort,
    /// `ERR_HANDLER`: the handler threw, or returned something that cannot
    /// cross the boundary; carries the guest error's name, message and stack.
    Handler,
    /// `ERR_NO_HYPERVISOR`: `/dev/kvm` is missing or unusable.
    NoHypervisor,
    /// `ERR_INTERNAL`: an unexpected internal error.
    Internal,
}

impl ErrorCode {
    /// The string form used as `err.code` in Node.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArg => "ERR_INVALID_ARG",
            ErrorCode::Consumed => "ERR_CONSUMED",
            ErrorCode::Poisoned => "ERR_POISONED",
            ErrorCode::Cancelled => "ERR_CANCELLED",
            ErrorCode::GuestAbort => "ERR_GUEST_ABORT",
            ErrorCode::Handler => "ERR_HANDLER",
            ErrorCode::NoHypervisor => "ERR_NO_HYPERVISOR",
            ErrorCode::Internal => "ERR_INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JavaScript error thrown inside the guest (or a handler result that
/// could not cross the boundary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestError {
    /// The error's `name` (`TypeError`, `RangeError`, ...).
    pub name: String,
    /// The error's `message`.
    pub message: String,
    /// The error's `stack`, as the engine printed it (may be empty).
    pub stack: String,
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// Everything that can go wrong. Messages read as sentences a user can act
/// on; [`Error::code`] gives the stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad argument; the message names it and the accepted range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The object was consumed by an earlier transition.
    #[error("{0} was already consumed")]
    Consumed(&'static str),
    /// The sandbox is poisoned by an earlier failure.
    #[error(
        "the sandbox is poisoned by an earlier failure ({0}); restore a snapshot or unload it"
    )]
    Poisoned(String),
    /// The call was cancelled (the sandbox is now poisoned).
    #[error("the call was cancelled{}", by_monitor(.terminated_by))]
    Cancelled {
        /// The monitor that fired, or `None` for a manual `kill()`.
        terminated_by: Option<&'static str>,
    },
    /// The guest aborted or crashed (the sandbox is now poisoned).
    #[error("the guest aborted: {0}")]
    GuestAbort(String),
    /// The handler threw, or its result could not cross the boundary.
    #[error("the handler failed: {0}")]
    Handler(GuestError),
    /// A monitor could not start, so the handler was never run (fail
    /// closed). The sandbox is not poisoned.
    #[error("monitor `{monitor}` failed to start, so the handler was not run: {reason}")]
    MonitorStart {
        /// The monitor that failed.
        monitor: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// No usable hypervisor.
    #[error("no usable hypervisor: {0}")]
    NoHypervisor(String),
    /// An unexpected internal error.
    #[error("internal error: {0}")]
    Internal(String),
}

fn by_monitor(m: &Option<&'static str>) -> String {
    match m {
        Some(name) => format!(" by the `{name}` monitor"),
        None => " by kill()".to_string(),
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidArgument(_) => ErrorCode::InvalidArg,
            Error::Consumed(_) => ErrorCode::Consumed,
            Error::Poisoned(_) => ErrorCode::Poisoned,
            Error::Cancelled { .. } => ErrorCode::Cancelled,
            Error::GuestAbort(_) => ErrorCode::GuestAbort,
            Error::Handler(_) => ErrorCode::Handler,
            Error::MonitorStart { .. } | Error::Internal(_) => ErrorCode::Internal,
            Error::NoHypervisor(_) => ErrorCode::NoHypervisor,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}
