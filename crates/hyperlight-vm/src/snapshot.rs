//! Snapshots: a copy of guest memory (below the page tables) and of the
//! vCPU state. See `docs/snapshots.md`.

use std::sync::Arc;

use kvm_bindings::{
    kvm_debugregs, kvm_fpu, kvm_msr_entry, kvm_regs, kvm_sregs, kvm_vcpu_events, kvm_xcrs,
    kvm_xsave, Msrs,
};
use kvm_ioctls::{SyncReg, VcpuFd};

use crate::memory::SnapshotMemory;
use crate::{Error, Result};

/// MSRs that a snapshot saves besides those in `kvm_sregs` (EFER, FS and GS
/// base live there). Ring 3 cannot write any of them; they are saved so a
/// restore after a crash that reached ring 0 puts them back anyway.
const MSRS: [u32; 9] = [
    0xc000_0102, // KERNEL_GS_BASE
    0x0000_0277, // PAT
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SFMASK
    0x0000_0174, // SYSENTER_CS
    0x0000_0175, // SYSENTER_ESP
    0x0000_0176, // SYSENTER_EIP
];

/// The full vCPU state.
pub(crate) struct VcpuState {
    pub regs: kvm_regs,
    pub sregs: kvm_sregs,
    pub fpu: kvm_fpu,
    pub xsave: Box<kvm_xsave>,
    pub xcrs: kvm_xcrs,
    pub debugregs: kvm_debugregs,
    pub events: kvm_vcpu_events,
    pub msrs: Vec<kvm_msr_entry>,
}

impl VcpuState {
    /// Reads the state; `pending` are registers written to the sync area
    /// and not loaded yet (KVM_GET_REGS would return stale values then).
    pub(crate) fn capture(vcpu: &VcpuFd, pending: Option<(kvm_regs, kvm_sregs)>) -> Result<Self> {
        let entries: Vec<kvm_msr_entry> = MSRS
            .iter()
            .map(|&index| kvm_msr_entry {
                index,
                ..Default::default()
            })
            .collect();
        let mut msrs = Msrs::from_entries(&entries).expect("9 entries fit");
        let n = vcpu.get_msrs(&mut msrs).map_err(Error::kvm("GET_MSRS"))?;
        let (regs, sregs) = match pending {
            Some(p) => p,
            None => (
                vcpu.get_regs().map_err(Error::kvm("GET_REGS"))?,
                vcpu.get_sregs().map_err(Error::kvm("GET_SREGS"))?,
            ),
        };
        Ok(Self {
            regs,
            sregs,
            fpu: vcpu.get_fpu().map_err(Error::kvm("GET_FPU"))?,
            xsave: Box::new(vcpu.get_xsave().map_err(Error::kvm("GET_XSAVE"))?),
            xcrs: vcpu.get_xcrs().map_err(Error::kvm("GET_XCRS"))?,
            debugregs: vcpu.get_debug_regs().map_err(Error::kvm("GET_DEBUGREGS"))?,
            events: vcpu
                .get_vcpu_events()
                .map_err(Error::kvm("GET_VCPU_EVENTS"))?,
            msrs: msrs.as_slice()[..n].to_vec(),
        })
    }

    /// Puts the state back. `full == false` sets only what ring 3 can
    /// change (general registers, segment/control registers, FPU/SSE/AVX
    /// state); `full` also sets XCR0, debug registers, pending events and
    /// MSRs, for after a crash that reached ring 0 or a switch of snapshot.
    ///
    /// With `sync`, general and special registers go through the
    /// `KVM_CAP_SYNC_REGS` area of `kvm_run` and are loaded by the next
    /// `KVM_RUN`, which saves two ioctls (about 10 µs here).
    pub(crate) fn apply(&self, vcpu: &mut VcpuFd, full: bool, sync: bool) -> Result<()> {
        if full {
            vcpu.set_vcpu_events(&self.events)
                .map_err(Error::kvm("SET_VCPU_EVENTS"))?;
            vcpu.set_xcrs(&self.xcrs).map_err(Error::kvm("SET_XCRS"))?;
            vcpu.set_debug_regs(&self.debugregs)
                .map_err(Error::kvm("SET_DEBUGREGS"))?;
            let msrs = Msrs::from_entries(&self.msrs).expect("at most 9 entries");
            vcpu.set_msrs(&msrs).map_err(Error::kvm("SET_MSRS"))?;
        }
        if sync {
            let area = vcpu.sync_regs_mut();
            area.regs = self.regs;
            area.sregs = self.sregs;
            vcpu.set_sync_dirty_reg(SyncReg::Register);
            vcpu.set_sync_dirty_reg(SyncReg::SystemRegister);
        } else {
            vcpu.set_sregs(&self.sregs)
                .map_err(Error::kvm("SET_SREGS"))?;
            vcpu.set_regs(&self.regs).map_err(Error::kvm("SET_REGS"))?;
        }
        const CR4_OSXSAVE: u64 = 1 << 18;
        if full || self.sregs.cr4 & CR4_OSXSAVE != 0 {
            // SAFETY: the buffer came from KVM_GET_XSAVE on a vCPU of the
            // same kind (same process, same CPUID), so its size and layout
            // match.
            unsafe { vcpu.set_xsave(&self.xsave) }.map_err(Error::kvm("SET_XSAVE"))?;
        } else {
            // Without CR4.OSXSAVE the guest's extended state is x87 + SSE,
            // all of which KVM_SET_FPU sets, at half the cost of
            // KVM_SET_XSAVE here (7 vs 15 µs).
            vcpu.set_fpu(&self.fpu).map_err(Error::kvm("SET_FPU"))?;
        }
        Ok(())
    }
}

pub(crate) struct SnapshotInner {
    pub id: u64,
    pub lineage: u64,
    pub memory: SnapshotMemory,
    pub vcpu: VcpuState,
}

/// A saved state of a [`Vm`](crate::Vm): guest memory below the page tables
/// and the full vCPU state. Cheap to clone (shared); `Send + Sync`.
///
/// A snapshot can be restored only into the VM it was taken from (its
/// *lineage*), any number of times; a [`Template`](crate::Template)'s
/// snapshot into any VM created from that template. The memory copy is
/// sparse: only pages that were non-zero are stored.
#[derive(Clone)]
pub struct Snapshot {
    pub(crate) inner: Arc<SnapshotInner>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("id", &self.inner.id)
            .field("lineage", &self.inner.lineage)
            .field("memory_bytes", &self.inner.memory.as_slice().len())
            .field("stored_pages", &self.inner.memory.stored_pages())
            .finish()
    }
}

impl Snapshot {
    /// Unique id of this snapshot.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Id of the VM the snapshot was taken from.
    pub fn lineage(&self) -> u64 {
        self.inner.lineage
    }

    /// The saved guest memory, from address 0 to the page tables. Only the
    /// [stored](Self::stored_pages) pages are resident; the others read as
    /// zero.
    pub fn memory(&self) -> &[u8] {
        self.inner.memory.as_slice()
    }

    /// Number of guest pages (4 KiB) the snapshot stores: those that were
    /// non-zero. All other pages were zero.
    pub fn stored_pages(&self) -> usize {
        self.inner.memory.stored_pages()
    }

    /// The saved general-purpose registers.
    pub fn regs(&self) -> &kvm_regs {
        &self.inner.vcpu.regs
    }

    /// The saved special registers.
    pub fn sregs(&self) -> &kvm_sregs {
        &self.inner.vcpu.sregs
    }
}
