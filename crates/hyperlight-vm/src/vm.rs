//! The VM: creation and boot, the exit loop, the call protocol, snapshots.

use std::mem::offset_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use hyperlight_abi::{
    layout, mailbox, port, ControlPage, FaultInfo, Mailbox, MsgHeader, PrintRecord, Region,
    ABI_VERSION, CONTROL_MAGIC, ENTROPY_BYTES, HOST_ERROR_TAG, MSG_HEADER_SIZE, PAGE_SIZE,
    PRINT_HEADER_SIZE, PRINT_RECORD_SIZE,
};
use kvm_bindings::{kvm_regs, kvm_userspace_memory_region, CpuId, KVM_MEM_LOG_DIRTY_PAGES};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};

use crate::arch;
use crate::config::{Layout, VmConfig};
use crate::elf;
use crate::fault::{self, FaultKind, GuestFault};
use crate::image::ImageFile;
use crate::interrupt::{CancelToken, InterruptHandle, Shared};
use crate::memory::{for_each_bit, is_zero, GuestMemory, SnapshotMemory};
use crate::snapshot::{Snapshot, SnapshotInner, VcpuState};
use crate::template::{ChildMemory, Template, TemplateInner};
use crate::{Error, Result};

/// What the guest can ask of the host while it serves a call.
pub trait HostHandler {
    /// A guest → host call with `tag` and `payload`. Return the answer's tag
    /// and payload, or an error message (the guest receives it with tag
    /// [`HOST_ERROR_TAG`]). An answer larger than the input buffer is
    /// replaced by an error message saying so.
    ///
    /// `cancel` reports whether the call was killed meanwhile; a long
    /// callback may poll it and give up early (the answer is then
    /// discarded and the call returns [`Error::Cancelled`]).
    fn host_call(
        &mut self,
        tag: u32,
        payload: &[u8],
        cancel: &CancelToken,
    ) -> std::result::Result<(u32, Vec<u8>), String> {
        let _ = (tag, payload, cancel);
        Err("this sandbox has no host functions".into())
    }

    /// One print record (`level` is one of [`hyperlight_abi::print_level`];
    /// invalid UTF-8 is replaced). Records arrive in the order the guest
    /// wrote them, with the exit that follows.
    fn print(&mut self, level: u32, text: &str) {
        let _ = (level, text);
    }

    /// The guest asked for its prints to be flushed (port `PRINT_FLUSH`);
    /// called after the records were delivered.
    fn flush(&mut self) {}
}

/// A [`HostHandler`] with no host functions that drops prints.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullHandler;

impl HostHandler for NullHandler {}

/// The guest's answer to [`Vm::call`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The tag the guest chose.
    pub tag: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

struct Host {
    kvm: Kvm,
    cpuid: CpuId,
}

// SAFETY: `Kvm` is a file descriptor; `CpuId` is plain data only read after
// initialisation.
unsafe impl Sync for Host {}
// SAFETY: as above.
unsafe impl Send for Host {}

static HOST: OnceLock<Host> = OnceLock::new();

fn host() -> Result<&'static Host> {
    if let Some(h) = HOST.get() {
        return Ok(h);
    }
    let kvm = Kvm::new().map_err(Error::unavailable("open /dev/kvm"))?;
    // A file that is not a KVM device (a bind-mounted /dev/null, say)
    // opens, and fails here.
    let cpuid = kvm
        .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
        .map_err(Error::unavailable("GET_SUPPORTED_CPUID"))?;
    let _ = HOST.set(Host { kvm, cpuid });
    Ok(HOST.get().expect("just set"))
}

pub(crate) fn now_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: clock_gettime writes into a local timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid clock id and pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: writes at most `len - filled` bytes into `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Os {
                op: "getrandom",
                source: e,
            });
        }
        filled += n as usize;
    }
    Ok(())
}

/// What a vCPU exit was, detached from the `kvm_run` borrow.
enum Exit {
    Out(u16, u8),
    In(u16),
    Mmio(u64, bool),
    Shutdown,
    Hlt,
    Internal(u32),
    FailEntry(u64),
    Kicked,
    Other(String),
}

/// Why the exit loop stopped without an error.
enum Stop {
    /// An exit on `DONE` with its value.
    Done(u8),
}

/// Which call the exit loop serves, for kills and host-call tokens.
#[derive(Clone, Copy)]
enum Gen {
    /// A call started on this thread with this generation.
    Fixed(u64),
    /// Whatever call is open now (posted through the mailbox), if any.
    Current,
}

/// How [`Vm::poll_mailbox`] ended without an error.
#[derive(Debug)]
pub enum PollEnd {
    /// The polling window ended: every request posted meanwhile was
    /// answered through the mailbox.
    Idle,
    /// A request posted through the mailbox was answered by an exit (its
    /// poster had stopped spinning, see [`crate::MailboxHandle::wait`]):
    /// here is its answer, for the caller to deliver to the poster.
    Answer(Response),
}

/// Reads a message header at `gpa` of `mem` (in bounds: the regions of a
/// layout are).
pub(crate) fn read_header(mem: &[u8], gpa: u64) -> MsgHeader {
    let at = gpa as usize;
    let b = &mem[at..at + MSG_HEADER_SIZE];
    MsgHeader {
        tag: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    }
}

/// Checks the records of the print buffer at `print` in `mem` (all of
/// guest memory): each record's level and the range of its text. Every
/// length is checked against the buffer: a guest that lies gets a protocol
/// error (and the buffer is left as it is).
pub(crate) fn parse_print_buffer(
    mem: &[u8],
    print: Region,
) -> Result<Vec<(u32, std::ops::Range<usize>)>> {
    let base = print.base as usize;
    let used = u64::from_le_bytes(mem[base..base + 8].try_into().expect("8 bytes"));
    let mut records = Vec::new();
    if used == 0 {
        return Ok(records);
    }
    let cap = (print.size as usize - PRINT_HEADER_SIZE) as u64;
    if used > cap {
        return Err(Error::Protocol(format!(
            "the print buffer claims {used} bytes of records but holds at most {cap}"
        )));
    }
    let first = base + PRINT_HEADER_SIZE;
    let mut off = 0u64;
    while off < used {
        if used - off < PRINT_RECORD_SIZE as u64 {
            return Err(Error::Protocol(format!(
                "the print buffer ends with a truncated record header at offset {off}"
            )));
        }
        let at = first + off as usize;
        let rec = PrintRecord {
            level: u32::from_le_bytes(mem[at..at + 4].try_into().expect("4 bytes")),
            len: u32::from_le_bytes(mem[at + 4..at + 8].try_into().expect("4 bytes")),
        };
        off += PRINT_RECORD_SIZE as u64;
        if rec.len as u64 > used - off {
            return Err(Error::Protocol(format!(
                "a print record claims {} bytes but only {} remain in the buffer",
                rec.len,
                used - off
            )));
        }
        let start = first + off as usize;
        records.push((rec.level, start..start + rec.len as usize));
        off += rec.len as u64;
    }
    Ok(records)
}

/// Delivers the records of the print buffer at `print` in `mem` (all of
/// guest memory) to `deliver` and resets the buffer. A malformed buffer
/// (see [`parse_print_buffer`]) delivers nothing, is reset, and fails.
pub(crate) fn drain_print_buffer(
    mem: &mut [u8],
    print: Region,
    deliver: &mut dyn FnMut(u32, &str),
) -> Result<()> {
    let parsed = parse_print_buffer(mem, print);
    let base = print.base as usize;
    if let Ok(records) = &parsed {
        for (level, range) in records {
            deliver(*level, &String::from_utf8_lossy(&mem[range.clone()]));
        }
    }
    mem[base..base + 8].fill(0);
    parsed.map(|_| ())
}

/// One KVM micro-VM with one vCPU running a guest at ring 3.
///
/// Created booted and ready by [`Vm::new`]. Keep a `Vm` on one thread for
/// its life (moving it is allowed, but the first run on a new thread is
/// slower on some hosts).
pub struct Vm {
    id: u64,
    /// The id of the [`Template`](crate::Template) this VM was created
    /// from: that template's snapshot may be restored here too.
    family: Option<u64>,
    /// `VmConfig::huge_pages`.
    huge_pages: bool,
    layout: Layout,
    vcpu: VcpuFd,
    vm_fd: VmFd,
    shared: Arc<Shared>,
    poison: Option<String>,
    /// Id of the snapshot that memory equals, except for pages in the KVM
    /// dirty log and the host-dirty bitmap.
    sync_point: Option<u64>,
    /// Whether state that ring 3 cannot change may have changed since the
    /// last snapshot/restore (a crash ran ring-0 code).
    full_restore: bool,
    request_seq: u64,
    /// `KVM_CAP_SYNC_REGS` is available: restores load registers through
    /// `kvm_run` instead of two ioctls.
    sync_regs: bool,
    /// Registers restored through the sync area and not yet loaded by a
    /// `KVM_RUN`.
    pending_regs: Option<(kvm_regs, kvm_bindings::kvm_sregs)>,
    /// The image's read-only pages, mapped shared (see `image.rs`).
    image: Arc<ImageFile>,
    // Last: unmapped after the VM and vCPU file descriptors are closed.
    mem: GuestMemory,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("id", &self.id)
            .field("layout", &self.layout)
            .field("poisoned", &self.poison)
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// Creates a VM for `elf` with the sizes in `config` and boots it until
    /// the guest reports ready (its first exit on `DONE`). Prints during boot
    /// are dropped and host calls fail; see [`Vm::new_with_handler`].
    pub fn new(config: &VmConfig, elf: &[u8]) -> Result<Self> {
        Self::new_with_handler(config, elf, &mut NullHandler)
    }

    /// Like [`Vm::new`], with `handler` serving prints and host calls made
    /// during boot.
    pub fn new_with_handler(
        config: &VmConfig,
        elf: &[u8],
        handler: &mut dyn HostHandler,
    ) -> Result<Self> {
        let image = elf::parse(elf)?;
        let layout = Layout::new(config, image.end)?;
        let host = host()?;
        let vm_fd = host
            .kvm
            .create_vm()
            .map_err(Error::unavailable("CREATE_VM"))?;
        let heap = layout.heap.base as usize..layout.heap.end() as usize;
        let mut mem = GuestMemory::new(layout.total as usize, config.huge_pages.then_some(heap))?;

        // SAFETY: `mem` is our own mapping of `layout.total` bytes, and it
        // outlives the VM (it is dropped after `vm_fd`, see the `Vm` fields).
        unsafe { register_memory(&vm_fd, &mem, layout.total) }?;

        // Guest memory contents before the first run.
        // The loaded image, indexed by guest address: its read-only pages
        // come from the process's shared file, the others are copied.
        let mut flat = vec![0u8; image.end as usize];
        for s in &image.segments {
            let src = &elf[s.offset as usize..(s.offset + s.filesz) as usize];
            flat[s.vaddr as usize..s.vaddr as usize + src.len()].copy_from_slice(src);
        }
        let image_file = ImageFile::for_image(&image, &flat)?;
        mem.map_image(&image_file)?;
        let m = mem.as_mut_slice_untracked();
        arch::write_system_tables(m);
        let maps = arch::mappings(&layout, &image);
        let cr3 = arch::build_page_tables(m, &layout, &maps);
        let page = PAGE_SIZE as usize;
        let mut private = Vec::new();
        for s in &image.segments {
            let (start, end) = (s.vaddr as usize, (s.vaddr + s.filesz) as usize);
            for p in start / page..end.div_ceil(page) {
                if !mem.is_shared(p) {
                    private.push(p);
                }
            }
        }
        let m = mem.as_mut_slice_untracked();
        for &p in &private {
            let r = p * page..((p + 1) * page).min(flat.len());
            m[r.clone()].copy_from_slice(&flat[r]);
        }
        drop(flat);
        // What was written above may be non-zero (sparse snapshots store
        // only such pages). The page tables are not part of snapshots, nor
        // are the shared image pages.
        for (base, len) in arch::SYSTEM_TABLE_PAGES {
            mem.mark_written(base, len);
        }
        for &p in &private {
            mem.mark_written((p * page) as u64, PAGE_SIZE);
        }
        let mut entropy = [0u8; ENTROPY_BYTES];
        random_bytes(&mut entropy)?;
        let cp = ControlPage {
            magic: CONTROL_MAGIC,
            abi_version: ABI_VERSION,
            interrupt: 0,
            image: layout.image,
            heap: layout.heap,
            stack: layout.stack,
            input: layout.input,
            output: layout.output,
            print: layout.print,
            host_time_unix_ns: now_ns(libc::CLOCK_REALTIME),
            host_monotonic_ns: now_ns(libc::CLOCK_MONOTONIC),
            request_seq: 0,
            entropy,
            tsc_khz: 0,
            clock_resolution_ns: config.clock_resolution_ns,
        };
        mem.write_pod(layout::CONTROL_PAGE, &cp)?;
        let mut canary = [0u8; 8];
        random_bytes(&mut canary)?;
        mem.write_pod(layout::TLS_PAGE, &layout::TLS_PAGE)?;
        mem.write(layout::TLS_PAGE + 0x28, &canary)?;

        // The vCPU: CPUID first, then long mode at ring 3.
        let mut vcpu = vm_fd.create_vcpu(0).map_err(Error::kvm("CREATE_VCPU"))?;
        vcpu.set_cpuid2(&host.cpuid)
            .map_err(Error::kvm("SET_CPUID2"))?;
        // The guest extrapolates its clocks with the TSC; an exact rate
        // avoids calibrating it against exit timings (0: calibrate).
        let tsc_khz = u64::from(vcpu.get_tsc_khz().unwrap_or(0));
        mem.write_pod(
            layout::CONTROL_PAGE + offset_of!(ControlPage, tsc_khz) as u64,
            &tsc_khz,
        )?;
        let mut sregs = vcpu.get_sregs().map_err(Error::kvm("GET_SREGS"))?;
        arch::long_mode_sregs(&mut sregs, cr3);
        vcpu.set_sregs(&sregs).map_err(Error::kvm("SET_SREGS"))?;
        vcpu.set_regs(&kvm_regs {
            rip: image.entry,
            rsp: layout.stack.end(),
            rdi: layout::CONTROL_PAGE,
            // Bit 1 is reserved-one; IOPL = 0: the TSS I/O bitmap alone
            // decides which ports ring 3 may use.
            rflags: 0x2,
            ..Default::default()
        })
        .map_err(Error::kvm("SET_REGS"))?;

        let shared = interrupt_state(&mut vcpu, &mem);
        let mut vm = Vm {
            id: next_id(),
            family: None,
            huge_pages: config.huge_pages,
            layout,
            vcpu,
            vm_fd,
            shared,
            poison: None,
            sync_point: None,
            full_restore: true,
            request_seq: 0,
            sync_regs: host.kvm.check_extension(kvm_ioctls::Cap::SyncRegs),
            pending_regs: None,
            image: image_file,
            mem,
        };
        vm.run_call(handler).map_err(|e| match e {
            Error::Poisoned { reason } => Error::VmExit(format!("boot failed: {reason}")),
            e => e,
        })?;
        Ok(vm)
    }

    /// Creates a VM whose guest memory and vCPU state equal `template`'s,
    /// without running the guest's initialisation: a new KVM VM and vCPU,
    /// guest memory filled from the template (see [`ChildMemory`]), the
    /// template's page tables and system tables (part of its memory), and
    /// its full vCPU state. The VM then behaves exactly like the VM the
    /// template was captured from: the next [`Vm::call`] works as it would
    /// have there (with fresh entropy and clocks, as every call).
    ///
    /// The new VM has its own [`id`](Vm::id); its
    /// [`template_id`](Vm::template_id) is the template's, so
    /// [`Template::snapshot`] can be restored into it.
    pub fn from_template(template: &Template) -> Result<Self> {
        let t: &TemplateInner = &template.inner;
        let snap = &t.snapshot.inner;
        let layout = t.layout;
        let host = host()?;
        let vm_fd = host
            .kvm
            .create_vm()
            .map_err(Error::unavailable("CREATE_VM"))?;
        let heap = layout.heap.base as usize..layout.heap.end() as usize;
        let mut mem = GuestMemory::new(layout.total as usize, t.huge_pages.then_some(heap))?;
        let page = PAGE_SIZE as usize;
        let end = layout.page_tables.base as usize;
        match (t.child_memory, snap.memory.fd()) {
            (ChildMemory::CopyOnWrite, Some(fd)) => {
                // Only the 2 MiB ranges that hold template pages map the
                // template; the others stay anonymous, so fresh memory (most
                // of the heap) keeps cheap first touches and huge pages.
                const CHUNK: usize = 2 << 20;
                let chunks = end.div_ceil(CHUNK);
                let mut used = vec![false; chunks];
                for_each_bit(snap.memory.present(), end / page, |p| {
                    used[p * page / CHUNK] = true;
                });
                let mut c = 0;
                while c < chunks {
                    if !used[c] {
                        c += 1;
                        continue;
                    }
                    let first = c;
                    while c < chunks && used[c] {
                        c += 1;
                    }
                    mem.map_private_file(fd, first * CHUNK..(c * CHUNK).min(end))?;
                }
            }
            _ => {
                let src = snap.memory.as_slice();
                if t.huge_pages {
                    mem.no_huge_where(snap.memory.present(), end / page);
                }
                crate::memory::populate_runs(mem.host_base(), snap.memory.present(), end / page);
                let dst = mem.as_mut_slice_untracked();
                for_each_bit(snap.memory.present(), end / page, |p| {
                    dst[p * page..(p + 1) * page].copy_from_slice(&src[p * page..(p + 1) * page]);
                });
            }
        }
        mem.as_mut_slice_untracked()[end..layout.total as usize].copy_from_slice(&t.page_tables);
        // After the template's pages: in copy-on-write mode its chunks may
        // cover image pages (zero in its file).
        mem.map_image(&t.image)?;
        mem.set_ever(snap.memory.present());

        // SAFETY: `mem` is our own mapping of `layout.total` bytes, and it
        // outlives the VM (it is dropped after `vm_fd`, see the `Vm` fields).
        unsafe { register_memory(&vm_fd, &mem, layout.total) }?;

        let mut vcpu = vm_fd.create_vcpu(0).map_err(Error::kvm("CREATE_VCPU"))?;
        vcpu.set_cpuid2(&host.cpuid)
            .map_err(Error::kvm("SET_CPUID2"))?;
        let sync_regs = host.kvm.check_extension(kvm_ioctls::Cap::SyncRegs);
        snap.vcpu.apply(&mut vcpu, true, sync_regs)?;

        let shared = interrupt_state(&mut vcpu, &mem);
        Ok(Vm {
            id: next_id(),
            family: Some(t.id),
            huge_pages: t.huge_pages,
            layout,
            vcpu,
            vm_fd,
            shared,
            poison: None,
            sync_point: Some(snap.id),
            full_restore: false,
            request_seq: t.request_seq,
            sync_regs,
            pending_regs: sync_regs.then_some((snap.vcpu.regs, snap.vcpu.sregs)),
            image: t.image.clone(),
            mem,
        })
    }

    /// Bytes of guest memory mapped from the process's one shared,
    /// read-only copy of the guest image's code and read-only data (see
    /// `docs/snapshots.md`, "Shared image pages"): not resident per VM and
    /// not stored in snapshots.
    pub fn shared_image_bytes(&self) -> u64 {
        self.image.shared_bytes()
    }

    /// Captures this VM as a template (see [`Template::from_vm`]).
    pub(crate) fn into_template(mut self, child_memory: ChildMemory) -> Result<Template> {
        if let Some(reason) = &self.poison {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        // The vCPU stopped on the guest's `out` to DONE; KVM finishes that
        // instruction (moves rip past it) only on the next KVM_RUN. A fresh
        // vCPU has nothing pending and would execute the `out` again, so
        // complete it here and capture the state after it.
        self.complete_pending_io();
        self.pending_regs = None;
        let id = next_id();
        let snapshot = self.snapshot_inner(id, matches!(child_memory, ChildMemory::CopyOnWrite))?;
        let pt = self.layout.page_tables;
        let page_tables = self.mem.as_slice()[pt.base as usize..pt.end() as usize].to_vec();
        Ok(Template {
            inner: Arc::new(TemplateInner {
                id,
                layout: self.layout,
                huge_pages: self.huge_pages,
                page_tables,
                snapshot,
                request_seq: self.request_seq,
                child_memory,
                image: self.image.clone(),
            }),
        })
    }

    /// This VM's unique id (the lineage of its snapshots).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The id of the [`Template`](crate::Template) this VM was created from
    /// ([`Vm::from_template`]), if any: the template's
    /// [snapshot](crate::Template::snapshot) can be restored into it.
    pub fn template_id(&self) -> Option<u64> {
        self.family
    }

    /// The guest memory map.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Largest request payload [`Vm::call`] accepts (and largest host-call
    /// answer): the input buffer less its 8-byte header.
    pub fn input_capacity(&self) -> usize {
        self.layout.input_capacity()
    }

    /// Largest answer payload the guest can send.
    pub fn output_capacity(&self) -> usize {
        self.layout.output_capacity()
    }

    /// Why the VM is poisoned, if it is.
    pub fn poisoned(&self) -> Option<&str> {
        self.poison.as_deref()
    }

    /// Whether [`InterruptHandle::request_interrupt`] was called while the
    /// last call ran: the host's own record, for classifying an answer that
    /// says "interrupted" (a guest could claim that on its own).
    pub fn interrupt_requested(&self) -> bool {
        self.shared.last_call_interrupt_requested()
    }

    /// A handle to stop calls from other threads.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            shared: self.shared.clone(),
        }
    }

    /// Number of vCPU exits since creation (each costs tens of µs on
    /// nested hosts; a call should take one).
    pub fn exits(&self) -> u64 {
        self.shared.exits()
    }

    /// Read-only view of all guest memory (address `n` is byte `n`).
    pub fn memory(&self) -> &[u8] {
        self.mem.as_slice()
    }

    /// The vCPU's general-purpose registers.
    pub fn regs(&self) -> Result<kvm_regs> {
        match &self.pending_regs {
            Some((r, _)) => Ok(*r),
            None => self.vcpu.get_regs().map_err(Error::kvm("GET_REGS")),
        }
    }

    /// The vCPU's special registers.
    pub fn sregs(&self) -> Result<kvm_bindings::kvm_sregs> {
        match &self.pending_regs {
            Some((_, s)) => Ok(*s),
            None => self.vcpu.get_sregs().map_err(Error::kvm("GET_SREGS")),
        }
    }

    /// Sends request `tag` + `payload` to the guest and runs it until it
    /// answers. Host calls and prints on the way go to `handler`.
    ///
    /// Fails without sending if the VM is poisoned or the payload exceeds
    /// [`Vm::input_capacity`]. Any failure of the guest poisons the VM.
    pub fn call(
        &mut self,
        tag: u32,
        payload: &[u8],
        handler: &mut dyn HostHandler,
    ) -> Result<Response> {
        if let Some(reason) = &self.poison {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        if payload.len() > self.input_capacity() {
            return Err(Error::InputTooLarge {
                len: payload.len(),
                capacity: self.input_capacity(),
            });
        }
        self.write_message(tag, payload)?;
        self.request_seq += 1;
        self.refresh_control_page()?;
        self.reset_mailbox(false)?;
        self.run_call(handler)?;
        let output = self.layout.output;
        let result = self
            .read_message(output, "answer")
            .map(|(tag, range)| Response {
                tag,
                payload: self.mem.as_slice()[range].to_vec(),
            });
        if let Err(e) = &result {
            self.poison = Some(e.to_string());
        }
        result
    }

    /// Runs the vCPU until the guest exits on DONE. On any error the VM is
    /// poisoned with that error.
    fn run_call(&mut self, handler: &mut dyn HostHandler) -> Result<()> {
        // Poisoned until proven otherwise: a panicking host callback leaves
        // the VM poisoned.
        let generation = self.shared.begin();
        if self.shared.is_cancelled(generation) {
            // A kill armed before the call began (`kill_next`): the guest
            // never ran. Poisoned all the same, so that a kill means the
            // same whenever it lands (restore or unload to go on).
            self.shared.end(generation);
            self.poison = Some(Error::Cancelled.to_string());
            return Err(Error::Cancelled);
        }
        self.poison = Some("a call did not complete (a host callback panicked?)".into());
        struct End<'a>(&'a Shared, u64);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                self.0.end(self.1);
            }
        }
        let end = End(&self.shared.clone(), generation);
        let r = self.exit_loop(handler, Gen::Fixed(generation));
        drop(end);
        match r {
            Ok(Stop::Done(_)) => {
                self.poison = None;
                Ok(())
            }
            Err(e) => {
                if !matches!(e, Error::Poisoned { .. }) {
                    self.poison = Some(e.to_string());
                }
                self.full_restore = true;
                Err(e)
            }
        }
    }

    fn exit_loop(&mut self, handler: &mut dyn HostHandler, gen: Gen) -> Result<Stop> {
        loop {
            let cancelled = match gen {
                Gen::Fixed(g) => self.shared.is_cancelled(g),
                // A kill that lands after the guest handed the answer over
                // came too late: the call is over, its poster takes it.
                Gen::Current => {
                    self.shared.current_cancelled().is_some() && !self.mailbox_reply_ready()
                }
            };
            if cancelled {
                return Err(Error::Cancelled);
            }
            // The guest pairs the host clocks with its TSC after every exit
            // (host calls and print flushes too, not only new requests):
            // keep them current up to the entry, or its clock would stall
            // behind the host's for as long as the host worked.
            self.refresh_clocks()?;
            let run = self.vcpu.run();
            self.pending_regs = None;
            let exit = match run {
                Ok(VcpuExit::IoOut(p, data)) => Exit::Out(p, data.first().copied().unwrap_or(0)),
                Ok(VcpuExit::IoIn(p, _)) => Exit::In(p),
                Ok(VcpuExit::MmioRead(a, _)) => Exit::Mmio(a, false),
                Ok(VcpuExit::MmioWrite(a, _)) => Exit::Mmio(a, true),
                Ok(VcpuExit::Shutdown) => Exit::Shutdown,
                Ok(VcpuExit::Hlt) => Exit::Hlt,
                Ok(VcpuExit::InternalError) => {
                    // SAFETY: the exit reason says `internal` is the live
                    // union member.
                    Exit::Internal(unsafe {
                        self.vcpu.get_kvm_run().__bindgen_anon_1.internal.suberror
                    })
                }
                Ok(VcpuExit::FailEntry(reason, _)) => Exit::FailEntry(reason),
                Ok(VcpuExit::Intr) => Exit::Kicked,
                Ok(other) => Exit::Other(format!("{other:?}")),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Exit::Kicked,
                Err(e) => {
                    return Err(Error::Kvm {
                        op: "RUN",
                        source: e,
                    })
                }
            };
            self.shared.count_exit();
            let generation = match gen {
                Gen::Fixed(g) => g,
                Gen::Current => self.shared.current(),
            };
            if let Exit::Kicked = exit {
                self.shared.after_kick(generation);
                continue;
            }
            if matches!(gen, Gen::Current) && matches!(exit, Exit::Out(port::HOST_CALL, _)) {
                // A posted call needs the host: its poster may be the
                // thread that runs host functions, spinning for the answer.
                // Tell it to stop spinning and wait for our delivery.
                self.mailbox_reply_cas(mailbox::SPIN, mailbox::SLEEP);
            }
            // Prints are delivered with every exit, even a crash.
            let printed = self.drain_print(handler);
            let r = self.handle_exit(exit, handler, generation);
            match (r, printed) {
                (Ok(None), Ok(())) => continue,
                (Ok(Some(stop)), Ok(())) => return Ok(stop),
                (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
            }
        }
    }

    fn handle_exit(
        &mut self,
        exit: Exit,
        handler: &mut dyn HostHandler,
        generation: u64,
    ) -> Result<Option<Stop>> {
        match exit {
            Exit::Out(port::DONE, v) => Ok(Some(Stop::Done(v))),
            Exit::Out(port::HOST_CALL, mailbox::HOST_CALL_WAIT) => {
                // The guest waits for a host call that a mailbox poster
                // took: wait (without spinning) until it was answered or
                // let go, then let the guest look (a kill ends the wait
                // and is seen before the next entry).
                let reply = self.mailbox_reply();
                self.shared.wait_host_answer(generation, || {
                    reply.load(Ordering::Acquire) & !mailbox::GONE == mailbox::HOST_RUNNING
                });
                Ok(None)
            }
            Exit::Out(port::HOST_CALL, _) => {
                self.host_call(handler, generation)?;
                Ok(None)
            }
            Exit::Out(port::PRINT_FLUSH, _) => {
                handler.flush();
                Ok(None)
            }
            Exit::Out(port::ABORT, code) => {
                let output = self.layout.output;
                let hdr: MsgHeader = self.mem.read_pod(output.base)?;
                let len = (hdr.len as usize).min(self.output_capacity());
                let start = (output.base as usize) + MSG_HEADER_SIZE;
                let msg = String::from_utf8_lossy(&self.mem.as_slice()[start..start + len]);
                Err(Error::GuestAbort {
                    code,
                    message: msg.into_owned(),
                })
            }
            Exit::Out(port::FAULT, _) => {
                self.full_restore = true;
                let info: FaultInfo = self.mem.read_pod(layout::FAULT_INFO)?;
                let mut code = [0u8; 16];
                let code = match self.mem.read(info.rip, &mut code) {
                    Ok(()) => &code[..],
                    Err(_) => &[][..],
                };
                Err(Error::GuestFault(fault::classify(
                    &self.layout,
                    &info,
                    code,
                )))
            }
            Exit::Out(p, _) => Err(Error::Protocol(format!(
                "the guest wrote to I/O port {p:#x}, which is not a port of the ABI"
            ))),
            Exit::In(p) => Err(Error::Protocol(format!(
                "the guest read from I/O port {p:#x} (`in`); the ABI only allows `out`"
            ))),
            Exit::Mmio(addr, write) => Err(Error::VmExit(format!(
                "MMIO {} at guest-physical address {addr:#x}, which is not backed by memory",
                if write { "write" } else { "read" }
            ))),
            Exit::Shutdown => {
                self.full_restore = true;
                let regs = self.vcpu.get_regs().map_err(Error::kvm("GET_REGS"))?;
                Err(Error::GuestFault(GuestFault {
                    kind: FaultKind::TripleFault,
                    rip: regs.rip,
                    rsp: regs.rsp,
                }))
            }
            Exit::Hlt => Err(Error::VmExit("the vCPU halted".into())),
            Exit::Internal(sub) => {
                self.full_restore = true;
                let what = match sub {
                    1 => "emulation failure (ring-0 code used an instruction the hypervisor cannot emulate)",
                    2 => "simultaneous exceptions",
                    3 => "delivery event failure",
                    _ => "unknown",
                };
                let rip = self.vcpu.get_regs().map(|r| r.rip).unwrap_or(0);
                Err(Error::VmExit(format!(
                    "KVM internal error {sub} ({what}) at rip {rip:#x}"
                )))
            }
            Exit::FailEntry(reason) => Err(Error::VmExit(format!(
                "KVM could not enter the guest (hardware reason {reason:#x})"
            ))),
            Exit::Other(what) => Err(Error::VmExit(format!("unexpected vCPU exit {what}"))),
            Exit::Kicked => Ok(None),
        }
    }

    /// Validates the message header in `region` and returns its tag and the
    /// payload's range in guest memory.
    fn read_message(&self, region: Region, what: &str) -> Result<(u32, std::ops::Range<usize>)> {
        let hdr: MsgHeader = self.mem.read_pod(region.base)?;
        let capacity = region.size as usize - MSG_HEADER_SIZE;
        if hdr.len as usize > capacity {
            return Err(Error::Protocol(format!(
                "the guest's {what} claims {} bytes but the output buffer holds at most {capacity}",
                hdr.len
            )));
        }
        let start = region.base as usize + MSG_HEADER_SIZE;
        Ok((hdr.tag, start..start + hdr.len as usize))
    }

    fn write_message(&mut self, tag: u32, payload: &[u8]) -> Result<()> {
        let input = self.layout.input;
        debug_assert!(payload.len() <= self.input_capacity());
        let hdr = MsgHeader {
            tag,
            len: payload.len() as u32,
        };
        self.mem.write_pod(input.base, &hdr)?;
        self.mem.write(input.base + MSG_HEADER_SIZE as u64, payload)
    }

    fn host_call(&mut self, handler: &mut dyn HostHandler, generation: u64) -> Result<()> {
        let (tag, range) = self.read_message(self.layout.output, "host call request")?;
        let token = CancelToken {
            shared: self.shared.clone(),
            generation,
        };
        self.shared.set_in_host_call(true);
        if token.is_cancelled() {
            self.shared.set_in_host_call(false);
            return Err(Error::Cancelled);
        }
        let answer = handler.host_call(tag, &self.mem.as_slice()[range], &token);
        self.shared.set_in_host_call(false);
        if token.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let (tag, mut data) = match answer {
            Ok(a) => a,
            Err(msg) => (HOST_ERROR_TAG, msg.into_bytes()),
        };
        let cap = self.input_capacity();
        if data.len() > cap {
            let msg = format!(
                "the host's answer is {} bytes but the input buffer holds at most {cap}",
                data.len()
            );
            return self.write_message(HOST_ERROR_TAG, &msg.as_bytes()[..msg.len().min(cap)]);
        }
        if tag == HOST_ERROR_TAG {
            data.truncate(cap);
        }
        self.write_message(tag, &data)
    }

    /// Delivers the print records and resets the buffer.
    fn drain_print(&mut self, handler: &mut dyn HostHandler) -> Result<()> {
        // The mailbox's poster drains too (after a call answered without an
        // exit): never both at once.
        let shared = self.shared.clone();
        let _print = shared.print_lock();
        let print = self.layout.print;
        let r = drain_print_buffer(
            self.mem.as_mut_slice_untracked(),
            print,
            &mut |level, text| handler.print(level, text),
        );
        self.mem
            .mark_host_dirty(print.base, PRINT_HEADER_SIZE as u64);
        r
    }

    fn refresh_control_page(&mut self) -> Result<()> {
        // The fields written before each request are contiguous.
        const T: usize = offset_of!(ControlPage, host_time_unix_ns);
        const _: () = assert!(offset_of!(ControlPage, host_monotonic_ns) == T + 8);
        const _: () = assert!(offset_of!(ControlPage, request_seq) == T + 16);
        const _: () = assert!(offset_of!(ControlPage, entropy) == T + 24);
        let mut buf = [0u8; 24 + ENTROPY_BYTES];
        buf[0..8].copy_from_slice(&now_ns(libc::CLOCK_REALTIME).to_le_bytes());
        buf[8..16].copy_from_slice(&now_ns(libc::CLOCK_MONOTONIC).to_le_bytes());
        buf[16..24].copy_from_slice(&self.request_seq.to_le_bytes());
        random_bytes(&mut buf[24..])?;
        self.mem.write(layout::CONTROL_PAGE + T as u64, &buf)
    }

    /// Rewrites only the two clocks of the control page (before the guest
    /// resumes after an exit).
    fn refresh_clocks(&mut self) -> Result<()> {
        const T: usize = offset_of!(ControlPage, host_time_unix_ns);
        let mut buf = [0u8; 16];
        buf[0..8].copy_from_slice(&now_ns(libc::CLOCK_REALTIME).to_le_bytes());
        buf[8..16].copy_from_slice(&now_ns(libc::CLOCK_MONOTONIC).to_le_bytes());
        self.mem.write(layout::CONTROL_PAGE + T as u64, &buf)
    }

    /// Lets the guest poll its [mailbox](hyperlight_abi::Mailbox) for at
    /// most `window`, so that other threads can post requests through a
    /// [`MailboxHandle`](crate::MailboxHandle) without a VM exit. Call it on
    /// the VM's thread right after a [`Vm::call`] (or a previous
    /// `poll_mailbox`) returned, when the next request is likely to follow
    /// soon; it returns when the guest stops polling (the window ended with
    /// no request, a [`MailboxHandle::release`](crate::MailboxHandle::release)
    /// asked it to, or the vCPU was descheduled).
    ///
    /// Host calls and prints of posted requests go to `handler`, as in a
    /// call. Returns [`PollEnd::Answer`] when a posted request was answered
    /// by an exit (its poster had stopped spinning): deliver it. A posted
    /// request that fails (killed, crashed) fails this call with its error
    /// and poisons the VM, as a failed [`Vm::call`] does. Fails at once if
    /// the VM is poisoned. A zero `window` returns [`PollEnd::Idle`] at once.
    pub fn poll_mailbox(
        &mut self,
        handler: &mut dyn HostHandler,
        window: std::time::Duration,
    ) -> Result<PollEnd> {
        if let Some(reason) = &self.poison {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        let tsc = crate::mailbox::tsc_per_ns();
        let ticks = (window.as_nanos() as f64 * tsc) as u64;
        if ticks == 0 {
            return Ok(PollEnd::Idle);
        }
        let preempted = (crate::mailbox::PREEMPTED_GAP.as_nanos() as f64 * tsc) as u64;
        self.mem.write_pod(
            layout::MAILBOX + offset_of!(Mailbox, poll_window_tsc) as u64,
            &ticks,
        )?;
        self.mem.write_pod(
            layout::MAILBOX + offset_of!(Mailbox, preempted_tsc) as u64,
            &preempted.max(1),
        )?;
        self.reset_mailbox(true)?;
        self.poison = Some("a mailbox session did not complete (a host callback panicked?)".into());
        self.shared.serve_begin();
        // Ends the session even if a host callback panics (the open call,
        // if any, is then ended: it failed).
        struct End<'a>(&'a Shared, bool);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                self.0.serve_end(self.1);
            }
        }
        let shared = self.shared.clone();
        let mut end = End(&shared, true);
        let r = self.exit_loop(handler, Gen::Current);
        // An idle end leaves a call answered through the mailbox open for
        // its poster to end.
        end.1 = !matches!(r, Ok(Stop::Done(mailbox::DONE_IDLE)));
        drop(end);
        match r {
            Ok(Stop::Done(mailbox::DONE_IDLE)) => {
                self.poison = None;
                Ok(PollEnd::Idle)
            }
            Ok(Stop::Done(_)) => {
                let output = self.layout.output;
                let answer = self
                    .read_message(output, "answer")
                    .map(|(tag, range)| Response {
                        tag,
                        payload: self.mem.as_slice()[range].to_vec(),
                    });
                match answer {
                    Ok(a) => {
                        self.poison = None;
                        Ok(PollEnd::Answer(a))
                    }
                    Err(e) => {
                        self.poison = Some(e.to_string());
                        Err(e)
                    }
                }
            }
            Err(e) => {
                if !matches!(e, Error::Poisoned { .. }) {
                    self.poison = Some(e.to_string());
                }
                self.full_restore = true;
                Err(e)
            }
        }
    }

    /// The handle through which other threads post requests while the VM's
    /// thread is in [`Vm::poll_mailbox`].
    pub fn mailbox(&self) -> crate::MailboxHandle {
        crate::MailboxHandle::new(self.shared.clone(), self.mem.host_base(), self.layout)
    }

    /// Puts the mailbox's words in their state for the next resume: no
    /// request posted, nobody spinning, and whether to poll.
    ///
    /// A poll session leaves the reply word alone: it may hold an answer
    /// handed over at the end of the previous session that its poster has
    /// not taken yet. A call through this thread resets it (no poster can
    /// be waiting then: callers do not overlap calls on one VM).
    fn reset_mailbox(&mut self, poll: bool) -> Result<()> {
        const _: () = assert!(offset_of!(Mailbox, request) == 0);
        const _: () = assert!(offset_of!(Mailbox, reply) == 4);
        const _: () = assert!(offset_of!(Mailbox, poll) == 8);
        self.mem.write_pod(layout::MAILBOX, &mailbox::IDLE)?;
        if !poll {
            self.mem.write_pod(layout::MAILBOX + 4, &mailbox::NONE)?;
        }
        self.mem.write_pod(layout::MAILBOX + 8, &u32::from(poll))
    }

    /// Whether the mailbox's reply word says an answer was handed over.
    fn mailbox_reply_ready(&self) -> bool {
        self.mailbox_reply().load(Ordering::Acquire) == mailbox::READY
    }

    /// The mailbox's reply word, shared with the guest and mailbox posters.
    fn mailbox_reply(&self) -> &std::sync::atomic::AtomicU32 {
        let word = self
            .mem
            .host_base()
            .wrapping_add(layout::MAILBOX as usize + offset_of!(Mailbox, reply))
            .cast::<u32>();
        // SAFETY: the mailbox page is inside guest memory, mapped for as
        // long as `self`; the word is 4-byte aligned and accessed atomically
        // by every party.
        unsafe { std::sync::atomic::AtomicU32::from_ptr(word) }
    }

    /// Compare-and-swap on the mailbox's reply word (the guest may be
    /// running on another thread: only while this thread is in `KVM_RUN`'s
    /// caller, i.e. the vCPU is stopped, or atomically).
    fn mailbox_reply_cas(&self, from: u32, to: u32) {
        let _ =
            self.mailbox_reply()
                .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Saves guest memory and vCPU state. The VM must not be poisoned.
    ///
    /// Sparse: costs a copy of the guest pages that were ever written since
    /// boot and are not zero now (the VM tracks which pages may be non-zero,
    /// see `docs/snapshots.md`), not a scan of all guest memory. From now
    /// on the VM tracks which pages change, so [`Vm::restore`] of this
    /// snapshot copies back only those.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        self.snapshot_inner(self.id, false)
    }

    pub(crate) fn snapshot_inner(&mut self, lineage: u64, shared_file: bool) -> Result<Snapshot> {
        if let Some(reason) = &self.poison {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        // Reset the dirty log: from here on it lists what changes. What it
        // listed may be non-zero now.
        let dirty = self
            .vm_fd
            .get_dirty_log(0, self.layout.total as usize)
            .map_err(Error::kvm("GET_DIRTY_LOG"))?;
        self.mem.fold_ever(&dirty);
        self.mem.clear_host_dirty();
        let end = self.layout.page_tables.base as usize;
        let memory = SnapshotMemory::capture(
            &self.mem.as_slice()[..end],
            self.mem.ever(),
            shared_file,
            &self.image,
        )?;
        // Every page outside the snapshot is zero now.
        self.mem.set_ever(memory.present());
        let vcpu = VcpuState::capture(&self.vcpu, self.pending_regs)?;
        let id = next_id();
        self.sync_point = Some(id);
        self.full_restore = false;
        Ok(Snapshot {
            inner: Arc::new(SnapshotInner {
                id,
                lineage,
                memory,
                vcpu,
            }),
        })
    }

    /// Puts the VM back into the state of `snapshot` and clears poisoning.
    ///
    /// If the VM's memory last equalled this snapshot (it was taken or last
    /// restored here), only the pages dirtied since are copied; otherwise
    /// every page that may differ is compared (the pages either side may
    /// have written) and copied or zeroed. Fails with
    /// [`Error::ForeignSnapshot`] for a snapshot of another VM; the snapshot
    /// of the [`Template`](crate::Template) a VM was created from is not
    /// foreign.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<()> {
        let s = &snapshot.inner;
        if s.lineage != self.id && Some(s.lineage) != self.family {
            return Err(Error::ForeignSnapshot {
                snapshot: s.lineage,
                vm: self.id,
            });
        }
        let r = self.restore_inner(s);
        match &r {
            Ok(()) => self.poison = None,
            Err(e) => self.poison = Some(format!("restore failed: {e}")),
        }
        r
    }

    fn restore_inner(&mut self, s: &SnapshotInner) -> Result<()> {
        if self.full_restore {
            self.complete_pending_io();
        }
        let kvm_dirty = self
            .vm_fd
            .get_dirty_log(0, self.layout.total as usize)
            .map_err(Error::kvm("GET_DIRTY_LOG"))?;
        if self.shared.take_remote_writes() {
            // A mailbox poster wrote these from another thread (untracked).
            let input = self.layout.input;
            self.mem.mark_host_dirty(input.base, input.size);
            self.mem.mark_host_dirty(layout::CONTROL_PAGE, PAGE_SIZE);
            self.mem.mark_host_dirty(layout::MAILBOX, PAGE_SIZE);
            self.mem
                .mark_host_dirty(self.layout.print.base, PRINT_HEADER_SIZE as u64);
        }
        let host_dirty = self.mem.take_host_dirty();
        let page = PAGE_SIZE as usize;
        let pages = self.layout.page_tables.base as usize / page;
        let same = self.sync_point == Some(s.id);
        // Pages to visit. Same sync point: exactly those changed since.
        // Otherwise: every page that may be non-zero here (ever written,
        // plus what the dirty log lists) or in the snapshot.
        let mut visit: Vec<u64> = kvm_dirty
            .iter()
            .zip(&host_dirty)
            .map(|(k, h)| k | h)
            .collect();
        if !same {
            for ((v, e), p) in visit
                .iter_mut()
                .zip(self.mem.ever())
                .zip(s.memory.present())
            {
                *v |= e | p;
            }
        }
        let src = s.memory.as_slice();
        let dst = self.mem.as_mut_slice_untracked();
        for_each_bit(&visit, pages, |p| {
            let d = &mut dst[p * page..(p + 1) * page];
            if s.memory.is_present(p) {
                let sp = &src[p * page..(p + 1) * page];
                if same || d != sp {
                    d.copy_from_slice(sp);
                }
            } else if !is_zero(d) {
                d.fill(0);
            }
        });
        // Memory now equals the snapshot: only its pages are non-zero.
        self.mem.set_ever(s.memory.present());
        let full = self.full_restore || !same;
        s.vcpu.apply(&mut self.vcpu, full, self.sync_regs)?;
        if self.sync_regs {
            self.pending_regs = Some((s.vcpu.regs, s.vcpu.sregs));
        }
        self.sync_point = Some(s.id);
        self.full_restore = false;
        Ok(())
    }

    /// After an `in` or MMIO exit KVM waits for the data and completes the
    /// instruction on the next `KVM_RUN`, which would clobber restored
    /// registers. `KVM_RUN` with `immediate_exit` set completes it without
    /// running the guest (it returns `EINTR`).
    fn complete_pending_io(&mut self) {
        // No call runs (we have `&mut self`), so `kill` does not touch
        // `immediate_exit` now.
        self.vcpu.get_kvm_run().immediate_exit = 1;
        let _ = self.vcpu.run();
        self.vcpu.get_kvm_run().immediate_exit = 0;
    }

    /// Test hook: corrupts the IDT so that the next guest exception cannot
    /// be delivered and ends in a triple fault (`KVM_EXIT_SHUTDOWN`). Only
    /// with the `test-hooks` feature (this crate's own tests).
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn __break_idt_for_tests(&mut self) -> Result<()> {
        let idt = layout::GDT_IDT + layout::IDT_OFFSET;
        self.mem.write(idt, &[0u8; 32 * 16])
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // No kill may touch `immediate_exit` once the vCPU is closed.
        self.shared.shut();
    }
}

/// Registers `mem` as memory slot 0 at guest-physical address 0, with dirty
/// logging.
///
/// # Safety
///
/// `mem` must map at least `total` bytes and stay mapped for as long as
/// `vm_fd` exists: the guest reads and writes it directly.
unsafe fn register_memory(vm_fd: &VmFd, mem: &GuestMemory, total: u64) -> Result<()> {
    // SAFETY: the caller guarantees the mapping is large enough and outlives
    // the VM.
    unsafe {
        vm_fd.set_user_memory_region(kvm_userspace_memory_region {
            slot: 0,
            flags: KVM_MEM_LOG_DIRTY_PAGES,
            guest_phys_addr: 0,
            memory_size: total,
            userspace_addr: mem.host_base() as u64,
        })
    }
    .map_err(Error::kvm("SET_USER_MEMORY_REGION"))
}

/// The state an [`InterruptHandle`] shares with the VM: where to set
/// `immediate_exit` in the vCPU's `kvm_run`, and the control page's
/// `interrupt` flag in guest memory. Both stay valid for as long as the VM
/// that owns `vcpu` and `mem`.
fn interrupt_state(vcpu: &mut VcpuFd, mem: &GuestMemory) -> Arc<Shared> {
    let immediate_exit = &mut vcpu.get_kvm_run().immediate_exit as *mut u8;
    let guest_interrupt = mem
        .host_base()
        .wrapping_add((layout::CONTROL_PAGE as usize) + offset_of!(ControlPage, interrupt))
        .cast::<u32>();
    Shared::new(immediate_exit, guest_interrupt)
}
