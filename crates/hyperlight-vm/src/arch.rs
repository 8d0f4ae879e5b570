//! x86-64 system structures the host writes before the first run: the page
//! tables, GDT, IDT, TSS with its I/O bitmap, the ring-0 fault stubs, and
//! the special registers to boot straight into 64-bit mode at ring 3.

use hyperlight_abi::{layout, port, Region, PAGE_SIZE};
use kvm_bindings::{kvm_segment, kvm_sregs};

use crate::config::Layout;
use crate::elf::{Image, PF_W, PF_X};

// Page-table entry bits.
const P: u64 = 1;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const A: u64 = 1 << 5;
const D: u64 = 1 << 6;
const NX: u64 = 1 << 63;

/// Permissions of a mapped page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Perm {
    /// Ring 0 only, read-write, no execute.
    KernelData,
    /// Ring 0 only, read-only, executable.
    KernelCode,
    /// Ring 3 read-only, no execute.
    UserRo,
    /// Ring 3 read-write, no execute.
    UserRw,
    /// Ring 3 read-only, executable.
    UserRx,
    /// Ring 3 read-write-execute (two ELF segments share a page).
    UserRwx,
}

impl Perm {
    fn bits(self) -> u64 {
        // Accessed and dirty are preset so that the CPU never writes a
        // page-table entry (the tables are immutable after boot).
        let base = P | A | D;
        match self {
            Perm::KernelData => base | RW | NX,
            Perm::KernelCode => base,
            Perm::UserRo => base | US | NX,
            Perm::UserRw => base | US | RW | NX,
            Perm::UserRx => base | US,
            Perm::UserRwx => base | US | RW,
        }
    }
}

/// Every mapped page range and its permission. Everything not listed
/// (null page, guard pages, gaps, the page tables) is not present.
pub(crate) fn mappings(l: &Layout, image: &Image) -> Vec<(Region, Perm)> {
    let page = |base: u64, pages: u64| Region {
        base,
        size: pages * PAGE_SIZE,
    };
    let mut m = vec![
        (page(layout::GDT_IDT, 1), Perm::KernelData),
        (page(layout::TSS, 3), Perm::KernelData),
        (page(layout::FAULT_STUBS, 1), Perm::KernelCode),
        (page(layout::FAULT_INFO, 1), Perm::KernelData),
        (page(layout::RING0_STACK, 2), Perm::KernelData),
        (page(layout::CONTROL_PAGE, 1), Perm::UserRo),
        (page(layout::TLS_PAGE, 1), Perm::UserRw),
        (page(layout::MAILBOX, 1), Perm::UserRw),
        (l.heap, Perm::UserRw),
        (l.stack, Perm::UserRw),
        (l.input, Perm::UserRo),
        (l.output, Perm::UserRw),
        (l.print, Perm::UserRw),
    ];
    // Image pages: the union of the flags of the segments touching each page.
    let mut pages: Vec<(u64, u32)> = Vec::new();
    for s in &image.segments {
        let first = s.vaddr / PAGE_SIZE;
        let last = (s.vaddr + s.memsz - 1) / PAGE_SIZE;
        for p in first..=last {
            match pages.last_mut() {
                Some((lp, f)) if *lp == p => *f |= s.flags,
                _ => pages.push((p, s.flags)),
            }
        }
    }
    for (p, f) in pages {
        let perm = match (f & PF_W != 0, f & PF_X != 0) {
            (false, false) => Perm::UserRo,
            (true, false) => Perm::UserRw,
            (false, true) => Perm::UserRx,
            (true, true) => Perm::UserRwx,
        };
        m.push((page(p * PAGE_SIZE, 1), perm));
    }
    m
}

/// Builds 4-level, 4 KiB-page identity-mapping tables in `mem` (all of guest
/// memory, indexed by guest-physical address) at `l.page_tables` and returns
/// the PML4 address (CR3).
pub(crate) fn build_page_tables(mem: &mut [u8], l: &Layout, maps: &[(Region, Perm)]) -> u64 {
    let pt_base = l.page_tables.base;
    let mut next_free = pt_base + PAGE_SIZE; // page 0 is the PML4
    let pml4 = pt_base;
    let entry = |mem: &mut [u8], table: u64, idx: u64| -> (usize, u64) {
        let off = (table + idx * 8) as usize;
        let cur = u64::from_le_bytes(mem[off..off + 8].try_into().expect("8 bytes"));
        (off, cur)
    };
    let set = |mem: &mut [u8], off: usize, v: u64| {
        mem[off..off + 8].copy_from_slice(&v.to_le_bytes());
    };
    for (r, perm) in maps {
        let mut addr = r.base;
        while addr < r.end() {
            let mut table = pml4;
            for shift in [39u32, 30, 21] {
                let idx = (addr >> shift) & 511;
                let (off, cur) = entry(mem, table, idx);
                table = if cur & P != 0 {
                    cur & 0x000f_ffff_ffff_f000
                } else {
                    let t = next_free;
                    next_free += PAGE_SIZE;
                    assert!(
                        next_free <= l.page_tables.end(),
                        "page-table area too small"
                    );
                    // Upper levels are permissive: the leaf decides.
                    set(mem, off, t | P | RW | US | A);
                    t
                };
            }
            let (off, _) = entry(mem, table, (addr >> 12) & 511);
            set(mem, off, addr | perm.bits());
            addr += PAGE_SIZE;
        }
    }
    pml4
}

/// GDT selectors.
pub(crate) const KERNEL_CS: u16 = 0x08;
#[allow(dead_code)]
const KERNEL_DS: u16 = 0x10;
/// User data/stack selector (RPL 3).
pub(crate) const USER_DS: u16 = 0x18 | 3;
/// User 64-bit code selector (RPL 3).
pub(crate) const USER_CS: u16 = 0x20 | 3;
const TSS_SEL: u16 = 0x28;

/// Offset of the I/O permission bitmap inside the TSS.
const IOMAP_OFFSET: u64 = 0x68;
/// TSS limit: header, 8 KiB bitmap and the mandatory trailing 0xff byte.
const TSS_LIMIT: u32 = (IOMAP_OFFSET + 8192) as u32;
/// Number of IDT entries (the architectural exceptions).
const IDT_ENTRIES: u64 = 32;

fn descriptor(access: u8, flags: u8) -> u64 {
    // base 0, limit 0xfffff (ignored in 64-bit mode for code/data).
    0xffff | (0xf << 48) | ((access as u64) << 40) | ((flags as u64) << 52)
}

/// The guest-physical ranges (base, length) that [`write_system_tables`]
/// writes: GDT + IDT, TSS + I/O bitmap, fault stubs.
pub(crate) const SYSTEM_TABLE_PAGES: [(u64, u64); 3] = [
    (layout::GDT_IDT, PAGE_SIZE),
    (layout::TSS, IOMAP_OFFSET + 8193),
    (layout::FAULT_STUBS, PAGE_SIZE),
];

/// Writes GDT, IDT, TSS, I/O bitmap and fault stubs into `mem`.
pub(crate) fn write_system_tables(mem: &mut [u8]) {
    let put = |mem: &mut [u8], at: u64, bytes: &[u8]| {
        mem[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    };
    // GDT. Access bytes have the accessed bit preset so the CPU never
    // writes the GDT.
    let gdt: [u64; 5] = [
        0,
        descriptor(0x9b, 0xa), // kernel code: P, DPL0, S, exec/read, accessed; L, G
        descriptor(0x93, 0xc), // kernel data: P, DPL0, S, rw, accessed; DB, G
        descriptor(0xf3, 0xc), // user data: P, DPL3
        descriptor(0xfb, 0xa), // user code: P, DPL3, L
    ];
    for (i, d) in gdt.iter().enumerate() {
        put(mem, layout::GDT_IDT + i as u64 * 8, &d.to_le_bytes());
    }
    // 64-bit TSS descriptor (16 bytes): type 0xb = busy 64-bit TSS.
    let base = layout::TSS;
    let lo = (TSS_LIMIT as u64 & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x8bu64 << 40)
        | (((TSS_LIMIT as u64 >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    let hi = base >> 32;
    put(mem, layout::GDT_IDT + TSS_SEL as u64, &lo.to_le_bytes());
    put(mem, layout::GDT_IDT + TSS_SEL as u64 + 8, &hi.to_le_bytes());

    // TSS: RSP0 and IST1 both point at the ring-0 stack; every IDT gate
    // uses IST1 so even a fault in ring 0 gets a fresh stack.
    put(mem, layout::TSS + 4, &layout::RING0_STACK_TOP.to_le_bytes());
    put(
        mem,
        layout::TSS + 0x24,
        &layout::RING0_STACK_TOP.to_le_bytes(),
    );
    put(
        mem,
        layout::TSS + 0x66,
        &(IOMAP_OFFSET as u16).to_le_bytes(),
    );
    // I/O bitmap: a set bit denies the port. Allow only the guest ports.
    let bitmap = layout::TSS + IOMAP_OFFSET;
    mem[bitmap as usize..bitmap as usize + 8193].fill(0xff);
    for p in port::GUEST_PORTS {
        let byte = bitmap as usize + p as usize / 8;
        mem[byte] &= !(1 << (p % 8));
    }

    // Fault stubs and IDT.
    let (stubs, entries) = fault_stubs();
    put(mem, layout::FAULT_STUBS, &stubs);
    for (v, off) in entries.iter().enumerate() {
        let handler = layout::FAULT_STUBS + *off as u64;
        let lo = (handler & 0xffff)
            | ((KERNEL_CS as u64) << 16)
            | (1u64 << 32) // IST1
            | (0x8eu64 << 40) // P, DPL0, 64-bit interrupt gate
            | (((handler >> 16) & 0xffff) << 48);
        let hi = handler >> 32;
        let at = layout::GDT_IDT + layout::IDT_OFFSET + v as u64 * 16;
        put(mem, at, &lo.to_le_bytes());
        put(mem, at + 8, &hi.to_le_bytes());
    }
}

/// Vectors for which the CPU pushes an error code.
fn has_error_code(v: u8) -> bool {
    matches!(v, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// Offset of the per-vector stubs in the stub page.
const VECTOR_STUBS: usize = 0x100;

/// The ring-0 fault handler, hand-assembled. Each vector has a 16-byte stub
/// that pushes a zero error code if the CPU did not, pushes the vector and
/// jumps to the common code, which records [`hyperlight_abi::FaultInfo`]
/// and reports with `out` on [`port::FAULT`]:
///
/// ```text
/// common:                      ; stack: vector, error, rip, cs, rflags, rsp, ss
///   58                 pop rax
///   48 89 04 25 00 60 00 00    mov [0x6000], rax        ; vector
///   58                 pop rax
///   48 89 04 25 08 60 00 00    mov [0x6008], rax        ; error code
///   48 8b 04 24        mov rax, [rsp]
///   48 89 04 25 10 60 00 00    mov [0x6010], rax        ; rip
///   48 8b 44 24 18     mov rax, [rsp+0x18]
///   48 89 04 25 18 60 00 00    mov [0x6018], rax        ; rsp
///   0f 20 d0           mov rax, cr2
///   48 89 04 25 20 60 00 00    mov [0x6020], rax        ; cr2
///   8b 04 25 00 60 00 00       mov eax, [0x6000]
///   66 ba 14 0e        mov dx, 0x0e14
///   ef                 out dx, eax
///   eb fe              jmp $                     ; the host never resumes
/// vector stub:  [6a 00] 6a <v> e9 <rel32 to common>
/// ```
///
/// Returns the page contents and each vector's stub offset.
fn fault_stubs() -> (Vec<u8>, Vec<usize>) {
    const _: () = assert!(layout::FAULT_INFO == 0x6000 && port::FAULT == 0x0e14);
    let mut code: Vec<u8> = vec![
        0x58, 0x48, 0x89, 0x04, 0x25, 0x00, 0x60, 0x00, 0x00, //
        0x58, 0x48, 0x89, 0x04, 0x25, 0x08, 0x60, 0x00, 0x00, //
        0x48, 0x8b, 0x04, 0x24, 0x48, 0x89, 0x04, 0x25, 0x10, 0x60, 0x00, 0x00, //
        0x48, 0x8b, 0x44, 0x24, 0x18, 0x48, 0x89, 0x04, 0x25, 0x18, 0x60, 0x00, 0x00, //
        0x0f, 0x20, 0xd0, 0x48, 0x89, 0x04, 0x25, 0x20, 0x60, 0x00, 0x00, //
        0x8b, 0x04, 0x25, 0x00, 0x60, 0x00, 0x00, //
        0x66, 0xba, 0x14, 0x0e, 0xef, 0xeb, 0xfe,
    ];
    code.resize(VECTOR_STUBS, 0xcc);
    let mut offsets = Vec::new();
    for v in 0..IDT_ENTRIES as u8 {
        let start = code.len();
        offsets.push(start);
        if !has_error_code(v) {
            code.extend_from_slice(&[0x6a, 0x00]);
        }
        code.extend_from_slice(&[0x6a, v, 0xe9]);
        let rel = -((code.len() + 4) as i32);
        code.extend_from_slice(&rel.to_le_bytes());
        code.resize(start + 16, 0xcc);
    }
    (code, offsets)
}

/// Patches `s` (from `KVM_GET_SREGS`) to 64-bit long mode at ring 3.
pub(crate) fn long_mode_sregs(s: &mut kvm_sregs, cr3: u64) {
    const CR0_PE: u64 = 1;
    const CR0_MP: u64 = 1 << 1;
    const CR0_ET: u64 = 1 << 4;
    const CR0_NE: u64 = 1 << 5;
    const CR0_WP: u64 = 1 << 16;
    const CR0_PG: u64 = 1 << 31;
    const CR4_PAE: u64 = 1 << 5;
    const CR4_OSFXSR: u64 = 1 << 9;
    const CR4_OSXMMEXCPT: u64 = 1 << 10;
    const EFER_LME: u64 = 1 << 8;
    const EFER_LMA: u64 = 1 << 10;
    const EFER_NXE: u64 = 1 << 11;

    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    s.cr3 = cr3;
    s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    s.efer = EFER_LME | EFER_LMA | EFER_NXE;

    let seg = |selector: u16, type_: u8, l: u8, db: u8| kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl: (selector & 3) as u8,
        db,
        s: 1,
        l,
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    };
    s.cs = seg(USER_CS, 0xb, 1, 0);
    let data = seg(USER_DS, 0x3, 0, 1);
    s.ss = data;
    s.ds = data;
    s.es = data;
    s.gs = data;
    s.fs = kvm_segment {
        base: layout::TLS_PAGE,
        ..data
    };
    s.tr = kvm_segment {
        base: layout::TSS,
        limit: TSS_LIMIT,
        selector: TSS_SEL,
        type_: 0xb,
        present: 1,
        dpl: 0,
        db: 0,
        s: 0,
        l: 0,
        g: 0,
        avl: 0,
        unusable: 0,
        padding: 0,
    };
    s.gdt.base = layout::GDT_IDT;
    s.gdt.limit = TSS_SEL + 16 - 1;
    s.idt.base = layout::GDT_IDT + layout::IDT_OFFSET;
    s.idt.limit = (IDT_ENTRIES * 16 - 1) as u16;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_fit_and_jump_back_to_common() {
        let (code, offs) = fault_stubs();
        assert!(code.len() <= PAGE_SIZE as usize);
        for (v, &o) in offs.iter().enumerate() {
            let jmp = if has_error_code(v as u8) {
                o + 2
            } else {
                o + 4
            };
            assert_eq!(code[jmp], 0xe9);
            let rel = i32::from_le_bytes(code[jmp + 1..jmp + 5].try_into().unwrap());
            assert_eq!(jmp as i64 + 5 + rel as i64, 0, "vector {v}");
        }
    }
}
