//! Keeping the event loop awake while an answer is due soon.
//!
//! A sandbox thread answers through a threadsafe function, whose
//! `uv_async_send` has to wake the main thread from `epoll_wait`: on the
//! nested-KVM machines measured that wake-up costs 20–35 µs, as much as the
//! VM call itself. While a Promise of this addon is pending, and only for a
//! short window after each job was sent (or a host function was called), an
//! active `uv_idle_t` makes libuv poll with a zero timeout: the loop keeps
//! running every other callback as usual, never blocks, and picks the
//! answer up without sleeping. After the window, or once no Promise is
//! pending, the idle handle stops and the loop sleeps as before, so a long
//! call does not burn the main thread's CPU.
//!
//! The idle handle is unreferenced (it never keeps the process alive) and
//! closed by an asynchronous environment cleanup hook, so a worker thread's
//! loop can close. One per Node environment (it lives in `EnvState`).
//!
//! `HYPERLIGHT_JS_EVENT_LOOP_SPIN_US` sets the window (0 disables).

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::rc::Rc;

use napi::sys;

/// The window when `HYPERLIGHT_JS_EVENT_LOOP_SPIN_US` is not set.
pub(crate) const DEFAULT_SPIN_US: u64 = 200;
/// The largest window accepted.
pub(crate) const MAX_SPIN_US: u64 = 10_000;
/// The environment variable that sets the window.
pub(crate) const SPIN_ENV: &str = "HYPERLIGHT_JS_EVENT_LOOP_SPIN_US";

/// `UV_IDLE` of libuv's `uv_handle_type` (checked at run time with
/// `uv_handle_type_name`).
const UV_IDLE: c_int = 6;

type UvHandle = c_void;
type UvIdleCb = unsafe extern "C" fn(*mut UvHandle);
type UvCloseCb = unsafe extern "C" fn(*mut UvHandle);

/// libuv's functions, as the host process exports them (the `node` binary
/// does). Looked up at run time with `dlsym` rather than imported: an
/// import would make the dynamic loader refuse the whole addon in an N-API
/// host that does not export libuv (the addon is linked with `-z now`), while
/// the spin is only an optimisation. Without them the spin is off and
/// everything else works (see `docs/node-binding.md`).
struct Uv {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    handle_type_name: unsafe extern "C" fn(c_int) -> *const c_char,
    idle_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut UvHandle) -> c_int,
    idle_start: unsafe extern "C" fn(*mut UvHandle, UvIdleCb) -> c_int,
    idle_stop: unsafe extern "C" fn(*mut UvHandle) -> c_int,
    unref: unsafe extern "C" fn(*mut UvHandle),
    close: unsafe extern "C" fn(*mut UvHandle, UvCloseCb),
    handle_get_data: unsafe extern "C" fn(*const UvHandle) -> *mut c_void,
    handle_set_data: unsafe extern "C" fn(*mut UvHandle, *mut c_void),
    hrtime: unsafe extern "C" fn() -> u64,
}

/// The address of `name` (NUL-terminated) in the process, if it exports it.
fn lookup(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: `RTLD_DEFAULT` searches the global scope; `name` is a valid C
    // string. dlsym has no other precondition.
    let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!address.is_null()).then_some(address)
}

/// libuv's functions, or `None` when the host does not export them all.
fn uv() -> Option<&'static Uv> {
    static UV: std::sync::OnceLock<Option<Uv>> = std::sync::OnceLock::new();
    UV.get_or_init(|| {
        macro_rules! function {
            ($name:literal: $ty:ty) => {{
                let address = lookup($name)?;
                // SAFETY: libuv's exported function of that name has this
                // signature (libuv's `uv.h`).
                unsafe { std::mem::transmute::<*mut c_void, $ty>(address) }
            }};
        }
        Some(Uv {
            handle_size: function!(c"uv_handle_size": unsafe extern "C" fn(c_int) -> usize),
            handle_type_name: function!(
                c"uv_handle_type_name": unsafe extern "C" fn(c_int) -> *const c_char
            ),
            idle_init: function!(
                c"uv_idle_init": unsafe extern "C" fn(*mut sys::uv_loop_s, *mut UvHandle) -> c_int
            ),
            idle_start: function!(
                c"uv_idle_start": unsafe extern "C" fn(*mut UvHandle, UvIdleCb) -> c_int
            ),
            idle_stop: function!(c"uv_idle_stop": unsafe extern "C" fn(*mut UvHandle) -> c_int),
            unref: function!(c"uv_unref": unsafe extern "C" fn(*mut UvHandle)),
            close: function!(c"uv_close": unsafe extern "C" fn(*mut UvHandle, UvCloseCb)),
            handle_get_data: function!(
                c"uv_handle_get_data": unsafe extern "C" fn(*const UvHandle) -> *mut c_void
            ),
            handle_set_data: function!(
                c"uv_handle_set_data": unsafe extern "C" fn(*mut UvHandle, *mut c_void)
            ),
            hrtime: function!(c"uv_hrtime": unsafe extern "C" fn() -> u64),
        })
    })
    .as_ref()
}

/// libuv, once a handle exists (which implies it was found).
fn uv_found() -> &'static Uv {
    uv().expect("libuv was found when the idle handle was made")
}

/// The window, from `HYPERLIGHT_JS_EVENT_LOOP_SPIN_US`: `Ok(None)` when the
/// variable is not set, `Err` with a message when its value is invalid.
pub(crate) fn window_from_env() -> Result<Option<u64>, String> {
    parse_window(std::env::var_os(SPIN_ENV).map(|raw| raw.to_string_lossy().into_owned()))
}

/// [`window_from_env`] of the variable's value (`None`: not set).
fn parse_window(value: Option<String>) -> Result<Option<u64>, String> {
    let Some(text) = value else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(us) if us <= MAX_SPIN_US => Ok(Some(us)),
        _ => Err(format!(
            "{SPIN_ENV} must be a whole number of microseconds from 0 to {MAX_SPIN_US} \
             (0 disables), got {text:?}; using {DEFAULT_SPIN_US}"
        )),
    }
}

/// One environment's idle handle and its window. Main thread only.
pub(crate) struct Spin {
    /// The `uv_idle_t` (libuv-sized allocation); null when spinning is
    /// disabled or once the handle is closing.
    handle: Cell<*mut UvHandle>,
    window_ns: u64,
    /// `uv_hrtime()` after which the idle handle stops.
    deadline: Cell<u64>,
    active: Cell<bool>,
}

impl Spin {
    /// A disabled spinner (window 0, or libuv not usable).
    fn disabled() -> Rc<Spin> {
        Rc::new(Spin {
            handle: Cell::new(std::ptr::null_mut()),
            window_ns: 0,
            deadline: Cell::new(0),
            active: Cell::new(false),
        })
    }

    /// The spinner of `env`'s loop, with a window of `window_us`.
    pub(crate) fn new(env: sys::napi_env, window_us: u64) -> Rc<Spin> {
        if window_us == 0 {
            return Spin::disabled();
        }
        let Some(uv) = uv() else {
            return Spin::disabled();
        };
        // SAFETY: libuv returns a static string (or "unknown") for any kind.
        let name = unsafe { CStr::from_ptr((uv.handle_type_name)(UV_IDLE)) };
        if name.to_bytes() != b"idle" {
            return Spin::disabled();
        }
        let mut lp = std::ptr::null_mut();
        // SAFETY: valid env on its main thread, valid out pointer.
        let status = unsafe { sys::napi_get_uv_event_loop(env, &mut lp) };
        if status != sys::Status::napi_ok || lp.is_null() {
            return Spin::disabled();
        }
        // SAFETY: `uv_handle_size` is a pure lookup.
        let size = unsafe { (uv.handle_size)(UV_IDLE) };
        let layout = match std::alloc::Layout::from_size_align(size, 16) {
            Ok(l) if size > 0 => l,
            _ => return Spin::disabled(),
        };
        // SAFETY: the layout has a non-zero size.
        let handle = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<UvHandle>();
        if handle.is_null() {
            return Spin::disabled();
        }
        // SAFETY: `handle` is zeroed memory of the size libuv asked for;
        // `lp` is this thread's loop.
        if unsafe { (uv.idle_init)(lp, handle) } != 0 {
            // SAFETY: allocated above with this layout, never given to libuv.
            unsafe { std::alloc::dealloc(handle.cast(), layout) };
            return Spin::disabled();
        }
        let spin = Rc::new(Spin {
            handle: Cell::new(handle),
            window_ns: window_us * 1000,
            deadline: Cell::new(0),
            active: Cell::new(false),
        });
        // SAFETY: `handle` was initialised above. The handle's data is one
        // strong count of the spinner, given back in `on_closed`.
        unsafe {
            (uv.unref)(handle);
            (uv.handle_set_data)(handle, Rc::into_raw(spin.clone()) as *mut c_void);
        }
        let mut remove = std::ptr::null_mut();
        // SAFETY: valid env; the hook's argument is the handle, closed once
        // by `close_on_teardown`.
        let status = unsafe {
            sys::napi_add_async_cleanup_hook(
                env,
                Some(close_on_teardown),
                handle.cast(),
                &mut remove,
            )
        };
        if status != sys::Status::napi_ok {
            // Without a hook the handle could outlive the loop: close it now.
            spin.handle.set(std::ptr::null_mut());
            // SAFETY: initialised, not closing yet; `on_closed` frees it.
            unsafe { (uv.close)(handle, on_closed) };
            return Spin::disabled();
        }
        spin
    }

    /// Keeps the loop from sleeping for the window from now: a job was
    /// sent, or a host function called, and an answer is due soon.
    pub(crate) fn arm(&self) {
        let uv = uv_found();
        let handle = self.handle.get();
        if handle.is_null() || crate::busy::oversubscribed() {
            // Spinning on an oversubscribed CPU steals the core from the
            // thread that will answer.
            return;
        }
        // SAFETY: plain clock read.
        self.deadline.set(unsafe { (uv.hrtime)() } + self.window_ns);
        if !self.active.get() {
            self.active.set(true);
            // SAFETY: initialised, not closing (the pointer is nulled before
            // `uv_close`), on its loop's thread.
            unsafe { (uv.idle_start)(handle, on_idle) };
        }
    }

    /// Lets the loop sleep again (no Promise of the addon is pending).
    pub(crate) fn disarm(&self) {
        let uv = uv_found();
        let handle = self.handle.get();
        if handle.is_null() || !self.active.get() {
            return;
        }
        self.active.set(false);
        // SAFETY: as in `arm`.
        unsafe { (uv.idle_stop)(handle) };
    }
}

/// Runs once per loop iteration while armed: stops at the deadline.
unsafe extern "C" fn on_idle(handle: *mut UvHandle) {
    let uv = uv_found();
    // SAFETY: the handle's data is the spinner's strong count (see
    // `Spin::new`), alive until `on_closed`.
    let spin = unsafe { &*(uv.handle_get_data)(handle).cast::<Spin>() };
    // SAFETY: plain clock read.
    if unsafe { (uv.hrtime)() } >= spin.deadline.get() {
        spin.disarm();
    } else {
        // The thread that will answer may be waiting for this CPU (a
        // woken thread is often placed on its waker's CPU): let it run.
        std::thread::yield_now();
    }
}

/// The environment is being torn down: close the idle handle; Node keeps
/// running the loop until `on_closed` removes the hook.
unsafe extern "C" fn close_on_teardown(
    remove: sys::napi_async_cleanup_hook_handle,
    arg: *mut c_void,
) {
    let uv = uv_found();
    let handle = arg.cast::<UvHandle>();
    // SAFETY: the handle is alive (closed only here); its data is the
    // spinner, alive until `on_closed`.
    unsafe {
        let spin = &*(uv.handle_get_data)(handle).cast::<Spin>();
        spin.disarm();
        spin.handle.set(std::ptr::null_mut());
        // Keep the hook's removal handle for `on_closed`: the data pointer
        // becomes a small box holding both.
        let closing = Box::new(Closing {
            spin: (uv.handle_get_data)(handle).cast::<Spin>(),
            remove,
        });
        (uv.handle_set_data)(handle, Box::into_raw(closing).cast());
        (uv.close)(handle, on_teardown_closed);
    }
}

struct Closing {
    spin: *const Spin,
    remove: sys::napi_async_cleanup_hook_handle,
}

/// The handle closed at teardown: free it and let Node go on.
unsafe extern "C" fn on_teardown_closed(handle: *mut UvHandle) {
    let uv = uv_found();
    // SAFETY: the data is the box made in `close_on_teardown`, taken back
    // once; its spinner pointer is the strong count from `Spin::new`.
    unsafe {
        let closing = Box::from_raw((uv.handle_get_data)(handle).cast::<Closing>());
        drop(Rc::from_raw(closing.spin));
        free_handle(handle);
        sys::napi_remove_async_cleanup_hook(closing.remove);
    }
}

/// The handle closed early (no cleanup hook): free it.
unsafe extern "C" fn on_closed(handle: *mut UvHandle) {
    let uv = uv_found();
    // SAFETY: the data is the spinner's strong count from `Spin::new`.
    unsafe {
        drop(Rc::from_raw((uv.handle_get_data)(handle).cast::<Spin>()));
        free_handle(handle);
    }
}

/// Frees a closed handle's memory.
///
/// # Safety
/// `handle` was allocated in `Spin::new` and libuv is done with it.
unsafe fn free_handle(handle: *mut UvHandle) {
    let uv = uv_found();
    // SAFETY: the caller's contract; same size and alignment as allocated.
    unsafe {
        let size = (uv.handle_size)(UV_IDLE);
        let layout = std::alloc::Layout::from_size_align_unchecked(size, 16);
        std::alloc::dealloc(handle.cast(), layout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_unset_or_0_to_10000_microseconds() {
        assert_eq!(parse_window(None), Ok(None));
        assert_eq!(parse_window(Some("0".into())), Ok(Some(0)));
        assert_eq!(parse_window(Some(" 250 ".into())), Ok(Some(250)));
        assert_eq!(parse_window(Some("10000".into())), Ok(Some(MAX_SPIN_US)));
        for bad in ["10001", "-1", "soon", "", "1.5"] {
            let message = parse_window(Some(bad.into())).unwrap_err();
            assert_eq!(
                message,
                format!(
                    "HYPERLIGHT_JS_EVENT_LOOP_SPIN_US must be a whole number of microseconds \
                     from 0 to 10000 (0 disables), got {bad:?}; using 200"
                )
            );
        }
    }
}
