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
            V::Kvm { op, .. } if is_setup(op) => Error::NoHypervisor(format!(
                "{e}. Check that /dev/kvm exists and is readable and writable by this user, \
                 and that virtualisation is enabled (run the kvm-preflight binary for a diagnosis)"
            )),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// KVM operations whose failure means "no usable hypervisor" rather than a
/// bug.
fn is_setup(op: &str) -> bool {
    op.contains("open") || op.contains("create_vm") || op.contains("api version")
}
