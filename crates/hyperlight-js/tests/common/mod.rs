//! Helpers shared by the integration tests. Every test runs against real
//! KVM; a machine without a usable /dev/kvm fails them with a message that
//! says what is wrong (no skips).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use hyperlight_js::{JSSandbox, LoadedJSSandbox, PrintLevel, SandboxBuilder};

/// Fails the test with the preflight's explanation when KVM is unusable.
pub fn kvm() {
    kvm_preflight::require_kvm();
}

/// A runtime-loaded sandbox with default sizes.
pub fn js_sandbox() -> JSSandbox {
    kvm();
    SandboxBuilder::new()
        .build()
        .expect("build")
        .load_runtime()
        .expect("load_runtime")
}

/// A loaded sandbox with one handler `h` whose source is `src`.
pub fn loaded_with(src: &str) -> LoadedJSSandbox {
    let mut sb = js_sandbox();
    sb.add_handler("h", src).expect("add_handler");
    sb.get_loaded_sandbox().expect("get_loaded_sandbox")
}

/// Calls `h` with `event` and parses the JSON result.
pub fn call(loaded: &mut LoadedJSSandbox, event: &str) -> serde_json::Value {
    let out = loaded.handle_event("h", event, None).expect("handle_event");
    serde_json::from_str(&out).expect("result is JSON")
}

/// Captured print output. Lines reach a sink on the printer thread, after
/// the call that printed them: [`Lines::lock`] waits for the print queue to
/// deliver everything printed so far first.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<(PrintLevel, String)>>>);

impl Lines {
    /// Waits until every line printed so far was delivered, then locks.
    pub fn lock(
        &self,
    ) -> std::sync::LockResult<std::sync::MutexGuard<'_, Vec<(PrintLevel, String)>>> {
        assert!(
            hyperlight_js::flush_prints(std::time::Duration::from_secs(30)),
            "guest output was not delivered within 30 s"
        );
        self.0.lock()
    }
}

/// A builder whose print output is captured into the returned buffer.
pub fn capturing_builder() -> (SandboxBuilder, Lines) {
    kvm();
    let lines = Lines::default();
    let sink = lines.0.clone();
    let b = SandboxBuilder::new().with_print_sink(move |level, text| {
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((level, text.to_string()))
    });
    (b, lines)
}

/// Asserts that `err` is a cancellation by `by` (`None`: a manual kill).
#[track_caller]
pub fn assert_cancelled(err: &hyperlight_js::Error, by: Option<&str>) {
    match err {
        hyperlight_js::Error::Cancelled { terminated_by } => {
            assert_eq!(*terminated_by, by, "{err}")
        }
        other => panic!("expected a cancellation by {by:?}, got {other}"),
    }
}

/// Kills the call running in `handle`'s sandbox once one is running,
/// trying from `after` on (a kill while no call runs does nothing, so a
/// single early kill could leave the test spinning forever).
pub fn kill_when_running(
    handle: hyperlight_js::InterruptHandle,
    after: std::time::Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        while !handle.kill() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    })
}

/// A hang guard: while it is alive, a watchdog thread waits; if `what` has
/// not finished (the guard dropped) after `after`, it prints what hung and
/// aborts the test binary, so a call that only a kill or a monitor can end
/// fails the run instead of hanging it. Not a timing assertion: `after` is
/// far beyond any expected duration (minutes), and the test asserts the
/// outcome, never how long it took.
pub struct HangGuard(Option<std::sync::mpsc::Sender<()>>);

/// Arms a [`HangGuard`] for `what` (see there).
pub fn hang_guard(what: &'static str, after: std::time::Duration) -> HangGuard {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
            eprintln!("HANG: {what} had not ended after {after:?}; aborting the test binary");
            std::process::abort();
        }
    });
    HangGuard(Some(tx))
}

impl Drop for HangGuard {
    fn drop(&mut self) {
        // Disconnecting the channel ends the watchdog.
        self.0.take();
    }
}

/// How long a [`hang_guard`] waits: two minutes, far beyond any call the
/// tests make on a busy two-core machine.
pub const HANG_AFTER: std::time::Duration = std::time::Duration::from_secs(120);
