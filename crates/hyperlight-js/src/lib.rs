//! Run untrusted JavaScript handlers inside hardware-isolated micro-VMs.
//!
//! Each sandbox is a KVM virtual machine with one vCPU, no kernel and no
//! devices, running the QuickJS engine in ring 3. The host talks to it
//! through a few I/O ports and two shared buffers (see `docs/guest-abi.md`).
//!
//! The lifecycle is a typestate; each transition consumes the old value:
//!
//! [`SandboxBuilder`] → [`ProtoJSSandbox`] (register host functions) →
//! [`JSSandbox`] (add handlers and modules) → [`LoadedJSSandbox`] (handle
//! events, snapshot, restore, unload).
//!
//! ```
//! use hyperlight_js::SandboxBuilder;
//!
//! # fn main() -> hyperlight_js::Result<()> {
//! let mut proto = SandboxBuilder::new().build()?;
//! proto.register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))?;
//! let mut sandbox = proto.load_runtime()?;
//! sandbox.add_handler(
//!     "greet",
//!     r#"
//!     import * as math from "host:math";
//!     function handler(event) {
//!         return { message: "Hello, " + event.name + "!", sum: math.add(1, 2) };
//!     }
//!     "#,
//! )?;
//! let mut loaded = sandbox.get_loaded_sandbox()?;
//! let result = loaded.handle_event("greet", r#"{"name":"World"}"#, None)?;
//! assert_eq!(result, r#"{"message":"Hello, World!","sum":3}"#);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod builder;
mod crash_dump;
mod driver;
mod error;
mod guest_image;
mod host_functions;
mod hypervisor;
mod js_sandbox;
mod loaded;
mod module_loader;
pub mod monitor;
pub mod names;
pub mod observability;
pub mod print;
mod proto;
mod stats;
mod template;
mod vm_error;
mod warm;

pub use builder::{
    SandboxBuilder, MAX_BUFFER_SIZE, MAX_GUEST_MEMORY, MIN_BUFFER_SIZE, MIN_HEAP_SIZE,
    MIN_SCRATCH_SIZE,
};
pub use error::{Error, ErrorCode, GuestError, Result};
pub use host_functions::{CancelToken, CancellableHostFunction, RawHostFunction};
pub use hypervisor::{
    check_hypervisor, is_hypervisor_present, AccessInfo, HostFacts, KvmReport, PreflightError,
};
pub use js_sandbox::{JSSandbox, LoadFailure, DEFAULT_NAMESPACE, HOST_NAMESPACE};
pub use loaded::{InterruptHandle, LoadedJSSandbox, Snapshot};
pub use module_loader::{
    EmbeddedModules, FileSystemLoader, ModuleLoadError, ModuleLoader, DEFAULT_MAX_MODULE_SIZE,
};
#[cfg(feature = "monitor-cpu-time")]
pub use monitor::CpuTimeMonitor;
#[cfg(feature = "monitor-wall-clock")]
pub use monitor::WallClockMonitor;
pub use monitor::{ExecutionMonitor, MonitorSet};
pub use print::{flush_prints, stdio_sink, PrintLevel, PrintSink};
pub use proto::{HostModule, ProtoJSSandbox};
pub use stats::CallStats;
pub use warm::{Handed, WarmCall, WarmHostCall, WarmOutcome, WarmPath};

/// The VM layer's configuration type, re-exported for callers that tune
/// more than [`SandboxBuilder`] exposes.
pub use hyperlight_vm::VmConfig;
