//! The hyperlight-js guest image: QuickJS-ng and its runtime as a
//! freestanding static ELF that runs in ring 3 of a micro-VM.
//!
//! Boot: the host enters `_start` (see `arch`) with the control page in
//! `rdi`. `guest_main` sets up the heap, the clocks, the random generators
//! and the engine, then serves requests forever (see `protocol`): the first
//! exit on the DONE port tells the host the guest is ready.
//!
//! Nothing here makes a system call: there is no kernel. libc comes from
//! musl's static `libc.a` for leaf functions only; everything that would
//! reach the kernel is overridden (see `libc` and `heap`).
#![no_std]
#![no_main]

extern crate alloc;

mod abort;
mod arch;
mod builtin_modules;
mod builtins;
mod control;
mod crypto;
mod debug;
mod handlers;
mod heap;
mod inspect;
mod intl;
mod js;
mod libc;
mod mailbox;
mod modules;
mod numconv;
mod print;
mod protocol;
mod rng;
mod runtime;
mod sab;
mod script;
mod subtle;
mod sync;
mod time;
mod timers;
mod webapi;

use hyperlight_abi::ControlPage;

/// Called by `_start` with the control page address. Never returns.
pub extern "C" fn guest_main(control_page: *const ControlPage) -> ! {
    let layout = control::init(control_page);
    heap::init(layout.heap.base, layout.heap.size);
    time::resumed();
    rng::reseed();
    runtime::init(&layout);
    handlers::collect_at_boot();
    protocol::serve()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    abort::abort_fmt(abort::code::PANIC, format_args!("guest panic: {info}"))
}
