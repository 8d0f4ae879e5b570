//! `checkHypervisor()`: the hypervisor check of `hyperlight_js` (the
//! `kvm-preflight` crate), as a plain object for JavaScript.

use hyperlight_js::{AccessInfo, HostFacts};
use napi_derive::napi;

/// Who owns the KVM device, and who is asking.
#[napi(object)]
pub struct DeviceAccess {
    /// The effective user id of this process, or null when unknown.
    #[napi(ts_type = "number | null")]
    pub uid: Option<u32>,
    /// The user id that owns the device.
    pub owner_uid: u32,
    /// The group of the device (its name, or its id when it has no name).
    pub group: String,
    /// The group id of the device.
    pub group_id: u32,
    /// The permission bits, in octal (e.g. `"660"`).
    pub mode: String,
}

/// What was learnt about the host.
#[napi(object)]
pub struct HostInfo {
    /// `"vmx"` (Intel VT-x) or `"svm"` (AMD-V) when the CPU flags list it,
    /// else null.
    #[napi(ts_type = "'vmx' | 'svm' | null")]
    pub cpu_virtualisation: Option<String>,
    /// This machine is itself a virtual machine (the CPU's `hypervisor`
    /// flag).
    pub under_hypervisor: bool,
    /// Nested virtualisation: a virtual machine whose CPU exposes VT-x/AMD-V.
    pub nested: bool,
    /// The PVM module (`kvm_pvm`) provides KVM: guests run without hardware
    /// virtualisation, with costlier exits (see `docs/performance.md`).
    pub pvm: bool,
    /// Loaded kernel modules named `kvm` or `kvm_*`, sorted.
    pub kvm_modules: Vec<String>,
    /// This process runs in a container (Docker or Podman marker file).
    pub in_container: bool,
}

/// What KVM reported, when the check passed.
#[napi(object)]
pub struct KvmInfo {
    /// The KVM API version (always 12).
    pub api_version: i32,
    /// The vCPU count KVM recommends per VM.
    pub recommended_vcpus: u32,
    /// The most vCPUs KVM allows per VM.
    pub max_vcpus: u32,
}

/// The result of `checkHypervisor()`.
#[napi(object)]
pub struct HypervisorCheck {
    /// Whether this process can run micro-VMs.
    pub ok: bool,
    /// The device checked (`/dev/kvm`).
    pub device: String,
    /// What is wrong, or null when `ok`.
    #[napi(ts_type = "HypervisorProblem | null")]
    pub problem: Option<String>,
    /// A one-paragraph diagnosis (also when `ok`).
    pub message: String,
    /// What to do about the problem, or null when `ok`.
    #[napi(ts_type = "string | null")]
    pub what_to_do: Option<String>,
    /// Whether the device node exists.
    pub device_present: bool,
    /// The group to join for access to the device, when permission was
    /// denied; else null.
    #[napi(ts_type = "string | null")]
    pub group_to_join: Option<String>,
    /// Ownership of the device, when it exists.
    #[napi(ts_type = "DeviceAccess | null")]
    pub access: Option<DeviceAccess>,
    /// What was learnt about the host.
    pub host: HostInfo,
    /// What KVM reported, when `ok`; else null.
    #[napi(ts_type = "KvmInfo | null")]
    pub kvm: Option<KvmInfo>,
}

fn access_of(a: &AccessInfo) -> DeviceAccess {
    DeviceAccess {
        uid: a.euid,
        owner_uid: a.owner_uid,
        group: a
            .group_name
            .clone()
            .unwrap_or_else(|| a.group_gid.to_string()),
        group_id: a.group_gid,
        mode: format!("{:o}", a.mode),
    }
}

fn host_of(f: &HostFacts) -> HostInfo {
    HostInfo {
        cpu_virtualisation: f.cpu_virtualisation.clone(),
        under_hypervisor: f.under_hypervisor,
        nested: f.under_hypervisor && f.cpu_virtualisation.is_some(),
        pvm: f.kvm_modules.iter().any(|m| m == "kvm_pvm"),
        kvm_modules: f.kvm_modules.clone(),
        in_container: f.in_container,
    }
}

/// Checks that this process can run micro-VMs (opens `/dev/kvm`, checks
/// the API version, creates a VM and a vCPU; about 10 ms) and says what is
/// wrong when it cannot. The same check as Rust's
/// `hyperlight_js::check_hypervisor()` and the `kvm-preflight` binary.
#[napi]
pub fn check_hypervisor() -> HypervisorCheck {
    let host = host_of(&HostFacts::gather());
    match hyperlight_js::check_hypervisor() {
        Ok(report) => HypervisorCheck {
            ok: true,
            device: report.device.display().to_string(),
            problem: None,
            message: format!("ok: {report}"),
            what_to_do: None,
            device_present: true,
            group_to_join: None,
            access: Some(access_of(&AccessInfo::of(&report.device))),
            host,
            kvm: Some(KvmInfo {
                api_version: report.api_version,
                recommended_vcpus: report.recommended_vcpus as u32,
                max_vcpus: report.max_vcpus as u32,
            }),
        },
        Err(problem) => HypervisorCheck {
            ok: false,
            device: problem.device().display().to_string(),
            problem: Some(problem.kind().to_string()),
            message: problem.to_string(),
            what_to_do: Some(problem.what_to_do()),
            device_present: problem.device_present(),
            group_to_join: problem.access().map(|a| {
                a.group_name
                    .clone()
                    .unwrap_or_else(|| a.group_gid.to_string())
            }),
            access: problem
                .device_present()
                .then(|| access_of(&AccessInfo::of(problem.device()))),
            host,
            kvm: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(virt: Option<&str>, under: bool, modules: &[&str]) -> HostFacts {
        HostFacts {
            cpu_virtualisation: virt.map(String::from),
            under_hypervisor: under,
            kvm_modules: modules.iter().map(|m| m.to_string()).collect(),
            in_container: true,
        }
    }

    #[test]
    fn nested_and_pvm_are_derived_from_the_host_facts() {
        // This machine's kind: a guest without VT-x, KVM through kvm_pvm.
        let pvm = host_of(&facts(None, true, &["kvm", "kvm_pvm"]));
        assert!(pvm.pvm && !pvm.nested && pvm.under_hypervisor && pvm.in_container);
        assert_eq!(pvm.kvm_modules, ["kvm", "kvm_pvm"]);
        // VT-x exposed inside a VM: nested virtualisation.
        let nested = host_of(&facts(Some("vmx"), true, &["kvm", "kvm_intel"]));
        assert!(nested.nested && !nested.pvm);
        assert_eq!(nested.cpu_virtualisation.as_deref(), Some("vmx"));
        // Bare metal.
        let metal = host_of(&facts(Some("svm"), false, &["kvm", "kvm_amd"]));
        assert!(!metal.nested && !metal.pvm && !metal.under_hypervisor);
    }
}
