//! Turning a guest exception into an error a person can act on.

use std::fmt;

use hyperlight_abi::{layout, FaultInfo, PAGE_SIZE};

use crate::config::Layout;

/// How a memory access was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

/// What went wrong in the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The stack grew into the unmapped guard below it.
    StackOverflow {
        /// The faulting address (inside the stack guard).
        addr: u64,
    },
    /// A page fault anywhere else: the guest touched memory it may not.
    MemoryAccess {
        /// The faulting address (CR2).
        addr: u64,
        /// Read, write or instruction fetch.
        access: Access,
        /// Why it was refused: "not mapped", "a supervisor-only page", ...
        reason: &'static str,
        /// Which region the address is in, if any ("guard page", "input
        /// buffer", ...).
        region: &'static str,
    },
    /// `#UD`: an invalid or undefined opcode (e.g. `ud2`).
    InvalidOpcode,
    /// `#GP`: typically a privileged instruction at ring 3.
    GeneralProtection {
        /// The instruction at the faulting address when recognised
        /// (`"hlt"`, `"cli"`, `"out"`, `"wrmsr"`, `"mov to/from a control register"`...).
        instruction: Option<&'static str>,
        /// The error code pushed by the CPU.
        error_code: u64,
    },
    /// Any other exception.
    Exception {
        /// The vector number.
        vector: u8,
        /// The exception's architectural name.
        name: &'static str,
        /// The error code pushed by the CPU, or 0.
        error_code: u64,
    },
    /// The vCPU shut down (triple fault) without reporting an exception.
    TripleFault,
}

/// A guest exception: what happened and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFault {
    /// What went wrong.
    pub kind: FaultKind,
    /// The faulting instruction's address.
    pub rip: u64,
    /// The stack pointer at the fault.
    pub rsp: u64,
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::StackOverflow { addr } => write!(
                f,
                "stack overflow: access at {addr:#x} in the stack guard page"
            )?,
            FaultKind::MemoryAccess {
                addr,
                access,
                reason,
                region,
            } => {
                let what = match access {
                    Access::Read => "read of",
                    Access::Write => "write to",
                    Access::Execute => "instruction fetch from",
                };
                write!(
                    f,
                    "wild memory access: {what} address {addr:#x} ({region}), which is {reason}"
                )?
            }
            FaultKind::InvalidOpcode => write!(f, "invalid opcode (#UD)")?,
            FaultKind::GeneralProtection {
                instruction: Some(i),
                ..
            } => write!(
                f,
                "privileged instruction `{i}` at ring 3 (general protection fault)"
            )?,
            FaultKind::GeneralProtection {
                instruction: None,
                error_code,
            } => write!(f, "general protection fault (error code {error_code:#x})")?,
            FaultKind::Exception {
                vector,
                name,
                error_code,
            } => write!(f, "{name} (vector {vector}, error code {error_code:#x})")?,
            FaultKind::TripleFault => write!(f, "triple fault (the vCPU shut down)")?,
        }
        write!(f, " at rip {:#x}, rsp {:#x}", self.rip, self.rsp)
    }
}

fn exception_name(v: u8) -> &'static str {
    match v {
        0 => "divide error (#DE)",
        1 => "debug exception (#DB)",
        2 => "non-maskable interrupt",
        3 => "breakpoint (#BP, int3)",
        4 => "overflow (#OF)",
        5 => "bound range exceeded (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack-segment fault (#SS)",
        13 => "general protection fault (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 floating-point error (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD floating-point exception (#XM)",
        20 => "virtualization exception (#VE)",
        21 => "control protection exception (#CP)",
        _ => "reserved exception",
    }
}

/// Names the privileged instruction starting with `code`, if recognised.
pub(crate) fn privileged_instruction(code: &[u8]) -> Option<&'static str> {
    // Skip legacy prefixes (operand size, REX) that do not change the name.
    let mut i = 0;
    while i < code.len() && (code[i] == 0x66 || (0x40..=0x4f).contains(&code[i])) {
        i += 1;
    }
    let b = code.get(i..)?;
    Some(match b {
        [0xf4, ..] => "hlt",
        [0xfa, ..] => "cli",
        [0xfb, ..] => "sti",
        [0xe4..=0xe5, ..] | [0xec..=0xed, ..] => "in",
        [0xe6..=0xe7, ..] | [0xee..=0xef, ..] => "out",
        [0x6c..=0x6d, ..] => "ins",
        [0x6e..=0x6f, ..] => "outs",
        [0xcd, ..] => "int n",
        [0xcf, ..] => "iretq",
        [0x0f, 0x20 | 0x22, ..] => "mov to/from a control register",
        [0x0f, 0x21 | 0x23, ..] => "mov to/from a debug register",
        [0x0f, 0x30, ..] => "wrmsr",
        [0x0f, 0x32, ..] => "rdmsr",
        [0x0f, 0x01, 0xf8, ..] => "swapgs",
        [0x0f, 0x01, 0xd1, ..] => "xsetbv",
        [0x0f, 0x01, m, ..] if (m >> 3) & 7 == 2 && m >> 6 != 3 => "lgdt",
        [0x0f, 0x01, m, ..] if (m >> 3) & 7 == 3 && m >> 6 != 3 => "lidt",
        [0x0f, 0x00, m, ..] if (m >> 3) & 7 == 3 => "ltr",
        [0x0f, 0x00, m, ..] if (m >> 3) & 7 == 2 => "lldt",
        [0x0f, 0x06, ..] => "clts",
        [0x0f, 0x09, ..] => "wbinvd",
        [0x0f, 0x08, ..] => "invd",
        [0x0f, 0x07, ..] => "sysret",
        [0x0f, 0x35, ..] => "sysexit",
        _ => return None,
    })
}

/// Names the region containing `addr`.
pub(crate) fn region_name(l: &Layout, addr: u64) -> &'static str {
    let in_ = |r: hyperlight_abi::Region| addr >= r.base && addr < r.end();
    if addr < PAGE_SIZE {
        "the null page"
    } else if addr < layout::CONTROL_PAGE {
        "the hypervisor's system area"
    } else if addr < layout::CONTROL_PAGE + PAGE_SIZE {
        "the control page"
    } else if addr < layout::TLS_PAGE + layout::TLS_SIZE {
        "the TLS page"
    } else if addr < layout::MAILBOX + PAGE_SIZE {
        "the mailbox page"
    } else if in_(l.image) {
        "the guest image"
    } else if in_(l.heap) {
        "the heap"
    } else if in_(l.stack) {
        "the stack"
    } else if in_(l.input) {
        "the input buffer"
    } else if in_(l.output) {
        "the output buffer"
    } else if in_(l.print) {
        "the print buffer"
    } else if in_(l.page_tables) {
        "the page tables"
    } else if addr >= l.total {
        "outside guest memory"
    } else {
        "a guard page or unmapped gap"
    }
}

/// Classifies a fault recorded by the ring-0 stubs. `code` is up to 16
/// bytes at the faulting `rip`, if readable.
pub(crate) fn classify(l: &Layout, info: &FaultInfo, code: &[u8]) -> GuestFault {
    let vector = info.vector as u8;
    let kind = match vector {
        14 => {
            let addr = info.cr2;
            let ec = info.error_code;
            let in_guard = addr >= l.stack_guard.base && addr < l.stack_guard.end();
            let rsp_in_guard = info.rsp >= l.stack_guard.base && info.rsp < l.stack.base;
            if in_guard || rsp_in_guard {
                FaultKind::StackOverflow { addr }
            } else {
                let access = if ec & 0x10 != 0 {
                    Access::Execute
                } else if ec & 2 != 0 {
                    Access::Write
                } else {
                    Access::Read
                };
                let region = region_name(l, addr);
                let reason = if ec & 1 == 0 {
                    "not mapped"
                } else if addr < layout::CONTROL_PAGE {
                    "a supervisor-only page"
                } else if access == Access::Write {
                    "read-only"
                } else if access == Access::Execute {
                    "not executable"
                } else {
                    "not accessible"
                };
                FaultKind::MemoryAccess {
                    addr,
                    access,
                    reason,
                    region,
                }
            }
        }
        6 => FaultKind::InvalidOpcode,
        13 => FaultKind::GeneralProtection {
            instruction: privileged_instruction(code),
            error_code: info.error_code,
        },
        v => FaultKind::Exception {
            vector: v,
            name: exception_name(v),
            error_code: info.error_code,
        },
    };
    GuestFault {
        kind,
        rip: info.rip,
        rsp: info.rsp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_privileged_instructions() {
        assert_eq!(privileged_instruction(&[0xf4]), Some("hlt"));
        assert_eq!(
            privileged_instruction(&[0x0f, 0x22, 0xd8]),
            Some("mov to/from a control register")
        );
        assert_eq!(privileged_instruction(&[0x0f, 0x30]), Some("wrmsr"));
        assert_eq!(privileged_instruction(&[0xee]), Some("out"));
        assert_eq!(privileged_instruction(&[0x66, 0xef]), Some("out"));
        assert_eq!(privileged_instruction(&[0x90]), None);
        assert_eq!(privileged_instruction(&[]), None);
    }
}
