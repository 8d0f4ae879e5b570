//! `SandboxBuilder.setPrintSink`: guest output delivered to a JavaScript
//! function on the main thread.
//!
//! The path: the sandbox thread hands each line to `hyperlight-js`'s
//! bounded print queue and goes on (it never waits); the crate's printer
//! thread calls [`JsPrintSink::deliver`], which posts the line to the main
//! thread. At most [`MAX_IN_FLIGHT`] lines of one sink wait for the main
//! thread (at most [`MAX_IN_FLIGHT_BYTES`]); beyond that the printer thread waits, the crate's queue fills and
//! the lines that do not fit are dropped and reported (a
//! `[hyperlight-js: N lines of guest output were dropped ...]` line at level
//! `warn`). A sink that throws is reported like any uncaught exception.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use hyperlight_js::PrintLevel;
use napi::sys;

use crate::main_thread::MainThreadRefs;

/// Lines of one sink posted to the main thread and not yet delivered.
pub(crate) const MAX_IN_FLIGHT: usize = 4096;
/// Bytes of those lines: 8 MiB.
pub(crate) const MAX_IN_FLIGHT_BYTES: usize = 8 << 20;

/// A JavaScript `(line, level) => void` and its delivery state.
pub(crate) struct JsPrintSink {
    refs: MainThreadRefs,
    /// Lines and bytes posted and not yet delivered.
    in_flight: Mutex<(usize, usize)>,
    room: Condvar,
}

/// The `level` argument a JavaScript sink receives.
pub(crate) fn level_name(level: PrintLevel) -> &'static str {
    match level {
        PrintLevel::Print => "print",
        PrintLevel::Debug => "debug",
        PrintLevel::Info => "info",
        PrintLevel::Warn => "warn",
        PrintLevel::Error => "error",
    }
}

impl JsPrintSink {
    /// Wraps a reference to the sink function (main thread).
    pub(crate) fn new(env: sys::napi_env, f: sys::napi_value) -> napi::Result<Arc<Self>> {
        let r = crate::js::reference(env, f)?;
        Ok(Arc::new(Self {
            refs: MainThreadRefs::new(env, vec![r])?,
            in_flight: Mutex::new((0, 0)),
            room: Condvar::new(),
        }))
    }

    /// The `hyperlight-js` sink that forwards to this function.
    pub(crate) fn rust_sink(self: &Arc<Self>) -> impl Fn(PrintLevel, &str) + Send + Sync + 'static {
        let me = self.clone();
        move |level, text| me.deliver(level, text)
    }

    /// Runs on the printer thread: posts one line to the main thread.
    fn deliver(self: &Arc<Self>, level: PrintLevel, text: &str) {
        let len = text.len();
        {
            let mut n = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            // A line alone larger than the byte cap waits for an empty queue.
            while n.0 > 0 && (n.0 >= MAX_IN_FLIGHT || n.1 + len > MAX_IN_FLIGHT_BYTES) {
                let (guard, timeout) = self
                    .room
                    .wait_timeout(n, Duration::from_millis(100))
                    .unwrap_or_else(|p| p.into_inner());
                n = guard;
                if timeout.timed_out() && !self.refs.dispatcher().alive() {
                    return;
                }
            }
            n.0 += 1;
            n.1 += len;
        }
        let me = self.clone();
        let text = text.to_string();
        let posted = self.refs.dispatcher().post(Box::new(move |env| {
            me.call(env, level, &text);
            me.done(text.len());
        }));
        if !posted {
            self.done(len);
        }
    }

    fn done(&self, len: usize) {
        let mut n = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        n.0 = n.0.saturating_sub(1);
        n.1 = n.1.saturating_sub(len);
        drop(n);
        self.room.notify_one();
    }

    /// Main thread: calls the function; a throw becomes an uncaught
    /// exception, as from any callback.
    fn call(&self, env: sys::napi_env, level: PrintLevel, text: &str) {
        let args = (
            crate::js::string(env, text),
            crate::js::string(env, level_name(level)),
        );
        let (Ok(line), Ok(level)) = args else {
            return;
        };
        let Ok(f) = self.refs.get(env, 0) else {
            return;
        };
        if let Err(thrown) = crate::js::call(env, f, &[line, level]) {
            // SAFETY: valid env on its thread; `thrown` is a live value.
            unsafe { sys::napi_fatal_exception(env, thrown) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_has_the_name_a_javascript_sink_receives() {
        let names = [
            PrintLevel::Print,
            PrintLevel::Debug,
            PrintLevel::Info,
            PrintLevel::Warn,
            PrintLevel::Error,
        ]
        .map(level_name);
        assert_eq!(names, ["print", "debug", "info", "warn", "error"]);
    }
}
