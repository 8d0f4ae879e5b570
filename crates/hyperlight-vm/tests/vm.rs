//! Integration tests against real KVM: the protocol, every hostile guest
//! behaviour, snapshots, kill, many VMs.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use hyperlight_vm::abi::{layout, HOST_ERROR_TAG, PAGE_SIZE};
use hyperlight_vm::*;

fn vm() -> Vm {
    require_kvm();
    Vm::new(&VmConfig::default(), guest_elf()).expect("the test guest boots")
}

fn echo_works(vm: &mut Vm) {
    let r = vm.call(tag::ECHO, b"still alive", &mut Recorder::default());
    assert_eq!(r.expect("echo after restore").payload, b"still alive");
}

#[test]
fn boot_delivers_prints_and_echo_costs_one_exit() {
    require_kvm();
    let mut h = Recorder::default();
    let mut vm = Vm::new_with_handler(&VmConfig::default(), guest_elf(), &mut h).unwrap();
    assert_eq!(h.prints, vec![(2, "guest booted".to_string())]);
    assert!(vm.poisoned().is_none());
    let before = vm.exits();
    let r = vm.call(tag::ECHO, b"hello", &mut h).unwrap();
    assert_eq!(
        r,
        Response {
            tag: tag::ECHO,
            payload: b"hello".to_vec()
        }
    );
    assert_eq!(vm.exits() - before, 1, "a call must cost exactly one exit");
}

#[test]
fn echo_of_empty_and_of_the_largest_payload() {
    let mut vm = vm();
    let mut h = Recorder::default();
    assert_eq!(vm.call(tag::ECHO, b"", &mut h).unwrap().payload, b"");
    let cap = vm.input_capacity();
    // The default buffers, less the message header.
    assert_eq!(cap, DEFAULT_BUFFER as usize - 8);
    assert_eq!(vm.output_capacity(), DEFAULT_BUFFER as usize - 8);
    let big: Vec<u8> = (0..cap).map(|i| (i * 7) as u8).collect();
    assert_eq!(vm.call(tag::ECHO, &big, &mut h).unwrap().payload, big);
}

#[test]
fn a_request_larger_than_the_input_buffer_is_refused_without_poisoning() {
    let mut vm = vm();
    let cap = vm.input_capacity();
    let e = vm
        .call(tag::ECHO, &vec![0; cap + 1], &mut Recorder::default())
        .unwrap_err();
    assert!(
        matches!(e, Error::InputTooLarge { len, capacity } if len == cap + 1 && capacity == cap),
        "{e}"
    );
    assert!(vm.poisoned().is_none());
    echo_works(&mut vm);
}

#[test]
fn guest_to_host_calls_cost_one_exit_each() {
    let mut vm = vm();
    let mut h = Recorder::default();
    let before = vm.exits();
    let r = vm.call(tag::HOST_CALLS, &args(&[10]), &mut h).unwrap();
    assert_eq!(u64_at(&r.payload, 0), (0..10).map(|i| 2 * i).sum::<u64>());
    assert_eq!(h.host_calls.len(), 10);
    assert_eq!(h.host_calls[3], (100, 3u32.to_le_bytes().to_vec()));
    assert_eq!(vm.exits() - before, 11);
}

#[test]
fn a_failing_host_function_answers_the_guest_with_the_error_tag() {
    let mut vm = vm();
    let mut h = Recorder {
        fixed_answer: Some(Err("no such function".into())),
        ..Default::default()
    };
    let r = vm.call(tag::HOST_CALL_ECHO, b"x", &mut h).unwrap();
    assert_eq!(r.tag, HOST_ERROR_TAG);
    assert_eq!(r.payload, b"no such function");
    assert!(vm.poisoned().is_none());
}

#[test]
fn a_host_answer_larger_than_the_input_buffer_becomes_an_error_for_the_guest() {
    require_kvm();
    let config = VmConfig {
        input_size: 4096,
        ..VmConfig::default()
    };
    let mut vm = Vm::new(&config, guest_elf()).unwrap();
    let mut h = Recorder {
        fixed_answer: Some(Ok((8, vec![1; 5000]))),
        ..Default::default()
    };
    let r = vm.call(tag::HOST_CALL_ECHO, b"x", &mut h).unwrap();
    assert_eq!(r.tag, HOST_ERROR_TAG);
    let msg = String::from_utf8(r.payload).unwrap();
    assert!(msg.contains("5000 bytes") && msg.contains("4088"), "{msg}");
    // The host function's own answer is passed through when it fits.
    let mut h = Recorder::default();
    let r = vm.call(tag::HOST_CALL_ECHO, b"ping", &mut h).unwrap();
    assert_eq!((r.tag, r.payload), (8, b"ping".to_vec()));
}

#[test]
fn prints_are_batched_delivered_in_order_and_flushed() {
    require_kvm();
    let config = VmConfig {
        print_size: 4096,
        ..VmConfig::default()
    };
    let mut h = Recorder::default();
    let mut vm = Vm::new_with_handler(&config, guest_elf(), &mut h).unwrap();
    let mut h = Recorder::default();
    let before = vm.exits();
    vm.call(tag::PRINT, &args(&[1000]), &mut h).unwrap();
    let exits = vm.exits() - before;
    assert_eq!(h.prints.len(), 1000);
    for (i, (level, text)) in h.prints.iter().enumerate() {
        assert_eq!(text, &format!("line {i}"));
        assert_eq!(*level, (i % 5) as u32);
    }
    assert!(h.flushes > 0, "the 4 KiB buffer must have been flushed");
    assert_eq!(exits, h.flushes as u64 + 1);
    assert!(exits < 20, "prints must be batched, took {exits} exits");
}

#[test]
fn abort_poisons_until_restore() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    let e = vm
        .call(tag::ABORT, b"", &mut Recorder::default())
        .unwrap_err();
    assert!(
        matches!(&e, Error::GuestAbort { code: 42, message } if message == "guest said no"),
        "{e}"
    );
    assert!(vm.poisoned().unwrap().contains("guest said no"));
    let e = vm
        .call(tag::ECHO, b"", &mut Recorder::default())
        .unwrap_err();
    assert!(
        matches!(&e, Error::Poisoned { reason } if reason.contains("guest said no")),
        "{e}"
    );
    assert!(
        matches!(vm.snapshot(), Err(Error::Poisoned { .. })),
        "no snapshot of a poisoned VM"
    );
    vm.restore(&snap).unwrap();
    assert!(vm.poisoned().is_none());
    echo_works(&mut vm);
}

fn fault(e: &Error) -> &GuestFault {
    match e {
        Error::GuestFault(f) => f,
        e => panic!("expected a guest fault, got: {e}"),
    }
}

fn memory_access(e: &Error) -> (u64, Access, &'static str, &'static str) {
    match fault(e).kind {
        FaultKind::MemoryAccess {
            addr,
            access,
            reason,
            region,
        } => (addr, access, reason, region),
        ref k => panic!("expected a memory access fault, got {k:?} ({e})"),
    }
}

fn gp(e: &Error) -> Option<&'static str> {
    match fault(e).kind {
        FaultKind::GeneralProtection { instruction, .. } => instruction,
        ref k => panic!("expected #GP, got {k:?} ({e})"),
    }
}

fn protocol(e: &Error) -> &str {
    match e {
        Error::Protocol(m) => m,
        e => panic!("expected a protocol error, got: {e}"),
    }
}

/// Runs a hostile request, checks the error, then checks that the VM is
/// poisoned and that a restore makes it work again.
fn hostile(vm: &mut Vm, snap: &Snapshot, t: u32, arg: u64, check: impl FnOnce(&Error)) {
    let e = vm
        .call(t, &args(&[arg]), &mut Recorder::default())
        .unwrap_err();
    check(&e);
    assert!(vm.poisoned().is_some(), "tag {t} must poison");
    assert!(matches!(
        vm.call(tag::ECHO, b"", &mut Recorder::default()),
        Err(Error::Poisoned { .. })
    ));
    vm.restore(snap).unwrap();
    echo_works(vm);
}

#[test]
fn wild_memory_accesses_are_reported_with_their_address() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    let l = *vm.layout();
    hostile(&mut vm, &snap, tag::WRITE_ADDR, 0, |e| {
        assert_eq!(
            memory_access(e),
            (0, Access::Write, "not mapped", "the null page")
        );
    });
    hostile(&mut vm, &snap, tag::WRITE_ADDR, l.heap.base - 8, |e| {
        let (addr, _, reason, region) = memory_access(e);
        assert_eq!(
            (addr, reason, region),
            (
                l.heap.base - 8,
                "not mapped",
                "a guard page or unmapped gap"
            )
        );
        assert!(
            e.to_string().contains(&format!("{:#x}", l.heap.base - 8)),
            "{e}"
        );
    });
    hostile(&mut vm, &snap, tag::WRITE_ADDR, 0x8000_0000, |e| {
        assert_eq!(memory_access(e).3, "outside guest memory");
    });
    hostile(&mut vm, &snap, tag::READ_ADDR, layout::GDT_IDT, |e| {
        assert_eq!(
            memory_access(e),
            (
                layout::GDT_IDT,
                Access::Read,
                "a supervisor-only page",
                "the hypervisor's system area"
            )
        );
    });
    hostile(&mut vm, &snap, tag::READ_ADDR, layout::FAULT_INFO, |e| {
        assert_eq!(memory_access(e).2, "a supervisor-only page");
    });
    hostile(&mut vm, &snap, tag::READ_ADDR, l.page_tables.base, |e| {
        assert_eq!(memory_access(e).3, "the page tables");
    });
    hostile(&mut vm, &snap, tag::WRITE_ADDR, l.input.base, |e| {
        assert_eq!(
            memory_access(e),
            (l.input.base, Access::Write, "read-only", "the input buffer")
        );
    });
    hostile(
        &mut vm,
        &snap,
        tag::WRITE_ADDR,
        layout::CONTROL_PAGE + 64,
        |e| {
            assert_eq!(memory_access(e).2, "read-only");
        },
    );
    hostile(&mut vm, &snap, tag::WRITE_ADDR, l.image.base + 16, |e| {
        assert_eq!(
            memory_access(e).2,
            "read-only",
            "the ELF header page is read-only"
        );
    });
    hostile(&mut vm, &snap, tag::EXEC_HEAP, 0, |e| {
        let (addr, access, reason, region) = memory_access(e);
        assert_eq!(
            (addr, access, reason, region),
            (l.heap.base, Access::Execute, "not executable", "the heap")
        );
    });
}

#[test]
fn stack_overflow_is_reported_as_such() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    let l = *vm.layout();
    hostile(&mut vm, &snap, tag::STACK_OVERFLOW, 0, |e| {
        match fault(e).kind {
            FaultKind::StackOverflow { addr } => {
                assert!(addr >= l.stack_guard.base && addr < l.stack.base)
            }
            ref k => panic!("expected a stack overflow, got {k:?}"),
        }
        assert!(e.to_string().contains("stack overflow"), "{e}");
    });
}

#[test]
fn privileged_instructions_are_named() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    for (t, name) in [
        (tag::HLT, "hlt"),
        (tag::CLI, "cli"),
        (tag::MOV_CR3, "mov to/from a control register"),
        (tag::WRMSR, "wrmsr"),
    ] {
        hostile(&mut vm, &snap, t, 0, |e| {
            assert_eq!(gp(e), Some(name));
            assert!(e.to_string().contains(name), "{e}");
        });
    }
    hostile(&mut vm, &snap, tag::UD2, 0, |e| {
        assert_eq!(fault(e).kind, FaultKind::InvalidOpcode)
    });
    hostile(&mut vm, &snap, tag::INT3, 0, |e| {
        assert!(
            matches!(fault(e).kind, FaultKind::Exception { vector: 3, .. }),
            "{e}"
        )
    });
}

#[test]
fn stray_ports_are_refused() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    // A port outside the TSS I/O bitmap: #GP in the guest.
    hostile(&mut vm, &snap, tag::OUT_PORT, 0x80, |e| {
        assert_eq!(gp(e), Some("out"))
    });
    // The guest cannot forge a fault report.
    hostile(
        &mut vm,
        &snap,
        tag::OUT_PORT,
        hyperlight_vm::abi::port::FAULT as u64,
        |e| assert_eq!(gp(e), Some("out")),
    );
    // A 4-byte access to ABORT would touch FAULT's bit too.
    hostile(&mut vm, &snap, tag::OUT_WIDE, 0, |e| {
        assert_eq!(gp(e), Some("out"))
    });
    // `in` on an allowed port exits to the host, which refuses it.
    hostile(&mut vm, &snap, tag::IN_PORT, 0, |e| {
        assert!(protocol(e).contains("`in`"))
    });
}

#[test]
fn absurd_lengths_in_the_protocol_are_caught() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    hostile(&mut vm, &snap, tag::BAD_ANSWER_LEN, 0, |e| {
        assert!(protocol(e).contains("4294967280 bytes"), "{e}")
    });
    hostile(&mut vm, &snap, tag::BAD_HOST_CALL_LEN, 0, |e| {
        assert!(protocol(e).contains("host call request"), "{e}")
    });
    hostile(&mut vm, &snap, tag::BAD_PRINT_USED, 0, |e| {
        assert!(protocol(e).contains("print buffer claims"), "{e}")
    });
    hostile(&mut vm, &snap, tag::BAD_PRINT_RECORD, 0, |e| {
        assert!(
            protocol(e).contains("print record claims 1000 bytes"),
            "{e}"
        )
    });
}

#[test]
fn triple_fault_is_reported_and_the_vcpu_runs_again_after_restore() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    vm.__break_idt_for_tests().unwrap();
    let e = vm
        .call(tag::UD2, b"", &mut Recorder::default())
        .unwrap_err();
    assert_eq!(fault(&e).kind, FaultKind::TripleFault, "{e}");
    vm.restore(&snap).unwrap();
    echo_works(&mut vm);
    // The IDT came back too: faults are reported normally again.
    let e = vm
        .call(tag::UD2, b"", &mut Recorder::default())
        .unwrap_err();
    assert_eq!(fault(&e).kind, FaultKind::InvalidOpcode);
}

#[test]
fn control_page_and_tls_are_set_up() {
    let mut vm = vm();
    let mut h = Recorder::default();
    let a = vm.call(tag::STATE, b"", &mut h).unwrap().payload;
    let b = vm.call(tag::STATE, b"", &mut h).unwrap().payload;
    assert_eq!(u64_at(&a, 0) + 1, u64_at(&b, 0), ".data counter");
    assert_eq!(u64_at(&a, 2) + 1, u64_at(&b, 2), "request_seq");
    assert_eq!(
        u64_at(&a, 3),
        layout::TLS_PAGE,
        "fs:0 is the TLS self pointer"
    );
    assert_ne!(u64_at(&a, 4), 0, "stack canary at fs:0x28");
    assert_ne!(
        u64_at(&a, 5),
        u64_at(&b, 5),
        "entropy is refreshed per request"
    );
}

fn dirty_restore_is_exact(pages: u64) {
    let mut vm = vm();
    let mut h = Recorder::default();
    vm.call(tag::SSE, &args(&[7]), &mut h).unwrap();
    let snap = vm.snapshot().unwrap();
    let end = vm.layout().page_tables.base as usize;
    let mem0 = vm.memory()[..end].to_vec();
    assert!(snap.memory() == &mem0[..], "snapshot copies memory");
    let regs0 = vm.regs().unwrap();
    let sregs0 = vm.sregs().unwrap();
    let state0 = vm.call(tag::STATE, b"", &mut h).unwrap().payload;
    vm.restore(&snap).unwrap();
    // Registers after the same call from the same state are the same: this
    // shows the restored registers were really loaded into the vCPU.
    vm.call(tag::ECHO, b"regs", &mut h).unwrap();
    let regs_after_echo = vm.regs().unwrap();
    assert_ne!(format!("{regs_after_echo:?}"), format!("{regs0:?}"));
    vm.restore(&snap).unwrap();
    for round in 0..3u64 {
        vm.call(tag::DIRTY, &args(&[pages, 1000 + round]), &mut h)
            .unwrap();
        vm.call(tag::SSE, &args(&[99 + round]), &mut h).unwrap();
        vm.call(tag::PRINT, &args(&[5]), &mut h).unwrap();
        if pages > 0 {
            assert_ne!(&vm.memory()[..end], &mem0[..]);
        }
        vm.restore(&snap).unwrap();
        let same = vm.memory()[..end] == mem0[..];
        if !same {
            let diff: Vec<usize> = (0..end / 4096)
                .filter(|p| vm.memory()[p * 4096..(p + 1) * 4096] != mem0[p * 4096..(p + 1) * 4096])
                .collect();
            panic!("memory differs after restore ({pages} pages dirtied) in pages {diff:x?}");
        }
        let regs = vm.regs().unwrap();
        assert_eq!(format!("{regs:?}"), format!("{regs0:?}"));
        assert_eq!(format!("{:?}", vm.sregs().unwrap()), format!("{sregs0:?}"));
        // The guest sees exactly the snapshot's state (request_seq differs:
        // the host counts requests across restores).
        let state = vm.call(tag::STATE, b"", &mut h).unwrap().payload;
        assert_eq!(u64_at(&state, 0), u64_at(&state0, 0));
        assert_eq!(u64_at(&state, 1), u64_at(&state0, 1));
        vm.restore(&snap).unwrap();
        vm.call(tag::ECHO, b"regs", &mut h).unwrap();
        assert_eq!(
            format!("{:?}", vm.regs().unwrap()),
            format!("{regs_after_echo:?}")
        );
        vm.restore(&snap).unwrap();
    }
}

#[test]
fn restore_after_dirtying_0_pages_is_exact() {
    dirty_restore_is_exact(0);
}

#[test]
fn restore_after_dirtying_16_pages_is_exact() {
    dirty_restore_is_exact(16);
}

#[test]
fn restore_after_dirtying_4096_pages_is_exact() {
    dirty_restore_is_exact(4096);
}

#[test]
fn restore_brings_back_sse_registers() {
    let mut vm = vm();
    let mut h = Recorder::default();
    vm.call(tag::SSE, &args(&[7]), &mut h).unwrap();
    let snap = vm.snapshot().unwrap();
    let xmm1 = |vm: &mut Vm| {
        u64_at(
            &vm.call(tag::READ_XMM1, b"", &mut Recorder::default())
                .unwrap()
                .payload,
            0,
        )
    };
    assert_eq!(xmm1(&mut vm), 14);
    vm.call(tag::SSE, &args(&[1000]), &mut h).unwrap();
    assert_eq!(xmm1(&mut vm), 2000);
    vm.restore(&snap).unwrap();
    assert_eq!(xmm1(&mut vm), 14);
    // Also after a crash (the full restore path).
    vm.call(tag::SSE, &args(&[5]), &mut h).unwrap();
    vm.call(tag::UD2, b"", &mut h).unwrap_err();
    vm.restore(&snap).unwrap();
    assert_eq!(xmm1(&mut vm), 14);
}

#[test]
fn switching_between_snapshots_restores_each_exactly() {
    let mut vm = vm();
    let mut h = Recorder::default();
    let end = vm.layout().page_tables.base as usize;
    let a = vm.snapshot().unwrap();
    let mem_a = vm.memory()[..end].to_vec();
    vm.call(tag::DIRTY, &args(&[100, 5]), &mut h).unwrap();
    let b = vm.snapshot().unwrap();
    let mem_b = vm.memory()[..end].to_vec();
    vm.call(tag::DIRTY, &args(&[50, 9]), &mut h).unwrap();
    vm.restore(&a).unwrap();
    assert!(vm.memory()[..end] == mem_a[..]);
    vm.call(tag::DIRTY, &args(&[10, 3]), &mut h).unwrap();
    vm.restore(&b).unwrap();
    assert!(vm.memory()[..end] == mem_b[..]);
    vm.restore(&a).unwrap();
    assert!(vm.memory()[..end] == mem_a[..]);
    echo_works(&mut vm);
}

#[test]
fn a_foreign_snapshot_is_refused() {
    let mut one = vm();
    let mut two = vm();
    let s = one.snapshot().unwrap();
    let e = two.restore(&s).unwrap_err();
    assert!(
        matches!(e, Error::ForeignSnapshot { snapshot, vm } if snapshot == one.id() && vm == two.id()),
        "{e}"
    );
    assert_eq!(s.lineage(), one.id());
    echo_works(&mut two);
}

#[test]
fn kill_stops_an_infinite_loop_and_poisons() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    let handle = vm.interrupt_handle();
    let killer = kill_when_running(handle, Duration::from_millis(50));
    let e = vm
        .call(tag::LOOP, b"", &mut Recorder::default())
        .unwrap_err();
    killer.join().unwrap();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(
        vm.poisoned().unwrap().contains("killed"),
        "{:?}",
        vm.poisoned()
    );
    vm.restore(&snap).unwrap();
    echo_works(&mut vm);
}

#[test]
fn a_kill_between_calls_does_not_leak_into_the_next_call() {
    let mut vm = vm();
    let handle = vm.interrupt_handle();
    assert!(!handle.kill(), "no call is running");
    let h2 = handle.clone();
    thread::spawn(move || assert!(!h2.kill())).join().unwrap();
    // These calls must not be cancelled.
    for _ in 0..3 {
        vm.call(tag::FLUSH_SPIN, &args(&[50]), &mut Recorder::default())
            .unwrap();
    }
    assert!(vm.poisoned().is_none());
}

#[test]
fn kill_during_a_host_call_cancels_when_the_callback_returns() {
    let mut vm = vm();
    let snap = vm.snapshot().unwrap();
    let handle = vm.interrupt_handle();
    let mut h = Recorder {
        block_until_cancelled: true,
        ..Default::default()
    };
    let entered = h.entered.clone();
    let killer = thread::spawn(move || {
        while !entered.load(std::sync::atomic::Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(handle.kill(), "a call is running");
    });
    let e = vm.call(tag::HOST_CALLS, &args(&[1]), &mut h).unwrap_err();
    killer.join().unwrap();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(h.saw_cancel, "the callback observed the cancellation");
    vm.restore(&snap).unwrap();
    echo_works(&mut vm);
}

#[test]
fn a_polite_interrupt_lets_the_guest_stop_by_itself() {
    let mut vm = vm();
    let handle = vm.interrupt_handle();
    assert!(!handle.request_interrupt(), "no call is running");
    let t = thread::spawn(move || {
        while !handle.request_interrupt() {
            thread::sleep(Duration::from_millis(1));
        }
    });
    let r = vm
        .call(tag::POLITE_LOOP, b"", &mut Recorder::default())
        .unwrap();
    t.join().unwrap();
    assert_eq!(r.payload, b"interrupted");
    assert!(vm.poisoned().is_none());
    echo_works(&mut vm);
}

#[test]
fn sixty_four_vms_at_once() {
    require_kvm();
    let config = VmConfig {
        heap_size: 1 << 20,
        ..VmConfig::default()
    };
    let mut vms: Vec<Vm> = (0..64)
        .map(|_| Vm::new(&config, guest_elf()).unwrap())
        .collect();
    for (i, vm) in vms.iter_mut().enumerate() {
        let msg = format!("vm {i}");
        assert_eq!(
            vm.call(tag::ECHO, msg.as_bytes(), &mut Recorder::default())
                .unwrap()
                .payload,
            msg.as_bytes()
        );
    }
    // And in parallel, each on its own thread.
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = vms
        .drain(..8)
        .map(|mut vm| {
            let b = barrier.clone();
            thread::spawn(move || {
                b.wait();
                for _ in 0..20 {
                    vm.call(tag::HOST_CALLS, &args(&[3]), &mut Recorder::default())
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn bad_configs_and_images_are_clear_errors() {
    require_kvm();
    let e = Vm::new(
        &VmConfig {
            heap_size: 0,
            ..VmConfig::default()
        },
        guest_elf(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("heap_size is 0")),
        "{e}"
    );
    let e = Vm::new(
        &VmConfig {
            output_size: 1 << 30,
            ..VmConfig::default()
        },
        guest_elf(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("output_size")),
        "{e}"
    );
    let e = Vm::new(
        &VmConfig::default(),
        b"not an elf at all, not even close to being one; sixty-four bytes",
    )
    .unwrap_err();
    assert!(matches!(&e, Error::Elf(_)), "{e}");
    let mut truncated = guest_elf().to_vec();
    truncated.truncate(200);
    assert!(matches!(
        Vm::new(&VmConfig::default(), &truncated),
        Err(Error::Elf(_))
    ));
}

#[test]
fn guest_memory_regions_have_the_documented_permissions() {
    let vm = vm();
    let l = *vm.layout();
    // Page tables sit after everything the guest can see.
    assert!(l.page_tables.base >= l.print.end() + PAGE_SIZE);
    assert_eq!(l.total, l.page_tables.end());
    assert_eq!(vm.memory().len() as u64, l.total);
    // The host wrote the TLS self pointer and the control page magic.
    let m = vm.memory();
    let tls = layout::TLS_PAGE as usize;
    assert_eq!(
        u64::from_le_bytes(m[tls..tls + 8].try_into().unwrap()),
        layout::TLS_PAGE
    );
    let cp = layout::CONTROL_PAGE as usize;
    assert_eq!(&m[cp..cp + 8], b"HLJSCTRL");
}

// ---------------------------------------------------------------------
// Sparse snapshots

#[test]
fn snapshots_store_only_the_pages_that_were_written() {
    let mut vm = vm();
    let total_pages = vm.layout().page_tables.base / PAGE_SIZE;
    let a = vm.snapshot().unwrap();
    // A booted test guest has written a few dozen pages of ~5000.
    assert!(
        a.stored_pages() > 0 && a.stored_pages() < 100,
        "{} of {total_pages} pages stored",
        a.stored_pages()
    );
    let mut h = Recorder::default();
    vm.call(tag::DIRTY, &args(&[500, 3]), &mut h).unwrap();
    let b = vm.snapshot().unwrap();
    assert!(b.stored_pages() >= a.stored_pages() + 500);
    assert!(b.stored_pages() < a.stored_pages() + 520);
    // The stored pages are exactly the non-zero ones but for the image's
    // read-only pages, which are shared, not stored: memory() still equals
    // all of guest memory below the page tables.
    let end = vm.layout().page_tables.base as usize;
    assert!(b.memory() == &vm.memory()[..end]);
    let nonzero = vm.memory()[..end]
        .chunks(PAGE_SIZE as usize)
        .filter(|p| p.iter().any(|&x| x != 0))
        .count();
    let shared = (vm.shared_image_bytes() / PAGE_SIZE) as usize;
    assert!(shared > 0, "the test guest's code is shared");
    assert_eq!(b.stored_pages() + shared, nonzero);
}

/// The `/proc/self/maps` line of the mapping that holds host address `addr`.
fn mapping_of(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .find(|l| {
            let range = l.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            let (a, b) = (
                usize::from_str_radix(a, 16).unwrap(),
                usize::from_str_radix(b, 16).unwrap(),
            );
            (a..b).contains(&addr)
        })
        .unwrap_or_else(|| panic!("no mapping holds {addr:#x}"))
        .to_string()
}

#[test]
fn the_image_code_is_one_shared_read_only_file_for_every_vm() {
    let mut a = vm();
    let mut b = vm();
    let t = Template::new(&VmConfig::default(), guest_elf()).unwrap();
    let mut c = Vm::from_template(&t).unwrap();
    // The entry point is in the code: read-only for the guest and shared.
    let base = a.layout().image.base as usize;
    let line = |vm: &Vm| {
        let l = mapping_of(vm.memory().as_ptr() as usize + base);
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(f[1], "r--s", "read-only and shared: {l}");
        assert!(l.contains("memfd:hyperlight-image"), "{l}");
        f[4].to_string() // inode
    };
    let inode = line(&a);
    assert_eq!(line(&b), inode, "one file for every VM of the image");
    assert_eq!(line(&c), inode, "template children map it too");
    assert!(a.shared_image_bytes() > 0);
    assert_eq!(t.shared_image_bytes(), a.shared_image_bytes());
    // They run, and restores and snapshots keep working around the file.
    echo_works(&mut a);
    echo_works(&mut b);
    echo_works(&mut c);
    let s = c.snapshot().unwrap();
    assert!(s.memory()[base..base + 4096] == c.memory()[base..base + 4096]);
    c.restore(t.snapshot()).unwrap();
    echo_works(&mut c);
}

#[test]
fn sparse_snapshots_round_trip_when_switching_and_zeroing() {
    let mut vm = vm();
    let mut h = Recorder::default();
    let end = vm.layout().page_tables.base as usize;
    vm.call(tag::DIRTY, &args(&[40, 1]), &mut h).unwrap();
    let a = vm.snapshot().unwrap();
    let mem_a = vm.memory()[..end].to_vec();
    vm.call(tag::DIRTY, &args(&[300, 2]), &mut h).unwrap();
    vm.call(tag::SSE, &args(&[3]), &mut h).unwrap();
    let b = vm.snapshot().unwrap();
    let mem_b = vm.memory()[..end].to_vec();
    for round in 0..3u64 {
        // Dirty pages present in neither, in one, in both.
        vm.call(tag::DIRTY, &args(&[700, 10 + round]), &mut h)
            .unwrap();
        vm.restore(&a).unwrap();
        assert!(vm.memory()[..end] == mem_a[..], "round {round}: a");
        vm.call(tag::DIRTY, &args(&[20, 20 + round]), &mut h)
            .unwrap();
        vm.restore(&b).unwrap();
        assert!(vm.memory()[..end] == mem_b[..], "round {round}: b");
        // Same-sync-point restore of b after dirtying pages absent from b
        // (they must become zero again).
        vm.call(tag::DIRTY, &args(&[900, 30 + round]), &mut h)
            .unwrap();
        vm.restore(&b).unwrap();
        assert!(vm.memory()[..end] == mem_b[..], "round {round}: b again");
        vm.restore(&a).unwrap();
        assert!(vm.memory()[..end] == mem_a[..], "round {round}: a again");
    }
    // A snapshot taken after restoring a stores only a's pages.
    let c = vm.snapshot().unwrap();
    assert_eq!(c.stored_pages(), a.stored_pages());
    echo_works(&mut vm);
}

// ---------------------------------------------------------------------
// Templates

fn template(mode: ChildMemory) -> Template {
    require_kvm();
    let vm = Vm::new(&VmConfig::default(), guest_elf()).unwrap();
    Template::from_vm_with(vm, mode).unwrap()
}

const MODES: [ChildMemory; 2] = [ChildMemory::Copy, ChildMemory::CopyOnWrite];

#[test]
fn template_children_answer_calls_with_one_exit() {
    for mode in MODES {
        let t = template(mode);
        assert_eq!(t.child_memory(), mode);
        for _ in 0..3 {
            let mut vm = Vm::from_template(&t).unwrap();
            assert_eq!(vm.template_id(), Some(t.id()));
            assert_ne!(vm.id(), t.id());
            assert_eq!(vm.layout(), t.layout());
            let mut h = Recorder::default();
            let r = vm.call(tag::ECHO, b"from a template", &mut h).unwrap();
            assert_eq!(r.payload, b"from a template");
            assert_eq!(vm.exits(), 1, "{mode:?}: one exit for the first call");
            let r = vm.call(tag::HOST_CALLS, &args(&[4]), &mut h).unwrap();
            assert_eq!(u64_at(&r.payload, 0), 12);
            vm.call(tag::PRINT, &args(&[3]), &mut h).unwrap();
            assert_eq!(h.prints.len(), 3);
        }
    }
}

#[test]
fn a_template_child_continues_exactly_where_the_template_stopped() {
    require_kvm();
    let mut h = Recorder::default();
    let mut vm = Vm::new(&VmConfig::default(), guest_elf()).unwrap();
    vm.call(tag::DIRTY, &args(&[64, 7]), &mut h).unwrap();
    let before = vm.call(tag::STATE, b"", &mut h).unwrap().payload;
    // Last, so that nothing clobbers xmm1 before the child reads it.
    vm.call(tag::SSE, &args(&[21]), &mut h).unwrap();
    let end = vm.layout().page_tables.base as usize;
    let total = vm.layout().total as usize;
    let mem = vm.memory()[..total].to_vec();
    let t = Template::from_vm(vm).unwrap();
    assert!(t.snapshot().memory() == &mem[..end]);
    for mode in MODES {
        let t = if mode == ChildMemory::Copy {
            t.clone()
        } else {
            let mut vm = Vm::new(&VmConfig::default(), guest_elf()).unwrap();
            vm.call(tag::DIRTY, &args(&[64, 7]), &mut h).unwrap();
            vm.call(tag::STATE, b"", &mut h).unwrap();
            vm.call(tag::SSE, &args(&[21]), &mut h).unwrap();
            Template::from_vm_with(vm, mode).unwrap()
        };
        let mut child = Vm::from_template(&t).unwrap();
        // Byte-identical memory, page tables included (they differ from a
        // fresh boot only if the layout differed).
        let same_mem = child.memory()[..end] == t.snapshot().memory()[..];
        assert!(same_mem, "{mode:?}");
        assert!(child.memory()[end..total] == mem[end..total], "page tables");
        // SSE state came along.
        let x = child.call(tag::READ_XMM1, b"", &mut h).unwrap().payload;
        assert_eq!(u64_at(&x, 0), 42, "{mode:?}");
        // STATE, SSE, READ_XMM1, STATE: three calls later.
        let st = child.call(tag::STATE, b"", &mut h).unwrap().payload;
        assert_eq!(u64_at(&st, 0), u64_at(&before, 0) + 3, ".data counter");
        assert_eq!(u64_at(&st, 1), u64_at(&before, 1) + 3, ".bss counter");
        assert_eq!(u64_at(&st, 2), u64_at(&before, 2) + 3, "request_seq");
        if mode == ChildMemory::Copy {
            // (The CopyOnWrite template was booted separately.)
            assert_eq!(u64_at(&st, 4), u64_at(&before, 4), "same canary");
        }
        assert_ne!(u64_at(&st, 5), u64_at(&before, 5), "fresh entropy");
    }
}

#[test]
fn template_state_restores_into_a_child_byte_identically() {
    for mode in MODES {
        let t = template(mode);
        let end = t.layout().page_tables.base as usize;
        let tmem = t.snapshot().memory().to_vec();
        let mut vm = Vm::from_template(&t).unwrap();
        let regs0 = vm.regs().unwrap();
        let sregs0 = vm.sregs().unwrap();
        let mut h = Recorder::default();
        for (round, pages) in [0u64, 16, 300, 4096].into_iter().enumerate() {
            vm.call(tag::DIRTY, &args(&[pages, round as u64]), &mut h)
                .unwrap();
            vm.call(tag::SSE, &args(&[5 + round as u64]), &mut h)
                .unwrap();
            vm.restore(t.snapshot()).unwrap();
            assert!(
                vm.memory()[..end] == tmem[..],
                "{mode:?}: {pages} pages dirtied"
            );
            assert_eq!(format!("{:?}", vm.regs().unwrap()), format!("{regs0:?}"));
            assert_eq!(format!("{:?}", vm.sregs().unwrap()), format!("{sregs0:?}"));
            let st = vm.call(tag::STATE, b"", &mut h).unwrap().payload;
            assert_eq!(u64_at(&st, 0), 1001, "the template's .data counter + 1");
            vm.restore(t.snapshot()).unwrap();
        }
        // A child's own snapshot, then back to the template's and again.
        vm.call(tag::DIRTY, &args(&[50, 9]), &mut h).unwrap();
        let own = vm.snapshot().unwrap();
        let own_mem = vm.memory()[..end].to_vec();
        vm.restore(t.snapshot()).unwrap();
        assert!(vm.memory()[..end] == tmem[..]);
        vm.restore(&own).unwrap();
        assert!(vm.memory()[..end] == own_mem[..]);
        vm.restore(t.snapshot()).unwrap();
        assert!(vm.memory()[..end] == tmem[..]);
        echo_works(&mut vm);
    }
}

#[test]
fn template_children_do_not_see_each_other() {
    for mode in MODES {
        let t = template(mode);
        let mut one = Vm::from_template(&t).unwrap();
        let mut two = Vm::from_template(&t).unwrap();
        let mut h = Recorder::default();
        let heap = one.layout().heap.base;
        let data = |vm: &mut Vm| {
            u64_at(
                &vm.call(tag::STATE, b"", &mut Recorder::default())
                    .unwrap()
                    .payload,
                0,
            )
        };
        one.call(tag::DIRTY, &args(&[10, 5]), &mut h).unwrap();
        assert_eq!(data(&mut one), 1002);
        assert_eq!(data(&mut two), 1001, "{mode:?}");
        let read = |vm: &mut Vm, addr: u64| {
            u64_at(
                &vm.call(tag::READ_ADDR, &args(&[addr]), &mut Recorder::default())
                    .unwrap()
                    .payload,
                0,
            )
        };
        let addr = heap + 5 * 8;
        assert_eq!(read(&mut one, addr), 6);
        assert_eq!(read(&mut two, addr), 0, "{mode:?}");
        // The template itself is unchanged.
        let mut three = Vm::from_template(&t).unwrap();
        assert!(three.memory()[..t.snapshot().memory().len()] == t.snapshot().memory()[..]);
        assert_eq!(read(&mut three, addr), 0);
    }
}

#[test]
fn snapshots_of_other_vms_are_refused_by_template_children() {
    let t = template(ChildMemory::Copy);
    let other = template(ChildMemory::Copy);
    let mut a = Vm::from_template(&t).unwrap();
    let mut b = Vm::from_template(&t).unwrap();
    let mut plain = vm();
    // Another template's state.
    let e = a.restore(other.snapshot()).unwrap_err();
    assert!(
        matches!(e, Error::ForeignSnapshot { snapshot, vm } if snapshot == other.id() && vm == a.id()),
        "{e}"
    );
    // A plain VM is not in the family.
    let e = plain.restore(t.snapshot()).unwrap_err();
    assert!(matches!(e, Error::ForeignSnapshot { .. }), "{e}");
    // A sibling's own snapshot belongs to the sibling.
    let sa = a.snapshot().unwrap();
    assert_eq!(sa.lineage(), a.id());
    let e = b.restore(&sa).unwrap_err();
    assert!(matches!(e, Error::ForeignSnapshot { .. }), "{e}");
    // A plain VM's snapshot is refused by a child.
    let sp = plain.snapshot().unwrap();
    assert!(matches!(a.restore(&sp), Err(Error::ForeignSnapshot { .. })));
    assert_eq!(t.snapshot().lineage(), t.id());
    echo_works(&mut a);
    echo_works(&mut b);
    echo_works(&mut plain);
}

#[test]
fn kill_and_poisoning_work_in_template_children() {
    for mode in MODES {
        let t = template(mode);
        let end = t.layout().page_tables.base as usize;
        let mut vm = Vm::from_template(&t).unwrap();
        // Kill as the first thing the child does.
        let handle = vm.interrupt_handle();
        assert!(!handle.kill(), "no call is running");
        let killer = kill_when_running(handle, Duration::from_millis(20));
        let e = vm
            .call(tag::LOOP, b"", &mut Recorder::default())
            .unwrap_err();
        killer.join().unwrap();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert!(matches!(
            vm.call(tag::ECHO, b"", &mut Recorder::default()),
            Err(Error::Poisoned { .. })
        ));
        assert!(matches!(vm.snapshot(), Err(Error::Poisoned { .. })));
        vm.restore(t.snapshot()).unwrap();
        echo_works(&mut vm);
        // Crashes, each followed by a restore of the template state.
        for (tg, arg) in [(tag::UD2, 0), (tag::WRITE_ADDR, 0), (tag::ABORT, 0)] {
            vm.call(tg, &args(&[arg]), &mut Recorder::default())
                .unwrap_err();
            assert!(vm.poisoned().is_some());
            vm.restore(t.snapshot()).unwrap();
            assert!(vm.memory()[..end] == t.snapshot().memory()[..]);
            echo_works(&mut vm);
        }
        // A triple fault (ring 0 could not handle the exception).
        vm.__break_idt_for_tests().unwrap();
        let e = vm
            .call(tag::UD2, b"", &mut Recorder::default())
            .unwrap_err();
        assert!(
            matches!(fault(&e).kind, FaultKind::TripleFault),
            "{mode:?}: {e}"
        );
        vm.restore(t.snapshot()).unwrap();
        assert!(vm.memory()[..end] == t.snapshot().memory()[..]);
        echo_works(&mut vm);
    }
}

#[test]
fn a_poisoned_vm_cannot_become_a_template() {
    let mut vm = vm();
    vm.call(tag::ABORT, b"", &mut Recorder::default())
        .unwrap_err();
    assert!(matches!(Template::from_vm(vm), Err(Error::Poisoned { .. })));
}

#[test]
fn one_template_serves_threads_and_outlives_its_children() {
    let t = template(ChildMemory::Copy);
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            thread::spawn(move || {
                for j in 0..8 {
                    let mut vm = Vm::from_template(&t).unwrap();
                    let msg = format!("thread {i} vm {j}");
                    let r = vm
                        .call(tag::ECHO, msg.as_bytes(), &mut Recorder::default())
                        .unwrap();
                    assert_eq!(r.payload, msg.as_bytes());
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    // Children keep working after the last handle to the template is gone.
    let mut vm = Vm::from_template(&t).unwrap();
    let snap = t.snapshot().clone();
    drop(t);
    vm.call(tag::DIRTY, &args(&[10, 1]), &mut Recorder::default())
        .unwrap();
    vm.restore(&snap).unwrap();
    echo_works(&mut vm);
}

#[test]
fn a_template_can_be_made_from_a_child() {
    let t = template(ChildMemory::Copy);
    let mut child = Vm::from_template(&t).unwrap();
    child
        .call(tag::DIRTY, &args(&[5, 1]), &mut Recorder::default())
        .unwrap();
    let t2 = Template::from_vm(child).unwrap();
    let mut grandchild = Vm::from_template(&t2).unwrap();
    assert_eq!(grandchild.template_id(), Some(t2.id()));
    // The first template's state is foreign to the second family.
    assert!(matches!(
        grandchild.restore(t.snapshot()),
        Err(Error::ForeignSnapshot { .. })
    ));
    let st = grandchild
        .call(tag::STATE, b"", &mut Recorder::default())
        .unwrap()
        .payload;
    assert_eq!(u64_at(&st, 0), 1002);
}

/// Kills the call running in the VM once one is running, trying from
/// `after` on (the vCPU thread may be slow to start, and a kill while no
/// call runs does nothing).
fn kill_when_running(handle: InterruptHandle, after: Duration) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(after);
        while !handle.kill() {
            thread::sleep(Duration::from_millis(1));
        }
    })
}
