//! Shared by the integration tests and the benchmark: builds the test guest
//! with gcc, checks /dev/kvm, and a recording host handler.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hyperlight_vm::{CancelToken, HostHandler};

/// Request tags understood by tests/guest/guest.c.
pub mod tag {
    pub const ECHO: u32 = 1;
    pub const HOST_CALLS: u32 = 2;
    pub const PRINT: u32 = 3;
    pub const ABORT: u32 = 4;
    pub const LOOP: u32 = 5;
    pub const WRITE_ADDR: u32 = 6;
    pub const READ_ADDR: u32 = 7;
    pub const OUT_PORT: u32 = 8;
    pub const IN_PORT: u32 = 9;
    pub const BAD_ANSWER_LEN: u32 = 10;
    pub const BAD_HOST_CALL_LEN: u32 = 11;
    pub const BAD_PRINT_USED: u32 = 12;
    pub const BAD_PRINT_RECORD: u32 = 13;
    pub const STACK_OVERFLOW: u32 = 14;
    pub const HLT: u32 = 15;
    pub const CLI: u32 = 16;
    pub const MOV_CR3: u32 = 17;
    pub const WRMSR: u32 = 18;
    pub const DIRTY: u32 = 19;
    pub const STATE: u32 = 20;
    pub const FLUSH_SPIN: u32 = 21;
    pub const UD2: u32 = 22;
    pub const EXEC_HEAP: u32 = 23;
    pub const POLITE_LOOP: u32 = 24;
    pub const HOST_CALL_ECHO: u32 = 25;
    pub const SSE: u32 = 26;
    pub const INT3: u32 = 27;
    pub const OUT_WIDE: u32 = 28;
    pub const READ_XMM1: u32 = 29;
}

/// Payload of little-endian u64 arguments.
pub fn args(a: &[u64]) -> Vec<u8> {
    a.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Reads the `i`th little-endian u64 of a payload.
pub fn u64_at(p: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(p[i * 8..i * 8 + 8].try_into().unwrap())
}

/// Fails (never skips) when KVM is not usable, saying what to do.
pub fn require_kvm() {
    use kvm_ioctls::Kvm;
    let kvm = match Kvm::new() {
        Ok(k) => k,
        Err(e) => panic!(
            "/dev/kvm cannot be opened ({e}). These tests need KVM: run on a machine with \
             /dev/kvm (bare metal with VT-x/AMD-V, or a VM with nested virtualisation or PVM) \
             and give this user read/write access to it (e.g. add it to the `kvm` group)."
        ),
    };
    if let Err(e) = kvm.create_vm() {
        panic!(
            "/dev/kvm opened but KVM_CREATE_VM failed ({e}): the KVM module is loaded but \
             unusable here (out of memory, or virtualisation disabled)."
        );
    }
}

fn build(src: &Path, out: &Path) {
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let status = Command::new("gcc")
        .args([
            "-O2",
            "-ffreestanding",
            "-nostdlib",
            "-static",
            "-fno-pie",
            "-no-pie",
            "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables",
            "-fno-builtin",
            "-Wall",
            "-Wno-infinite-recursion",
            "-Wl,-Ttext-segment=0x100000",
            "-Wl,--build-id=none",
            "-Wl,-z,noexecstack",
            "-o",
        ])
        .arg(&tmp)
        .arg(src)
        .status()
        .expect("running gcc (it is needed to build the test guest)");
    assert!(
        status.success(),
        "gcc failed to build the test guest {}",
        src.display()
    );
    std::fs::rename(&tmp, out).unwrap();
}

/// The test guest ELF, built once per process.
pub fn guest_elf() -> &'static [u8] {
    static ELF: OnceLock<Vec<u8>> = OnceLock::new();
    ELF.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/guest/guest.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hyperlight-vm-test-guest.elf");
        build(&src, &out);
        std::fs::read(&out).unwrap()
    })
}

/// Records prints and answers host calls: tag 100 with a u32 `v` gets tag
/// 101 and `2 * v`; tag 7 gets its payload echoed with tag 8.
#[derive(Default)]
pub struct Recorder {
    pub prints: Vec<(u32, String)>,
    pub flushes: usize,
    pub host_calls: Vec<(u32, Vec<u8>)>,
    /// If set, host calls spin until cancelled.
    pub block_until_cancelled: bool,
    /// Set when a host call starts.
    pub entered: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub saw_cancel: bool,
    /// Answer every host call with this (tag, payload) instead.
    pub fixed_answer: Option<Result<(u32, Vec<u8>), String>>,
}

impl HostHandler for Recorder {
    fn host_call(
        &mut self,
        tag: u32,
        payload: &[u8],
        cancel: &CancelToken,
    ) -> Result<(u32, Vec<u8>), String> {
        self.host_calls.push((tag, payload.to_vec()));
        self.entered
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if self.block_until_cancelled {
            while !cancel.is_cancelled() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            self.saw_cancel = true;
        }
        if let Some(a) = &self.fixed_answer {
            return a.clone();
        }
        match tag {
            100 => {
                let v = u32::from_le_bytes(payload.try_into().map_err(|_| "bad payload")?);
                Ok((101, (v * 2).to_le_bytes().to_vec()))
            }
            7 => Ok((8, payload.to_vec())),
            t => Err(format!("no host function {t}")),
        }
    }

    fn print(&mut self, level: u32, text: &str) {
        self.prints.push((level, text.to_string()));
    }

    fn flush(&mut self) {
        self.flushes += 1;
    }
}
