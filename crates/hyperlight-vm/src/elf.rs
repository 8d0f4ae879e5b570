//! A small, careful parser for static x86-64 ELF executables.
//!
//! Only the ELF header and the program headers are read: the loader needs
//! the entry point and the `PT_LOAD` segments, nothing else. A hand-written
//! parser of ~150 lines with explicit bounds checks is easier to audit than
//! a general ELF crate, and adds no dependency.

use hyperlight_abi::layout::IMAGE_MIN_BASE;

use crate::config::MAX_GUEST_MEMORY;
use crate::{Error, Result};

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_TLS: u32 = 7;
/// Segment flag: executable.
pub(crate) const PF_X: u32 = 1;
/// Segment flag: writable.
pub(crate) const PF_W: u32 = 2;

/// One `PT_LOAD` segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub flags: u32,
}

/// A parsed, checked image.
#[derive(Debug)]
pub(crate) struct Image {
    pub entry: u64,
    pub segments: Vec<Segment>,
    /// One past the last byte of the last segment.
    pub end: u64,
}

fn err(msg: impl Into<String>) -> Error {
    Error::Elf(msg.into())
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Parses and checks `elf`: 64-bit little-endian x86-64 `ET_EXEC`, no
/// interpreter or dynamic section, `PT_LOAD` segments at or above
/// [`IMAGE_MIN_BASE`] that fit in guest memory, lie inside the file, have
/// `filesz <= memsz` and do not overlap, and an entry point inside an
/// executable segment.
pub(crate) fn parse(elf: &[u8]) -> Result<Image> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    if elf.len() < EHDR {
        return Err(err(format!(
            "{} bytes is too short for an ELF header",
            elf.len()
        )));
    }
    if &elf[..4] != b"\x7fELF" {
        return Err(err("not an ELF file (bad magic)"));
    }
    if elf[4] != 2 {
        return Err(err("not a 64-bit ELF (EI_CLASS is not ELFCLASS64)"));
    }
    if elf[5] != 1 {
        return Err(err("not little-endian (EI_DATA is not ELFDATA2LSB)"));
    }
    let e_type = u16_at(elf, 16);
    if e_type != 2 {
        return Err(err(format!(
            "ELF type is {e_type}, expected 2 (ET_EXEC): link the guest with -static -no-pie"
        )));
    }
    let machine = u16_at(elf, 18);
    if machine != 62 {
        return Err(err(format!(
            "ELF machine is {machine}, expected 62 (x86-64)"
        )));
    }
    let entry = u64_at(elf, 24);
    let phoff = u64_at(elf, 32);
    let phentsize = u16_at(elf, 54) as usize;
    let phnum = u16_at(elf, 56) as usize;
    if phentsize != PHDR {
        return Err(err(format!(
            "program header size is {phentsize}, expected {PHDR}"
        )));
    }
    let ph_end = usize::try_from(phoff)
        .ok()
        .and_then(|o| o.checked_add(phnum * PHDR));
    let ph_start = match ph_end {
        Some(end) if end <= elf.len() => phoff as usize,
        _ => return Err(err("program headers lie outside the file")),
    };

    let mut segments = Vec::new();
    for i in 0..phnum {
        let ph = &elf[ph_start + i * PHDR..ph_start + (i + 1) * PHDR];
        let p_type = u32_at(ph, 0);
        let seg = Segment {
            flags: u32_at(ph, 4),
            offset: u64_at(ph, 8),
            vaddr: u64_at(ph, 16),
            filesz: u64_at(ph, 32),
            memsz: u64_at(ph, 40),
        };
        match p_type {
            PT_INTERP | PT_DYNAMIC => {
                return Err(err(
                    "the image is dynamically linked (PT_INTERP/PT_DYNAMIC); link it with -static",
                ))
            }
            PT_TLS if seg.memsz > 0 => {
                return Err(err(
                    "the image has thread-local data (PT_TLS), which the VM does not set up",
                ))
            }
            PT_LOAD => {}
            _ => continue,
        }
        if seg.memsz == 0 {
            continue;
        }
        if seg.filesz > seg.memsz {
            return Err(err(format!(
                "segment {i}: filesz {:#x} exceeds memsz {:#x}",
                seg.filesz, seg.memsz
            )));
        }
        match seg.offset.checked_add(seg.filesz) {
            Some(end) if end <= elf.len() as u64 => {}
            _ => return Err(err(format!("segment {i}: file bytes lie outside the file"))),
        }
        if seg.vaddr < IMAGE_MIN_BASE {
            return Err(err(format!(
                "segment {i} starts at {:#x}, below the image base {IMAGE_MIN_BASE:#x} \
                 (link with -Wl,--image-base={IMAGE_MIN_BASE:#x} or higher)",
                seg.vaddr
            )));
        }
        match seg.vaddr.checked_add(seg.memsz) {
            Some(end) if end <= MAX_GUEST_MEMORY => {}
            _ => {
                return Err(err(format!(
                    "segment {i} ({:#x} + {:#x}) ends beyond the {MAX_GUEST_MEMORY:#x}-byte guest memory limit",
                    seg.vaddr, seg.memsz
                )))
            }
        }
        segments.push(seg);
    }
    if segments.is_empty() {
        return Err(err("no PT_LOAD segment"));
    }
    segments.sort_by_key(|s| s.vaddr);
    for w in segments.windows(2) {
        if w[0].vaddr + w[0].memsz > w[1].vaddr {
            return Err(err(format!(
                "segments at {:#x} and {:#x} overlap",
                w[0].vaddr, w[1].vaddr
            )));
        }
    }
    let in_exec = segments
        .iter()
        .any(|s| s.flags & PF_X != 0 && entry >= s.vaddr && entry < s.vaddr + s.memsz);
    if !in_exec {
        return Err(err(format!(
            "entry point {entry:#x} is not inside an executable segment"
        )));
    }
    let end = segments
        .iter()
        .map(|s| s.vaddr + s.memsz)
        .max()
        .expect("non-empty");
    Ok(Image {
        entry,
        segments,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF with one RX segment at `vaddr`.
    fn elf(vaddr: u64, entry: u64, flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 + 16];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[24..32].copy_from_slice(&entry.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = &mut b[64..120];
        ph[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        ph[4..8].copy_from_slice(&flags.to_le_bytes());
        ph[8..16].copy_from_slice(&120u64.to_le_bytes());
        ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
        ph[32..40].copy_from_slice(&16u64.to_le_bytes());
        ph[40..48].copy_from_slice(&0x1000u64.to_le_bytes());
        b
    }

    #[test]
    fn accepts_a_minimal_image() {
        let img = parse(&elf(0x10_0000, 0x10_0000, 5)).unwrap();
        assert_eq!(img.entry, 0x10_0000);
        assert_eq!(img.end, 0x10_1000);
    }

    #[test]
    fn rejects_bad_images() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0; 10], "too short"),
            (
                {
                    let mut e = elf(0x10_0000, 0x10_0000, 5);
                    e[4] = 1;
                    e
                },
                "64-bit",
            ),
            (
                {
                    let mut e = elf(0x10_0000, 0x10_0000, 5);
                    e[18] = 3;
                    e
                },
                "machine",
            ),
            (
                {
                    let mut e = elf(0x10_0000, 0x10_0000, 5);
                    e[16] = 3;
                    e
                },
                "ET_EXEC",
            ),
            (elf(0x1000, 0x1000, 5), "below the image base"),
            (elf(0x10_0000, 0x10_0000, 6), "not inside an executable"),
            (elf(0x10_0000, 0x20_0000, 5), "not inside an executable"),
            (elf(u64::MAX - 10, u64::MAX - 10, 5), "beyond"),
            (
                {
                    let mut e = elf(0x10_0000, 0x10_0000, 5);
                    e[64 + 32..64 + 40].copy_from_slice(&0x2000u64.to_le_bytes());
                    e
                },
                "filesz",
            ),
            (
                {
                    let mut e = elf(0x10_0000, 0x10_0000, 5);
                    e[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
                    e
                },
                "outside the file",
            ),
            (
                {
                    let mut e = elf(0x10_0000, 0x10_0000, 5);
                    e[56..58].copy_from_slice(&1000u16.to_le_bytes());
                    e
                },
                "outside the file",
            ),
        ];
        for (bytes, want) in cases {
            let e = parse(&bytes).unwrap_err().to_string();
            assert!(e.contains(want), "expected {want:?} in {e:?}");
        }
    }
}
