//! One booted guest per VM configuration, per process: new sandboxes start
//! from it instead of booting the engine again (see `docs/snapshots.md`,
//! "Templates").
//!
//! The first `build()` with a given configuration boots a guest (a few
//! milliseconds) and keeps its state — only the pages it wrote, about
//! 2 MiB — for the life of the process. Every later `build()` with that
//! configuration creates its VM from that state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use hyperlight_vm::{Template, VmConfig};

use crate::error::{Error, Result};

/// The sizes that identify a configuration.
type Key = (u64, u64, u64, u64, u64, bool);

fn key(c: &VmConfig) -> Key {
    (
        c.heap_size,
        c.stack_size,
        c.input_size,
        c.output_size,
        c.print_size,
        c.huge_pages,
    )
}

/// Per-configuration slots; each slot is filled once, outside the map's lock,
/// so that booting one configuration does not hold up another.
static TEMPLATES: OnceLock<Mutex<HashMap<Key, Arc<OnceLock<Template>>>>> = OnceLock::new();

/// The template for `config`, booting it on first use.
pub(crate) fn for_config(config: &VmConfig) -> Result<Template> {
    let slot = {
        let mut map = TEMPLATES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(key(config)).or_default().clone()
    };
    if let Some(t) = slot.get() {
        return Ok(t.clone());
    }
    // Two threads may race to boot the first one; the loser's is dropped.
    // Children copy the template's pages rather than mapping them
    // copy-on-write: KVM's MMU notifiers belong to the process, so every
    // copy-on-write break in one VM walks every VM of the process, and
    // creating the 1000th sandbox cost 4x the first (docs/performance.md).
    let vm = hyperlight_vm::Vm::new(config, crate::guest_image::GUEST_ELF).map_err(Error::from)?;
    let template =
        Template::from_vm_with(vm, hyperlight_vm::ChildMemory::Copy).map_err(Error::from)?;
    Ok(slot.get_or_init(|| template).clone())
}
