//! A preflight check for machines that run hyperlight-js micro-VMs.
//!
//! Every test suite that needs KVM runs this check first. On a machine without
//! a usable `/dev/kvm` the run then **fails** with a message that names the
//! problem (missing device, permissions, module not loaded, nested
//! virtualisation off, ...) and says what to do, instead of skipping tests or
//! failing somewhere deep inside the VM layer.
//!
//! The check opens the device, asks for the KVM API version, creates a VM and
//! one vCPU, and closes them again.
//!
//! ```no_run
//! // At the top of a Rust test that needs KVM: panics with the diagnosis
//! // when this machine cannot run micro-VMs.
//! let report = kvm_preflight::require_kvm();
//! assert_eq!(report.api_version, kvm_preflight::KVM_API_VERSION);
//! ```
//!
//! The `kvm-preflight` binary runs the same check and exits non-zero when it
//! fails; the TypeScript test suites run it from a vitest `globalSetup`.
#![deny(missing_docs)]

use std::ffi::CString;
use std::fmt::Write as _;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kvm_ioctls::Kvm;

/// Where Linux puts the KVM device.
pub const DEFAULT_DEVICE: &str = "/dev/kvm";

/// The only KVM API version Linux has reported since 2.6.22 (`KVM_API_VERSION`).
pub const KVM_API_VERSION: i32 = 12;

/// What a successful check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmReport {
    /// The device that was checked.
    pub device: PathBuf,
    /// The API version the device reported (always [`KVM_API_VERSION`]).
    pub api_version: i32,
    /// The vCPU count KVM recommends per VM (`KVM_CAP_NR_VCPUS`).
    pub recommended_vcpus: usize,
    /// The most vCPUs KVM allows per VM (`KVM_CAP_MAX_VCPUS`).
    pub max_vcpus: usize,
    /// What was learnt about the host while checking.
    pub facts: HostFacts,
}

impl std::fmt::Display for KvmReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} answers KVM API {}; created a VM and a vCPU (vCPUs per VM: {} recommended, {} max; {})",
            self.device.display(),
            self.api_version,
            self.recommended_vcpus,
            self.max_vcpus,
            self.facts.summary()
        )
    }
}

/// Facts about the host that explain why KVM is or is not usable.
///
/// They are read from `/proc/cpuinfo`, `/sys/module` and the container marker
/// files; none of them is needed for KVM to work, they only make the
/// diagnosis precise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `vmx` (Intel VT-x) or `svm` (AMD-V) when the CPU flags list it.
    pub cpu_virtualisation: Option<String>,
    /// The CPU flags say that this machine is itself a virtual machine.
    pub under_hypervisor: bool,
    /// Loaded kernel modules whose name starts with `kvm` (`kvm`, `kvm_intel`,
    /// `kvm_amd`, `kvm_pvm`, ...), sorted.
    pub kvm_modules: Vec<String>,
    /// This process runs inside a container (Docker or Podman marker file).
    pub in_container: bool,
}

impl HostFacts {
    /// Reads the facts from this machine. Unreadable sources count as absent.
    pub fn gather() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let modules = std::fs::read_dir("/sys/module")
            .map(|dir| {
                dir.filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let in_container =
            Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists();
        Self::from_sources(&cpuinfo, modules, in_container)
    }

    /// Builds the facts from the text of `/proc/cpuinfo`, the names under
    /// `/sys/module` and whether a container marker exists.
    pub fn from_sources<I, S>(cpuinfo: &str, modules: I, in_container: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let flags: Vec<&str> = cpuinfo
            .lines()
            .find(|line| line.starts_with("flags"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, list)| list.split_whitespace().collect())
            .unwrap_or_default();
        let cpu_virtualisation = ["vmx", "svm"]
            .into_iter()
            .find(|flag| flags.contains(flag))
            .map(str::to_owned);
        let mut kvm_modules: Vec<String> = modules
            .into_iter()
            .map(Into::into)
            .filter(|name| name == "kvm" || name.starts_with("kvm_"))
            .collect();
        kvm_modules.sort();
        Self {
            cpu_virtualisation,
            under_hypervisor: flags.contains(&"hypervisor"),
            kvm_modules,
            in_container,
        }
    }

    /// The vendor module that fits this CPU, for `modprobe` advice.
    fn vendor_module(&self) -> &'static str {
        match self.cpu_virtualisation.as_deref() {
            Some("svm") => "kvm_amd",
            Some("vmx") => "kvm_intel",
            _ => "kvm_intel or kvm_amd",
        }
    }

    /// A one-line description, e.g. `CPU: svm; KVM modules: kvm, kvm_amd`.
    pub fn summary(&self) -> String {
        let cpu = self
            .cpu_virtualisation
            .as_deref()
            .unwrap_or("no vmx/svm flag");
        let modules = if self.kvm_modules.is_empty() {
            "none loaded".to_owned()
        } else {
            self.kvm_modules.join(", ")
        };
        let mut out = format!("CPU: {cpu}; KVM modules: {modules}");
        if self.under_hypervisor {
            out.push_str("; running under a hypervisor");
        }
        if self.in_container {
            out.push_str("; in a container");
        }
        out
    }
}

/// Why this machine cannot run micro-VMs. Each message names the problem and
/// says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The device node does not exist.
    #[error("{} does not exist, so no micro-VM can be created.\n{}", .device.display(), missing_device_advice(.device, .facts))]
    DeviceMissing {
        /// The device that was looked for.
        device: PathBuf,
        /// What the host looks like.
        facts: HostFacts,
    },
    /// The device exists but this user may not open it for reading and writing.
    #[error("{} exists but this user may not open it for reading and writing (permission denied).\n{}", .device.display(), permission_advice(.device, .access))]
    PermissionDenied {
        /// The device that was opened.
        device: PathBuf,
        /// Who owns the device and who is asking.
        access: AccessInfo,
    },
    /// The device node exists but no driver answers it.
    #[error("{} exists but no KVM driver answers it ({source}): the KVM module is not loaded.\n{}", .device.display(), module_advice(.facts))]
    NoDriver {
        /// The device that was opened.
        device: PathBuf,
        /// The error from `open`.
        source: io::Error,
        /// What the host looks like.
        facts: HostFacts,
    },
    /// Opening the device failed for another reason.
    #[error("could not open {}: {source}.\n  What to do: check that it is the KVM device (`ls -l {}` shows a character device 10,232) and see `dmesg | grep -i kvm`.", .device.display(), .device.display())]
    Open {
        /// The device that was opened.
        device: PathBuf,
        /// The error from `open`.
        source: io::Error,
    },
    /// The file opened but does not answer `KVM_GET_API_VERSION`.
    #[error("{} is not a KVM device: it does not answer KVM_GET_API_VERSION ({source}).\n  What to do: point the check at the real device (normally {DEFAULT_DEVICE}).", .device.display())]
    NotKvm {
        /// The file that was opened.
        device: PathBuf,
        /// The error from the ioctl.
        source: io::Error,
    },
    /// The device reports a KVM API version other than 12.
    #[error("{} reports KVM API version {found}, but hyperlight-js needs version {KVM_API_VERSION}, which every Linux since 2.6.22 reports.\n  What to do: run on a standard Linux KVM.", .device.display())]
    ApiVersion {
        /// The device that was opened.
        device: PathBuf,
        /// The version it reported.
        found: i32,
    },
    /// `KVM_CREATE_VM` failed.
    #[error("{} opened (KVM API {KVM_API_VERSION}) but creating a VM failed ({source}).\n{}", .device.display(), create_advice(.source, .facts))]
    CreateVm {
        /// The device that was opened.
        device: PathBuf,
        /// The error from `KVM_CREATE_VM`.
        source: io::Error,
        /// What the host looks like.
        facts: HostFacts,
    },
    /// `KVM_CREATE_VCPU` failed.
    #[error("{} created a VM but creating its vCPU failed ({source}).\n{}", .device.display(), create_advice(.source, .facts))]
    CreateVcpu {
        /// The device that was opened.
        device: PathBuf,
        /// The error from `KVM_CREATE_VCPU`.
        source: io::Error,
        /// What the host looks like.
        facts: HostFacts,
    },
}

impl PreflightError {
    /// A short, stable name of the problem, for programs: `device-missing`,
    /// `permission-denied`, `no-driver`, `open-failed`, `not-kvm`,
    /// `api-version`, `create-vm-failed`, `create-vcpu-failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            PreflightError::DeviceMissing { .. } => "device-missing",
            PreflightError::PermissionDenied { .. } => "permission-denied",
            PreflightError::NoDriver { .. } => "no-driver",
            PreflightError::Open { .. } => "open-failed",
            PreflightError::NotKvm { .. } => "not-kvm",
            PreflightError::ApiVersion { .. } => "api-version",
            PreflightError::CreateVm { .. } => "create-vm-failed",
            PreflightError::CreateVcpu { .. } => "create-vcpu-failed",
        }
    }

    /// The device that was checked.
    pub fn device(&self) -> &Path {
        match self {
            PreflightError::DeviceMissing { device, .. }
            | PreflightError::PermissionDenied { device, .. }
            | PreflightError::NoDriver { device, .. }
            | PreflightError::Open { device, .. }
            | PreflightError::NotKvm { device, .. }
            | PreflightError::ApiVersion { device, .. }
            | PreflightError::CreateVm { device, .. }
            | PreflightError::CreateVcpu { device, .. } => device,
        }
    }

    /// Whether the device node exists.
    pub fn device_present(&self) -> bool {
        !matches!(self, PreflightError::DeviceMissing { .. })
    }

    /// Who owns the device and who asked, when permission was denied.
    pub fn access(&self) -> Option<&AccessInfo> {
        match self {
            PreflightError::PermissionDenied { access, .. } => Some(access),
            _ => None,
        }
    }

    /// What to do about it: the "What to do" part of the message.
    pub fn what_to_do(&self) -> String {
        let text = self.to_string();
        match text.split_once("What to do: ") {
            Some((_, fix)) => fix.trim().to_owned(),
            None => text,
        }
    }
}

/// Ownership of the device and the identity of this process, for permission advice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessInfo {
    /// The effective user id of this process, if known.
    pub euid: Option<u32>,
    /// The owner of the device.
    pub owner_uid: u32,
    /// The group of the device.
    pub group_gid: u32,
    /// The name of that group, if `/etc/group` knows it.
    pub group_name: Option<String>,
    /// The permission bits of the device.
    pub mode: u32,
}

impl AccessInfo {
    /// Reads the ownership of `device` and this process's effective uid.
    pub fn of(device: &Path) -> Self {
        let meta = std::fs::metadata(device).ok();
        let group_gid = meta.as_ref().map_or(0, MetadataExt::gid);
        Self {
            // /proc/self belongs to the effective user of this process.
            euid: std::fs::metadata("/proc/self").ok().map(|m| m.uid()),
            owner_uid: meta.as_ref().map_or(0, MetadataExt::uid),
            group_gid,
            group_name: group_name(group_gid),
            mode: meta.as_ref().map_or(0, |m| m.mode() & 0o7777),
        }
    }
}

fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == gid).then(|| name.to_owned())
    })
}

fn missing_device_advice(device: &Path, facts: &HostFacts) -> String {
    let mut out = format!("  This host: {}.\n", facts.summary());
    let has_kvm_core = facts.kvm_modules.iter().any(|m| m == "kvm");
    let has_backend = facts.kvm_modules.iter().any(|m| m != "kvm");
    let fix = if facts.in_container {
        format!(
            "this process runs in a container that was started without the KVM device: \
             start it with `--device {}` (docker/podman run), on a host where KVM works.",
            device.display()
        )
    } else if has_kvm_core && has_backend {
        format!(
            "the KVM modules are loaded but the device node is missing: recreate it with \
             `sudo mknod {dev} c 10 232 && sudo chgrp kvm {dev} && sudo chmod 660 {dev}` \
             (or `sudo udevadm trigger`).",
            dev = device.display()
        )
    } else {
        module_fix(facts)
    };
    let _ = write!(out, "  What to do: {fix}");
    out
}

fn module_fix(facts: &HostFacts) -> String {
    match (&facts.cpu_virtualisation, facts.under_hypervisor) {
        (Some(flag), _) => format!(
            "the CPU supports hardware virtualisation ({flag}) but KVM is not loaded: \
             run `sudo modprobe {}`; if that fails, enable virtualisation (VT-x/AMD-V/SVM) \
             in the firmware setup and see `dmesg | grep -i kvm`.",
            facts.vendor_module()
        ),
        (None, true) => "this machine is a virtual machine whose CPU does not expose \
             VT-x/AMD-V, i.e. nested virtualisation is off. Turn it on for this VM \
             (cloud: an instance type or option with nested virtualisation; a KVM host: \
             `options kvm_intel nested=1` or `options kvm_amd nested=1`), or use a kernel \
             with the PVM module (`sudo modprobe kvm_pvm`), or run on bare metal."
            .to_owned(),
        (None, false) => "the CPU reports no hardware virtualisation: enable VT-x/AMD-V \
             (SVM) in the firmware setup, boot, then run `sudo modprobe kvm_intel` or \
             `sudo modprobe kvm_amd`."
            .to_owned(),
    }
}

fn module_advice(facts: &HostFacts) -> String {
    format!(
        "  This host: {}.\n  What to do: {}",
        facts.summary(),
        module_fix(facts)
    )
}

fn permission_advice(device: &Path, access: &AccessInfo) -> String {
    let who = access
        .euid
        .map_or_else(|| "this user".to_owned(), |uid| format!("uid {uid}"));
    let group = access
        .group_name
        .clone()
        .unwrap_or_else(|| access.group_gid.to_string());
    format!(
        "  The device belongs to uid {} and group {group} with mode {:o}; you are {who}.\n  \
         What to do: add yourself to its group and log in again \
         (`sudo usermod -aG {group} $USER`), or grant access directly \
         (`sudo setfacl -m u:$USER:rw {}`), or run as root.",
        access.owner_uid,
        access.mode,
        device.display()
    )
}

fn create_advice(error: &io::Error, facts: &HostFacts) -> String {
    let fix = match error.raw_os_error() {
        Some(libc::EBUSY) => "another hypervisor (VirtualBox, VMware, ...) holds the CPU's \
             virtualisation extensions: stop it and try again."
            .to_owned(),
        Some(libc::ENOMEM) => "the kernel is out of memory for a VM: free memory or \
             raise the limits of this machine."
            .to_owned(),
        Some(libc::EMFILE) | Some(libc::ENFILE) => "too many open files: raise `ulimit -n` \
             or close other VMs."
            .to_owned(),
        _ => format!(
            "KVM is present but cannot run VMs here. See `dmesg | grep -i kvm`. {}",
            module_fix(facts)
        ),
    };
    format!("  This host: {}.\n  What to do: {fix}", facts.summary())
}

fn errno_to_io(error: kvm_ioctls::Error) -> io::Error {
    io::Error::from_raw_os_error(error.errno())
}

/// Checks the KVM device at [`DEFAULT_DEVICE`].
pub fn check() -> Result<KvmReport, PreflightError> {
    check_device(Path::new(DEFAULT_DEVICE))
}

/// Checks the KVM device at `device`: opens it, checks the API version,
/// creates a VM and one vCPU (closed again before returning).
pub fn check_device(device: &Path) -> Result<KvmReport, PreflightError> {
    let device = device.to_path_buf();
    if !device.exists() {
        return Err(PreflightError::DeviceMissing {
            device,
            facts: HostFacts::gather(),
        });
    }
    let path = CString::new(device.as_os_str().as_bytes()).map_err(|_| PreflightError::Open {
        device: device.clone(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL byte"),
    })?;
    let kvm = Kvm::new_with_path(&path).map_err(|e| {
        let source = errno_to_io(e);
        match source.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => PreflightError::PermissionDenied {
                access: AccessInfo::of(&device),
                device: device.clone(),
            },
            Some(libc::ENXIO) | Some(libc::ENODEV) => PreflightError::NoDriver {
                device: device.clone(),
                source,
                facts: HostFacts::gather(),
            },
            Some(libc::ENOENT) => PreflightError::DeviceMissing {
                device: device.clone(),
                facts: HostFacts::gather(),
            },
            _ => PreflightError::Open {
                device: device.clone(),
                source,
            },
        }
    })?;

    let api_version = kvm.get_api_version();
    if api_version < 0 {
        return Err(PreflightError::NotKvm {
            device,
            source: io::Error::last_os_error(),
        });
    }
    if api_version != KVM_API_VERSION {
        return Err(PreflightError::ApiVersion {
            device,
            found: api_version,
        });
    }

    let vm = kvm.create_vm().map_err(|e| PreflightError::CreateVm {
        device: device.clone(),
        source: errno_to_io(e),
        facts: HostFacts::gather(),
    })?;
    let vcpu = vm.create_vcpu(0).map_err(|e| PreflightError::CreateVcpu {
        device: device.clone(),
        source: errno_to_io(e),
        facts: HostFacts::gather(),
    })?;
    drop(vcpu);
    drop(vm);

    Ok(KvmReport {
        device,
        api_version,
        recommended_vcpus: kvm.get_nr_vcpus(),
        max_vcpus: kvm.get_max_vcpus(),
        facts: HostFacts::gather(),
    })
}

/// Runs [`check`] once per process and returns its report; **panics** with the
/// diagnosis when this machine cannot run micro-VMs.
///
/// Call it at the top of every Rust test that needs KVM, so that a machine
/// without KVM fails the test run with an actionable message rather than
/// skipping tests.
pub fn require_kvm() -> KvmReport {
    static RESULT: OnceLock<Result<KvmReport, String>> = OnceLock::new();
    match RESULT.get_or_init(|| check().map_err(|e| e.to_string())) {
        Ok(report) => report.clone(),
        Err(message) => panic!("{}", failure_message(message)),
    }
}

/// The text printed when the check fails: the diagnosis plus a reminder that
/// the test suites need KVM and do not skip.
pub fn failure_message(diagnosis: &str) -> String {
    format!(
        "KVM preflight FAILED: {diagnosis}\n\
         The hyperlight-js test suites need a working KVM and do not skip tests without it. \
         Fix the problem above, then check again with `cargo run -p kvm-preflight`."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTEL_VM_CPUINFO: &str = "processor\t: 0\nflags\t\t: fpu vme vmx sse2 hypervisor\n";
    const NESTED_OFF_CPUINFO: &str = "processor\t: 0\nflags\t\t: fpu sse2 hypervisor avx\n";

    #[test]
    fn a_missing_device_is_reported_with_what_to_do() {
        let err = check_device(Path::new("/nonexistent/kvm")).unwrap_err();
        assert!(
            matches!(err, PreflightError::DeviceMissing { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("/nonexistent/kvm does not exist"), "{text}");
        assert!(text.contains("What to do:"), "{text}");
    }

    #[test]
    fn a_file_that_is_not_kvm_is_refused() {
        let err = check_device(Path::new("/dev/null")).unwrap_err();
        assert!(matches!(err, PreflightError::NotKvm { .. }), "{err:?}");
        assert!(err.to_string().contains("is not a KVM device"), "{err}");
    }

    #[test]
    fn cpu_flags_and_modules_are_read() {
        let facts = HostFacts::from_sources(
            INTEL_VM_CPUINFO,
            ["kvm_intel", "ext4", "kvm", "kvmfoo"],
            false,
        );
        assert_eq!(facts.cpu_virtualisation.as_deref(), Some("vmx"));
        assert!(facts.under_hypervisor);
        assert_eq!(facts.kvm_modules, vec!["kvm", "kvm_intel"]);
        assert_eq!(facts.vendor_module(), "kvm_intel");
    }

    #[test]
    fn nested_virtualisation_off_is_named() {
        let facts = HostFacts::from_sources(NESTED_OFF_CPUINFO, Vec::<String>::new(), false);
        let text = missing_device_advice(Path::new(DEFAULT_DEVICE), &facts);
        assert!(text.contains("nested virtualisation is off"), "{text}");
    }

    #[test]
    fn an_unloaded_module_is_named_with_modprobe() {
        let facts = HostFacts::from_sources(INTEL_VM_CPUINFO, Vec::<String>::new(), false);
        let text = missing_device_advice(Path::new(DEFAULT_DEVICE), &facts);
        assert!(text.contains("sudo modprobe kvm_intel"), "{text}");
    }

    #[test]
    fn loaded_modules_without_a_node_suggest_mknod() {
        let facts = HostFacts::from_sources(INTEL_VM_CPUINFO, ["kvm", "kvm_intel"], false);
        let text = missing_device_advice(Path::new(DEFAULT_DEVICE), &facts);
        assert!(text.contains("mknod /dev/kvm c 10 232"), "{text}");
    }

    #[test]
    fn a_container_without_the_device_is_named() {
        let facts = HostFacts::from_sources(INTEL_VM_CPUINFO, ["kvm", "kvm_intel"], true);
        let text = missing_device_advice(Path::new(DEFAULT_DEVICE), &facts);
        assert!(text.contains("--device /dev/kvm"), "{text}");
    }

    #[test]
    fn permission_advice_names_the_group() {
        let err = PreflightError::PermissionDenied {
            device: PathBuf::from(DEFAULT_DEVICE),
            access: AccessInfo {
                euid: Some(1000),
                owner_uid: 0,
                group_gid: 108,
                group_name: Some("kvm".to_owned()),
                mode: 0o660,
            },
        };
        let text = err.to_string();
        assert!(text.contains("permission denied"), "{text}");
        assert!(text.contains("sudo usermod -aG kvm $USER"), "{text}");
        assert!(text.contains("mode 660"), "{text}");
    }

    #[test]
    fn a_busy_cpu_names_the_other_hypervisor() {
        let err = PreflightError::CreateVm {
            device: PathBuf::from(DEFAULT_DEVICE),
            source: io::Error::from_raw_os_error(libc::EBUSY),
            facts: HostFacts::default(),
        };
        assert!(err.to_string().contains("another hypervisor"), "{err}");
    }

    #[test]
    fn the_failure_message_says_tests_do_not_skip() {
        let text = failure_message("/dev/kvm does not exist");
        assert!(text.starts_with("KVM preflight FAILED: /dev/kvm does not exist"));
        assert!(text.contains("do not skip"));
    }
}
