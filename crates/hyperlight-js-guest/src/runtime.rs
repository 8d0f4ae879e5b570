//! Engine start-up: the runtime (allocator hooks, memory and stack limits,
//! interrupt handler, module loader), the context and the built-ins.
//!
//! Value ownership: the runtime and context live for the guest's whole
//! life and are never freed (a restore or a new VM replaces them).

use core::ffi::{c_int, c_void};
use core::ptr;

use rquickjs_sys as q;

use crate::abort::{abort_fmt, code};
use crate::control::{self, Layout};
use crate::{builtin_modules, builtins, crypto, heap, js, modules, sab, webapi};

static MALLOC_FUNCTIONS: q::JSMallocFunctions = q::JSMallocFunctions {
    js_calloc: Some(heap::js_calloc),
    js_malloc: Some(heap::js_malloc),
    js_free: Some(heap::js_free),
    js_realloc: Some(heap::js_realloc),
    js_malloc_usable_size: Some(heap::js_usable_size),
};

/// Memory kept out of QuickJS's reach for the runtime's own bookkeeping
/// (handler table, error messages, host-call buffers).
pub fn heap_reserve(heap_size: u64) -> u64 {
    (heap_size / 16).clamp(128 << 10, 4 << 20).min(heap_size / 4)
}

/// Stack kept below QuickJS's stack limit, for C code that does not check
/// the limit (libc formatting, the regexp compiler's leaves) and for
/// reporting the RangeError itself.
pub fn stack_reserve(stack_size: u64) -> u64 {
    (stack_size / 8).clamp(32 << 10, 256 << 10).min(stack_size / 2)
}

unsafe extern "C" fn interrupt_handler(_rt: *mut q::JSRuntime, _opaque: *mut c_void) -> c_int {
    control::interrupt_requested() as c_int
}

/// Creates the runtime and the context and installs the built-ins.
pub fn init(layout: &Layout) {
    // SAFETY: `MALLOC_FUNCTIONS` is static; the hooks implement the C
    // allocation contract over the guest heap.
    let rt = unsafe { q::JS_NewRuntime2(&MALLOC_FUNCTIONS, ptr::null_mut()) };
    if rt.is_null() {
        abort_fmt(code::INIT, format_args!("cannot create the JavaScript runtime (heap of {} bytes)", layout.heap.size));
    }
    // The engine's memory limit is enforced by its allocation hooks (so
    // that every refusal is recorded, see `heap::engine_refused`), not by
    // `JS_SetMemoryLimit`, whose refusals would go unseen.
    heap::set_engine_floor(heap_reserve(layout.heap.size) as usize);
    // The runtime measured its stack top when it was created, a few
    // hundred bytes below the top of the stack region.
    let max_stack = layout.stack.size - stack_reserve(layout.stack.size) - 4096;
    // SAFETY: `rt` is the live runtime; the callbacks have the C
    // signatures QuickJS expects and live forever.
    unsafe {
        q::JS_SetMaxStackSize(rt, max_stack as _);
        q::JS_SetInterruptHandler(rt, Some(interrupt_handler), ptr::null_mut());
        q::JS_SetCanBlock(rt, false);
        q::JS_SetModuleLoaderFunc2(
            rt,
            Some(modules::normalize),
            Some(modules::loader),
            Some(modules::check_attributes),
            ptr::null_mut(),
        );
    }
    sab::install(rt);
    // SAFETY: `rt` is live.
    let ctx = unsafe { q::JS_NewContext(rt) };
    if ctx.is_null() {
        abort_fmt(code::INIT, format_args!("cannot create the JavaScript context (heap of {} bytes)", layout.heap.size));
    }
    js::set_engine(rt, ctx);
    if crypto::init(rt, ctx).is_err()
        || builtins::install(ctx).is_err()
        || webapi::install(ctx).is_err()
        || crate::intl::install(ctx).is_err()
        || builtin_modules::install(ctx).is_err()
    {
        let exc = js::take_exception(ctx);
        let info = js::describe(ctx, &exc);
        drop(exc);
        abort_fmt(code::INIT, format_args!("cannot install the built-ins: {}: {}", info.name, info.message));
    }
}
