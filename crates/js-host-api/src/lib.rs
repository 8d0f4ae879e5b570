//! Node.js bindings of hyperlight-js (napi-rs): the native half of the npm
//! package `@hyperlight/js-host-api`.
//!
//! The classes mirror the Rust typestate (`SandboxBuilder` →
//! `ProtoJSSandbox` → `JSSandbox` → `LoadedJSSandbox`); a transition
//! consumes the old object, and using it again throws `ERR_CONSUMED`.
//!
//! Threading (see `worker.rs` and `main_thread.rs`): each sandbox has its
//! own OS thread that creates its micro-VM and keeps it for life. Every
//! method that touches the VM returns a Promise: the request goes to the
//! sandbox thread over a channel and the answer comes back through one
//! threadsafe function per Node environment. Host functions run on the
//! main thread; the sandbox thread waits for them (sync or Promise),
//! watching the call's cancel token.
#![deny(missing_docs)]
// napi-derive generates unsafe blocks of its own (without SAFETY comments); ours have them.
#![allow(clippy::undocumented_unsafe_blocks)]

mod abort;
mod args;
mod builder;
mod busy;
mod errors;
mod hypervisor;
mod js;
mod js_sandbox;
mod limits;
mod loaded;
mod main_thread;
mod options;
mod print;
mod proto;
mod spin;
mod threads;
mod warm;
mod worker;

pub use builder::SandboxBuilder;
pub use hypervisor::{check_hypervisor, DeviceAccess, HostInfo, HypervisorCheck, KvmInfo};
pub use js_sandbox::JSSandbox;
pub use limits::SandboxLoadOptions;
pub use loaded::{
    CallHandlerOptions, CallStats, EvalScriptOptions, InterruptHandle, LoadedJSSandbox, Snapshot,
};
pub use proto::{HostModule, ProtoJSSandbox};
