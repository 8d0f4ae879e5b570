//! ELF core files of crashed guests (opt-in, see
//! [`SandboxBuilder::with_crash_dump_dir`](crate::SandboxBuilder::with_crash_dump_dir)
//! and `docs/crash-dumps.md`).
//!
//! The guest is identity mapped (guest-virtual = guest-physical address),
//! so the core file's `PT_LOAD` segments cover all guest memory at its own
//! addresses, written sparsely (pages of zeros are holes in the file),
//! except the image's read-only pages, which gdb reads from the image. Its notes are those Linux writes for a one-thread process that
//! gdb needs (`NT_PRSTATUS`: signal and registers; `NT_SIGINFO`: the
//! faulting address), so `gdb GUEST.elf CORE` opens it as it would a Linux
//! core. There is no `NT_PRPSINFO`: gdb compares its program name with the
//! executable's file name and warns when they differ, and the 16 bytes it
//! holds cannot carry the image's file name.
//!
//! A fault is reported by the VM's ring-0 stub, which pops the vector and
//! error code and stops with the CPU's interrupt frame (`rip`, `cs`,
//! `rflags`, `rsp`, `ss`) on its stack; the dump puts those back, so the
//! registers are the guest's at the faulting instruction except `rax` and
//! `rdx`, which the stub used.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hyperlight_abi::{layout, FaultInfo, PAGE_SIZE};
use hyperlight_vm::Vm;

const SIGILL: i32 = 4;
const SIGTRAP: i32 = 5;
const SIGABRT: i32 = 6;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const ILL_ILLOPN: i32 = 2;
const SI_KERNEL: i32 = 0x80;

const NT_PRSTATUS: u32 = 1;
const NT_SIGINFO: u32 = 0x5349_4749;

/// Registers in the order of Linux's `struct user_regs_struct` (x86-64).
#[derive(Default)]
struct Regs([u64; 27]);

impl Regs {
    const RAX: usize = 10;
    const RIP: usize = 16;
    const CS: usize = 17;
    const RFLAGS: usize = 18;
    const RSP: usize = 19;
    const SS: usize = 20;
}

/// What the guest did, as a POSIX signal.
struct Signal {
    signo: i32,
    code: i32,
    addr: u64,
}

/// Writes a core file of `vm` (which must be stopped, after a crash) into
/// `dir`, and the guest image beside it if it is not there yet. Returns
/// the core file's path.
pub(crate) fn write(dir: &Path, vm: &Vm, guest_elf: &[u8]) -> std::io::Result<PathBuf> {
    let io = |e: hyperlight_vm::Error| std::io::Error::other(e.to_string());
    let r = vm.regs().map_err(io)?;
    let s = vm.sregs().map_err(io)?;
    let mem = vm.memory();
    let read = |addr: u64| -> u64 {
        mem.get(addr as usize..addr as usize + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };

    let mut regs = Regs([
        r.r15,
        r.r14,
        r.r13,
        r.r12,
        r.rbp,
        r.rbx,
        r.r11,
        r.r10,
        r.r9,
        r.r8,
        r.rax,
        r.rcx,
        r.rdx,
        r.rsi,
        r.rdi,
        u64::MAX,
        r.rip,
        s.cs.selector as u64,
        r.rflags,
        r.rsp,
        s.ss.selector as u64,
        s.fs.base,
        s.gs.base,
        s.ds.selector as u64,
        s.es.selector as u64,
        s.fs.selector as u64,
        s.gs.selector as u64,
    ]);
    let in_fault_stub = (layout::FAULT_STUBS..layout::FAULT_STUBS + PAGE_SIZE).contains(&r.rip);
    let signal = if in_fault_stub {
        // The interrupt frame the CPU pushed, under the stub's stack pointer.
        for (i, reg) in [Regs::RIP, Regs::CS, Regs::RFLAGS, Regs::RSP, Regs::SS]
            .into_iter()
            .enumerate()
        {
            regs.0[reg] = read(r.rsp + 8 * i as u64);
        }
        let f = FaultInfo {
            vector: read(layout::FAULT_INFO),
            error_code: read(layout::FAULT_INFO + 8),
            rip: read(layout::FAULT_INFO + 16),
            rsp: read(layout::FAULT_INFO + 24),
            cr2: read(layout::FAULT_INFO + 32),
        };
        regs.0[Regs::RAX] = 0;
        signal_of(&f)
    } else {
        // An abort (the guest stopped itself on its abort port) or a
        // fault that could not be delivered: the registers are where it
        // stopped.
        Signal {
            signo: SIGABRT,
            code: SI_KERNEL,
            addr: 0,
        }
    };

    std::fs::create_dir_all(dir)?;
    let elf_name = guest_elf_name(guest_elf);
    let elf_path = dir.join(&elf_name);
    if !elf_path.exists() {
        let tmp = dir.join(format!(".{elf_name}.{}", std::process::id()));
        std::fs::write(&tmp, guest_elf)?;
        std::fs::rename(&tmp, &elf_path)?;
    }

    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = dir.join(format!("hyperlight-js-{}-{millis}.core", vm.id()));
    let mut notes = Vec::new();
    note(&mut notes, NT_PRSTATUS, &prstatus(&regs, &signal));
    note(&mut notes, NT_SIGINFO, &siginfo(&signal));

    // The image's read-only pages (code, rodata) are left out: they are
    // the image file's bytes, which gdb reads from the image (as Linux
    // leaves file-backed read-only mappings out of its core files).
    let segments = segments(mem.len() as u64, &read_only_pages(guest_elf));

    // Layout: ELF header, program headers (notes, then one PT_LOAD per
    // range), notes, then memory at page-aligned offsets (file offset ≡
    // address mod page size).
    let phnum = 1 + segments.len() as u16;
    let notes_off = 64 + 56 * phnum as u64;
    let mem_off = (notes_off + notes.len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let mut head = Vec::with_capacity(mem_off as usize);
    elf_header(&mut head, phnum);
    phdr(&mut head, 4, 4, notes_off, 0, notes.len() as u64, 0, 4); // PT_NOTE, R
    let mut offset = mem_off;
    for &(start, end) in &segments {
        let len = end - start;
        phdr(&mut head, 1, 7, offset, start, len, len, PAGE_SIZE); // PT_LOAD, RWX
        offset += len;
    }
    head.extend_from_slice(&notes);

    let mut file = File::options().write(true).create_new(true).open(&path)?;
    file.write_all(&head)?;
    file.set_len(offset)?;
    let mut offset = mem_off;
    for &(start, end) in &segments {
        let range = &mem[start as usize..end as usize];
        for (i, page) in range.chunks(PAGE_SIZE as usize).enumerate() {
            if !is_zero(page) {
                file.write_all_at(page, offset + i as u64 * PAGE_SIZE)?;
            }
        }
        offset += end - start;
    }
    Ok(path)
}

/// `hyperlight-js-guest-<64-bit FNV-1a of the image>.elf`: one copy per
/// image per directory. Computed once per process (the image is
/// megabytes).
pub(crate) fn guest_elf_name(elf: &[u8]) -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in elf {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        format!("hyperlight-js-guest-{h:016x}.elf")
    })
    .clone()
}

/// Whether a page is all zeros (16 bytes at a time).
fn is_zero(page: &[u8]) -> bool {
    let mut chunks = page.chunks_exact(16);
    chunks.all(|c| u128::from_ne_bytes(c.try_into().unwrap_or([1; 16])) == 0)
        && chunks.remainder().iter().all(|&b| b == 0)
}

/// Whole pages of the image's read-only `PT_LOAD` segments, as sorted
/// `[start, end)` guest addresses (the image is identity mapped). A
/// malformed header gives none (then everything is dumped).
fn read_only_pages(elf: &[u8]) -> Vec<(u64, u64)> {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let (Some(phoff), Some(entsize), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..count as usize {
        let at = phoff as usize + i * entsize as usize;
        let (Some(kind), Some(flags), Some(vaddr), Some(filesz)) =
            (u32_at(at), u32_at(at + 4), u64_at(at + 16), u64_at(at + 32))
        else {
            return Vec::new();
        };
        // PT_LOAD without PF_W.
        if kind == 1 && flags & 2 == 0 {
            let start = vaddr.div_ceil(PAGE_SIZE) * PAGE_SIZE;
            let end = vaddr.saturating_add(filesz) / PAGE_SIZE * PAGE_SIZE;
            if end > start {
                out.push((start, end));
            }
        }
    }
    out.sort_unstable();
    out
}

/// `[0, len)` less the `skip` ranges (sorted), as `[start, end)` ranges.
fn segments(len: u64, skip: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(s, e) in skip {
        let (s, e) = (s.min(len), e.min(len));
        if s > at {
            out.push((at, s));
        }
        at = at.max(e);
    }
    if at < len {
        out.push((at, len));
    }
    out
}

fn signal_of(f: &FaultInfo) -> Signal {
    match f.vector {
        14 => Signal {
            signo: SIGSEGV,
            code: if f.error_code & 1 == 0 {
                SEGV_MAPERR
            } else {
                SEGV_ACCERR
            },
            addr: f.cr2,
        },
        6 => Signal {
            signo: SIGILL,
            code: ILL_ILLOPN,
            addr: f.rip,
        },
        0 | 16 | 19 => Signal {
            signo: SIGFPE,
            code: SI_KERNEL,
            addr: f.rip,
        },
        1 | 3 => Signal {
            signo: SIGTRAP,
            code: SI_KERNEL,
            addr: f.rip,
        },
        _ => Signal {
            signo: SIGSEGV,
            code: SI_KERNEL,
            addr: 0,
        },
    }
}

fn note(out: &mut Vec<u8>, kind: u32, desc: &[u8]) {
    out.extend_from_slice(&5u32.to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(b"CORE\0\0\0\0");
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Linux's `struct elf_prstatus` (x86-64, 336 bytes).
fn prstatus(regs: &Regs, sig: &Signal) -> Vec<u8> {
    let mut d = vec![0u8; 336];
    d[0..4].copy_from_slice(&sig.signo.to_le_bytes()); // pr_info.si_signo
    d[12..14].copy_from_slice(&(sig.signo as u16).to_le_bytes()); // pr_cursig
    d[32..36].copy_from_slice(&1u32.to_le_bytes()); // pr_pid
    for (i, v) in regs.0.iter().enumerate() {
        d[112 + 8 * i..120 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    d
}

/// Linux's `siginfo_t` (128 bytes) with the fault address.
fn siginfo(sig: &Signal) -> Vec<u8> {
    let mut d = vec![0u8; 128];
    d[0..4].copy_from_slice(&sig.signo.to_le_bytes());
    d[8..12].copy_from_slice(&sig.code.to_le_bytes());
    d[16..24].copy_from_slice(&sig.addr.to_le_bytes());
    d
}

fn elf_header(out: &mut Vec<u8>, phnum: u16) {
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    out.extend_from_slice(&phnum.to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
}

#[allow(clippy::too_many_arguments)]
fn phdr(
    out: &mut Vec<u8>,
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    for v in [offset, vaddr, vaddr, filesz, memsz, align] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_leave_out_the_skipped_ranges() {
        assert_eq!(segments(100, &[]), [(0, 100)]);
        assert_eq!(
            segments(100, &[(10, 20), (50, 60)]),
            [(0, 10), (20, 50), (60, 100)]
        );
        assert_eq!(segments(100, &[(0, 20), (90, 200)]), [(20, 90)]);
    }

    #[test]
    fn read_only_pages_of_the_guest_image() {
        let ro = read_only_pages(crate::guest_image::GUEST_ELF);
        assert!(!ro.is_empty());
        assert!(ro
            .iter()
            .all(|&(s, e)| s % PAGE_SIZE == 0 && e % PAGE_SIZE == 0 && s < e));
        assert!(read_only_pages(b"not an elf").is_empty());
        assert!(is_zero(&[0; 4096]) && !is_zero(&[0, 0, 1]));
    }
}
