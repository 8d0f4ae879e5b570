//! The embedded guest image.

/// The guest ELF (QuickJS and the hyperlight-js runtime), built by this
/// crate's build script from `crates/hyperlight-js-guest`.
pub(crate) static GUEST_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.elf"));
