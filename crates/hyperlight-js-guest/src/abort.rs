//! Aborting: a message framed in the output buffer, then an exit on the
//! ABORT port. The host poisons the sandbox; the guest never resumes.

use core::fmt::{self, Write};

use hyperlight_abi::port;

use crate::arch;
use crate::control;

/// Abort codes (one byte, the value written to the ABORT port).
pub mod code {
    /// The control page is unusable.
    pub const BAD_CONTROL: u8 = 1;
    /// A Rust panic.
    pub const PANIC: u8 = 2;
    /// C `abort()`.
    pub const C_ABORT: u8 = 3;
    /// A failed C assertion (QuickJS internal invariant).
    pub const C_ASSERT: u8 = 4;
    /// The engine could not be initialised.
    pub const INIT: u8 = 5;
}

/// Writes formatted text into a byte buffer, truncating (at a UTF-8
/// boundary) when it is full.
pub struct Truncating<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Truncating<'a> {
    /// A writer over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while n > 0 && !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Aborts with a formatted message. Never returns: if the host resumes an
/// aborted guest anyway, it aborts again.
pub fn abort_fmt(code: u8, args: fmt::Arguments<'_>) -> ! {
    // Format straight into the output buffer: no allocation, so this also
    // works when the heap is exhausted or corrupt.
    control::write_message(0, |body| {
        let mut w = Truncating::new(body);
        let _ = w.write_fmt(args);
        Some(w.len())
    });
    loop {
        arch::out(port::ABORT, code);
    }
}

/// Aborts with a fixed message.
pub fn abort_msg(code: u8, msg: &str) -> ! {
    abort_fmt(code, format_args!("{msg}"))
}
