//! One OS thread per sandbox.
//!
//! The thread creates the micro-VM and owns it for its whole life (a vCPU
//! must not move between threads: the VM layer kicks it with `SIGRTMIN`
//! sent to *that* thread, and the CPU-time monitor reads *that* thread's
//! clock). JavaScript sends it jobs over a channel; they run one at a time
//! in the order they were sent, so overlapping calls on one sandbox queue
//! up and never interleave. Each job settles its Promise through the
//! [`Dispatcher`](crate::main_thread::Dispatcher): one hop to the sandbox
//! thread, one hop back.
//!
//! The libuv thread pool is not used: with four threads, four sandboxes
//! blocked on slow host functions would stall every other sandbox (and
//! Node's own file system calls).
//!
//! When the last JavaScript object of a sandbox lets go of its [`Core`],
//! the channel closes, the thread drops the VM and ends.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperlight_js::{
    CallStats, CancelToken, JSSandbox, LoadedJSSandbox, ProtoJSSandbox, SandboxBuilder,
};
use napi::sys;

use crate::errors::Failure;
use crate::main_thread::{Deferred, EnvState, MainThreadRefs};

/// What the sandbox thread holds: the sandbox at its current stage.
pub(crate) enum Stage {
    /// Not built yet, failed, or released.
    Empty,
    /// Booted; host functions not applied yet.
    Proto(ProtoJSSandbox),
    /// Runtime loaded.
    Js(JSSandbox),
    /// Handlers loaded.
    Loaded(LoadedJSSandbox),
}

impl Stage {
    pub(crate) fn take(&mut self) -> Stage {
        std::mem::replace(self, Stage::Empty)
    }
}

type Job = Box<dyn FnOnce(&mut Stage) + Send>;

/// What the sandbox thread publishes after each job, for the synchronous
/// getters (`poisoned`, `lastCallStats`). Written before the job's Promise
/// settles, so it is current once the Promise is awaited.
#[derive(Default)]
pub(crate) struct Published {
    pub(crate) poisoned: AtomicBool,
    pub(crate) stats: Mutex<Option<CallStats>>,
}

/// A guest's host call answered by JavaScript, or a nudge to look at the
/// cancel token again.
pub(crate) enum Reply {
    Done(u64, Result<String, String>),
    Wake,
}

/// The channel on which JavaScript answers host calls.
pub(crate) struct HostChannel {
    tx: Mutex<mpsc::Sender<Reply>>,
    rx: Mutex<mpsc::Receiver<Reply>>,
    seq: AtomicU64,
}

impl HostChannel {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx: Mutex::new(tx),
            rx: Mutex::new(rx),
            seq: AtomicU64::new(1),
        }
    }

    fn sender(&self) -> mpsc::Sender<Reply> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes a host call waiting on this channel look at its cancel token
    /// now (after a kill()).
    pub(crate) fn wake(&self) {
        let _ = self.sender().send(Reply::Wake);
    }
}

/// How often a waiting host call re-checks its cancel token when nothing
/// wakes it (a monitor's kill does not; `kill()` from JavaScript does).
const CANCEL_POLL: Duration = Duration::from_millis(5);

/// How long a sandbox thread waiting for a host function's answer stays
/// awake before it sleeps (see [`SPIN_FOR_NEXT_JOB`]).
const SPIN_FOR_REPLY: Duration = Duration::from_micros(100);

/// The JavaScript callbacks of one sandbox's host functions.
pub(crate) struct Bridge {
    pub(crate) refs: Arc<MainThreadRefs>,
    pub(crate) channel: Arc<HostChannel>,
}

impl Bridge {
    /// Runs on the sandbox thread: hands the call to the main thread and
    /// waits for its answer, giving up when the call is cancelled.
    fn call(&self, index: usize, args: &str, cancel: &CancelToken) -> Result<String, String> {
        let seq = self.channel.seq.fetch_add(1, Ordering::Relaxed);
        let tx = self.channel.sender();
        let refs = self.refs.clone();
        let args = args.to_string();
        let posted = self.refs.dispatcher().post(Box::new(move |env| {
            let reply = Box::new(move |r| {
                let _ = tx.send(Reply::Done(seq, r));
            });
            match (refs.get(env, index), EnvState::get(env)) {
                (Ok(f), Ok(state)) => state.call_host(env, f, &args, reply),
                (Err(e), _) | (_, Err(e)) => reply(Err(format!("host function unavailable: {e}"))),
            }
        }));
        if !posted {
            return Err("the Node.js environment is shutting down".into());
        }
        let rx = self.channel.rx.lock().unwrap_or_else(|p| p.into_inner());
        // A synchronous callback answers within tens of microseconds: stay
        // awake for it (yielding the CPU) before sleeping.
        let start = std::time::Instant::now();
        let spin = if crate::busy::oversubscribed() {
            Duration::ZERO
        } else {
            SPIN_FOR_REPLY
        };
        while start.elapsed() < spin {
            match rx.try_recv() {
                Ok(Reply::Done(s, result)) if s == seq => return result,
                Ok(_) | Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err("the host function's channel closed".into())
                }
            }
        }
        loop {
            match rx.recv_timeout(CANCEL_POLL) {
                Ok(Reply::Done(s, result)) if s == seq => return result,
                // A late answer to a call that was cancelled, or a wake-up.
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the host function's channel closed".into())
                }
            }
            if cancel.is_cancelled() {
                return Err("the call was cancelled".into());
            }
        }
    }
}

/// A sandbox's thread, as the JavaScript objects see it.
pub(crate) struct Core {
    tx: mpsc::Sender<Job>,
    pub(crate) published: Arc<Published>,
    pub(crate) channel: Arc<HostChannel>,
    /// The exit-less warm path (see `warm`).
    pub(crate) warm: Arc<crate::warm::Warm>,
}

/// The sizes (and `Intl` defaults) a `SandboxBuilder` collected.
#[derive(Clone, Default)]
pub(crate) struct Sizes {
    pub(crate) heap: Option<u64>,
    pub(crate) scratch: Option<u64>,
    pub(crate) input: Option<u64>,
    pub(crate) output: Option<u64>,
    pub(crate) locale: Option<String>,
    pub(crate) time_zone: Option<String>,
}

impl Core {
    /// Starts a sandbox thread that builds the VM; `finish` makes the
    /// Promise's value on the main thread.
    pub(crate) fn spawn(
        env: sys::napi_env,
        sizes: Sizes,
        finish: impl FnOnce(sys::napi_env, Arc<Core>) -> Result<sys::napi_value, Failure>
            + Send
            + 'static,
    ) -> napi::Result<sys::napi_value> {
        let (deferred, promise) = Deferred::new(env)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let published: Arc<Published> = Arc::default();
        let warm = Arc::new(crate::warm::Warm::new(published.clone()));
        let thread_warm = warm.clone();
        let core = Arc::new(Core {
            tx,
            published,
            channel: Arc::new(HostChannel::new()),
            warm,
        });
        let spawned = crate::threads::run(Box::new(move || {
            let mut builder = SandboxBuilder::new();
            if let Some(n) = sizes.heap {
                builder = builder.with_heap_size(n);
            }
            if let Some(n) = sizes.scratch {
                builder = builder.with_scratch_size(n);
            }
            if let Some(n) = sizes.input {
                builder = builder.with_input_buffer_size(n);
            }
            if let Some(n) = sizes.output {
                builder = builder.with_output_buffer_size(n);
            }
            if let Some(l) = sizes.locale {
                builder = builder.with_locale(l);
            }
            if let Some(tz) = sizes.time_zone {
                builder = builder.with_time_zone(tz);
            }
            let built = std::panic::catch_unwind(AssertUnwindSafe(|| builder.build()));
            let mut stage = match built {
                Ok(Ok(proto)) => {
                    deferred.settle(Box::new(move |env| finish(env, core)));
                    Stage::Proto(proto)
                }
                Ok(Err(e)) => {
                    deferred.reject(e.into());
                    return;
                }
                Err(_) => {
                    deferred.reject(Failure::internal("building the sandbox panicked"));
                    return;
                }
            };
            run_jobs(&rx, &mut stage, &thread_warm);
        }));
        if let Err(e) = spawned {
            // The closure (and its deferred) was dropped: that rejects the
            // Promise with ERR_INTERNAL.
            return Err(napi::Error::from_reason(format!(
                "could not start a sandbox thread: {e}"
            )));
        }
        Ok(promise)
    }

    /// Queues `work` on the sandbox thread; its result becomes the value
    /// `finish` builds on the main thread.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        env: sys::napi_env,
        work: impl FnOnce(&mut Stage) -> Result<T, Failure> + Send + 'static,
        finish: impl FnOnce(sys::napi_env, T) -> Result<sys::napi_value, Failure> + Send + 'static,
    ) -> napi::Result<sys::napi_value> {
        let (deferred, promise) = Deferred::new(env)?;
        let job: Job = Box::new(move |stage| match work(stage) {
            Ok(value) => deferred.settle(Box::new(move |env| finish(env, value))),
            Err(failure) => deferred.reject(failure),
        });
        // If the thread is gone the job is dropped, and its deferred rejects.
        self.warm.job_sent();
        let _ = self.tx.send(job);
        Ok(promise)
    }

    /// Queues `job` on the sandbox thread as it is (the job settles its own
    /// Promise, e.g. through an [`abort::Ticket`](crate::abort::Ticket)).
    /// If the thread is gone the job is dropped, which rejects its Promise.
    pub(crate) fn queue(&self, job: impl FnOnce(&mut Stage) + Send + 'static) {
        self.warm.job_sent();
        let _ = self.tx.send(Box::new(job));
    }

    /// Publishes `poisoned` from the loaded sandbox.
    pub(crate) fn publish(published: &Published, loaded: &LoadedJSSandbox) {
        published
            .poisoned
            .store(loaded.poisoned(), Ordering::Release);
        *published.stats.lock().unwrap_or_else(|p| p.into_inner()) =
            loaded.last_call_stats().cloned();
    }
}

/// How long a sandbox thread keeps looking for its next job before it
/// sleeps. A program that awaits one call and makes the next sends it
/// within tens of microseconds; catching it while still awake saves the
/// thread wake-up (about 20 µs on the nested-KVM machines measured).
/// It yields the CPU while it looks, so other threads run first.
const SPIN_FOR_NEXT_JOB: Duration = Duration::from_micros(100);

fn next_job(rx: &mpsc::Receiver<Job>) -> Option<Job> {
    let start = std::time::Instant::now();
    let spin = if crate::busy::oversubscribed() {
        // Another thread wants this core more than we want to save a
        // wake-up (see `busy`).
        Duration::ZERO
    } else {
        SPIN_FOR_NEXT_JOB
    };
    while start.elapsed() < spin {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.recv().ok()
}

fn run_jobs(rx: &mpsc::Receiver<Job>, stage: &mut Stage, warm: &crate::warm::Warm) {
    while let Some(job) = next_job(rx) {
        warm.job_started(matches!(stage, Stage::Loaded(_)));
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(stage))).is_err() {
            // The sandbox may be half-way through a transition: release it.
            *stage = Stage::Empty;
        }
        match stage {
            // While calls keep coming, serve them without exits.
            Stage::Loaded(loaded) => {
                if std::panic::catch_unwind(AssertUnwindSafe(|| warm.serve(loaded))).is_err() {
                    *stage = Stage::Empty;
                }
            }
            _ => warm.unloaded(),
        }
    }
    // Every JavaScript object let go: the VM is dropped here, on its thread.
    *stage = Stage::Empty;
}

/// Registers `bridge`'s functions as cancellable host functions.
pub(crate) fn register_host_functions(
    proto: &mut ProtoJSSandbox,
    names: &[(String, String)],
    bridge: Arc<Bridge>,
) -> hyperlight_js::Result<()> {
    for (index, (module, function)) in names.iter().enumerate() {
        let bridge = bridge.clone();
        proto.register_cancellable(module, function, move |args, cancel| {
            bridge.call(index, args, cancel)
        })?;
    }
    Ok(())
}

/// Releases a sandbox's VM (dispose): the thread drops it. Resolves at
/// once when there is nothing to release.
pub(crate) fn release(env: sys::napi_env, core: Option<Arc<Core>>) -> napi::Result<crate::js::Raw> {
    let promise = match core {
        Some(core) => core.submit(
            env,
            |stage| {
                *stage = Stage::Empty;
                Ok(())
            },
            |env, ()| crate::js::undefined(env).map_err(Failure::internal),
        )?,
        None => {
            let (deferred, promise) = Deferred::new(env)?;
            deferred.settle(Box::new(|env| {
                crate::js::undefined(env).map_err(Failure::internal)
            }));
            promise
        }
    };
    Ok(crate::js::Raw(promise))
}
