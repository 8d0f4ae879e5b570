//! The guest half of the exit-less warm path (`hyperlight_abi::Mailbox`).
//!
//! After answering a request the guest either hands the answer to a host
//! thread that spins for it (no exit) or exits on DONE as before, and then,
//! when the host asks it to, polls the mailbox for the next request for a
//! bounded window instead of waiting in an exit. See `docs/warm-path.md`.
//!
//! The mailbox page is guest read-write and the host writes it from other
//! threads while the guest runs, so every access to its two state words is
//! an atomic operation on a raw pointer; the other fields are read with
//! volatile loads.

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use hyperlight_abi::{layout, mailbox as mb, port, Mailbox};

use crate::arch;

fn page() -> *mut Mailbox {
    layout::MAILBOX as *mut Mailbox
}

fn request_word() -> &'static AtomicU32 {
    let p = page();
    // SAFETY: the mailbox page is mapped read-write for ring 3 for the
    // guest's whole life; `request` is 4-byte aligned (checked by the ABI's
    // tests) and only ever accessed atomically.
    unsafe { AtomicU32::from_ptr(ptr::addr_of_mut!((*p).request)) }
}

fn reply_word() -> &'static AtomicU32 {
    let p = page();
    // SAFETY: as in `request_word`.
    unsafe { AtomicU32::from_ptr(ptr::addr_of_mut!((*p).reply)) }
}

/// The mailbox's diagnostic counters.
#[derive(Clone, Copy)]
enum Counter {
    Taken,
    Idle,
    Preempted,
    HostCalls,
}

fn counter(c: Counter) -> *mut u64 {
    let p = page();
    // SAFETY: only computes a field address inside the mailbox page (no
    // access).
    unsafe {
        match c {
            Counter::Taken => ptr::addr_of_mut!((*p).taken),
            Counter::Idle => ptr::addr_of_mut!((*p).idle),
            Counter::Preempted => ptr::addr_of_mut!((*p).preempted),
            Counter::HostCalls => ptr::addr_of_mut!((*p).host_calls),
        }
    }
}

fn bump(c: Counter) {
    let field = counter(c);
    // SAFETY: `field` points into the mailbox page; only the guest writes
    // the counters, and only the guest runs on the vCPU.
    unsafe { ptr::write_volatile(field, ptr::read_volatile(field).wrapping_add(1)) }
}

/// The host-written settings: (poll window, preemption gap), in TSC ticks.
fn settings() -> (u64, u64) {
    let p = page();
    // SAFETY: plain 64-bit fields of the mailbox page (see `page`), written
    // by the host only while the vCPU is stopped.
    unsafe {
        (
            ptr::read_volatile(ptr::addr_of!((*p).poll_window_tsc)),
            ptr::read_volatile(ptr::addr_of!((*p).preempted_tsc)),
        )
    }
}

/// Called after the answer to a request is in the output buffer. Delivers
/// it (through the mailbox if a host thread spins for it, else by an exit)
/// and returns when the next request is in the input buffer.
pub fn next_request() {
    let handed = reply_word()
        .compare_exchange(mb::SPIN, mb::READY, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    // The collection the call asked for runs after the host has the answer
    // when it took it from memory, before the exit otherwise (so that what
    // the host snapshots after the call is collected).
    crate::handlers::run_pending_gc();
    if !handed {
        arch::out(port::DONE, mb::DONE_ANSWER);
        crate::time::resumed();
    }
    // Poll as long as the host asks for it (the flag is set by the host
    // before each resume, and left set while the warm path is on).
    while poll_requested() {
        if poll() {
            crate::time::resumed();
            return;
        }
        arch::out(port::DONE, mb::DONE_IDLE);
        crate::time::resumed();
    }
}

fn poll_requested() -> bool {
    let p = page();
    // SAFETY: a plain 32-bit field of the mailbox page (see `page`).
    unsafe { ptr::read_volatile(ptr::addr_of!((*p).poll)) != 0 }
}

/// Spins for a posted request. `true`: one was taken (it is in the input
/// buffer); `false`: the window ended (or the host asked us to leave, or
/// the vCPU was descheduled) and the request word is back to IDLE.
fn poll() -> bool {
    let (window, preempted) = settings();
    let preempted = preempted.max(1);
    let req = request_word();
    if window == 0 {
        return false;
    }
    // From TAKEN (the last request) or IDLE to POLLING, unless the host
    // asked us to leave meanwhile (LEAVE).
    let cur = req.load(Ordering::Acquire);
    if cur == mb::LEAVE
        || req
            .compare_exchange(cur, mb::POLLING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return leave(mb::IDLE);
    }
    let start = arch::rdtsc();
    let mut last = start;
    loop {
        match req.load(Ordering::Acquire) {
            mb::POSTED => return take(),
            mb::POLLING => {}
            // LEAVE or anything else: stop polling.
            _ => return leave(mb::IDLE),
        }
        let now = arch::rdtsc();
        let gap = now.wrapping_sub(last);
        if gap > preempted {
            // A gap far longer than one iteration: the vCPU thread was
            // descheduled, so something else wants this core. Polling now
            // would steal it from the thread that would answer.
            bump(Counter::Preempted);
            return leave_polling();
        }
        if now.wrapping_sub(start) > window {
            bump(Counter::Idle);
            return leave_polling();
        }
        last = now;
        core::hint::spin_loop();
    }
}

/// Moves POLLING → IDLE; if the host posted in the meantime, takes it.
fn leave_polling() -> bool {
    match request_word().compare_exchange(
        mb::POLLING,
        mb::IDLE,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => false,
        Err(mb::POSTED) => take(),
        Err(_) => leave(mb::IDLE),
    }
}

fn leave(state: u32) -> bool {
    request_word().store(state, Ordering::Release);
    false
}

fn take() -> bool {
    request_word().store(mb::TAKEN, Ordering::Release);
    bump(Counter::Taken);
    true
}

/// Runs the host call whose request is in the output buffer; returns when
/// its answer is in the input buffer.
///
/// While a host thread spins for the answer of the current request (the
/// reply word says `SPIN`), the call is parked in the mailbox instead of
/// exiting: that thread runs the host function and answers in memory. The
/// guest spins for the answer with the polling rules (at most the window,
/// and not at all once its vCPU was descheduled); every state change both
/// sides may attempt is a compare-and-swap. Otherwise, or when nobody takes
/// the call in time, it exits on `HOST_CALL` as always.
pub fn host_call() {
    let reply = reply_word();
    if reply
        .compare_exchange(mb::SPIN, mb::HOST_CALL, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        arch::exit_host_call();
        return;
    }
    let (window, preempted) = settings();
    let preempted = preempted.max(1);
    let mut start = arch::rdtsc();
    let mut last = start;
    loop {
        let now = arch::rdtsc();
        let late = now.wrapping_sub(last) > preempted || now.wrapping_sub(start) > window;
        last = now;
        match reply.load(Ordering::Acquire) {
            mb::HOST_ANSWER => {
                match reply.compare_exchange(
                    mb::HOST_ANSWER,
                    mb::SPIN,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        bump(Counter::HostCalls);
                        return;
                    }
                    // The host thread stopped spinning meanwhile (GONE):
                    // look again.
                    Err(_) => continue,
                }
            }
            s if s == mb::HOST_ANSWER | mb::GONE => {
                // Nobody spins for the request's answer any more: it goes
                // out by an exit.
                reply.store(mb::SLEEP, Ordering::Release);
                bump(Counter::HostCalls);
                return;
            }
            mb::HOST_CALL => {
                if late
                    && reply
                        .compare_exchange(
                            mb::HOST_CALL,
                            mb::SLEEP,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_ok()
                {
                    arch::exit_host_call();
                    return;
                }
            }
            s if s == mb::HOST_RUNNING || s == mb::HOST_RUNNING | mb::GONE => {
                if late {
                    // The host function takes a while: wait for it in an
                    // exit rather than on the core.
                    arch::out(port::HOST_CALL, mb::HOST_CALL_WAIT);
                    crate::time::resumed();
                    start = arch::rdtsc();
                    last = start;
                    continue;
                }
            }
            // SLEEP (the host thread let the call go) or anything else: the
            // host call goes out by an exit, as always.
            _ => {
                arch::exit_host_call();
                return;
            }
        }
        core::hint::spin_loop();
    }
}
