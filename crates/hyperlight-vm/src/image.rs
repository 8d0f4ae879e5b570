//! The guest image's read-only pages, shared by every VM of the process.
//!
//! The pages of the image that no writable `PT_LOAD` segment touches (code,
//! read-only data, and with them the guest's locale data) are identical in
//! every VM running that image, and the guest cannot write them: its page
//! tables map them read-only at ring 3. They are therefore kept once per
//! process in a sealed `memfd` and mapped `MAP_SHARED` with `PROT_READ` into
//! each VM's guest memory (and into each snapshot's view of it), instead of
//! being copied into each VM. Consequences:
//!
//! - a VM's resident memory does not grow with the image's read-only size;
//!   the kernel holds those pages once, in the page cache of the `memfd`;
//! - snapshots and templates do not store them (they never change), and
//!   restores never visit them;
//! - host code cannot write them either (the host mapping is read-only, and
//!   [`GuestMemory::write`](crate::memory::GuestMemory) refuses them), so no
//!   VM can change what another VM sees.
//!
//! One file per distinct image content: [`ImageFile::for_image`] returns the
//! live file of an earlier VM when the read-only pages are byte-for-byte the
//! same. See `docs/snapshots.md`, "Shared image pages".

use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use hyperlight_abi::PAGE_SIZE;

use crate::elf::{Image, PF_W};
use crate::{Error, Result};

/// The read-only pages of one guest image, in a `memfd` indexed by
/// guest-physical address (a sparse file: only those pages are stored).
pub(crate) struct ImageFile {
    fd: OwnedFd,
    /// Guest-physical page ranges (page aligned, sorted, disjoint) that come
    /// from this file.
    runs: Vec<Range<u64>>,
    /// Bytes in `runs`.
    bytes: u64,
}

static LIVE: Mutex<Vec<Weak<ImageFile>>> = Mutex::new(Vec::new());

/// Page ranges of `image` that no writable segment touches.
fn read_only_runs(image: &Image) -> Vec<Range<u64>> {
    let mut pages: Vec<(u64, bool)> = Vec::new();
    for s in &image.segments {
        let first = s.vaddr / PAGE_SIZE;
        let last = (s.vaddr + s.memsz - 1) / PAGE_SIZE;
        for p in first..=last {
            let w = s.flags & PF_W != 0;
            match pages.binary_search_by_key(&p, |e| e.0) {
                Ok(i) => pages[i].1 |= w,
                Err(i) => pages.insert(i, (p, w)),
            }
        }
    }
    let mut runs: Vec<Range<u64>> = Vec::new();
    for (p, w) in pages {
        if w {
            continue;
        }
        let (start, end) = (p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
        match runs.last_mut() {
            Some(r) if r.end == start => r.end = end,
            _ => runs.push(start..end),
        }
    }
    runs
}

impl ImageFile {
    /// The shared read-only pages of `image`, whose loaded contents (every
    /// segment's file bytes at its guest address, zeros elsewhere) are
    /// `flat[gpa]` for `gpa < flat.len()`. Reuses a live file with the same
    /// contents.
    pub(crate) fn for_image(image: &Image, flat: &[u8]) -> Result<Arc<Self>> {
        let runs = read_only_runs(image);
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|w| w.strong_count() > 0);
        for w in live.iter() {
            if let Some(f) = w.upgrade() {
                if f.runs == runs && f.same_contents(flat)? {
                    return Ok(f);
                }
            }
        }
        let f = Arc::new(Self::create(runs, flat)?);
        live.push(Arc::downgrade(&f));
        Ok(f)
    }

    fn create(runs: Vec<Range<u64>>, flat: &[u8]) -> Result<Self> {
        let os = |op: &'static str| Error::Os {
            op,
            source: io::Error::last_os_error(),
        };
        // SAFETY: memfd_create with a NUL-terminated name.
        let raw = unsafe {
            libc::memfd_create(
                c"hyperlight-image".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if raw < 0 {
            return Err(os("memfd_create"));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let end = runs.last().map_or(0, |r| r.end);
        // SAFETY: resizing our own fresh memfd.
        if unsafe { libc::ftruncate(raw, end as libc::off_t) } != 0 {
            return Err(os("ftruncate of the image memfd"));
        }
        let mut bytes = 0;
        for r in &runs {
            let mut off = r.start;
            while off < r.end {
                // Bytes past `flat` are zero (bss of a read-only segment):
                // the sparse file already reads as zero there.
                let stop = r.end.min(flat.len() as u64);
                if off >= stop {
                    break;
                }
                let chunk = &flat[off as usize..stop as usize];
                // SAFETY: writing from a live buffer into our own memfd.
                let n = unsafe {
                    libc::pwrite(raw, chunk.as_ptr().cast(), chunk.len(), off as libc::off_t)
                };
                if n <= 0 {
                    return Err(os("write of the image memfd"));
                }
                off += n as u64;
            }
            bytes += r.end - r.start;
        }
        // Nobody may change the contents from now on, not even through this
        // descriptor: every VM of the process maps them.
        let seals =
            libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        // SAFETY: sealing our own memfd.
        let sealed = unsafe { libc::fcntl(raw, libc::F_ADD_SEALS, seals) };
        if sealed != 0 {
            return Err(os("sealing the image memfd"));
        }
        Ok(Self { fd, runs, bytes })
    }

    /// Whether the file's pages equal `flat`'s at the same addresses.
    fn same_contents(&self, flat: &[u8]) -> Result<bool> {
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        for r in &self.runs {
            let mut off = r.start;
            while off < r.end {
                // SAFETY: reading from our own memfd into a live buffer.
                let n = unsafe {
                    libc::pread(
                        self.fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        off as libc::off_t,
                    )
                };
                if n != buf.len() as isize {
                    return Err(Error::Os {
                        op: "read of the image memfd",
                        source: io::Error::last_os_error(),
                    });
                }
                let want = flat.get(off as usize..(off + PAGE_SIZE) as usize);
                let equal = match want {
                    Some(w) => w == &buf[..],
                    None => {
                        let have = flat.get(off as usize..).unwrap_or(&[]);
                        buf[..have.len()] == *have && buf[have.len()..].iter().all(|&b| b == 0)
                    }
                };
                if !equal {
                    return Ok(false);
                }
                off += PAGE_SIZE;
            }
        }
        Ok(true)
    }

    /// The descriptor to map.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Guest-physical page ranges served by the file.
    pub(crate) fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }

    /// One bit per page of a guest memory of `total` bytes: the pages
    /// served by the file.
    pub(crate) fn page_bits(&self, total: u64) -> Vec<u64> {
        let mut bits = vec![0u64; ((total / PAGE_SIZE) as usize).div_ceil(64)];
        for r in &self.runs {
            for p in r.start / PAGE_SIZE..r.end / PAGE_SIZE {
                if let Some(w) = bits.get_mut((p / 64) as usize) {
                    *w |= 1 << (p % 64);
                }
            }
        }
        bits
    }

    /// Bytes of guest memory served by the file (each VM's saving).
    pub(crate) fn shared_bytes(&self) -> u64 {
        self.bytes
    }
}

/// Maps `file`'s runs read-only and shared over the mapping at `base` (the
/// host address of guest-physical address 0), replacing what was there.
///
/// # Safety
///
/// `[base, base + end of the last run)` must be a mapping owned by the
/// caller, with no Rust reference into the replaced range alive.
pub(crate) unsafe fn map_runs(base: *mut u8, file: &ImageFile) -> Result<()> {
    for r in file.runs() {
        // SAFETY: the caller owns the mapping at `base`; MAP_FIXED replaces
        // pages inside it with the sealed file's (read-only) pages.
        let p = unsafe {
            libc::mmap(
                base.add(r.start as usize).cast(),
                (r.end - r.start) as usize,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_FIXED,
                file.fd().as_raw_fd(),
                r.start as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Os {
                op: "mmap of the shared image pages",
                source: io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}
