//! The preflight against this machine's real `/dev/kvm`. These tests fail on a
//! machine that cannot run micro-VMs: that is the point of the preflight.

use std::process::Command;

#[test]
fn this_machine_can_create_a_vm_and_a_vcpu() {
    let report = kvm_preflight::require_kvm();
    assert_eq!(report.api_version, kvm_preflight::KVM_API_VERSION);
    assert!(report.recommended_vcpus >= 1, "{report}");
    assert!(report.max_vcpus >= report.recommended_vcpus, "{report}");
}

#[test]
fn the_binary_succeeds_on_this_machine() {
    let out = Command::new(env!("CARGO_BIN_EXE_kvm-preflight"))
        .output()
        .expect("run kvm-preflight");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("kvm-preflight: ok: /dev/kvm answers KVM API 12"),
        "{stdout}"
    );
}

#[test]
fn the_binary_fails_loudly_on_a_missing_device() {
    let out = Command::new(env!("CARGO_BIN_EXE_kvm-preflight"))
        .args(["--device", "/nonexistent/kvm"])
        .output()
        .expect("run kvm-preflight");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("KVM preflight FAILED: /nonexistent/kvm does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("What to do:"), "{stderr}");
}

#[test]
fn the_binary_rejects_unknown_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_kvm-preflight"))
        .arg("--frobnicate")
        .output()
        .expect("run kvm-preflight");
    assert_eq!(out.status.code(), Some(2));
}
