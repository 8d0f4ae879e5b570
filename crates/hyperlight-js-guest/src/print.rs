//! Batched print output: `console.*` and `print` append records to the
//! print region; the host drains it at every exit. When a record does not
//! fit, the guest exits on PRINT_FLUSH first (one exit per full buffer,
//! not per line). A line longer than the region travels as several records
//! flagged `print_level::CONTINUES`, joined by the host.
//!
//! Layout (hyperlight_abi): `PrintHeader { used: u64 }` at the start of the
//! region, then `used` bytes of packed records, each a
//! `PrintRecord { level: u32, len: u32 }` and `len` bytes of UTF-8.

use core::fmt::{self, Write};
use core::ptr;

use hyperlight_abi::{print_level, PRINT_HEADER_SIZE, PRINT_RECORD_SIZE};

use crate::{arch, control};

/// Appends one line. A line longer than the print region is split at UTF-8
/// boundaries into records flagged [`print_level::CONTINUES`] (all but the
/// last), which the host joins: nothing is cut.
pub fn emit(level: u32, text: &str) {
    let region = control::layout().print;
    let size = region.size as usize;
    if size < PRINT_HEADER_SIZE + PRINT_RECORD_SIZE + 4 {
        return;
    }
    let max = size - PRINT_HEADER_SIZE - PRINT_RECORD_SIZE;
    let level = level & !print_level::CONTINUES;
    let mut rest = text;
    loop {
        if rest.len() <= max {
            append(level, rest);
            return;
        }
        let mut n = max;
        while n > 0 && !rest.is_char_boundary(n) {
            n -= 1;
        }
        append(level | print_level::CONTINUES, &rest[..n]);
        rest = &rest[n..];
    }
}

/// Appends one record (`text` fits an empty print region).
fn append(level: u32, text: &str) {
    let region = control::layout().print;
    let cap = region.size as usize - PRINT_HEADER_SIZE;
    let n = text.len();
    let need = PRINT_RECORD_SIZE + n;
    let base = region.base as *mut u8;
    let used_ptr = base.cast::<u64>();
    // SAFETY: the print region is mapped read-write for the guest and is
    // 8-aligned (page aligned); the host only touches it while the vCPU is
    // stopped.
    let mut used = unsafe { ptr::read_volatile(used_ptr) } as usize;
    if used > cap || cap - used < need {
        arch::exit_print_flush();
        // SAFETY: as above.
        used = unsafe { ptr::read_volatile(used_ptr) } as usize;
        if used > cap || cap - used < need {
            // The host did not drain: drop the record rather than loop.
            return;
        }
    }
    // SAFETY: `[PRINT_HEADER_SIZE + used, + need)` lies inside the region
    // (checked above); records are packed, so write unaligned.
    unsafe {
        let rec = base.add(PRINT_HEADER_SIZE + used);
        ptr::write_unaligned(rec.cast::<u32>(), level);
        ptr::write_unaligned(rec.add(4).cast::<u32>(), n as u32);
        ptr::copy_nonoverlapping(text.as_ptr(), rec.add(PRINT_RECORD_SIZE), n);
        ptr::write_volatile(used_ptr, (used + need) as u64);
    }
}

/// Appends a formatted record (formatted on the stack, up to 1 KiB).
pub fn emit_fmt(level: u32, args: fmt::Arguments<'_>) {
    let mut buf = [0u8; 1024];
    let mut w = crate::abort::Truncating::new(&mut buf);
    let _ = w.write_fmt(args);
    let n = w.len();
    // Truncating only cuts at char boundaries, so this is valid UTF-8.
    if let Ok(s) = core::str::from_utf8(&buf[..n]) {
        emit(level, s);
    }
}
