//! How the VM layer's errors map onto this crate's [`Error`].

use crate::error::Error;

impl From<hyperlight_vm::Error> for Error {
    fn from(e: hyperlight_vm::Error) -> Self {
        use hyperlight_vm::Error as V;
        match e {
            V::Config(msg) => Error::InvalidArgument(msg),
            V::InputTooLarge { len, capacity } => Error::InvalidArgument(format!(
                "the request is {len} bytes but the input buffer holds at most {capacity}; \
                 raise the input buffer size"
            )),
            V::ForeignSnapshot { .. } => Error::InvalidArgument(e.to_string()),
            V::Poisoned { reason } => Error::Poisoned(reason),
            V::Cancelled => Error::Cancelled {
                terminated_by: None,
            },
            V::GuestAbort { message, .. } => Error::GuestAbort(message),
            V::GuestFault(_) | V::Protocol(_) | V::VmExit(_) => Error::GuestAbort(e.to_string()),
            // By kind: the VM layer says which failures mean the machine
            // has no usable hypervisor (open, not a KVM device, VM creation).
            V::Unavailable { .. } => Error::NoHypervisor(format!(
                "{e}.\n{}\n(The same diagnosis as data: hyperlight_js::check_hypervisor() in Rust, \
                 checkHypervisor() from @hyperlight/js-host-api in Node.js.)",
                crate::hypervisor::diagnosis()
            )),
            other => Error::Internal(other.to_string()),
        }
    }
}
