//! The SharedArrayBuffer allocator.
//!
//! QuickJS-ng can only create a growable `SharedArrayBuffer`
//! (`new SharedArrayBuffer(n, { maxByteLength })`) when the embedder
//! installs allocator hooks (`JS_SetSharedArrayBufferFunctions`): a shared
//! buffer must never move, so the engine allocates `maxByteLength` bytes up
//! front and grows in place, and a block shared by several buffer objects
//! (`structuredClone`, agents) is reference counted. The guest has one
//! thread, so the count needs no atomics.
//!
//! The memory comes from the engine's own allocator (`js_malloc_rt`), so a
//! shared buffer counts against the runtime's memory limit like any other
//! allocation: a `maxByteLength` beyond what the heap has left fails
//! with the engine's out-of-memory error instead of exhausting the heap.

use core::ffi::c_void;

use rquickjs_sys as q;

use crate::js::JSRuntime;

/// Bytes before the buffer: the reference count (16 to keep the buffer
/// 16-aligned, as malloc's).
const HEADER: usize = 16;

unsafe extern "C" fn sab_alloc(opaque: *mut c_void, size: q::size_t) -> *mut c_void {
    let rt = opaque.cast::<JSRuntime>();
    let Some(total) = (size as usize).checked_add(HEADER) else {
        return core::ptr::null_mut();
    };
    // SAFETY: `rt` is the live runtime (the opaque set in `install`).
    let p = unsafe { q::js_malloc_rt(rt, total as _) }.cast::<u8>();
    if p.is_null() {
        return p.cast();
    }
    // SAFETY: `p` has `total` bytes, malloc-aligned; the count is the
    // first 8.
    unsafe {
        p.cast::<u64>().write(1);
        p.add(HEADER).cast()
    }
}

unsafe extern "C" fn sab_free(opaque: *mut c_void, ptr: *mut c_void) {
    // SAFETY: `ptr` came from `sab_alloc`, so its header is `HEADER` bytes
    // before it; the block is freed once no buffer refers to it.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let count = base.cast::<u64>();
        *count -= 1;
        if *count == 0 {
            q::js_free_rt(opaque.cast(), base.cast());
        }
    }
}

unsafe extern "C" fn sab_dup(_opaque: *mut c_void, ptr: *mut c_void) {
    // SAFETY: as in `sab_free`.
    unsafe { *ptr.cast::<u8>().sub(HEADER).cast::<u64>() += 1 };
}

/// Installs the allocator into the runtime.
pub fn install(rt: *mut JSRuntime) {
    let funcs = q::JSSharedArrayBufferFunctions {
        sab_alloc: Some(sab_alloc),
        sab_free: Some(sab_free),
        sab_dup: Some(sab_dup),
        sab_opaque: rt.cast(),
    };
    // SAFETY: QuickJS copies the structure; `rt` is live.
    unsafe { q::JS_SetSharedArrayBufferFunctions(rt, &funcs) };
}
