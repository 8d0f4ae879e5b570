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
    /// One bit per page that may be non-zero. Every page whose bit is clear
    /// is zero, except pages the guest wrote since the last fetch of KVM's
    /// dirty log (callers fold each fetched log in with [`Self::fold_ever`]).
    ever: Vec<u64>,
    /// One bit per page mapped read-only from the shared image file (see
    /// `image.rs`): never written, never in `ever`, never in a snapshot.
    shared: Vec<u64>,
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
            ever: vec![0; pages.div_ceil(64)],
            shared: vec![0; pages.div_ceil(64)],
        })
    }

    /// Withdraws the transparent-huge-page advice from every 2 MiB range of
    /// `[0, limit)` pages that holds a page whose bit is set in `bits`:
    /// copying a few template pages into such a range would make it
    /// resident whole (2 MiB) in every child. Fresh ranges keep the advice.
    pub(crate) fn no_huge_where(&mut self, bits: &[u64], limit: usize) {
        let per = HUGE / PAGE_SIZE as usize;
        let mut last = usize::MAX;
        for_each_bit(bits, limit, |p| {
            let c = p / per;
            if c != last {
                last = c;
                // SAFETY: advising a 2 MiB range inside our own mapping
                // (`c * HUGE < size` as page `p` is below `limit`); failure
                // only keeps the huge-page advice.
                unsafe {
                    let len = HUGE.min(self.size - c * HUGE);
                    libc::madvise(
                        self.base.as_ptr().add(c * HUGE).cast(),
                        len,
                        libc::MADV_NOHUGEPAGE,
                    )
                };
            }
        });
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
    /// written by the host. Pages of the shared image are refused.
    pub(crate) fn write(&mut self, gpa: u64, data: &[u8]) -> Result<()> {
        let off = self.range(gpa, data.len())?;
        if !data.is_empty() {
            let (first, last) = (gpa / PAGE_SIZE, (gpa + data.len() as u64 - 1) / PAGE_SIZE);
            if (first..=last).any(|p| self.is_shared(p as usize)) {
                return Err(Error::Protocol(format!(
                    "write of {} bytes at guest address {gpa:#x} would change the read-only \
                     image shared by all VMs",
                    data.len()
                )));
            }
        }
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

    pub(crate) fn mark_host_dirty(&mut self, gpa: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = gpa / PAGE_SIZE;
        let last = (gpa + len - 1) / PAGE_SIZE;
        for p in first..=last {
            self.host_dirty[(p / 64) as usize] |= 1 << (p % 64);
            self.ever[(p / 64) as usize] |= 1 << (p % 64);
        }
    }

    /// Records that the host wrote `[gpa, gpa + len)` through
    /// [`Self::as_mut_slice_untracked`] (at boot): the pages may be non-zero.
    pub(crate) fn mark_written(&mut self, gpa: u64, len: u64) {
        if len == 0 {
            return;
        }
        for p in gpa / PAGE_SIZE..=(gpa + len - 1) / PAGE_SIZE {
            self.ever[(p / 64) as usize] |= 1 << (p % 64);
        }
    }

    /// Adds the pages of a fetched KVM dirty log (same layout: one bit per
    /// page) to the set of pages that may be non-zero.
    pub(crate) fn fold_ever(&mut self, kvm_dirty: &[u64]) {
        for (e, k) in self.ever.iter_mut().zip(kvm_dirty) {
            *e |= k;
        }
    }

    /// The pages that may be non-zero (see the field), one bit per page.
    pub(crate) fn ever(&self) -> &[u64] {
        &self.ever
    }

    /// Replaces the set of pages that may be non-zero, after the caller made
    /// every page outside `bits` zero (restore, template population).
    pub(crate) fn set_ever(&mut self, bits: &[u64]) {
        debug_assert_eq!(bits.len(), self.ever.len());
        self.ever.copy_from_slice(bits);
    }

    /// Maps `fd` (a file the size of guest memory up to at least
    /// `range.end`) copy-on-write over guest addresses `range`, replacing
    /// what was there: the guest then sees the file's contents there and its
    /// writes stay private to this VM.
    pub(crate) fn map_private_file(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        let page = PAGE_SIZE as usize;
        assert!(range.start < range.end && range.end <= self.size);
        assert!(range.start % page == 0 && range.end % page == 0);
        // SAFETY: MAP_FIXED replaces pages inside our own mapping
        // ([base + start, base + end) is inside it); no Rust reference into
        // guest memory exists while `&mut self` is held.
        let p = unsafe {
            libc::mmap(
                self.base.as_ptr().add(range.start).cast(),
                range.end - range.start,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                range.start as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Os {
                op: "mmap of template memory",
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Maps the pages of `file` (read-only, shared) over guest memory,
    /// replacing what was there; they are not in [`Self::ever`] afterwards.
    pub(crate) fn map_image(&mut self, file: &crate::image::ImageFile) -> Result<()> {
        if let Some(last) = file.runs().last() {
            assert!(
                last.end as usize <= self.size,
                "image runs inside guest memory"
            );
        }
        // SAFETY: the runs lie inside our own mapping (checked above), and
        // no Rust reference into guest memory exists while `&mut self` is
        // held.
        unsafe { crate::image::map_runs(self.base.as_ptr(), file) }?;
        self.shared = file.page_bits(self.size as u64);
        for (e, s) in self.ever.iter_mut().zip(&self.shared) {
            *e &= !s;
        }
        Ok(())
    }

    /// Whether page `p` is a page of the shared image.
    pub(crate) fn is_shared(&self, p: usize) -> bool {
        self.shared
            .get(p / 64)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
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

/// A sparse copy of guest memory for snapshots and templates.
///
/// It is one mapping as large as the memory it copies, in which only the
/// pages that were non-zero are written (and resident); a bitmap lists
/// them. For a template the mapping is a shared `memfd`, so that children
/// can map it copy-on-write.
pub(crate) struct SnapshotMemory {
    ptr: NonNull<u8>,
    len: usize,
    /// One bit per page: stored (non-zero). Same length as the VM's bitmaps.
    present: Vec<u64>,
    stored: usize,
    fd: Option<std::os::fd::OwnedFd>,
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

/// Calls `f` with the index of every set bit of `bits` below `limit`.
pub(crate) fn for_each_bit(bits: &[u64], limit: usize, mut f: impl FnMut(usize)) {
    for (w, &word) in bits.iter().enumerate() {
        let mut b = word;
        while b != 0 {
            let p = w * 64 + b.trailing_zeros() as usize;
            b &= b - 1;
            if p >= limit {
                return;
            }
            f(p);
        }
    }
}

/// Pre-faults, writable, the pages of the mapping at `base` whose bit is set
/// in `bits` (below `limit`), one `MADV_POPULATE_WRITE` per run of
/// consecutive pages. Best effort: on failure (kernels before 5.14) the
/// pages fault in one by one when written.
pub(crate) fn populate_runs(base: *mut u8, bits: &[u64], limit: usize) {
    const MADV_POPULATE_WRITE: libc::c_int = 23;
    let page = PAGE_SIZE as usize;
    let mut run: Option<(usize, usize)> = None;
    let flush = |r: (usize, usize)| {
        // SAFETY: the range is inside the caller's mapping (pages below
        // `limit`); populating only faults pages in, it does not change
        // their contents.
        unsafe {
            libc::madvise(
                base.add(r.0 * page).cast(),
                (r.1 - r.0) * page,
                MADV_POPULATE_WRITE,
            )
        };
    };
    for_each_bit(bits, limit, |p| match run {
        Some((s, e)) if e == p => run = Some((s, p + 1)),
        Some(r) => {
            flush(r);
            run = Some((p, p + 1));
        }
        None => run = Some((p, p + 1)),
    });
    if let Some(r) = run {
        flush(r);
    }
}

impl SnapshotMemory {
    /// Copies the pages of `src` (a multiple of the page size) whose bit is
    /// set in `candidates` and that are not all zero. Every page of `src`
    /// outside `candidates` must be zero, or a page of `image`: those are
    /// not copied but mapped from the shared image file, so the copy reads
    /// the same as `src` everywhere. With `shared_file`, the copy is a
    /// `memfd` (see [`Self::fd`]).
    pub(crate) fn capture(
        src: &[u8],
        candidates: &[u64],
        shared_file: bool,
        image: &crate::image::ImageFile,
    ) -> Result<Self> {
        let page = PAGE_SIZE as usize;
        let len = src.len().max(page);
        let fd = if shared_file {
            // SAFETY: memfd_create with a NUL-terminated name.
            let raw =
                unsafe { libc::memfd_create(c"hyperlight-template".as_ptr(), libc::MFD_CLOEXEC) };
            if raw < 0 {
                return Err(Error::Os {
                    op: "memfd_create",
                    source: io::Error::last_os_error(),
                });
            }
            // SAFETY: `raw` is a fresh descriptor that nothing else owns.
            let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
            // SAFETY: resizing our own fresh memfd.
            if unsafe { libc::ftruncate(raw, len as libc::off_t) } != 0 {
                return Err(Error::Os {
                    op: "ftruncate of a memfd",
                    source: io::Error::last_os_error(),
                });
            }
            Some(fd)
        } else {
            None
        };
        let (flags, raw_fd) = match &fd {
            Some(f) => (libc::MAP_SHARED, std::os::fd::AsRawFd::as_raw_fd(f)),
            None => (
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
            ),
        };
        // SAFETY: a fresh mapping (anonymous, or of our own memfd); no
        // existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                raw_fd,
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
        // SAFETY: the new mapping is `len >= src.len()` bytes and not shared
        // with anything that could access it concurrently.
        let dst = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), src.len()) };
        let mut present = vec![0u64; candidates.len()];
        let mut stored = 0;
        for_each_bit(candidates, src.len() / page, |p| {
            if !is_zero(&src[p * page..(p + 1) * page]) {
                present[p / 64] |= 1 << (p % 64);
                stored += 1;
            }
        });
        // Fault the destination pages in with one call per run of pages
        // rather than one page fault each (host page faults cost ~2 µs
        // apiece on this nested host).
        populate_runs(ptr.as_ptr(), &present, src.len() / page);
        for_each_bit(&present, src.len() / page, |p| {
            dst[p * page..(p + 1) * page].copy_from_slice(&src[p * page..(p + 1) * page]);
        });
        if image.runs().last().is_some_and(|r| r.end as usize <= len) {
            // SAFETY: the runs lie inside the new mapping (checked), and no
            // reference into it is used after this point but through `ptr`.
            unsafe { crate::image::map_runs(ptr.as_ptr(), image) }?;
        }
        Ok(Self {
            ptr,
            len: src.len(),
            present,
            stored,
            fd,
        })
    }

    /// The copied memory; pages not stored read as zero.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes were mapped in `capture` and live until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// One bit per page: the pages stored (all others are zero).
    pub(crate) fn present(&self) -> &[u64] {
        &self.present
    }

    /// Whether page `p` is stored.
    pub(crate) fn is_present(&self, p: usize) -> bool {
        self.present
            .get(p / 64)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    }

    /// Number of pages stored.
    pub(crate) fn stored_pages(&self) -> usize {
        self.stored
    }

    /// The `memfd` holding the copy, if it was captured with `shared_file`.
    pub(crate) fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.fd.as_ref().map(std::os::fd::AsFd::as_fd)
    }
}

impl Drop for SnapshotMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `capture`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len.max(PAGE_SIZE as usize)) };
    }
}
