//! Can this process run micro-VMs? The same check as Node's
//! `checkHypervisor()` and the `kvm-preflight` binary (all three are the
//! `kvm-preflight` crate): it opens `/dev/kvm`, checks the KVM API version,
//! creates a VM and one vCPU, and closes them again (about 10 ms).
//!
//! ```no_run
//! match hyperlight_js::check_hypervisor() {
//!     Ok(report) => println!("ok: {report}"),
//!     Err(problem) => eprintln!("{} ({}): {}", problem.kind(), problem.device().display(), problem.what_to_do()),
//! }
//! ```

pub use kvm_preflight::{AccessInfo, HostFacts, KvmReport, PreflightError};

/// Checks that this process can run micro-VMs. `Ok` describes the
/// hypervisor; `Err` names the problem (missing device, permissions and
/// the group to join, no driver, not a KVM device, nested virtualisation
/// off, ...) and what to do, as [`Error::NoHypervisor`](crate::Error::NoHypervisor)
/// does when a sandbox cannot be built.
pub fn check_hypervisor() -> Result<KvmReport, PreflightError> {
    kvm_preflight::check()
}

/// Whether [`check_hypervisor`] succeeds.
pub fn is_hypervisor_present() -> bool {
    check_hypervisor().is_ok()
}

/// The diagnosis added to the message of an [`Error::NoHypervisor`](crate::Error::NoHypervisor).
pub(crate) fn diagnosis() -> String {
    match check_hypervisor() {
        Err(problem) => problem.to_string(),
        // The check passes but building a sandbox failed: say so.
        Ok(report) => format!(
            "the hypervisor check passes ({report}), so the failure may be transient \
             (a resource limit); see `dmesg | grep -i kvm`"
        ),
    }
}
