//! The host half of the exit-less warm path: posting a request to a guest
//! that polls its mailbox, and taking the answer without a VM exit.
//!
//! The protocol is [`hyperlight_abi::Mailbox`]'s; the sequence, the races
//! and the costs are in `docs/warm-path.md`. In short: the VM's own thread
//! sits in [`crate::Vm::poll_mailbox`] (inside `KVM_RUN`) while the guest
//! spins on the mailbox for a bounded window; another thread (in Node, the
//! JavaScript thread) writes a request, rings, and spins for the answer.
//! Kills, monitors and host calls keep working: a posted request is a call
//! with its own generation, killed by the same kick of the vCPU thread.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hyperlight_abi::{
    layout, mailbox, ControlPage, Mailbox, MsgHeader, ENTROPY_BYTES, HOST_ERROR_TAG,
    MSG_HEADER_SIZE,
};

use crate::config::Layout;
use crate::interrupt::{CancelToken, Shared};
use crate::vm::{drain_print_buffer, now_ns, parse_print_buffer, random_bytes, Response};
use crate::{Error, Result};

/// A gap this long between two polling iterations of the guest means its
/// vCPU thread was descheduled: the guest stops polling at once.
pub(crate) const PREEMPTED_GAP: Duration = Duration::from_micros(30);

/// TSC ticks per nanosecond on this host, measured once per process against
/// `CLOCK_MONOTONIC` over 200 µs (the guest's windows are in TSC ticks).
pub(crate) fn tsc_per_ns() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(|| {
        let t0 = Instant::now();
        // SAFETY: `rdtsc` only reads the time-stamp counter.
        let c0 = unsafe { core::arch::x86_64::_rdtsc() };
        while t0.elapsed() < Duration::from_micros(200) {
            std::hint::spin_loop();
        }
        // SAFETY: as above.
        let c1 = unsafe { core::arch::x86_64::_rdtsc() };
        let ns = t0.elapsed().as_nanos().max(1) as f64;
        let rate = c1.wrapping_sub(c0) as f64 / ns;
        // Sane rates only (0.1 to 20 GHz); otherwise assume 1 GHz.
        if (0.1..=20.0).contains(&rate) {
            rate
        } else {
            1.0
        }
    })
}

/// How [`MailboxHandle::give_up`] went.
enum GiveUp {
    /// The answer was handed over meanwhile: take it.
    Answered,
    /// The guest now knows nobody spins: the answer comes by exit.
    Left,
    /// The reply word changed meanwhile: look at it again.
    Moved,
}

/// A request posted through the mailbox, to wait for with
/// [`MailboxHandle::wait`].
#[derive(Debug)]
#[must_use = "a posted request must be waited for"]
pub struct Ticket {
    generation: u64,
}

/// Posts requests to a guest that polls its mailbox, from any thread.
///
/// Obtained from [`crate::Vm::mailbox`]; cheap to clone, `Send + Sync`. Every
/// access to guest memory happens under the VM's interrupt lock after
/// checking that the VM is alive, so a handle may outlive its VM (it then
/// never posts).
#[derive(Clone)]
pub struct MailboxHandle {
    shared: Arc<Shared>,
    base: *mut u8,
    layout: Layout,
    seq: Arc<AtomicU64>,
}

impl std::fmt::Debug for MailboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxHandle").finish_non_exhaustive()
    }
}

// SAFETY: `base` is only dereferenced under the shared lock while the VM is
// alive (`Shared::with_alive`/`begin_remote`), and only through atomics or
// at moments the protocol gives this thread the region (the guest is
// polling or has handed the answer over).
unsafe impl Send for MailboxHandle {}
// SAFETY: as for `Send`; every method takes `&self` and synchronises through
// the shared lock and the mailbox atomics.
unsafe impl Sync for MailboxHandle {}

impl MailboxHandle {
    pub(crate) fn new(shared: Arc<Shared>, base: *mut u8, layout: Layout) -> Self {
        Self {
            shared,
            base,
            layout,
            seq: Arc::new(AtomicU64::new(1 << 48)),
        }
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        let p = self
            .base
            .wrapping_add(layout::MAILBOX as usize + offset)
            .cast::<u32>();
        // SAFETY: callers hold the shared lock with the VM alive, so the
        // mailbox page is mapped; the word is 4-byte aligned and accessed
        // atomically by every party.
        unsafe { AtomicU32::from_ptr(p) }
    }

    fn request(&self) -> &AtomicU32 {
        self.word(std::mem::offset_of!(Mailbox, request))
    }

    fn reply(&self) -> &AtomicU32 {
        self.word(std::mem::offset_of!(Mailbox, reply))
    }

    /// The thread serving the mailbox (the VM's thread, inside
    /// [`crate::Vm::poll_mailbox`]), if it is serving: a posted call runs
    /// there, so that is the thread whose CPU time the call uses.
    pub fn guest_thread(&self) -> Option<libc::pthread_t> {
        self.shared.serving_thread()
    }

    /// The VM's interrupt handle (kills the posted call in flight, if any).
    pub fn interrupt_handle(&self) -> crate::InterruptHandle {
        crate::InterruptHandle {
            shared: self.shared.clone(),
        }
    }

    /// Whether the guest is polling now, so that [`post`](Self::post) would
    /// most likely succeed.
    pub fn is_polling(&self) -> bool {
        self.shared
            .with_alive(|| self.request().load(Ordering::Acquire) == mailbox::POLLING)
            .unwrap_or(false)
    }

    /// Posts request `tag` + `payload` if the guest is polling: `Ok(None)`
    /// when it is not (send the request through the VM's thread instead).
    /// The request is then a call like any other: kills and monitors apply
    /// to it from now on.
    ///
    /// Errors: [`Error::InputTooLarge`] when the payload does not fit the
    /// input buffer.
    pub fn post(&self, tag: u32, payload: &[u8]) -> Result<Option<Ticket>> {
        let capacity = self.layout.input.size as usize - MSG_HEADER_SIZE;
        if payload.len() > capacity {
            return Err(Error::InputTooLarge {
                len: payload.len(),
                capacity,
            });
        }
        let mut entropy = [0u8; ENTROPY_BYTES];
        random_bytes(&mut entropy)?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let generation = self.shared.begin_remote(|| {
            if self.request().load(Ordering::Acquire) != mailbox::POLLING {
                return false;
            }
            self.shared.note_remote_writes();
            // SAFETY: under the lock with the VM alive; the guest is polling
            // and reads neither the input buffer nor the control page until
            // it takes the request (published by the release CAS below).
            unsafe { self.write_request(tag, payload, seq, &entropy) };
            self.reply().store(mailbox::SPIN, Ordering::Release);
            match self.request().compare_exchange(
                mailbox::POLLING,
                mailbox::POSTED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => true,
                Err(_) => {
                    // The guest stopped polling meanwhile.
                    self.reply().store(mailbox::NONE, Ordering::Release);
                    false
                }
            }
        });
        Ok(generation.map(|generation| Ticket { generation }))
    }

    /// Writes the request message and the control page's per-request
    /// fields.
    ///
    /// # Safety
    /// Under the shared lock with the VM alive, while the guest polls.
    unsafe fn write_request(&self, tag: u32, payload: &[u8], seq: u64, entropy: &[u8]) {
        let cp = self.base.wrapping_add(layout::CONTROL_PAGE as usize);
        let t = std::mem::offset_of!(ControlPage, host_time_unix_ns);
        let mut fields = [0u8; 24 + ENTROPY_BYTES];
        fields[0..8].copy_from_slice(&now_ns(libc::CLOCK_REALTIME).to_le_bytes());
        fields[8..16].copy_from_slice(&now_ns(libc::CLOCK_MONOTONIC).to_le_bytes());
        fields[16..24].copy_from_slice(&seq.to_le_bytes());
        fields[24..].copy_from_slice(entropy);
        // SAFETY: the caller's contract: the regions are mapped, in bounds
        // (payload checked against the input capacity), and nobody else
        // reads or writes them now.
        unsafe {
            self.write_input(tag, payload);
            std::ptr::copy_nonoverlapping(fields.as_ptr(), cp.add(t), fields.len());
        }
    }

    /// Writes message `tag` + `payload` into the input buffer.
    ///
    /// # Safety
    /// Under the shared lock with the VM alive, `payload` no longer than the
    /// input buffer's capacity, while the guest does not read the buffer
    /// (it polls, or waits for a host answer).
    unsafe fn write_input(&self, tag: u32, payload: &[u8]) {
        let hdr = MsgHeader {
            tag,
            len: payload.len() as u32,
        };
        let input = self.base.wrapping_add(self.layout.input.base as usize);
        // SAFETY: the caller's contract: the buffer is mapped and the
        // message fits it.
        unsafe {
            std::ptr::write_unaligned(input.cast::<MsgHeader>(), hdr);
            std::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                input.add(MSG_HEADER_SIZE),
                payload.len(),
            );
        }
    }

    /// Whether [`InterruptHandle::request_interrupt`](crate::InterruptHandle::request_interrupt)
    /// was called while the last posted call ran: the host's own record,
    /// for classifying an answer that says "interrupted".
    pub fn interrupt_requested(&self) -> bool {
        self.shared.last_call_interrupt_requested()
    }

    /// Spins for up to `spin` for the answer to `ticket`. `Ok(Some(_))`:
    /// the answer, with the prints written meanwhile delivered to `print`
    /// first. `Ok(None)`: the answer will come from the VM's thread instead
    /// (as [`crate::PollEnd::Answer`] or an error of
    /// [`crate::Vm::poll_mailbox`]): the spin ended, the guest needed a host
    /// call this thread declined or answers later, or the call was killed
    /// or crashed.
    ///
    /// Host calls: a guest that needs a host function while this thread
    /// spins parks the call in its mailbox instead of exiting; `host`
    /// receives it (on this thread, after the prints written before it) and
    /// answers it ([`HostCall::answer`]) now, which keeps the call exit-less,
    /// or later from any thread (this wait then ends with `Ok(None)` and the
    /// guest waits in an exit), or declines it ([`HostCall::decline`]: the
    /// guest exits and the VM's thread runs it as usual). The spin budget
    /// restarts after each host call; a zero `spin` runs none (it gives the
    /// call up at once).
    ///
    /// Errors: [`Error::Protocol`] when the guest's answer header is
    /// malformed (the call's answer is then lost; the VM stays usable and the
    /// next call works).
    pub fn wait(
        &self,
        ticket: Ticket,
        spin: Duration,
        print: &mut dyn FnMut(u32, &str),
        host: &mut dyn FnMut(HostCall),
    ) -> Result<Option<Response>> {
        let generation = ticket.generation;
        let mut deadline = Instant::now() + spin;
        let mut i = 0u32;
        loop {
            let state = self
                .shared
                .with_alive(|| self.reply().load(Ordering::Acquire));
            match state {
                None => return Ok(None),
                Some(mailbox::READY) => return self.take(ticket, print),
                // A zero spin waits for nothing in memory: it lets a host
                // call go at once (below).
                Some(mailbox::SPIN | mailbox::HOST_ANSWER) => {}
                Some(mailbox::HOST_CALL) if spin.is_zero() => {}
                Some(mailbox::HOST_CALL) => {
                    if let Some(call) = self.take_host_call(generation, print) {
                        host(call);
                        // Not answered yet (it answers later): stop
                        // spinning; the request's answer comes by exit.
                        let left = self.shared.with_open(generation, || {
                            self.reply()
                                .compare_exchange(
                                    mailbox::HOST_RUNNING,
                                    mailbox::HOST_RUNNING | mailbox::GONE,
                                    Ordering::AcqRel,
                                    Ordering::Acquire,
                                )
                                .is_ok()
                        });
                        if left == Some(true) {
                            return Ok(None);
                        }
                        deadline = Instant::now() + spin;
                    }
                    continue;
                }
                Some(_) => return Ok(None),
            }
            if self.shared.current() != generation {
                // Killed or crashed: the VM's thread ended the call.
                return Ok(None);
            }
            i = i.wrapping_add(1);
            if (spin.is_zero() || i % 64 == 0) && Instant::now() >= deadline {
                match self.give_up() {
                    GiveUp::Answered => return self.take(ticket, print),
                    GiveUp::Left => return Ok(None),
                    GiveUp::Moved => continue,
                }
            }
            std::hint::spin_loop();
        }
    }

    /// The spin ended: tells the guest that nobody waits in memory any more
    /// (one CAS on the state seen).
    fn give_up(&self) -> GiveUp {
        self.shared
            .with_alive(|| {
                let reply = self.reply();
                let cur = reply.load(Ordering::Acquire);
                let to = match cur {
                    mailbox::SPIN | mailbox::HOST_CALL => mailbox::SLEEP,
                    mailbox::HOST_ANSWER => mailbox::HOST_ANSWER | mailbox::GONE,
                    mailbox::READY => return GiveUp::Answered,
                    _ => return GiveUp::Moved,
                };
                match reply.compare_exchange(cur, to, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => GiveUp::Left,
                    Err(mailbox::READY) => GiveUp::Answered,
                    Err(_) => GiveUp::Moved,
                }
            })
            .unwrap_or(GiveUp::Left)
    }

    /// Takes the host call the guest parked (`HOST_CALL → HOST_RUNNING`)
    /// after delivering the prints written before it; `None` when the call
    /// is over, the guest let it go meanwhile, or its request or print
    /// buffer is malformed (it is then let go: the exit reports it).
    fn take_host_call(
        &self,
        generation: u64,
        print: &mut dyn FnMut(u32, &str),
    ) -> Option<HostCall> {
        let taken = self.shared.with_open(generation, || {
            let _print = self.shared.print_lock();
            let total = self.layout.total as usize;
            // SAFETY: under the lock with the call open; the guest parked
            // the call: it spins on the reply word and writes neither the
            // output nor the print buffer until the call is answered or let
            // go.
            let mem = unsafe { std::slice::from_raw_parts_mut(self.base, total) };
            let output = self.layout.output;
            let hdr: MsgHeader = crate::vm::read_header(mem, output.base);
            let capacity = output.size as usize - MSG_HEADER_SIZE;
            let records = parse_print_buffer(mem, self.layout.print);
            let reply = self.reply();
            let (Ok(records), true) = (records, hdr.len as usize <= capacity) else {
                let _ = reply.compare_exchange(
                    mailbox::HOST_CALL,
                    mailbox::SLEEP,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                return None;
            };
            reply
                .compare_exchange(
                    mailbox::HOST_CALL,
                    mailbox::HOST_RUNNING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .ok()?;
            for (level, range) in records {
                print(level, &String::from_utf8_lossy(&mem[range]));
            }
            let pb = self.layout.print.base as usize;
            mem[pb..pb + 8].fill(0);
            self.shared.note_remote_writes();
            let start = output.base as usize + MSG_HEADER_SIZE;
            Some((hdr.tag, mem[start..start + hdr.len as usize].to_vec()))
        });
        let (tag, payload) = taken??;
        Some(HostCall {
            handle: self.clone(),
            generation,
            tag,
            payload,
            done: false,
        })
    }

    /// Answers a host call taken with [`MailboxHandle::take_host_call`]
    /// (nothing happens if the call is over).
    fn answer_host_call(
        &self,
        generation: u64,
        answer: std::result::Result<(u32, Vec<u8>), String>,
    ) {
        let cap = self.layout.input.size as usize - MSG_HEADER_SIZE;
        let (tag, mut data) = match answer {
            Ok(a) => a,
            Err(msg) => (HOST_ERROR_TAG, msg.into_bytes()),
        };
        if tag == HOST_ERROR_TAG {
            data.truncate(cap);
        } else if data.len() > cap {
            let msg = format!(
                "the host's answer is {} bytes but the input buffer holds at most {cap}",
                data.len()
            );
            data = msg.into_bytes();
            data.truncate(cap);
            return self.answer_host_call(generation, Ok((HOST_ERROR_TAG, data)));
        }
        self.shared.with_open(generation, || {
            let reply = self.reply();
            let mut cur = reply.load(Ordering::Acquire);
            if cur & !mailbox::GONE != mailbox::HOST_RUNNING {
                return;
            }
            self.shared.note_remote_writes();
            // SAFETY: under the lock with the call open; the guest waits
            // for this answer (HOST_RUNNING) and reads the input buffer only
            // once the CAS below published it; the answer fits (checked).
            unsafe { self.write_input(tag, &data) };
            while cur & !mailbox::GONE == mailbox::HOST_RUNNING {
                let to = mailbox::HOST_ANSWER | (cur & mailbox::GONE);
                match reply.compare_exchange(cur, to, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return,
                    Err(now) => cur = now,
                }
            }
        });
        self.shared.wake_host_waiter();
    }

    /// Lets a taken host call go: the guest runs it by exit.
    fn decline_host_call(&self, generation: u64) {
        self.shared.with_open(generation, || {
            let reply = self.reply();
            let mut cur = reply.load(Ordering::Acquire);
            while cur & !mailbox::GONE == mailbox::HOST_RUNNING {
                match reply.compare_exchange(
                    cur,
                    mailbox::SLEEP,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(now) => cur = now,
                }
            }
        });
        self.shared.wake_host_waiter();
    }

    /// VM exits since the VM was created (counted by the VM's thread).
    pub fn exits(&self) -> u64 {
        self.shared.exits()
    }

    /// Reads the answer the guest handed over and ends the call.
    fn take(&self, ticket: Ticket, print: &mut dyn FnMut(u32, &str)) -> Result<Option<Response>> {
        let r = self.shared.with_alive(|| {
            let _print = self.shared.print_lock();
            let total = self.layout.total as usize;
            // SAFETY: under the lock with the VM alive; the guest handed
            // the output and print buffers over (READY) and only polls the
            // mailbox until the next post, which only this caller can make.
            let mem = unsafe { std::slice::from_raw_parts_mut(self.base, total) };
            let printed = drain_print_buffer(mem, self.layout.print, print);
            let output = self.layout.output;
            let hdr: MsgHeader = crate::vm::read_header(mem, output.base);
            let capacity = output.size as usize - MSG_HEADER_SIZE;
            let answer = if hdr.len as usize > capacity {
                Err(Error::Protocol(format!(
                    "the guest's answer claims {} bytes but the output buffer holds at most {capacity}",
                    hdr.len
                )))
            } else {
                let start = output.base as usize + MSG_HEADER_SIZE;
                Ok(Response {
                    tag: hdr.tag,
                    payload: mem[start..start + hdr.len as usize].to_vec(),
                })
            };
            (printed, answer)
        });
        self.shared.end(ticket.generation);
        match r {
            None => Ok(None),
            Some((printed, answer)) => {
                printed?;
                answer.map(Some)
            }
        }
    }

    /// Asks the guest to stop polling now, or not to start (it may be
    /// finishing the last request's housekeeping), so that the VM's thread
    /// returns from [`crate::Vm::poll_mailbox`] sooner (e.g. to run a
    /// snapshot). A request posted and not taken yet stays posted.
    pub fn release(&self) {
        self.shared.with_alive(|| {
            let word = self.request();
            let mut cur = word.load(Ordering::Acquire);
            while matches!(cur, mailbox::POLLING | mailbox::TAKEN | mailbox::IDLE) {
                match word.compare_exchange(
                    cur,
                    mailbox::LEAVE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(now) => cur = now,
                }
            }
        });
    }

    /// Whether the guest, serving, is finishing the housekeeping of the
    /// request it answered last.
    pub fn is_finishing(&self) -> bool {
        self.shared.serving_thread().is_some()
            && self
                .shared
                .with_alive(|| self.request().load(Ordering::Acquire) == mailbox::TAKEN)
                .unwrap_or(false)
    }

    /// Spins up to `max` while the guest finishes the housekeeping of the
    /// request it answered last (e.g. the garbage collection the call asked
    /// for, which runs after the answer was handed over); `true` once it
    /// polls.
    pub fn wait_polling(&self, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        loop {
            let state = self
                .shared
                .with_alive(|| self.request().load(Ordering::Acquire));
            match state {
                Some(mailbox::POLLING) => return true,
                Some(mailbox::TAKEN) if self.shared.serving_thread().is_some() => {}
                _ => return false,
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::hint::spin_loop();
        }
    }
}

/// A host call that the guest parked in its mailbox while a thread spun for
/// its request's answer ([`MailboxHandle::wait`]). Answer it, now or later
/// from any thread ([`HostCall::answer`]), or let the VM's thread run it by
/// an exit ([`HostCall::decline`]). Dropping it unanswered answers with an
/// error message. A call that was killed or crashed meanwhile ignores the
/// answer.
pub struct HostCall {
    handle: MailboxHandle,
    generation: u64,
    tag: u32,
    payload: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for HostCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCall")
            .field("tag", &self.tag)
            .field("len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl HostCall {
    /// The request's tag (as for [`crate::HostHandler::host_call`]).
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The request's payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Reports whether the call was killed meanwhile.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken {
            shared: self.handle.shared.clone(),
            generation: self.generation,
        }
    }

    /// Answers with tag and payload, or an error message (the guest receives
    /// it with tag [`HOST_ERROR_TAG`]); an answer larger than the input
    /// buffer is replaced by an error message saying so. As
    /// [`crate::HostHandler::host_call`]'s answer.
    pub fn answer(mut self, answer: std::result::Result<(u32, Vec<u8>), String>) {
        self.done = true;
        self.handle.answer_host_call(self.generation, answer);
    }

    /// Lets the guest make this call by an exit instead: the VM's thread
    /// runs it with its [`crate::HostHandler`], and the request's answer
    /// comes by exit too.
    pub fn decline(mut self) {
        self.done = true;
        self.handle.decline_host_call(self.generation);
    }
}

impl Drop for HostCall {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.handle.answer_host_call(
                self.generation,
                Err("the host function ended without an answer".into()),
            );
        }
    }
}
