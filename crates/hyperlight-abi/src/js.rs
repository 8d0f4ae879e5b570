//! The JavaScript-level protocol spoken over the VM layer's tagged
//! messages, shared by the `hyperlight-js` host crate and the guest image.
//!
//! Every message is a [`MsgHeader`](crate::MsgHeader) whose `tag` is one of
//! the constants below, followed by a payload encoded with [`Writer`] and
//! decoded with [`Reader`]: a sequence of little-endian `u32`s and
//! length-prefixed UTF-8 strings, in the order documented on each tag.
//!
//! Loading is split into one request per item (host module table, each
//! module, each handler, then [`REQ_LINK`]) so that no single message has to
//! hold every source at once; each item must fit the input buffer.

/// Host → guest: the host-module table. Payload: `u32 count`, then per
/// module `str name`, `u32 fn_count`, `fn_count × str function`.
/// Answer: [`RESP_OK`] or [`RESP_ERROR`].
pub const REQ_SET_HOST_MODULES: u32 = 1;
/// Host → guest: register a module source. Payload: `str namespace`,
/// `str name`, `str source`. Answer: [`RESP_OK`] or [`RESP_ERROR`].
pub const REQ_ADD_MODULE: u32 = 2;
/// Host → guest: register a handler source under a routing key. Payload:
/// `str key`, `str source`. Answer: [`RESP_OK`] or [`RESP_ERROR`].
pub const REQ_ADD_HANDLER: u32 = 3;
/// Host → guest: compile and evaluate every registered handler (importing
/// modules on demand). Payload: empty. Answer: [`RESP_OK`],
/// [`RESP_ERROR`] or [`RESP_EXCEPTION`].
pub const REQ_LINK: u32 = 4;
/// Host → guest: call a handler. Payload: `str key`, `str event_json`,
/// `u32 flags` ([`CALL_FLAG_GC`]). Answer: [`RESP_OK`] with `str
/// result_json`, [`RESP_ERROR`] or [`RESP_EXCEPTION`].
pub const REQ_CALL: u32 = 5;
/// Host → guest: evaluate a classic script (ECMAScript *Script*, global
/// code) in the guest's realm, then run the pending jobs. Payload: `str
/// filename`, `str source`. Answer: [`RESP_OK`] with `u32 has_value` and,
/// when it is 1, `str completion_json` (the script's completion value as
/// JSON; 0 when it is `undefined`, a function or a symbol), [`RESP_ERROR`]
/// or [`RESP_EXCEPTION`].
pub const REQ_EVAL_SCRIPT: u32 = 7;

/// Host → guest: fault on purpose, by writing to [`DEBUG_FAULT_ADDRESS`]
/// (in the unmapped null page) from the guest function
/// `hyperlight_js_debug_fault`. Payload: empty. There is no answer: the
/// VM reports the page fault and is poisoned. For testing crash dumps; the
/// guest cannot send it to itself.
pub const REQ_DEBUG_FAULT: u32 = 6;

/// The address [`REQ_DEBUG_FAULT`] writes to (inside the never-mapped
/// first page).
pub const DEBUG_FAULT_ADDRESS: u64 = 0x18;

/// Host → guest: the sandbox's default locale and time zone for `Intl`
/// (builder options). Payload: `str locale` (a BCP 47 tag), `str
/// time_zone` (an IANA name or `±HH:MM`). Answer: [`RESP_OK`], or
/// [`RESP_ERROR`] with [`error_code::INVALID_INTL_DEFAULT`].
pub const REQ_SET_INTL_DEFAULTS: u32 = 0x10;

/// Flag of [`REQ_CALL`]: run the garbage collector after the call.
pub const CALL_FLAG_GC: u32 = 1;

/// Guest → host answer: success. Payload depends on the request.
pub const RESP_OK: u32 = 0x100;
/// Guest → host answer: the request failed. Payload: `u32 code`
/// (see [`error_code`]), `str message`.
pub const RESP_ERROR: u32 = 0x101;
/// Guest → host answer: JavaScript threw. Payload: `str name`,
/// `str message`, `str stack`.
pub const RESP_EXCEPTION: u32 = 0x102;

/// Guest → host call (over the VM's host-call exit): call a host function.
/// Payload: `str module`, `str function`, `str args_json` (a JSON array).
pub const HC_CALL: u32 = 0x200;
/// Host → guest answer to [`HC_CALL`]: success. Payload: `str result_json`.
pub const HC_OK: u32 = 0x201;
/// Host → guest answer to [`HC_CALL`]: the host function failed. Payload:
/// `str message`; the guest throws an `Error` carrying it.
pub const HC_ERR: u32 = 0x202;

/// Guest → host call: the source of a module the guest does not hold (a
/// module loader's file, or an added module imported again with another
/// `type`). Payload: `str name`, a normalized module name (see
/// [`crate::specifier`]). Answer: [`HC_OK`] whose payload is the module's
/// bytes as they are (no length prefix), or [`HC_ERR`] with `str message`
/// (not found, refused, unreadable).
pub const HC_LOAD_MODULE: u32 = 0x203;

/// Guest → host call (over the VM's host-call exit): block the guest for a
/// while, without using CPU (the guest's timers wait this way). Payload:
/// `u32 lo`, `u32 hi`: the duration in nanoseconds (`hi << 32 | lo`).
/// Answer: [`HC_OK`] with an empty payload once the time has passed, or
/// earlier if the host was asked to interrupt the call; a kill ends the
/// wait at once (and the call).
pub const HC_SLEEP: u32 = 0x204;

/// Codes carried by [`RESP_ERROR`].
pub mod error_code {
    /// No handler is registered under the routing key.
    pub const UNKNOWN_HANDLER: u32 = 1;
    /// The serialised result does not fit the output buffer.
    pub const RESULT_TOO_LARGE: u32 = 2;
    /// The result is `undefined`, a function, cyclic or otherwise not JSON.
    pub const RESULT_NOT_SERIALIZABLE: u32 = 3;
    /// The guest heap is exhausted.
    pub const OUT_OF_MEMORY: u32 = 4;
    /// The request could not be decoded (a host bug).
    pub const BAD_REQUEST: u32 = 5;
    /// An import names a module that is not registered.
    pub const MODULE_NOT_FOUND: u32 = 6;
    /// A handler or module with that name is already registered.
    pub const DUPLICATE: u32 = 7;
    /// A handler script does not define `function handler`.
    pub const INVALID_HANDLER: u32 = 8;
    /// The event is not valid JSON.
    pub const INVALID_EVENT: u32 = 9;
    /// [`super::REQ_SET_INTL_DEFAULTS`]: the locale is not a well-formed
    /// BCP 47 tag, or the time zone is not in the IANA database.
    pub const INVALID_INTL_DEFAULT: u32 = 0x20;
    /// Anything else that went wrong inside the guest runtime.
    pub const INTERNAL: u32 = 10;
}

/// A payload too short, or a string that is not UTF-8, or a buffer too
/// small to write into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodecError;

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("malformed or oversized protocol payload")
    }
}

/// Encodes a payload into a caller-provided buffer.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<&mut Self, CodecError> {
        let end = self.pos.checked_add(b.len()).ok_or(CodecError)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(CodecError)?;
        dst.copy_from_slice(b);
        self.pos = end;
        Ok(self)
    }

    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<&mut Self, CodecError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a length-prefixed string.
    pub fn str(&mut self, s: &str) -> Result<&mut Self, CodecError> {
        let len = u32::try_from(s.len()).map_err(|_| CodecError)?;
        self.u32(len)?.bytes(s.as_bytes())
    }
}

/// Size in bytes of a string field holding `s`.
pub const fn str_size(s: &str) -> usize {
    4 + s.len()
}

/// Decodes a payload.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Takes `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.buf.len() {
            return Err(CodecError);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Takes a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, CodecError> {
        let n = self.u32()? as usize;
        core::str::from_utf8(self.bytes(n)?).map_err(|_| CodecError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.str("greet")
            .unwrap()
            .str("{\"a\":1}")
            .unwrap()
            .u32(CALL_FLAG_GC)
            .unwrap();
        let n = w.len();
        assert_eq!(n, str_size("greet") + str_size("{\"a\":1}") + 4);
        let mut r = Reader::new(&buf[..n]);
        assert_eq!(r.str().unwrap(), "greet");
        assert_eq!(r.str().unwrap(), "{\"a\":1}");
        assert_eq!(r.u32().unwrap(), CALL_FLAG_GC);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn lying_lengths_are_rejected() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, b'a']);
        assert_eq!(r.str(), Err(CodecError));
        let mut small = [0u8; 4];
        assert_eq!(Writer::new(&mut small).str("x").err(), Some(CodecError));
        let bad_utf8 = [1, 0, 0, 0, 0xff];
        assert_eq!(Reader::new(&bad_utf8).str(), Err(CodecError));
    }
}
