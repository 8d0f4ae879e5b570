//! The control page and the shared buffers it describes.
//!
//! The host rewrites the control page and the input buffer while the vCPU
//! is stopped (at every exit), so nothing here hands out references that
//! live across an exit: every field is read with a volatile load, and the
//! slices over the buffers are created fresh by each user and must be dropped
//! before the next `out`.

use core::cell::Cell;
use core::ptr;

use hyperlight_abi::{
    port, ControlPage, MsgHeader, Region, ABI_VERSION, CONTROL_MAGIC, ENTROPY_BYTES,
    MSG_HEADER_SIZE,
};

use crate::sync::Single;

/// The control page, set once at entry.
static CONTROL: Single<Cell<*const ControlPage>> = Single::new(Cell::new(ptr::null()));

/// The layout read once at entry (the host never moves regions).
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    pub heap: Region,
    pub stack: Region,
    pub input: Region,
    pub output: Region,
    pub print: Region,
}

static LAYOUT: Single<Cell<Option<Layout>>> = Single::new(Cell::new(None));

/// Records the control page address received in `rdi` and checks it.
pub fn init(page: *const ControlPage) -> Layout {
    if page.is_null() || (page as usize) % 8 != 0 {
        crate::abort::abort_msg(1, "control page pointer is null or misaligned");
    }
    CONTROL.get().set(page);
    // SAFETY: the host maps the control page readable at this address for
    // the guest's whole life; the fields are plain integers.
    let (magic, version, layout) = unsafe {
        (
            ptr::read_volatile(ptr::addr_of!((*page).magic)),
            ptr::read_volatile(ptr::addr_of!((*page).abi_version)),
            Layout {
                heap: ptr::read_volatile(ptr::addr_of!((*page).heap)),
                stack: ptr::read_volatile(ptr::addr_of!((*page).stack)),
                input: ptr::read_volatile(ptr::addr_of!((*page).input)),
                output: ptr::read_volatile(ptr::addr_of!((*page).output)),
                print: ptr::read_volatile(ptr::addr_of!((*page).print)),
            },
        )
    };
    if magic != CONTROL_MAGIC {
        crate::abort::abort_msg(1, "control page magic mismatch");
    }
    if version != ABI_VERSION {
        crate::abort::abort_msg(1, "control page ABI version mismatch");
    }
    LAYOUT.get().set(Some(layout));
    layout
}

/// The layout recorded by [`init`].
pub fn layout() -> Layout {
    LAYOUT.get().get().unwrap_or_default()
}

fn page() -> *const ControlPage {
    CONTROL.get().get()
}

/// Host wall-clock time in nanoseconds since the Unix epoch.
pub fn host_time_unix_ns() -> u64 {
    let p = page();
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` is the control page (see `init`); volatile because the
    // host rewrites it between exits.
    unsafe { ptr::read_volatile(ptr::addr_of!((*p).host_time_unix_ns)) }
}

/// Host monotonic clock in nanoseconds.
pub fn host_monotonic_ns() -> u64 {
    let p = page();
    if p.is_null() {
        return 0;
    }
    // SAFETY: as in `host_time_unix_ns`.
    unsafe { ptr::read_volatile(ptr::addr_of!((*p).host_monotonic_ns)) }
}

/// The vCPU's TSC rate in kHz as the host read it (0: unknown).
pub fn tsc_khz() -> u64 {
    let p = page();
    if p.is_null() {
        return 0;
    }
    // SAFETY: as in `host_time_unix_ns`.
    unsafe { ptr::read_volatile(ptr::addr_of!((*p).tsc_khz)) }
}

/// Resolution of `performance.now()` in nanoseconds (0 or 1: full).
pub fn clock_resolution_ns() -> u64 {
    let p = page();
    if p.is_null() {
        return 0;
    }
    // SAFETY: as in `host_time_unix_ns`.
    unsafe { ptr::read_volatile(ptr::addr_of!((*p).clock_resolution_ns)) }
}

/// A copy of the entropy the host refreshed before the current request.
pub fn entropy() -> [u8; ENTROPY_BYTES] {
    let p = page();
    let mut out = [0u8; ENTROPY_BYTES];
    if p.is_null() {
        return out;
    }
    for (i, b) in out.iter_mut().enumerate() {
        // SAFETY: as in `host_time_unix_ns`; `i` < ENTROPY_BYTES.
        *b = unsafe { ptr::read_volatile(ptr::addr_of!((*p).entropy).cast::<u8>().add(i)) };
    }
    out
}

/// Whether the host asked the running call to stop (cooperative interrupt):
/// the host sets the control page's `interrupt` word while the guest runs.
pub fn interrupt_requested() -> bool {
    let p = page();
    if p.is_null() {
        return false;
    }
    // SAFETY: as in `host_time_unix_ns`; the host may write this word while
    // the vCPU runs, so it is read with a volatile load every time.
    unsafe { ptr::read_volatile(ptr::addr_of!((*p).interrupt)) != 0 }
}

/// The input buffer as a byte slice. Must not be held across an exit.
///
/// # Safety
/// The caller drops the slice before the next `out`.
pub unsafe fn input() -> &'static [u8] {
    let r = layout().input;
    if r.size == 0 {
        return &[];
    }
    // SAFETY: the host maps the input region readable for its whole size
    // and does not write it while the guest runs (caller's contract).
    unsafe { core::slice::from_raw_parts(r.base as *const u8, r.size as usize) }
}

/// The output buffer as a mutable byte slice. Must not be held across an
/// exit, nor twice at once.
///
/// # Safety
/// The caller holds no other reference into the output buffer and drops the
/// slice before the next `out`.
pub unsafe fn output() -> &'static mut [u8] {
    let r = layout().output;
    if r.size == 0 {
        return &mut [];
    }
    // SAFETY: the host maps the output region read-write for the guest; it
    // only reads it while the vCPU is stopped. Uniqueness is the caller's
    // contract.
    unsafe { core::slice::from_raw_parts_mut(r.base as *mut u8, r.size as usize) }
}

/// Reads the message in the input buffer: its tag and payload. `None` if the
/// header is missing or its length runs past the buffer.
///
/// # Safety
/// As for [`input`]: the payload slice must be dropped before the next exit.
pub unsafe fn read_message() -> Option<(u32, &'static [u8])> {
    // SAFETY: forwarded contract.
    let buf = unsafe { input() };
    if buf.len() < MSG_HEADER_SIZE {
        return None;
    }
    let tag = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    let payload = buf.get(MSG_HEADER_SIZE..MSG_HEADER_SIZE.checked_add(len)?)?;
    Some((tag, payload))
}

/// Writes a message into the output buffer: the header with `tag`, then the
/// payload produced by `fill` (which gets the space after the header and
/// returns how many bytes it used, or `None` if it does not fit).
pub fn write_message(tag: u32, fill: impl FnOnce(&mut [u8]) -> Option<usize>) -> bool {
    // SAFETY: the only live reference into the output buffer; dropped at
    // the end of this function, before any exit.
    let out = unsafe { output() };
    if out.len() < MSG_HEADER_SIZE {
        return false;
    }
    let (head, body) = out.split_at_mut(MSG_HEADER_SIZE);
    let Some(len) = fill(body) else {
        return false;
    };
    let Ok(len32) = u32::try_from(len) else {
        return false;
    };
    let h = MsgHeader { tag, len: len32 };
    head[0..4].copy_from_slice(&h.tag.to_le_bytes());
    head[4..8].copy_from_slice(&h.len.to_le_bytes());
    true
}

/// The ports this module's callers exit on, re-exported for clarity.
#[allow(dead_code)]
pub const PORTS: [u16; 4] = port::GUEST_PORTS;
