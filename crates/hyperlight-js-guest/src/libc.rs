//! The libc functions the guest must not take from musl, because musl's
//! would make a system call (there is no kernel: `syscall` would fault), and
//! the two symbols the prebuilt `alloc` crate expects from an unwinder.
//!
//! * clocks (`clock_gettime`, `gettimeofday`, `time`) read the control page;
//! * `localtime_r` is `gmtime_r`: the guest's local time zone is UTC (musl's
//!   would open /etc/localtime);
//! * `abort` and `__assert_fail` exit on the ABORT port with a message;
//! * the allocation functions live in `heap`.

use core::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr};

use crate::abort::{self, abort_fmt};
use crate::time;

#[repr(C)]
pub struct Timespec {
    tv_sec: i64,
    tv_nsec: c_long,
}

#[repr(C)]
pub struct Timeval {
    tv_sec: i64,
    tv_usec: c_long,
}

const CLOCK_REALTIME: c_int = 0;
const CLOCK_REALTIME_COARSE: c_int = 5;
const CLOCK_REALTIME_ALARM: c_int = 8;
const CLOCK_TAI: c_int = 11;

/// # Safety
/// C `clock_gettime`: `ts` is null or points to a writable `timespec`.
#[no_mangle]
pub unsafe extern "C" fn clock_gettime(clk: c_int, ts: *mut Timespec) -> c_int {
    let ns = match clk {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_REALTIME_ALARM | CLOCK_TAI => {
            time::wall_ns()
        }
        // Monotonic, boot time and the CPU-time clocks all read the host's
        // monotonic clock (the guest has no better notion of either),
        // coarsened to the sandbox's clock resolution: this is what
        // `performance.now()` reads.
        _ => time::coarse_monotonic_ns(),
    };
    if !ts.is_null() {
        // SAFETY: C contract: `ts` points to a writable timespec.
        unsafe {
            (*ts).tv_sec = (ns / 1_000_000_000) as i64;
            (*ts).tv_nsec = (ns % 1_000_000_000) as c_long;
        }
    }
    0
}

/// # Safety
/// C `gettimeofday`: `tv` is null or points to a writable `timeval`.
#[no_mangle]
pub unsafe extern "C" fn gettimeofday(tv: *mut Timeval, _tz: *mut c_void) -> c_int {
    let ns = time::wall_ns();
    if !tv.is_null() {
        // SAFETY: C contract: `tv` points to a writable timeval.
        unsafe {
            (*tv).tv_sec = (ns / 1_000_000_000) as i64;
            (*tv).tv_usec = ((ns % 1_000_000_000) / 1000) as c_long;
        }
    }
    0
}

/// # Safety
/// C `time`: `t` is null or points to a writable `time_t`.
#[no_mangle]
pub unsafe extern "C" fn time(t: *mut i64) -> i64 {
    let secs = (time::wall_ns() / 1_000_000_000) as i64;
    if !t.is_null() {
        // SAFETY: C contract.
        unsafe { *t = secs };
    }
    secs
}

extern "C" {
    fn gmtime_r(t: *const i64, tm: *mut c_void) -> *mut c_void;
}

/// # Safety
/// C `localtime_r`: both pointers valid.
#[no_mangle]
pub unsafe extern "C" fn localtime_r(t: *const i64, tm: *mut c_void) -> *mut c_void {
    // SAFETY: same contract as musl's gmtime_r, which is pure arithmetic
    // (it also sets tm_gmtoff = 0 and tm_zone = "UTC").
    unsafe { gmtime_r(t, tm) }
}

/// C `abort`.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    abort::abort_msg(abort::code::C_ABORT, "abort() called in the guest runtime")
}

/// # Safety
/// C `__assert_fail` (musl's signature): NUL-terminated strings or null.
#[no_mangle]
pub unsafe extern "C" fn __assert_fail(
    expr: *const c_char,
    file: *const c_char,
    line: c_uint,
    func: *const c_char,
) -> ! {
    // SAFETY: the C caller passes string literals.
    let (e, f, fun) = unsafe { (cstr(expr), cstr(file), cstr(func)) };
    abort_fmt(
        abort::code::C_ASSERT,
        format_args!("engine assertion failed: {e} ({f}:{line}, {fun})"),
    )
}

/// # Safety
/// `p` is null or a NUL-terminated string that outlives the result.
unsafe fn cstr<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        return "?";
    }
    // SAFETY: caller contract.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
}

/// Referenced by the prebuilt `alloc`/`core` (built with unwinding); never
/// called because everything here is built with `panic=abort`.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// As [`rust_eh_personality`]: referenced, never called.
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    abort::abort_msg(abort::code::PANIC, "_Unwind_Resume called (unwinding is not supported)")
}
