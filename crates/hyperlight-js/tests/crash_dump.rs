//! Crash dumps: a guest that faults writes an ELF core file that Debian's
//! gdb opens with the guest image's symbols; gdb shows the signal, the
//! faulting address, the faulting function and a backtrace.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use hyperlight_js::{ErrorCode, SandboxBuilder};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hl-js-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The two paths the error message names: (image, core).
fn paths_in(msg: &str) -> (PathBuf, PathBuf) {
    let start = msg.find("`gdb ").expect("the message names the files") + 5;
    let end = start + msg[start..].find('`').unwrap();
    let mut parts = msg[start..end].split(' ');
    (parts.next().unwrap().into(), parts.next().unwrap().into())
}

fn gdb(elf: &Path, core: &Path, commands: &[&str]) -> String {
    let mut cmd = Command::new("gdb");
    cmd.args(["-nx", "-batch"]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    let out = cmd
        .arg(elf)
        .arg(core)
        .output()
        .expect("gdb must be installed (scripts/setup.sh installs Debian's gdb)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_faulting_guest_leaves_a_core_file_gdb_opens() {
    kvm();
    let dir = temp_dir("crash");
    let mut sb = SandboxBuilder::new()
        .with_crash_dump_dir(&dir)
        .build()
        .unwrap()
        .load_runtime()
        .unwrap();
    sb.add_handler("h", "function handler(e) { return e; }")
        .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let snap = l.snapshot().unwrap();
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), "{}");

    let err = l.__fault_for_tests().unwrap_err();
    assert_eq!(err.code(), ErrorCode::GuestAbort);
    let msg = err.to_string();
    assert!(
        msg.contains("0x18"),
        "the fault address is in the message: {msg}"
    );
    let (elf, core) = paths_in(&msg);
    assert!(core.starts_with(&dir) && elf.starts_with(&dir), "{msg}");
    assert!(l.poisoned());

    let out = gdb(
        &elf,
        &core,
        &[
            "p/x $_siginfo._sifields._sigfault.si_addr",
            "p/x $pc",
            "info symbol $pc",
            "x/i $pc",
            "bt",
        ],
    );
    assert!(out.contains("signal SIGSEGV"), "{out}");
    assert!(
        out.contains("$1 = 0x18"),
        "gdb shows the faulting address:\n{out}"
    );
    assert!(
        out.contains("hyperlight_js_debug_fault"),
        "gdb names the faulting function:\n{out}"
    );
    // The faulting instruction is a store (a `mov` to memory).
    assert!(out.contains("=> 0x") && out.contains("mov"), "{out}");
    // The backtrace goes past the faulting function into its callers.
    assert!(out.contains("protocol::dispatch"), "backtrace:\n{out}");
    assert!(!out.contains("may not match"), "{out}");

    // The image is written once per directory; each crash gets its own core.
    l.restore(&snap).unwrap();
    let err = l.__fault_for_tests().unwrap_err();
    let (elf2, core2) = paths_in(&err.to_string());
    assert_eq!(elf2, elf);
    assert_ne!(core2, core);
    l.restore(&snap).unwrap();
    assert_eq!(
        l.handle_event("h", r#"{"ok":1}"#, None).unwrap(),
        r#"{"ok":1}"#
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_the_option_only_the_environment_turns_dumps_on() {
    kvm();
    let mut l = loaded_with("function handler(e) { return e; }");
    let err = l.__fault_for_tests().unwrap_err();
    assert_eq!(err.code(), ErrorCode::GuestAbort);
    match std::env::var_os("HYPERLIGHT_JS_CRASH_DUMP_DIR").filter(|v| !v.is_empty()) {
        None => assert!(!err.to_string().contains("core file"), "{err}"),
        Some(dir) => {
            let (_, core) = paths_in(&err.to_string());
            assert!(core.starts_with(dir), "{err}");
        }
    }
}
