//! The request loop and the answers (hyperlight_abi::js).
//!
//! Each request is read from the input buffer, run, and answered in the
//! output buffer; then the guest exits on DONE and waits for the next one.
//! Handlers copy what they need out of a request before running JavaScript
//! (a host call overwrites the input buffer).
//!
//! Value ownership: the only engine value handled here is a pending
//! exception, taken (owned) and freed in `Failure::pending` after it has
//! been described into plain Rust strings.

use alloc::string::String;

use hyperlight_abi::js::{self as proto, error_code, Writer};
use hyperlight_abi::MSG_HEADER_SIZE;

use crate::js::{self, ErrorInfo};
use crate::{arch, control, handlers, mailbox, modules, rng, script};

/// Why a request failed.
pub enum Failure {
    /// A `RESP_ERROR` with a code from `error_code`.
    Code(u32, String),
    /// A `RESP_EXCEPTION` (JavaScript threw).
    Exception(ErrorInfo),
}

impl Failure {
    /// A `RESP_ERROR`.
    pub fn code(code: u32, msg: impl Into<String>) -> Failure {
        Failure::Code(code, msg.into())
    }

    /// The failure for a thrown value: out-of-memory becomes the
    /// OUT_OF_MEMORY error code, anything else an exception.
    pub fn thrown(info: ErrorInfo) -> Failure {
        if info.out_of_memory {
            Failure::code(
                error_code::OUT_OF_MEMORY,
                "out of memory: the guest heap is exhausted (raise the heap size)",
            )
        } else {
            Failure::Exception(info)
        }
    }

    /// Takes the pending exception and describes it.
    pub fn pending() -> Failure {
        let ctx = js::ctx();
        let exc = js::take_exception(ctx);
        let info = js::describe(ctx, &exc);
        drop(exc);
        Failure::thrown(info)
    }
}

/// Serves requests forever. The first exit tells the host we are ready.
pub fn serve() -> ! {
    arch::exit_done();
    loop {
        rng::reseed();
        dispatch();
        // Hands the answer over (through the mailbox or an exit) and waits
        // for the next request (polling the mailbox when the host asks).
        mailbox::next_request();
    }
}

fn dispatch() {
    // SAFETY: the payload slice is only used by the request functions
    // below, which copy what they need before anything can exit (they run
    // JavaScript only after their last use of it).
    let msg = unsafe { control::read_message() };
    let Some((tag, payload)) = msg else {
        respond_failure(Failure::code(
            error_code::BAD_REQUEST,
            "the request header is missing or its length runs past the input buffer",
        ));
        return;
    };
    let result = match tag {
        proto::REQ_SET_HOST_MODULES => modules::set_host_modules(payload).map(|()| None),
        proto::REQ_ADD_MODULE => modules::add_module(payload).map(|()| None),
        proto::REQ_ADD_HANDLER => handlers::add(payload).map(|()| None),
        proto::REQ_LINK => handlers::link().map(|()| None),
        proto::REQ_CALL => handlers::call(payload).map(Some),
        proto::REQ_EVAL_SCRIPT => script::eval(payload).map(Some),
        proto::REQ_DEBUG_FAULT => crate::debug::fault(),
        proto::REQ_SET_INTL_DEFAULTS => crate::intl::set_defaults_request(payload).map(|()| None),
        other => Err(Failure::code(
            error_code::BAD_REQUEST,
            alloc::format!("unknown request tag {other:#x}"),
        )),
    };
    match result {
        Ok(None) => respond_ok_empty(),
        // A call's result was already written by `handlers::call`.
        Ok(Some(())) => {}
        Err(f) => respond_failure(f),
    }
}

fn respond_ok_empty() {
    control::write_message(proto::RESP_OK, |_| Some(0));
}

/// Writes `RESP_OK` with one string field holding `json`. `false` if it does
/// not fit the output buffer (nothing is written then).
pub fn respond_ok_json(json: &[u8]) -> bool {
    control::write_message(proto::RESP_OK, |body| {
        let s = core::str::from_utf8(json).ok()?;
        let mut w = Writer::new(body);
        w.str(s).ok()?;
        Some(w.len())
    })
}

/// Capacity of the output buffer for a payload.
pub fn output_capacity() -> usize {
    (control::layout().output.size as usize).saturating_sub(MSG_HEADER_SIZE)
}

/// The longest prefix of `s` of at most `max` bytes ending on a char
/// boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut n = max;
    while n > 0 && !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Writes a failure (truncating long messages to fit the buffer).
pub fn respond_failure(f: Failure) {
    let cap = output_capacity();
    match f {
        Failure::Code(code, msg) => {
            let msg = clip(&msg, cap.saturating_sub(8));
            control::write_message(proto::RESP_ERROR, |body| {
                let mut w = Writer::new(body);
                w.u32(code).ok()?.str(msg).ok()?;
                Some(w.len())
            });
        }
        Failure::Exception(info) => {
            let room = cap.saturating_sub(12);
            let name = clip(&info.name, room.min(256));
            let room = room - name.len();
            let message = clip(&info.message, room / 2 + room / 4);
            let room = room - message.len();
            let stack = clip(&info.stack, room);
            control::write_message(proto::RESP_EXCEPTION, |body| {
                let mut w = Writer::new(body);
                w.str(name).ok()?.str(message).ok()?.str(stack).ok()?;
                Some(w.len())
            });
        }
    }
}
