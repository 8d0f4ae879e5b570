//! The KVM micro-VM layer of hyperlight-js.
//!
//! A [`Vm`] is one KVM virtual machine with one vCPU, no kernel and no
//! devices. It boots a static guest ELF straight into 64-bit long mode at
//! ring 3, and talks to it through a few I/O ports and shared buffers (the
//! ABI in [`hyperlight_abi`], documented in `docs/guest-abi.md`):
//!
//! * [`Vm::call`] writes a tagged request into the input buffer and resumes
//!   the guest; the guest answers with one exit, the answer framed in the
//!   output buffer. While it works, the guest may call the host
//!   ([`HostHandler::host_call`]) and batch print output
//!   ([`HostHandler::print`]).
//! * [`Vm::snapshot`] / [`Vm::restore`] capture and reset guest memory and
//!   vCPU state, rewriting only the pages dirtied since the snapshot.
//! * [`Template`] captures a booted (or prepared) guest once;
//!   [`Vm::from_template`] creates VMs from it without re-running the
//!   guest's initialisation, and [`Template::snapshot`] restores into any
//!   of them.
//! * [`InterruptHandle::kill`] stops a running call from any thread.
//! * Anything the guest does wrong (a fault, an abort, a protocol
//!   violation) *poisons* the VM: calls fail with [`Error::Poisoned`] until a
//!   successful restore.
//!
//! ```no_run
//! use hyperlight_vm::{NullHandler, Vm, VmConfig};
//!
//! # fn main() -> Result<(), hyperlight_vm::Error> {
//! let elf = std::fs::read("guest.elf").expect("a guest image");
//! let mut vm = Vm::new(&VmConfig::default(), &elf)?; // boots to "ready"
//! let clean = vm.snapshot()?;
//! let answer = vm.call(1, b"hello", &mut NullHandler)?;
//! println!("tag {} payload {:?}", answer.tag, answer.payload);
//! vm.restore(&clean)?; // back to the state right after boot
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod arch;
mod config;
mod elf;
mod fault;
mod image;
mod interrupt;
mod mailbox;
mod memory;
mod snapshot;
mod template;
mod vm;

pub use config::{
    Layout, VmConfig, DEFAULT_BUFFER, DEFAULT_CLOCK_RESOLUTION_NS, DEFAULT_HEAP, DEFAULT_STACK,
    MAX_BUFFER, MAX_CLOCK_RESOLUTION_NS, MAX_GUEST_MEMORY, MIN_BUFFER, MIN_HEAP, MIN_PRINT,
    MIN_STACK, STACK_GUARD,
};
pub use fault::{Access, FaultKind, GuestFault};
pub use hyperlight_abi as abi;
pub use interrupt::{CancelToken, InterruptHandle};
pub use mailbox::{HostCall, MailboxHandle, Ticket};
pub use snapshot::Snapshot;
pub use template::{ChildMemory, Template};
pub use vm::{HostHandler, NullHandler, PollEnd, Response, Vm};

/// Everything that can go wrong. Errors marked *poisons* leave the VM
/// poisoned: further calls fail with [`Error::Poisoned`] until
/// [`Vm::restore`] succeeds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`VmConfig`] size is zero, too small or too large.
    #[error("invalid VM configuration: {0}")]
    Config(String),
    /// The guest image is not a static x86-64 executable that fits.
    #[error("invalid guest image: {0}")]
    Elf(String),
    /// No usable hypervisor: `/dev/kvm` could not be opened, is not a KVM
    /// device (it does not answer the KVM ioctls), or refuses to create a
    /// VM. The machine, not the sandbox, is the problem.
    #[error("KVM is not usable here: {op} failed: {source}")]
    Unavailable {
        /// The operation that failed.
        op: &'static str,
        /// The errno from the kernel.
        source: kvm_ioctls::Error,
    },
    /// A KVM ioctl failed on a VM that was created.
    #[error("KVM {op} failed: {source}")]
    Kvm {
        /// The operation that failed.
        op: &'static str,
        /// The errno from the kernel.
        source: kvm_ioctls::Error,
    },
    /// Another OS call (mmap, getrandom) failed.
    #[error("{op} failed: {source}")]
    Os {
        /// The operation that failed.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The VM was poisoned by an earlier failure.
    #[error("the sandbox is poisoned by an earlier failure ({reason}); restore a snapshot to use it again")]
    Poisoned {
        /// The earlier failure.
        reason: String,
    },
    /// The call was stopped by [`InterruptHandle::kill`] (called by the
    /// embedder, or by an execution monitor whose limit was reached).
    /// Poisons.
    #[error("the call was killed (by kill() or a monitor's limit)")]
    Cancelled,
    /// The guest aborted with a message (port ABORT). Poisons.
    #[error("the guest aborted (code {code}): {message}")]
    GuestAbort {
        /// The one-byte code the guest wrote.
        code: u8,
        /// The guest's message (lossy UTF-8, at most the output buffer).
        message: String,
    },
    /// The guest crashed: an exception reported by the fault stubs, or a
    /// triple fault. Poisons.
    #[error("the guest crashed: {0}")]
    GuestFault(GuestFault),
    /// The guest broke the protocol: a length out of bounds, an unknown or
    /// input port, a corrupt print buffer. Poisons.
    #[error("the guest broke the protocol: {0}")]
    Protocol(String),
    /// The vCPU stopped for a reason the guest cannot cause on purpose (MMIO,
    /// KVM internal or emulation error, failed entry). Poisons.
    #[error("the VM stopped unexpectedly: {0}")]
    VmExit(String),
    /// A request does not fit the input buffer (nothing was sent).
    #[error("the request payload is {len} bytes but the input buffer holds at most {capacity}")]
    InputTooLarge {
        /// Payload length.
        len: usize,
        /// [`Vm::input_capacity`].
        capacity: usize,
    },
    /// The snapshot was taken from another VM.
    #[error("the snapshot belongs to another sandbox (lineage {snapshot}, this VM is {vm})")]
    ForeignSnapshot {
        /// The snapshot's lineage id.
        snapshot: u64,
        /// This VM's id.
        vm: u64,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn kvm(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
        move |source| Error::Kvm { op, source }
    }

    /// For the operations whose failure means there is no usable hypervisor.
    pub(crate) fn unavailable(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
        move |source| Error::Unavailable { op, source }
    }
}
