//! Smoke tests.
mod common;
use common::*;
use hyperlight_vm::*;

#[test]
fn boots_and_echoes() {
    require_kvm();
    let mut h = Recorder::default();
    let mut vm = Vm::new_with_handler(&VmConfig::default(), guest_elf(), &mut h).unwrap();
    assert_eq!(h.prints, vec![(2, "guest booted".to_string())]);
    let r = vm.call(tag::ECHO, b"hello", &mut h).unwrap();
    assert_eq!(r.payload, b"hello");
}

#[test]
fn probe_faults() {
    require_kvm();
    for (t, a) in [
        (tag::UD2, 0u64),
        (tag::HLT, 0),
        (tag::CLI, 0),
        (tag::MOV_CR3, 0),
        (tag::WRMSR, 0),
        (tag::WRITE_ADDR, 0x1000),
        (tag::STACK_OVERFLOW, 0),
        (tag::OUT_PORT, 0x80),
        (tag::IN_PORT, 0),
        (tag::OUT_WIDE, 0),
        (tag::INT3, 0),
    ] {
        let mut h = Recorder::default();
        let mut vm = Vm::new(&VmConfig::default(), guest_elf()).unwrap();
        let t0 = std::time::Instant::now();
        let e = vm.call(t, &args(&[a]), &mut h).unwrap_err();
        eprintln!("tag {t}: {e} ({:?})", t0.elapsed());
    }
}
