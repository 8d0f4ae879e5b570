//! `check_hypervisor()`, `is_hypervisor_present()`, `Error::NoHypervisor`
//! (produced for real: a child process in a private mount namespace where
//! `/dev/kvm` is not a KVM device) and `JSSandbox::poisoned()`.

mod common;

use std::process::Command;

use hyperlight_js::{check_hypervisor, is_hypervisor_present, Error, ErrorCode, SandboxBuilder};

/// Set in the child process that runs without a usable `/dev/kvm`.
const CHILD: &str = "HYPERLIGHT_JS_TEST_NO_KVM_CHILD";

#[test]
fn the_check_passes_on_this_machine() {
    common::kvm();
    let report = check_hypervisor().expect("check_hypervisor");
    assert_eq!(report.api_version, 12);
    assert_eq!(report.device.to_str(), Some("/dev/kvm"));
    assert!(is_hypervisor_present());
}

#[test]
fn a_js_sandbox_is_not_poisoned_after_load_runtime_nor_after_unload() {
    let js = common::js_sandbox();
    assert!(!js.poisoned());
    let mut js = js;
    js.add_handler("h", "function handler() { for (;;) {} }")
        .expect("add_handler");
    let mut loaded = js.get_loaded_sandbox().expect("load");
    let handle = loaded.interrupt_handle();
    let killer = std::thread::spawn(move || while !handle.kill() {});
    let error = loaded.handle_event("h", "{}", None).expect_err("killed");
    killer.join().expect("killer");
    assert_eq!(error.code(), ErrorCode::Cancelled);
    assert!(loaded.poisoned());
    let js = loaded.unload().expect("unload");
    assert!(!js.poisoned());
}

/// In the child: `/dev/kvm` is `/dev/null`. Building a sandbox fails with
/// `Error::NoHypervisor` carrying the diagnosis, and the check agrees.
fn child() {
    let error = SandboxBuilder::new().build().expect_err("no hypervisor");
    assert_eq!(error.code(), ErrorCode::NoHypervisor, "{error}");
    let Error::NoHypervisor(message) = &error else {
        panic!("not NoHypervisor: {error:?}");
    };
    assert!(message.contains("is not a KVM device"), "{message}");
    assert!(message.contains("check_hypervisor()"), "{message}");
    let problem = check_hypervisor().expect_err("the check fails too");
    assert_eq!(problem.kind(), "not-kvm");
    assert!(problem.device_present());
    assert!(!is_hypervisor_present());
    println!("child: ok");
}

#[test]
fn a_dev_kvm_that_is_not_a_kvm_device_is_no_hypervisor() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    common::kvm();
    let exe = std::env::current_exe().expect("current_exe");
    let script = format!(
        "set -e; mount --bind /dev/null /dev/kvm; exec \"{}\" --exact \
         a_dev_kvm_that_is_not_a_kvm_device_is_no_hypervisor --nocapture --test-threads 1",
        exe.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env(CHILD, "1")
        .output()
        .expect("unshare (util-linux) must be installed; creating a mount namespace needs root");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("child: ok"), "{text}");
}
