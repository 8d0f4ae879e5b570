//! The contract between the host (the VM layer) and the guest image of a
//! hyperlight-js micro-VM.
//!
//! This crate is `no_std` and has no dependencies so that both the host
//! crates and the freestanding guest can share it. It defines:
//!
//! * the fixed guest-physical addresses of the low system area
//!   ([`layout`]);
//! * the I/O ports the guest may use to exit to the host ([`port`]);
//! * the [`ControlPage`], a host-written, guest-read-only page describing
//!   the memory layout and carrying the host clock and entropy;
//! * the framing of messages in the input and output buffers
//!   ([`MsgHeader`]) and of records in the print buffer ([`PrintHeader`]).
//!
//! Guest memory is identity mapped: a guest virtual address equals its
//! guest physical address. See `docs/guest-abi.md` for the full picture.
#![no_std]

extern crate alloc;

pub mod js;
pub mod specifier;

/// Version of this ABI. The host refuses a guest whose `ControlPage`
/// handshake reports another version.
pub const ABI_VERSION: u32 = 3;

/// Size of a guest page (4 KiB, the only page size used).
pub const PAGE_SIZE: u64 = 4096;

/// Fixed guest-physical addresses of the low area, below the guest image.
///
/// Everything here except the control page and the TLS page is mapped
/// supervisor-only: the ring-3 guest cannot read or write it.
pub mod layout {
    /// The first page is never mapped, so that null dereferences fault.
    pub const NULL_GUARD: u64 = 0x0000;
    /// GDT (first half of the page) and IDT (second half). Supervisor only.
    pub const GDT_IDT: u64 = 0x1000;
    /// Offset of the IDT inside the [`GDT_IDT`] page.
    pub const IDT_OFFSET: u64 = 0x800;
    /// 64-bit TSS followed by its I/O permission bitmap (3 pages).
    pub const TSS: u64 = 0x2000;
    /// Ring-0 exception stubs (one page of code). Supervisor only.
    pub const FAULT_STUBS: u64 = 0x5000;
    /// Where the ring-0 fault stubs record the fault (see [`super::FaultInfo`]).
    pub const FAULT_INFO: u64 = 0x6000;
    /// Ring-0 stack used when an exception is delivered (2 pages, grows down
    /// from [`RING0_STACK_TOP`]).
    pub const RING0_STACK: u64 = 0x7000;
    /// Top of the ring-0 stack.
    pub const RING0_STACK_TOP: u64 = 0x9000;
    /// The [`super::ControlPage`]: host-written, guest read-only.
    pub const CONTROL_PAGE: u64 = 0x9000;
    /// Thread-local block for the guest's C library: the FS base points
    /// here. The host writes the self pointer at offset 0 and a stack
    /// protector canary at offset 0x28. Guest read-write.
    pub const TLS_PAGE: u64 = 0xA000;
    /// Size of the TLS block.
    pub const TLS_SIZE: u64 = 0x1000;
    /// Where the guest keeps its [`super::GuestStats`], in the second half
    /// of the TLS page (the C library's thread block uses a few hundred
    /// bytes at its start). Guest-written; the host only reads it, and never
    /// trusts it for anything but reporting.
    pub const GUEST_STATS: u64 = TLS_PAGE + 0x800;
    /// The [`super::Mailbox`]: the words through which a polling guest and
    /// a host thread exchange requests and answers without a VM exit.
    /// Guest read-write (ring 3), one page.
    pub const MAILBOX: u64 = 0xB000;
    /// Lowest address a guest image may be linked at. Everything from here
    /// up is laid out by the host from the sandbox configuration.
    pub const IMAGE_MIN_BASE: u64 = 0x10_0000;
}

/// I/O ports the guest uses to exit to the host. Any other port is a
/// protocol violation that poisons the sandbox.
///
/// The value written is given with each port. **Use byte-sized accesses
/// (`out dx, al`)**: the CPU checks one I/O-bitmap bit per byte of the
/// access, so `out dx, eax` on port `p` needs `p..p+3` to be allowed. That
/// works for [`DONE`] and [`HOST_CALL`] (whose neighbours are guest ports
/// too) but a 4-byte access to [`ABORT`] touches [`FAULT`], which ring 3
/// may never use, and faults with #GP. The host reads the value from the
/// first byte only.
pub mod port {
    /// The guest is idle and waiting for the next request. The first exit
    /// after boot on this port means "ready"; every later one means the
    /// answer to the current request is in the output buffer. Value:
    /// unused (write 0).
    ///
    /// Since the exit-less warm path (see [`super::Mailbox`]) the value
    /// says what the exit carries: [`super::mailbox::DONE_ANSWER`] (0) an
    /// answer (or "ready" after boot), [`super::mailbox::DONE_IDLE`] (1)
    /// nothing: the guest polled the mailbox for its window, no request
    /// came, and it stopped polling.
    pub const DONE: u16 = 0x0E10;
    /// Guest → host call: the request is in the output buffer; the host
    /// writes its answer to the input buffer and resumes the guest.
    /// Value: unused (write 0).
    pub const HOST_CALL: u16 = 0x0E11;
    /// The print buffer is full: the host drains it and resumes the guest.
    /// Value: unused (write 0).
    pub const PRINT_FLUSH: u16 = 0x0E12;
    /// The guest aborts: a UTF-8 message is in the output buffer framed
    /// by a [`super::MsgHeader`] (its `tag` is ignored). The sandbox is
    /// poisoned. Value: an abort code (one byte) chosen by the guest.
    pub const ABORT: u16 = 0x0E13;
    /// Written only by the ring-0 exception stubs: the guest faulted and
    /// [`super::FaultInfo`] describes how. The sandbox is poisoned. Value:
    /// the exception vector.
    pub const FAULT: u16 = 0x0E14;

    /// Every port the TSS I/O bitmap lets ring 3 use.
    pub const GUEST_PORTS: [u16; 4] = [DONE, HOST_CALL, PRINT_FLUSH, ABORT];
}

/// A region of guest memory: `[base, base + size)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// Guest address of the first byte.
    pub base: u64,
    /// Size in bytes (a multiple of [`PAGE_SIZE`]).
    pub size: u64,
}

impl Region {
    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }

    /// Whether `[addr, addr + len)` lies entirely inside the region.
    pub const fn contains_range(&self, addr: u64, len: u64) -> bool {
        match addr.checked_add(len) {
            Some(end) => addr >= self.base && end <= self.end(),
            None => false,
        }
    }
}

/// Magic value at the start of the [`ControlPage`] (`"HLJSCTRL"`).
pub const CONTROL_MAGIC: u64 = u64::from_le_bytes(*b"HLJSCTRL");

/// Number of entropy bytes the host refreshes before every request.
pub const ENTROPY_BYTES: usize = 64;

/// The control page at [`layout::CONTROL_PAGE`]. Written by the host only;
/// mapped read-only for the guest. The guest receives its address in `rdi`
/// at entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ControlPage {
    /// Always [`CONTROL_MAGIC`].
    pub magic: u64,
    /// Always [`ABI_VERSION`].
    pub abi_version: u32,
    /// Cooperative interrupt request. The host may set it to a non-zero
    /// value *while the guest runs* (a plain aligned 32-bit store) to ask
    /// the JavaScript engine to stop the current call at its next interrupt
    /// check: the call then answers with an uncatchable `InternalError:
    /// interrupted` exception and the guest stays usable. The host clears it
    /// (writes 0) before it sends the next request. The guest only reads it.
    /// This is the polite path; killing the vCPU remains the hard one (a
    /// regex backtrack or a host call may not reach an interrupt check).
    pub interrupt: u32,
    /// The guest image (ELF `PT_LOAD` segments).
    pub image: Region,
    /// The heap, for the guest's allocator.
    pub heap: Region,
    /// The stack; `rsp` starts at its end.
    pub stack: Region,
    /// Host → guest messages (read-only for the guest).
    pub input: Region,
    /// Guest → host messages.
    pub output: Region,
    /// Batched print/log records (see [`PrintHeader`]).
    pub print: Region,
    /// Wall-clock time (nanoseconds since the Unix epoch) written by the
    /// host just before it last resumed the guest.
    pub host_time_unix_ns: u64,
    /// A monotonic clock (nanoseconds, arbitrary origin) written at the same
    /// moment as `host_time_unix_ns`.
    pub host_monotonic_ns: u64,
    /// Counts requests: incremented by the host before each host → guest
    /// request.
    pub request_seq: u64,
    /// Fresh random bytes from the host's CSPRNG, replaced before each
    /// request (so a restored guest never replays the same entropy).
    pub entropy: [u8; ENTROPY_BYTES],
    /// The vCPU's time-stamp counter rate in kHz (`KVM_GET_TSC_KHZ`), or 0
    /// when the host could not read it (the guest then calibrates the rate
    /// against the host clocks). The guest extrapolates its clocks between
    /// exits with it.
    pub tsc_khz: u64,
    /// Resolution of the guest's monotonic clock (`performance.now()`) in
    /// nanoseconds: the guest rounds readings down to a multiple of it
    /// (0 or 1: full resolution). Set when the VM is created.
    pub clock_resolution_ns: u64,
}

/// The mailbox page at [`layout::MAILBOX`]: how a warm call reaches a
/// guest that is still running, without a VM exit.
///
/// After it answers a request, a guest that was told to
/// ([`Mailbox::poll`]) does not exit but spins (with `pause`) on
/// [`Mailbox::request`] for at most [`Mailbox::poll_window_tsc`] TSC ticks.
/// A host thread that finds the guest polling writes the request into the
/// input buffer and the control page's per-request fields, then moves
/// `request` from [`mailbox::POLLING`] to [`mailbox::POSTED`] with a
/// compare-and-swap; the guest takes it ([`mailbox::TAKEN`]) and runs it.
/// The answer is handed back through [`Mailbox::reply`]: if the host thread
/// is still spinning for it ([`mailbox::SPIN`]) the guest moves it to
/// [`mailbox::READY`] and the host reads the output buffer; if the host
/// stopped spinning ([`mailbox::SLEEP`]) the guest exits on
/// [`port::DONE`] with the answer as before. A guest whose window ends
/// moves `request` from `POLLING` to [`mailbox::IDLE`] and exits with
/// [`mailbox::DONE_IDLE`]. Every transition that both sides may attempt
/// is a compare-and-swap, so exactly one side wins each race.
///
/// Both words are accessed only atomically (4-byte aligned, `lock
/// cmpxchg` on both sides). Nothing here is trusted by the host: a guest
/// that writes nonsense only loses the fast path (the host then waits for
/// an exit, which monitors and kills still bound).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Mailbox {
    /// Request word: [`mailbox::IDLE`], [`mailbox::POLLING`],
    /// [`mailbox::POSTED`], [`mailbox::TAKEN`].
    pub request: u32,
    /// Reply word: [`mailbox::NONE`], [`mailbox::SPIN`], [`mailbox::READY`],
    /// [`mailbox::SLEEP`], and while the guest waits for a host function in
    /// memory [`mailbox::HOST_CALL`], [`mailbox::HOST_RUNNING`],
    /// [`mailbox::HOST_ANSWER`] (the last two possibly with
    /// [`mailbox::GONE`]).
    pub reply: u32,
    /// Written by the host before it resumes the guest after a
    /// [`mailbox::DONE_ANSWER`] exit: non-zero asks the guest to poll
    /// instead of waiting for a request in the input buffer.
    pub poll: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// How long the guest polls, in TSC ticks (0: never poll).
    pub poll_window_tsc: u64,
    /// A gap between two polling iterations longer than this many TSC ticks
    /// means the vCPU was descheduled (the cores are oversubscribed): the
    /// guest stops polling at once.
    pub preempted_tsc: u64,
    /// Counters kept by the guest (diagnostics): requests taken from the
    /// mailbox, polling windows that ended idle, windows cut short by
    /// preemption.
    pub taken: u64,
    /// See [`Mailbox::taken`].
    pub idle: u64,
    /// See [`Mailbox::taken`].
    pub preempted: u64,
    /// Host calls answered in memory (see [`mailbox::HOST_CALL`]).
    pub host_calls: u64,
}

/// States of the [`Mailbox`] words and values of the [`port::DONE`] exit.
pub mod mailbox {
    /// `request`: the guest is not polling.
    pub const IDLE: u32 = 0;
    /// `request`: the guest is polling for a request.
    pub const POLLING: u32 = 1;
    /// `request`: the host posted a request (input buffer and control page
    /// written).
    pub const POSTED: u32 = 2;
    /// `request`: the guest took the posted request and runs it.
    pub const TAKEN: u32 = 3;
    /// `request`: the host asks a polling guest to stop polling now (it
    /// wants the vCPU thread for something else); the guest exits idle.
    pub const LEAVE: u32 = 4;

    /// `reply`: nobody waits in memory; the guest exits with its answer.
    pub const NONE: u32 = 0;
    /// `reply`: a host thread spins for the answer.
    pub const SPIN: u32 = 1;
    /// `reply`: the answer is in the output buffer (set by the guest).
    pub const READY: u32 = 2;
    /// `reply`: the host thread stopped spinning; the guest exits with
    /// its answer.
    pub const SLEEP: u32 = 3;

    /// `reply`: the guest parked a host call in the output buffer (as for a
    /// [`super::port::HOST_CALL`] exit) and spins for its answer in memory.
    /// Set by the guest, `SPIN → HOST_CALL`, only while a host thread spins
    /// for the answer of the current request. The host thread takes it
    /// (`HOST_CALL → HOST_RUNNING`) or lets it go (`HOST_CALL → SLEEP`: the
    /// guest then exits on `HOST_CALL` as usual); a guest that waited its
    /// window without an answer lets it go itself, with the same CAS.
    pub const HOST_CALL: u32 = 4;
    /// `reply`: a host thread took the parked host call and runs the host
    /// function. The guest waits (spinning for at most its window, then in
    /// an exit on [`super::port::HOST_CALL`] with value
    /// [`HOST_CALL_WAIT`]); the host moves it to `HOST_ANSWER` with the
    /// answer in the input buffer, or back to `SLEEP` (it declined: the
    /// guest exits on `HOST_CALL` as usual).
    pub const HOST_RUNNING: u32 = 5;
    /// `reply`: the host function's answer is in the input buffer (framed
    /// as the answer to a `HOST_CALL` exit). The guest takes it and goes
    /// back to `SPIN` (`HOST_ANSWER → SPIN`).
    pub const HOST_ANSWER: u32 = 6;
    /// Flag on `HOST_RUNNING` and `HOST_ANSWER`: the host thread that
    /// spun for the request's answer stopped spinning (the host function
    /// answers later, e.g. from a Promise). The guest takes the host
    /// answer and then behaves as after `SLEEP`: it exits with the
    /// request's answer.
    pub const GONE: u32 = 0x100;

    /// [`super::port::HOST_CALL`] value: a host call like any other (the
    /// request is in the output buffer; the host answers in the input
    /// buffer).
    pub const HOST_CALL_EXIT: u8 = 0;
    /// [`super::port::HOST_CALL`] value: the guest waits for a host call
    /// that a host thread took from the mailbox (`HOST_RUNNING`): the host
    /// resumes it once the reply word left `HOST_RUNNING` (without
    /// spinning meanwhile), and the guest looks at the word again.
    pub const HOST_CALL_WAIT: u8 = 1;

    /// [`super::port::DONE`] value: the output buffer holds an answer (or,
    /// on the first exit, the guest is ready).
    pub const DONE_ANSWER: u8 = 0;
    /// [`super::port::DONE`] value: the polling window ended with no
    /// request; the output buffer holds nothing new.
    pub const DONE_IDLE: u8 = 1;
}

/// What the ring-0 exception stubs record at [`layout::FAULT_INFO`] before
/// they exit on [`port::FAULT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultInfo {
    /// Exception vector (0..32).
    pub vector: u64,
    /// Error code pushed by the CPU, or 0.
    pub error_code: u64,
    /// Faulting instruction pointer.
    pub rip: u64,
    /// Stack pointer at the fault.
    pub rsp: u64,
    /// CR2 (the faulting address for a page fault).
    pub cr2: u64,
}

/// Header of a message in the input or output buffer. The payload
/// (`len` bytes) follows immediately.
///
/// The VM layer moves tagged byte strings; what a tag means is up to the
/// layer above (see the `hyperlight-js` request tags).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgHeader {
    /// What kind of message this is.
    pub tag: u32,
    /// Payload length in bytes.
    pub len: u32,
}

/// Size of [`MsgHeader`] in bytes.
pub const MSG_HEADER_SIZE: usize = 8;

/// Tag of the answer to a guest → host call when the host function failed:
/// the payload is the UTF-8 error message. Host functions must not use this
/// tag for a successful answer.
pub const HOST_ERROR_TAG: u32 = u32::MAX;

/// Header of the print buffer: the guest appends records after it and
/// bumps `used`; the host drains them at every exit and resets `used`.
///
/// Records are packed back to back with no padding (read them unaligned):
/// a [`PrintRecord`] header and its text, then the next record. When the
/// next record does not fit, the guest exits on [`port::PRINT_FLUSH`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PrintHeader {
    /// Bytes of records after the header.
    pub used: u64,
}

/// Size of [`PrintHeader`] in bytes.
pub const PRINT_HEADER_SIZE: usize = 8;

/// Header of one print record: `len` bytes of UTF-8 follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PrintRecord {
    /// Severity: see [`print_level`].
    pub level: u32,
    /// Length of the text in bytes.
    pub len: u32,
}

/// Size of [`PrintRecord`] in bytes.
pub const PRINT_RECORD_SIZE: usize = 8;

/// Levels of a [`PrintRecord`].
pub mod print_level {
    /// `print(...)`.
    pub const PRINT: u32 = 0;
    /// `console.debug`.
    pub const DEBUG: u32 = 1;
    /// `console.log` / `console.info`.
    pub const INFO: u32 = 2;
    /// `console.warn`.
    pub const WARN: u32 = 3;
    /// `console.error`.
    pub const ERROR: u32 = 4;
    /// Flag bit on a record's level: the record is one piece of a longer
    /// line (the guest splits a line longer than the print region) and
    /// the next record continues it. The host joins the pieces.
    pub const CONTINUES: u32 = 1 << 31;
}

/// Counters the guest keeps up to date at [`layout::GUEST_STATS`] for the
/// host to report (metrics): plain little-endian `u64`s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestStats {
    /// Bytes of the guest heap allocated now (the engine's and the
    /// runtime's).
    pub heap_used: u64,
    /// The most bytes of the guest heap allocated at once since boot (a
    /// restore rewinds it with the rest of memory).
    pub heap_peak: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_area_is_below_the_image_and_page_aligned() {
        let fixed = [
            layout::GDT_IDT,
            layout::TSS,
            layout::FAULT_STUBS,
            layout::FAULT_INFO,
            layout::RING0_STACK,
            layout::CONTROL_PAGE,
            layout::TLS_PAGE,
            layout::MAILBOX,
        ];
        for a in fixed {
            assert_eq!(a % PAGE_SIZE, 0, "{a:#x} is not page aligned");
            assert!(a < layout::IMAGE_MIN_BASE);
        }
        assert!(core::mem::size_of::<ControlPage>() as u64 <= PAGE_SIZE);
        assert!(core::mem::size_of::<Mailbox>() as u64 <= PAGE_SIZE);
        assert_eq!(core::mem::offset_of!(Mailbox, request) % 4, 0);
        assert_eq!(core::mem::offset_of!(Mailbox, reply) % 4, 0);
        assert_eq!(core::mem::size_of::<MsgHeader>(), MSG_HEADER_SIZE);
        assert_eq!(core::mem::size_of::<PrintRecord>(), PRINT_RECORD_SIZE);
    }

    #[test]
    fn region_range_checks_do_not_overflow() {
        let r = Region {
            base: 0x1000,
            size: 0x1000,
        };
        assert!(r.contains_range(0x1000, 0x1000));
        assert!(!r.contains_range(0x1000, 0x1001));
        assert!(!r.contains_range(0xfff, 1));
        assert!(!r.contains_range(u64::MAX, 2));
    }
}
