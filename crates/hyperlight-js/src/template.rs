//! One booted guest per VM configuration, per process, and a small pool of
//! VMs made from it ahead of time (see `docs/snapshots.md`, "Templates",
//! and `docs/performance.md`).
//!
//! The first `build()` with a given configuration boots a guest (a few
//! milliseconds) and keeps its state — only the pages it wrote, about
//! 1.5 MiB — for the life of the process. Every later `build()` with that
//! configuration creates its VM from that state, or takes one a background
//! thread created ahead of time: after each `build()` the pool of that
//! configuration is refilled to `HYPERLIGHT_JS_POOL_SIZE` VMs (default 2,
//! 0 turns the pool off; an invalid value is logged and the default used).
//! A pooled VM is warmed up — it ran a throwaway handler and was restored
//! to the template's state, byte for byte — so that its pages are faulted
//! in and the hypervisor's page-table shadows built before it is handed
//! out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use hyperlight_vm::{ChildMemory, Snapshot, Template, Vm, VmConfig};

use crate::error::{Error, Result};

/// Environment variable: VMs kept ready per configuration.
const POOL_ENV: &str = "HYPERLIGHT_JS_POOL_SIZE";
/// Default pool size.
const DEFAULT_POOL: usize = 2;
/// Largest pool size accepted.
const MAX_POOL: usize = 64;

/// The sizes and settings that identify a configuration.
type Key = (u64, u64, u64, u64, u64, bool, u64);

fn key(c: &VmConfig) -> Key {
    (
        c.heap_size,
        c.stack_size,
        c.input_size,
        c.output_size,
        c.print_size,
        c.huge_pages,
        c.clock_resolution_ns,
    )
}

/// A configuration's template and its pool of ready VMs.
struct Family {
    template: Template,
    pool: Mutex<Vec<Vm>>,
    target: usize,
    refilling: AtomicBool,
}

impl Family {
    fn take(self: &Arc<Self>) -> Result<Vm> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let vm = match pooled {
            Some(vm) => vm,
            None => Vm::from_template(&self.template).map_err(Error::from)?,
        };
        self.refill();
        Ok(vm)
    }

    /// Tops the pool up on a background thread (one at a time).
    fn refill(self: &Arc<Self>) {
        if self.target == 0 || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let family = self.clone();
        let spawned = std::thread::Builder::new()
            .name("hyperlight-pool".into())
            .spawn(move || {
                while family.pool.lock().unwrap_or_else(|e| e.into_inner()).len() < family.target {
                    let made = Vm::from_template(&family.template)
                        .map_err(Error::from)
                        .and_then(|vm| {
                            crate::driver::Guest::warm_up(vm, family.template.snapshot().clone())
                        });
                    match made {
                        Ok(vm) => family
                            .pool
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(vm),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not create a VM for the pool");
                            break;
                        }
                    }
                }
                family.refilling.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the pool thread");
            self.refilling.store(false, Ordering::Release);
        }
    }
}

/// Per-configuration slots; each slot is filled once, outside the map's
/// lock, so that booting one configuration does not hold up another.
type Families = Mutex<HashMap<Key, Arc<OnceLock<Arc<Family>>>>>;
static FAMILIES: OnceLock<Families> = OnceLock::new();

fn family(config: &VmConfig) -> Result<Arc<Family>> {
    let slot = {
        let mut map = FAMILIES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(key(config)).or_default().clone()
    };
    if let Some(f) = slot.get() {
        return Ok(f.clone());
    }
    // Children copy the template's pages rather than mapping them
    // copy-on-write: KVM's MMU notifiers belong to the process, so every
    // copy-on-write break in one VM walks every VM of the process, and
    // creating the 1000th sandbox cost 4x the first (docs/performance.md).
    let vm = Vm::new(config, crate::guest_image::GUEST_ELF).map_err(Error::from)?;
    let template = Template::from_vm_with(vm, ChildMemory::Copy).map_err(Error::from)?;
    // Two threads may race to boot the first one; the loser's is dropped.
    let family = Family {
        template,
        pool: Mutex::new(Vec::new()),
        target: pool_size(),
        refilling: AtomicBool::new(false),
    };
    Ok(slot.get_or_init(|| Arc::new(family)).clone())
}

/// A VM for `config` in the template's state, and that state as a snapshot
/// restorable into it.
pub(crate) fn vm_for(config: &VmConfig) -> Result<(Vm, Snapshot)> {
    let family = family(config)?;
    let vm = family.take()?;
    Ok((vm, family.template.snapshot().clone()))
}

fn pool_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| parse_pool_size(std::env::var(POOL_ENV).ok().as_deref()))
}

fn parse_pool_size(value: Option<&str>) -> usize {
    match value {
        None => DEFAULT_POOL,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n <= MAX_POOL => n,
            _ => {
                tracing::warn!(
                    value = v,
                    default = DEFAULT_POOL,
                    "{POOL_ENV} must be a whole number from 0 to {MAX_POOL}; using the default"
                );
                DEFAULT_POOL
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_pool_size;

    #[test]
    fn pool_size_is_validated() {
        assert_eq!(parse_pool_size(None), 2);
        assert_eq!(parse_pool_size(Some("0")), 0);
        assert_eq!(parse_pool_size(Some(" 8 ")), 8);
        assert_eq!(parse_pool_size(Some("65")), 2);
        assert_eq!(parse_pool_size(Some("lots")), 2);
    }
}
