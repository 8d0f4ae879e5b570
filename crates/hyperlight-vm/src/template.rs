//! Templates: a guest booted (and possibly prepared) once, from which new
//! VMs start without running the guest's initialisation again. See
//! `docs/snapshots.md`, "Templates".

use std::sync::Arc;

use crate::config::{Layout, VmConfig};
use crate::snapshot::Snapshot;
use crate::vm::{HostHandler, Vm};
use crate::Result;

/// How [`Vm::from_template`] fills a new VM's guest memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildMemory {
    /// Copy the template's non-zero pages into fresh anonymous memory.
    /// Creation pays a host page fault and a copy for every template page
    /// (about 2 µs per 4 KiB here); the guest's later first touches are
    /// cheaper, and each VM holds all of the template's pages resident.
    Copy,
    /// The default. Keep the template's pages in a `memfd` and map each
    /// 2 MiB range that holds any of them copy-on-write (`MAP_PRIVATE`);
    /// the rest of guest memory is fresh anonymous memory (heap eligible for
    /// huge pages, as in a booted VM). Creation costs a few `mmap` calls
    /// whatever the template's size, pages the guest only reads stay shared
    /// between VMs, and a VM holds only what it touched; the first write to
    /// a template page costs a copy-on-write fault (about 4–5 µs here).
    /// See `docs/vm-performance.md` for the measurements.
    #[default]
    CopyOnWrite,
}

pub(crate) struct TemplateInner {
    pub id: u64,
    pub layout: Layout,
    pub huge_pages: bool,
    /// The page-table pages (guest memory at `layout.page_tables`).
    pub page_tables: Vec<u8>,
    /// Guest memory and vCPU state; lineage = `id`.
    pub snapshot: Snapshot,
    pub request_seq: u64,
    pub child_memory: ChildMemory,
    /// The image's shared read-only pages, which children map.
    pub image: Arc<crate::image::ImageFile>,
}

/// A guest booted once, captured with its memory (sparse) and full vCPU
/// state, from which [`Vm::from_template`] creates VMs that skip the guest's
/// initialisation.
///
/// Cheap to clone (shared); `Send + Sync`, so one template can serve
/// threads creating VMs concurrently. The VM it was captured from is
/// dropped.
///
/// VMs created from a template form a *family*: the template's
/// [`snapshot`](Template::snapshot) can be restored into any of them with
/// [`Vm::restore`] (it puts the VM back exactly into the template's state),
/// while snapshots taken from one child belong to that child only.
///
/// All children start from the same memory, so they share what the guest
/// computed before the capture, including the stack-protector canary on the
/// TLS page and any random state the guest derived from the boot-time
/// entropy. Per-request entropy is refreshed on every call as usual.
#[derive(Clone)]
pub struct Template {
    pub(crate) inner: Arc<TemplateInner>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("id", &self.inner.id)
            .field("stored_pages", &self.stored_pages())
            .field("child_memory", &self.inner.child_memory)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Boots `elf` with `config` to "ready" (as [`Vm::new`]) and captures it
    /// with the default [`ChildMemory`].
    pub fn new(config: &VmConfig, elf: &[u8]) -> Result<Self> {
        Self::from_vm(Vm::new(config, elf)?)
    }

    /// Like [`Template::new`], with `handler` serving prints and host calls
    /// during boot.
    pub fn new_with_handler(
        config: &VmConfig,
        elf: &[u8],
        handler: &mut dyn HostHandler,
    ) -> Result<Self> {
        Self::from_vm(Vm::new_with_handler(config, elf, handler)?)
    }

    /// Captures `vm` in its current state (for example after calls that
    /// loaded code into the guest) and drops it. Fails with
    /// [`Error::Poisoned`](crate::Error::Poisoned) for a poisoned VM.
    pub fn from_vm(vm: Vm) -> Result<Self> {
        Self::from_vm_with(vm, ChildMemory::default())
    }

    /// Like [`Template::from_vm`], choosing how children get their memory.
    pub fn from_vm_with(vm: Vm, child_memory: ChildMemory) -> Result<Self> {
        vm.into_template(child_memory)
    }

    /// The template's id: the lineage of its [`snapshot`](Self::snapshot)
    /// and the [`Vm::template_id`] of its children.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The guest memory map of its children.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The template's state as a snapshot that any VM created from this
    /// template (and no other VM) can [`restore`](Vm::restore).
    pub fn snapshot(&self) -> &Snapshot {
        &self.inner.snapshot
    }

    /// Number of non-zero guest pages the template holds (each 4 KiB).
    pub fn stored_pages(&self) -> usize {
        self.inner.snapshot.inner.memory.stored_pages()
    }

    /// Bytes of guest memory that every VM of the process maps from one
    /// shared read-only copy of the guest image (code and read-only data)
    /// instead of holding its own; not counted in
    /// [`stored_pages`](Self::stored_pages).
    pub fn shared_image_bytes(&self) -> u64 {
        self.inner.image.shared_bytes()
    }

    /// How children get their memory.
    pub fn child_memory(&self) -> ChildMemory {
        self.inner.child_memory
    }
}
