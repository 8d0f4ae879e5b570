//! Guest memory: one anonymous mapping, bounds-checked access, and the
//! record of pages the host wrote (which KVM's dirty log does not see).

use std::io;
use std::ptr::NonNull;

use hyperlight_abi::PAGE_SIZE;

use crate::{Error, Result};

const HUGE: usize = 2 << 20;

/// An anonymous, private, 2 MiB-aligned mapping eligible for transparent
/// huge pages. Guest-physical address `n` is byte `n` of the mapping.
pub(crate) struct GuestMemory {
    base: NonNull<u8>,
    size: usize,
    map: NonNull<u8>,
    map_len: usize,
    /// One bit per page written by the host since the last restore.
    host_dirty: Vec<u64>,
}

// SAFETY: the mapping is owned by this value alone; access goes through
// `&self`/`&mut self`, so moving it to another thread is sound.
unsafe impl Send for GuestMemory {}

impl GuestMemory {
    /// Maps `size` bytes (a multiple of the page size) of zeroed memory,
    /// asking for transparent huge pages in `huge` (a guest-physical range;
    /// only the 2 MiB-aligned part inside it can use them).
    pub(crate) fn new(size: usize, huge: Option<std::ops::Range<usize>>) -> Result<Self> {
        let map_len = size + HUGE;
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(Error::Os {
                op: "mmap of guest memory",
                source: io::Error::last_os_error(),
            });
        }
        let map = map.cast::<u8>();
        let offset = map.align_offset(HUGE);
        // SAFETY: offset < HUGE, so base stays inside the mapping.
        let base = unsafe { map.add(offset) };
        if let Some(r) = huge {
            let start = r.start.next_multiple_of(HUGE);
            let end = r.end.min(size) / HUGE * HUGE;
            if start < end {
                // SAFETY: advising a range inside our own mapping. Failure
                // (THP disabled) only loses the optimisation, so it is
                // ignored.
                unsafe { libc::madvise(base.add(start).cast(), end - start, libc::MADV_HUGEPAGE) };
            }
        }
        let pages = size / PAGE_SIZE as usize;
        Ok(Self {
            base: NonNull::new(base).expect("mmap never returns null on success"),
            size,
            map: NonNull::new(map).expect("mmap never returns null on success"),
            map_len,
            host_dirty: vec![0; pages.div_ceil(64)],
        })
    }

    /// Host address of guest-physical address 0.
    pub(crate) fn host_base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    fn range(&self, gpa: u64, len: usize) -> Result<usize> {
        match gpa.checked_add(len as u64) {
            Some(end) if end <= self.size as u64 => Ok(gpa as usize),
            _ => Err(Error::Protocol(format!(
                "access of {len} bytes at guest address {gpa:#x} is outside guest memory ({:#x} bytes)",
                self.size
            ))),
        }
    }

    /// Copies guest memory at `gpa` into `out`.
    pub(crate) fn read(&self, gpa: u64, out: &mut [u8]) -> Result<()> {
        let off = self.range(gpa, out.len())?;
        // SAFETY: `range` checked that [off, off+len) is inside the mapping;
        // `out` is a distinct Rust buffer, so the ranges do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.as_ptr().add(off), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    /// Reads a plain-old-data value at `gpa` (unaligned).
    pub(crate) fn read_pod<T: Copy>(&self, gpa: u64) -> Result<T> {
        let off = self.range(gpa, std::mem::size_of::<T>())?;
        // SAFETY: in bounds (checked above); callers only use integer-only
        // `repr(C)` types for which every bit pattern is valid.
        Ok(unsafe { std::ptr::read_unaligned(self.base.as_ptr().add(off).cast::<T>()) })
    }

    /// Copies `data` into guest memory at `gpa` and records the pages as
    /// written by the host.
    pub(crate) fn write(&mut self, gpa: u64, data: &[u8]) -> Result<()> {
        let off = self.range(gpa, data.len())?;
        // SAFETY: in bounds (checked above); `data` is a Rust buffer that
        // cannot alias the guest mapping mutably borrowed here.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(off), data.len())
        };
        self.mark_host_dirty(gpa, data.len() as u64);
        Ok(())
    }

    /// Writes a plain-old-data value at `gpa` (unaligned).
    pub(crate) fn write_pod<T: Copy>(&mut self, gpa: u64, value: &T) -> Result<()> {
        // SAFETY: T is an integer-only repr(C) value; viewing it as bytes is
        // sound (no padding in the types used).
        let bytes = unsafe {
            std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
        };
        self.write(gpa, bytes)
    }

    /// Guest memory as a byte slice. Only while the vCPU is stopped, which
    /// holds whenever the host has `&self` (running needs `&mut Vm`).
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `size` bytes long and lives as long as
        // `self`; the guest does not run while this borrow exists.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.size) }
    }

    /// Mutable view of guest memory that does *not* mark pages dirty: for
    /// restore, which tracks what it copies itself.
    pub(crate) fn as_mut_slice_untracked(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, with exclusive access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.size) }
    }

    fn mark_host_dirty(&mut self, gpa: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = gpa / PAGE_SIZE;
        let last = (gpa + len - 1) / PAGE_SIZE;
        for p in first..=last {
            self.host_dirty[(p / 64) as usize] |= 1 << (p % 64);
        }
    }

    /// Takes the host-dirty bitmap, leaving it clear.
    pub(crate) fn take_host_dirty(&mut self) -> Vec<u64> {
        let n = self.host_dirty.len();
        std::mem::replace(&mut self.host_dirty, vec![0; n])
    }

    /// Clears the host-dirty bitmap.
    pub(crate) fn clear_host_dirty(&mut self) {
        self.host_dirty.iter_mut().for_each(|w| *w = 0);
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping created in `new`; no slice
        // into it outlives `self`. The VM file descriptor that referenced it
        // is closed before (field order in `Vm`).
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

/// A private anonymous copy of guest memory for snapshots. Pages that are
/// all zero in the guest are not written, so they cost no resident memory.
pub(crate) struct SnapshotMemory {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is immutable after construction and owned by this
// value; sharing `&SnapshotMemory` across threads only reads it.
unsafe impl Send for SnapshotMemory {}
// SAFETY: see above: no interior mutability.
unsafe impl Sync for SnapshotMemory {}

pub(crate) fn is_zero(page: &[u8]) -> bool {
    // SAFETY: any bit pattern is a valid u64.
    let (pre, mid, post) = unsafe { page.align_to::<u64>() };
    pre.iter().all(|&b| b == 0) && mid.iter().all(|&w| w == 0) && post.iter().all(|&b| b == 0)
}

impl SnapshotMemory {
    /// Copies `src` (a multiple of the page size).
    pub(crate) fn copy_of(src: &[u8]) -> Result<Self> {
        let len = src.len().max(PAGE_SIZE as usize);
        // SAFETY: fresh anonymous mapping.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Os {
                op: "mmap of snapshot memory",
                source: io::Error::last_os_error(),
            });
        }
        let ptr = NonNull::new(p.cast::<u8>()).expect("mmap never returns null on success");
        // SAFETY: the new mapping is `len >= src.len()` bytes and not shared.
        let dst = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), src.len()) };
        for (d, s) in dst
            .chunks_exact_mut(PAGE_SIZE as usize)
            .zip(src.chunks_exact(PAGE_SIZE as usize))
        {
            if !is_zero(s) {
                d.copy_from_slice(s);
            }
        }
        Ok(Self {
            ptr,
            len: src.len(),
        })
    }

    /// The copied bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes were mapped in `copy_of` and live until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SnapshotMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `copy_of`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len.max(PAGE_SIZE as usize)) };
    }
}
