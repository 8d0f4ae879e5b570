//! The machine-level edge of the guest: the entry point and the `out`
//! instruction that exits to the host.
//!
//! The host enters `_start` in ring 3 with `rdi` = the control page address
//! and `rsp` = the top of the stack region, FS base = the TLS page.

use hyperlight_abi::port;

// The entry point. It resets the x87/SSE control words to their ABI
// defaults, zeroes .bss (the ELF loader is expected to have done so; doing
// it again costs microseconds and removes a dependency on the loader), aligns
// the stack and calls `guest_main(control_page)`, which never returns.
core::arch::global_asm!(
    r#"
    .section .text._start,"ax",@progbits
    .globl _start
    .type _start,@function
_start:
    xor ebp, ebp
    mov r12, rdi
    fninit
    push 0x1f80
    ldmxcsr [rsp]
    add rsp, 8
    lea rdi, [rip + __bss_start]
    lea rcx, [rip + _end]
    sub rcx, rdi
    xor eax, eax
    cld
    rep stosb
    mov rdi, r12
    and rsp, -16
    call {main}
    ud2
    .size _start, . - _start
    .text
"#,
    main = sym crate::guest_main,
);

/// Exits to the host through `port` with the one-byte `value` in `al`.
///
/// Byte-sized on purpose: the CPU checks one I/O-bitmap bit per byte
/// accessed, and a 4-byte access to the last guest port would touch the
/// ring-0-only fault port (see `hyperlight_abi::port`). The assembly block is a compiler memory barrier (no `nomem`): memory the
/// host writes while the guest is stopped is re-read afterwards.
#[inline(always)]
pub fn out(port: u16, value: u8) {
    // SAFETY: `out` to one of the ABI ports is how the guest talks to the
    // host; the TSS I/O bitmap allows exactly these ports at CPL3. It has no
    // effect on guest memory other than what the host writes while the vCPU
    // is stopped, which the (absent) `nomem` option tells the compiler to
    // expect.
    unsafe {
        core::arch::asm!(
            "out dx, al",
            in("dx") port,
            in("al") value,
            options(nostack, preserves_flags)
        );
    }
}

/// Tells the host that the guest is idle (first call: ready; later: the
/// answer is in the output buffer). Returns when the next request is in the
/// input buffer.
pub fn exit_done() {
    out(port::DONE, 0);
    crate::time::resumed();
}

/// Asks the host to run the host call described in the output buffer.
/// Returns when the answer is in the input buffer.
pub fn exit_host_call() {
    out(port::HOST_CALL, 0);
    crate::time::resumed();
}

/// Asks the host to drain the print buffer.
pub fn exit_print_flush() {
    out(port::PRINT_FLUSH, 0);
    crate::time::resumed();
}

/// Reads the time-stamp counter (ring 3 may execute `rdtsc` unless the host
/// set CR4.TSD, which it does not).
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the TSC into edx:eax.
    unsafe { core::arch::x86_64::_rdtsc() }
}
