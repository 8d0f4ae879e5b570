//! Sandbox sizes ([`VmConfig`]) and the guest memory map computed from them
//! ([`Layout`]).
//!
//! The map, from guest-physical address 0 up (identity mapped):
//!
//! ```text
//! 0x0000_0000  fixed low area (hyperlight_abi::layout): null guard, GDT/IDT,
//!              TSS + I/O bitmap, fault stubs, FaultInfo, ring-0 stack,
//!              control page, TLS page; unmapped up to IMAGE_MIN_BASE
//! 0x0010_0000  guest image (the ELF's PT_LOAD segments)
//!              guard page | heap | stack guard (16 pages) | stack | guard |
//!              input | guard | output | guard | print | guard
//!              page tables (never mapped into the guest)
//! ```

use hyperlight_abi::{layout, Region, MSG_HEADER_SIZE, PAGE_SIZE, PRINT_HEADER_SIZE};

use crate::{Error, Result};

/// Largest guest memory (everything from address 0 to the end of the page
/// tables): 1 GiB.
pub const MAX_GUEST_MEMORY: u64 = 1 << 30;

/// Smallest heap: 64 KiB.
pub const MIN_HEAP: u64 = 64 << 10;
/// Smallest stack: 16 KiB.
pub const MIN_STACK: u64 = 16 << 10;
/// Smallest input or output buffer: one page.
pub const MIN_BUFFER: u64 = PAGE_SIZE;
/// Smallest print buffer: one page.
pub const MIN_PRINT: u64 = PAGE_SIZE;
/// Largest input or output buffer: 256 MiB (message lengths are `u32`, and
/// a buffer is copied whole in the worst case).
pub const MAX_BUFFER: u64 = 256 << 20;

/// Default heap: 256 MiB. Untouched guest pages cost no host memory, so
/// the defaults are sized for real handlers, not for idle sandboxes:
/// sorting a million numbers, returning 100,000 small objects, RegExp
/// backtracking over a long string (test262's property-escape tests) all
/// fit. The measured cost (RSS, cold start, snapshot, restore) is in
/// `docs/performance.md` ("Default sizes").
pub const DEFAULT_HEAP: u64 = 256 << 20;
/// Default stack (scratch): 8 MiB, about 11,000 frames of a simple
/// recursive function (Node: about 10,000), 1,000 nested `await`s,
/// `JSON.parse` of a 10,000-deep array.
pub const DEFAULT_STACK: u64 = 8 << 20;
/// Default input and output buffers: 16 MiB each (an event, a source, a
/// result or a host call must fit one).
pub const DEFAULT_BUFFER: u64 = 16 << 20;

/// Size of the unmapped gap below the stack. A function whose frame is
/// larger than this can jump over it; the guest should be compiled with
/// stack probes (`-fstack-clash-protection`) if it has such frames.
pub const STACK_GUARD: u64 = 16 * PAGE_SIZE;

/// Sizes of the configurable guest memory regions, in bytes.
///
/// Each size is rounded up to a whole number of 4 KiB pages. [`Vm::new`]
/// rejects a size that is zero, below its minimum, or that makes guest
/// memory exceed [`MAX_GUEST_MEMORY`], with an error naming the limit.
///
/// [`Vm::new`]: crate::Vm::new
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// The guest's heap (default [`DEFAULT_HEAP`], 256 MiB; at least
    /// [`MIN_HEAP`]).
    pub heap_size: u64,
    /// The guest's stack, also called scratch (default [`DEFAULT_STACK`],
    /// 8 MiB; at least [`MIN_STACK`]).
    pub stack_size: u64,
    /// Host → guest messages: requests and answers to host calls, including
    /// their 8-byte header (default [`DEFAULT_BUFFER`], 16 MiB;
    /// [`MIN_BUFFER`]..=[`MAX_BUFFER`]).
    pub input_size: u64,
    /// Guest → host messages: answers, host-call requests and abort
    /// messages, including their 8-byte header (default
    /// [`DEFAULT_BUFFER`], 16 MiB; [`MIN_BUFFER`]..=[`MAX_BUFFER`]).
    pub output_size: u64,
    /// Batched print/log records (default 64 KiB, at least [`MIN_PRINT`]).
    pub print_size: u64,
    /// Ask for transparent huge pages (`MADV_HUGEPAGE`) for the heap
    /// (default `true`): its first touch costs about 0.05 µs instead of
    /// 0.9 µs per 4 KiB, but each touched 2-MiB-aligned range of the heap
    /// becomes resident whole. The rest of guest memory (system area,
    /// image, stack, buffers: a few scattered pages each) always uses 4 KiB
    /// pages; huge pages there cost 4 MiB of RSS per idle VM (see
    /// `docs/vm-performance.md`).
    pub huge_pages: bool,
    /// Resolution of the guest's monotonic clock (`performance.now()`),
    /// in nanoseconds: the guest rounds its readings down to a multiple of
    /// it. Default [`DEFAULT_CLOCK_RESOLUTION_NS`] (5 µs, what the W3C High
    /// Resolution Time specification allows cross-origin-isolated pages);
    /// 0 gives full resolution; at most [`MAX_CLOCK_RESOLUTION_NS`].
    pub clock_resolution_ns: u64,
}

/// Default [`VmConfig::clock_resolution_ns`]: 5 µs, the coarsening the W3C
/// High Resolution Time specification ("coarsen time") prescribes for
/// cross-origin-isolated contexts.
pub const DEFAULT_CLOCK_RESOLUTION_NS: u64 = 5_000;
/// Largest [`VmConfig::clock_resolution_ns`]: one second.
pub const MAX_CLOCK_RESOLUTION_NS: u64 = 1_000_000_000;

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            heap_size: DEFAULT_HEAP,
            stack_size: DEFAULT_STACK,
            input_size: DEFAULT_BUFFER,
            output_size: DEFAULT_BUFFER,
            print_size: 64 << 10,
            huge_pages: true,
            clock_resolution_ns: DEFAULT_CLOCK_RESOLUTION_NS,
        }
    }
}

/// Where everything lives in guest memory. Computed by [`Layout::new`] from
/// a [`VmConfig`] and the end of the guest image; every region is page
/// aligned and they do not overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The guest image: from [`layout::IMAGE_MIN_BASE`] to the end of the
    /// last `PT_LOAD` segment, rounded up to a page.
    pub image: Region,
    /// The heap.
    pub heap: Region,
    /// The unmapped gap below the stack ([`STACK_GUARD`] bytes).
    pub stack_guard: Region,
    /// The stack; the guest starts with `rsp` at its end.
    pub stack: Region,
    /// The input buffer (guest read-only).
    pub input: Region,
    /// The output buffer.
    pub output: Region,
    /// The print buffer.
    pub print: Region,
    /// The page tables: after everything else, not mapped into the guest.
    pub page_tables: Region,
    /// Total guest memory: `page_tables.end()`.
    pub total: u64,
}

fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

fn check(name: &str, size: u64, min: u64, max: u64) -> Result<u64> {
    if size == 0 {
        return Err(Error::Config(format!(
            "{name} is 0 bytes; it must be at least {min} bytes"
        )));
    }
    if size < min {
        return Err(Error::Config(format!(
            "{name} is {size} bytes, below the minimum of {min} bytes"
        )));
    }
    if size > max {
        return Err(Error::Config(format!(
            "{name} is {size} bytes, above the maximum of {max} bytes"
        )));
    }
    Ok(page_up(size).expect("size below max cannot overflow"))
}

/// Number of page-table pages needed to map `[0, end)` with 4 KiB pages:
/// one PML4, one PDPT per 512 GiB, one PD per GiB and one PT per 2 MiB.
pub(crate) fn page_table_pages(end: u64) -> u64 {
    let pts = end.div_ceil(1 << 21);
    let pds = end.div_ceil(1 << 30);
    1 + 1 + pds + pts
}

impl Layout {
    /// Lays guest memory out for `config` and an image whose last byte is
    /// below `image_end`.
    pub fn new(config: &VmConfig, image_end: u64) -> Result<Self> {
        let heap = check("heap_size", config.heap_size, MIN_HEAP, MAX_GUEST_MEMORY)?;
        let stack = check("stack_size", config.stack_size, MIN_STACK, MAX_GUEST_MEMORY)?;
        let input = check("input_size", config.input_size, MIN_BUFFER, MAX_BUFFER)?;
        let output = check("output_size", config.output_size, MIN_BUFFER, MAX_BUFFER)?;
        let print = check("print_size", config.print_size, MIN_PRINT, MAX_GUEST_MEMORY)?;
        if config.clock_resolution_ns > MAX_CLOCK_RESOLUTION_NS {
            return Err(Error::Config(format!(
                "clock_resolution_ns is {} but at most {MAX_CLOCK_RESOLUTION_NS} (one second) is allowed",
                config.clock_resolution_ns
            )));
        }
        let too_big = |total: u64| {
            Error::Config(format!(
                "guest memory would be {total} bytes (image {} + heap {heap} + stack {stack} + \
                 input {input} + output {output} + print {print} + guard pages and page tables); \
                 the maximum is {MAX_GUEST_MEMORY} bytes (1 GiB)",
                image_end.saturating_sub(layout::IMAGE_MIN_BASE)
            ))
        };

        let image_end = page_up(image_end).ok_or_else(|| too_big(u64::MAX))?;
        let image = Region {
            base: layout::IMAGE_MIN_BASE,
            size: image_end.saturating_sub(layout::IMAGE_MIN_BASE),
        };
        // Each size is at most 1 GiB, so this arithmetic cannot overflow.
        let mut at = image.end() + PAGE_SIZE;
        let mut next = |size: u64, guard_after: u64| {
            let r = Region { base: at, size };
            at += size + guard_after;
            r
        };
        let heap = next(heap, 0);
        let stack_guard = next(STACK_GUARD, 0);
        let stack = next(stack, PAGE_SIZE);
        let input = next(input, PAGE_SIZE);
        let output = next(output, PAGE_SIZE);
        let print = next(print, PAGE_SIZE);
        let mapped_end = at;
        let page_tables = Region {
            base: mapped_end,
            size: page_table_pages(mapped_end) * PAGE_SIZE,
        };
        let total = page_tables.end();
        if total > MAX_GUEST_MEMORY {
            return Err(too_big(total));
        }
        Ok(Self {
            image,
            heap,
            stack_guard,
            stack,
            input,
            output,
            print,
            page_tables,
            total,
        })
    }

    /// Largest request or host-call answer payload: the input buffer less
    /// its message header.
    pub fn input_capacity(&self) -> usize {
        self.input.size as usize - MSG_HEADER_SIZE
    }

    /// Largest answer payload the guest can send: the output buffer less its
    /// message header.
    pub fn output_capacity(&self) -> usize {
        self.output.size as usize - MSG_HEADER_SIZE
    }

    /// Bytes of print records the print buffer holds.
    pub fn print_capacity(&self) -> usize {
        self.print.size as usize - PRINT_HEADER_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_is_ordered_and_fits() {
        let l = Layout::new(&VmConfig::default(), 0x10_8000).unwrap();
        let order = [
            l.image,
            l.heap,
            l.stack_guard,
            l.stack,
            l.input,
            l.output,
            l.print,
            l.page_tables,
        ];
        for w in order.windows(2) {
            assert!(w[0].end() <= w[1].base, "{:?} overlaps {:?}", w[0], w[1]);
        }
        assert!(l.heap.base > l.image.end(), "guard page after the image");
        assert_eq!(l.stack_guard.end(), l.stack.base);
        assert!(l.total <= MAX_GUEST_MEMORY);
    }

    #[test]
    fn bad_sizes_name_the_limit() {
        let zero = VmConfig {
            heap_size: 0,
            ..VmConfig::default()
        };
        let e = Layout::new(&zero, 0x10_1000).unwrap_err().to_string();
        assert!(
            e.contains("heap_size is 0 bytes") && e.contains("65536"),
            "{e}"
        );
        let small = VmConfig {
            stack_size: 100,
            ..VmConfig::default()
        };
        let e = Layout::new(&small, 0x10_1000).unwrap_err().to_string();
        assert!(e.contains("below the minimum of 16384"), "{e}");
        let big = VmConfig {
            heap_size: 1 << 30,
            ..VmConfig::default()
        };
        let e = Layout::new(&big, 0x10_1000).unwrap_err().to_string();
        assert!(e.contains("the maximum is 1073741824 bytes"), "{e}");
        let huge_input = VmConfig {
            input_size: 1 << 29,
            ..VmConfig::default()
        };
        let e = Layout::new(&huge_input, 0x10_1000).unwrap_err().to_string();
        assert!(
            e.contains("input_size") && e.contains("maximum of 268435456"),
            "{e}"
        );
    }

    #[test]
    fn sizes_round_up_to_pages() {
        let c = VmConfig {
            heap_size: MIN_HEAP + 1,
            ..VmConfig::default()
        };
        let l = Layout::new(&c, 0x10_1000).unwrap();
        assert_eq!(l.heap.size, MIN_HEAP + PAGE_SIZE);
    }
}
