//! Sandbox threads, reused.
//!
//! Each sandbox owns one OS thread for its whole life (see `worker`). When
//! the sandbox is released its thread does not exit: it waits, parked, for
//! the next sandbox, up to [`MAX_IDLE`] threads for [`IDLE_TIMEOUT`] each.
//! Creating a thread costs tens of microseconds on the machines measured
//! (`build()` back to back: 66–91 µs with a new thread, 41–54 µs with a
//! reused one; see `docs/performance.md`). The first `KVM_RUN` on a new
//! thread was suspected too, and measured not to matter here.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

/// What a sandbox thread runs: one sandbox's whole life.
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// Most threads kept parked.
pub(crate) const MAX_IDLE: usize = 64;
/// How long a parked thread waits for a sandbox before it exits.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

static IDLE: Mutex<Vec<mpsc::Sender<Task>>> = Mutex::new(Vec::new());

/// Runs `task` on a parked sandbox thread, or on a new one.
pub(crate) fn run(mut task: Task) -> std::io::Result<()> {
    loop {
        let parked = IDLE.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some(tx) = parked else { break };
        match tx.send(task) {
            Ok(()) => return Ok(()),
            // That thread timed out meanwhile: try the next.
            Err(mpsc::SendError(t)) => task = t,
        }
    }
    std::thread::Builder::new()
        .name("hyperlight-sandbox".into())
        .spawn(move || serve(task))
        .map(drop)
}

fn serve(mut task: Task) {
    loop {
        // A panic inside a sandbox's life is handled by the task itself;
        // one that escapes must not kill a thread others will reuse.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(task)).is_err() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        {
            let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() >= MAX_IDLE {
                return;
            }
            idle.push(tx);
        }
        match rx.recv_timeout(IDLE_TIMEOUT) {
            Ok(next) => task = next,
            // Our sender stays in IDLE until `run` pops it and fails to
            // send: that is how it learns we are gone.
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}
