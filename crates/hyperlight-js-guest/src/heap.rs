//! The guest's one allocator, over the control page's heap region.
//!
//! [`talc`] rather than `linked_list_allocator`: QuickJS makes very many
//! small allocations and frees, and talc's segregated free lists find a fit
//! in near-constant time where a first-fit linked list walks every free
//! block (its cost grows with fragmentation). talc also grows and shrinks in
//! place, which QuickJS's `realloc`-heavy strings and arrays benefit from.
//!
//! Everything allocates here: Rust (`#[global_allocator]`), QuickJS
//! (`JSMallocFunctions`) and any C code calling `malloc` (musl's own malloc
//! is never linked; it would `mmap`). C allocations carry a 16-byte header
//! holding their size, which `free`, `realloc` and `malloc_usable_size` need.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use core::cell::Cell;

use talc::{ErrOnOom, Span, Talc};

use crate::sync::Single;

/// The allocator. Only touched by the one guest thread, never re-entrantly
/// (talc does not call back into us: its OOM handler just fails).
struct Heap(UnsafeCell<Talc<ErrOnOom>>);

// SAFETY: the guest is single threaded (see `sync`), so the cell is never
// accessed from two threads.
unsafe impl Sync for Heap {}

static HEAP: Heap = Heap(UnsafeCell::new(Talc::new(ErrOnOom)));

/// Bytes handed out by talc (all users), and the heap's size.
static USED: Single<Cell<usize>> = Single::new(Cell::new(0));
static SIZE: Single<Cell<usize>> = Single::new(Cell::new(0));

/// Free bytes QuickJS may never take: the runtime's own error paths
/// (messages, answers) must still find memory when the engine is out of it.
const ENGINE_FLOOR: usize = 64 << 10;

fn used_add(n: usize) {
    let used = USED.get().get() + n;
    USED.get().set(used);
    publish(used, true);
}

fn used_sub(n: usize) {
    let used = USED.get().get().saturating_sub(n);
    USED.get().set(used);
    publish(used, false);
}

/// Mirrors the heap counters into `hyperlight_abi::GuestStats` in the TLS
/// page, where the host reads them for its metrics (no exit needed).
fn publish(used: usize, grew: bool) {
    let stats = hyperlight_abi::layout::GUEST_STATS as *mut hyperlight_abi::GuestStats;
    // SAFETY: the TLS page is mapped read-write for the guest for its whole
    // life, GUEST_STATS is 8-aligned inside it, and nothing else in the
    // guest uses those bytes (single threaded).
    unsafe {
        (*stats).heap_used = used as u64;
        if grew && used as u64 > (*stats).heap_peak {
            (*stats).heap_peak = used as u64;
        }
    }
}

/// Bytes allocated now (the engine's and the runtime's).
pub fn used() -> usize {
    USED.get().get()
}

/// Whether the engine may grow its memory by `n` bytes.
fn engine_may_take(n: usize) -> bool {
    USED.get().get().saturating_add(n).saturating_add(ENGINE_FLOOR) <= SIZE.get().get()
}

#[global_allocator]
static GLOBAL: RustAlloc = RustAlloc;

fn talc() -> &'static mut Talc<ErrOnOom> {
    // SAFETY: single threaded and never re-entered (no allocator function
    // calls another while holding this reference), so the mutable
    // reference is unique for its short use.
    unsafe { &mut *HEAP.0.get() }
}

/// Hands the heap region `[base, base + size)` to the allocator. Called once
/// at entry, before anything allocates.
pub fn init(base: u64, size: u64) {
    if size == 0 {
        crate::abort::abort_msg(crate::abort::code::BAD_CONTROL, "the heap region is empty");
    }
    let span = Span::from_base_size(base as *mut u8, size as usize);
    // SAFETY: the host maps the heap region read-write for the guest and
    // nothing else uses it.
    if unsafe { talc().claim(span) }.is_err() {
        crate::abort::abort_msg(crate::abort::code::BAD_CONTROL, "the heap region is too small");
    }
    SIZE.get().set(size as usize);
}

struct RustAlloc;

// SAFETY: delegates to talc, which returns memory of at least the requested
// layout, unique until freed.
unsafe impl GlobalAlloc for RustAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `layout` has a non-zero size (GlobalAlloc contract).
        match unsafe { talc().malloc(layout) } {
            Ok(p) => {
                used_add(layout.size());
                p.as_ptr()
            }
            Err(()) => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        used_sub(layout.size());
        // SAFETY: `ptr` came from `alloc`/`realloc` with `layout`.
        unsafe { talc().free(NonNull::new_unchecked(ptr), layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`;
        // `new_size` is non-zero (GlobalAlloc contract).
        unsafe {
            let p = NonNull::new_unchecked(ptr);
            if new_size > layout.size() {
                match talc().grow(p, layout, new_size) {
                    Ok(n) => {
                        used_add(new_size - layout.size());
                        n.as_ptr()
                    }
                    Err(()) => ptr::null_mut(),
                }
            } else {
                talc().shrink(p, layout, new_size);
                used_sub(layout.size() - new_size);
                ptr
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The C allocation functions.

/// Size of the header in front of every C allocation (keeps the 16-byte
/// alignment `malloc` promises).
const HDR: usize = 16;
const ALIGN: usize = 16;

fn c_layout(size: usize) -> Option<Layout> {
    let total = size.checked_add(HDR)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// # Safety
/// `p` is a pointer returned by [`c_malloc`] or [`c_realloc`] and not freed.
unsafe fn c_size(p: *mut u8) -> usize {
    // SAFETY: the header sits `HDR` bytes in front of `p` (caller contract).
    unsafe { ptr::read(p.sub(HDR).cast::<usize>()) }
}

/// `malloc`: `size` bytes aligned to 16, or null.
pub fn c_malloc(size: usize) -> *mut u8 {
    let Some(layout) = c_layout(size) else {
        return ptr::null_mut();
    };
    // SAFETY: `layout` is non-zero sized (it includes the header).
    match unsafe { talc().malloc(layout) } {
        Ok(base) => {
            used_add(layout.size());
            let base = base.as_ptr();
            // SAFETY: `base` points to at least `HDR` writable bytes,
            // 16-aligned.
            unsafe {
                ptr::write(base.cast::<usize>(), size);
                base.add(HDR)
            }
        }
        Err(()) => ptr::null_mut(),
    }
}

/// `free`.
///
/// # Safety
/// `p` is null or a live pointer from [`c_malloc`]/[`c_realloc`].
pub unsafe fn c_free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    // SAFETY: caller contract; the layout is rebuilt from the header.
    unsafe {
        let size = c_size(p);
        let layout = Layout::from_size_align_unchecked(size + HDR, ALIGN);
        used_sub(layout.size());
        talc().free(NonNull::new_unchecked(p.sub(HDR)), layout);
    }
}

/// `realloc`. A zero size frees and returns null.
///
/// # Safety
/// `p` is null or a live pointer from [`c_malloc`]/[`c_realloc`].
pub unsafe fn c_realloc(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        return c_malloc(size);
    }
    if size == 0 {
        // SAFETY: forwarded contract.
        unsafe { c_free(p) };
        return ptr::null_mut();
    }
    let Some(new_layout) = c_layout(size) else {
        return ptr::null_mut();
    };
    // SAFETY: caller contract: `p` is live with the layout in its header.
    unsafe {
        let old = c_size(p);
        let old_layout = Layout::from_size_align_unchecked(old + HDR, ALIGN);
        let base = NonNull::new_unchecked(p.sub(HDR));
        let new_base = if new_layout.size() > old_layout.size() {
            match talc().grow(base, old_layout, new_layout.size()) {
                Ok(n) => {
                    used_add(new_layout.size() - old_layout.size());
                    n.as_ptr()
                }
                Err(()) => return ptr::null_mut(),
            }
        } else {
            talc().shrink(base, old_layout, new_layout.size());
            used_sub(old_layout.size() - new_layout.size());
            base.as_ptr()
        };
        ptr::write(new_base.cast::<usize>(), size);
        new_base.add(HDR)
    }
}

/// `malloc_usable_size`: the size asked for (never less than usable).
///
/// # Safety
/// `p` is null or a live pointer from [`c_malloc`]/[`c_realloc`].
pub unsafe fn c_usable_size(p: *const u8) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: caller contract.
    unsafe { c_size(p as *mut u8) }
}

// The libc symbols. They override musl's (whose malloc would call mmap).

/// # Safety
/// C `malloc`.
#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    c_malloc(size).cast()
}

/// # Safety
/// C `free`: `p` is null or from this allocator.
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: C contract of `free`.
    unsafe { c_free(p.cast()) }
}

/// # Safety
/// C `calloc`.
#[no_mangle]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        return ptr::null_mut();
    };
    let p = c_malloc(total);
    if !p.is_null() {
        // SAFETY: `p` points to `total` writable bytes.
        unsafe { ptr::write_bytes(p, 0, total) };
    }
    p.cast()
}

/// # Safety
/// C `realloc`: `p` is null or from this allocator.
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: C contract of `realloc`.
    unsafe { c_realloc(p.cast(), size).cast() }
}

/// # Safety
/// C `malloc_usable_size`: `p` is null or from this allocator.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    // SAFETY: C contract.
    unsafe { c_usable_size(p as *const u8) }
}

// The same functions in the shape QuickJS's `JSMallocFunctions` wants
// (`size_t` is `c_ulong` in the bindings).

use rquickjs_sys::size_t;

// The engine's hooks refuse to eat into `ENGINE_FLOOR`: QuickJS turns a
// null into its out-of-memory exception, while a failed Rust allocation
// would abort the guest.

pub unsafe extern "C" fn js_calloc(_opaque: *mut c_void, n: size_t, size: size_t) -> *mut c_void {
    let total = (n as usize).saturating_mul(size as usize);
    if !engine_may_take(total.saturating_add(HDR)) {
        return ptr::null_mut();
    }
    // SAFETY: C contract of `calloc`.
    unsafe { calloc(n as usize, size as usize) }
}

pub unsafe extern "C" fn js_malloc(_opaque: *mut c_void, size: size_t) -> *mut c_void {
    if !engine_may_take((size as usize).saturating_add(HDR)) {
        return ptr::null_mut();
    }
    c_malloc(size as usize).cast()
}

pub unsafe extern "C" fn js_free(_opaque: *mut c_void, p: *mut c_void) {
    // SAFETY: QuickJS frees only what it allocated through these hooks.
    unsafe { c_free(p.cast()) }
}

pub unsafe extern "C" fn js_realloc(_opaque: *mut c_void, p: *mut c_void, size: size_t) -> *mut c_void {
    // SAFETY: as in `js_free`; `p` is null or live, so its size is known.
    let old = unsafe { c_usable_size(p as *const u8) };
    if (size as usize) > old && !engine_may_take(size as usize - old) {
        return ptr::null_mut();
    }
    // SAFETY: as in `js_free`.
    unsafe { c_realloc(p.cast(), size as usize).cast() }
}

pub unsafe extern "C" fn js_usable_size(p: *const c_void) -> size_t {
    // SAFETY: as in `js_free`.
    unsafe { c_usable_size(p.cast()) as size_t }
}
